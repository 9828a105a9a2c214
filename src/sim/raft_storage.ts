/**
 * A raft {@link Storage} over a simulated disk's `raft` column family: the
 * test double of the raftstore's PeerStorage, local to the simulator.
 *
 * Layout (raft CF): `0x01 + u64be(index)` -> entry (see {@link encodeEntry}); `0x02` ->
 * HardState (term, vote, commit); `0x03` -> last index; `0x04` -> truncated state (index, term of
 * the last compacted entry); `0x05` -> ConfState. Meta CF: `applied` -> the
 * applied index, written atomically with the data it describes.
 *
 * The storage keeps an in-memory mirror of what raft has been told is stable
 * (TiKV's entry cache, but complete): writes are built into batches by the
 * `stage*` methods and the mirror is updated by the matching `commit*`
 * methods only when the write completed, just before `advance()`. A restart
 * rebuilds the mirror from the disk, which is the source of truth.
 *
 * Snapshots are generated on demand at the applied index (as TiKV does):
 * `snapshot()` asks the node for its state machine's contents.
 */
import { assert } from '../util/assert.js';
import { ConfState as ConfStateCodec } from '../pb/eraftpb.js';
import { RaftStorageError, RAFT_STORAGE_ERROR_CODES } from '../raft/storage.js';
import type { Ready } from '../raft/ready.js';
import type { InitialState, Storage } from '../raft/storage.js';
import { emptyHardState, EntryType } from '../raft/types.js';
import type { ConfState, Entry, HardState, Snapshot } from '../raft/types.js';
import { limitSize } from '../raft/util.js';
import { CF_META, CF_RAFT } from '../storage/engine.js';
import type { Reader } from '../storage/engine.js';
import type { WriteBatch } from '../storage/write_batch.js';

const ENTRY_PREFIX = 0x01;
const HARD_STATE_KEY = Uint8Array.of(0x02);
const LAST_INDEX_KEY = Uint8Array.of(0x03);
const TRUNCATED_KEY = Uint8Array.of(0x04);
const CONF_STATE_KEY = Uint8Array.of(0x05);
export const APPLIED_KEY = new TextEncoder().encode('applied');

export function entryKey(index: number): Uint8Array {
  const key = new Uint8Array(9);
  key[0] = ENTRY_PREFIX;
  writeU64(key, 1, index);
  return key;
}

export function encodeU64(n: number): Uint8Array {
  const out = new Uint8Array(8);
  writeU64(out, 0, n);
  return out;
}

export function decodeU64(bytes: Uint8Array, offset = 0): number {
  assert(bytes.length >= offset + 8, 'decodeU64: short buffer');
  const u32 = (at: number): number =>
    (bytes[at] as number) * 2 ** 24 + ((bytes[at + 1] as number) << 16) + ((bytes[at + 2] as number) << 8) + (bytes[at + 3] as number);
  const n = u32(offset) * 2 ** 32 + u32(offset + 4);
  assert(Number.isSafeInteger(n), 'decodeU64: not a safe integer');
  return n;
}

function writeU64(out: Uint8Array, offset: number, n: number): void {
  if (!(Number.isSafeInteger(n) && n >= 0)) assert(false, `writeU64: bad value ${n}`);
  assert(out.length >= offset + 8, 'writeU64: short buffer');
  const high = Math.floor(n / 2 ** 32);
  const low = n >>> 0;
  out[offset] = high >>> 24;
  out[offset + 1] = (high >>> 16) & 0xff;
  out[offset + 2] = (high >>> 8) & 0xff;
  out[offset + 3] = high & 0xff;
  out[offset + 4] = low >>> 24;
  out[offset + 5] = (low >>> 16) & 0xff;
  out[offset + 6] = (low >>> 8) & 0xff;
  out[offset + 7] = low & 0xff;
}

/**
 * Entry on disk: type (1 byte), term and index (u64 each), then the payload.
 * A fixed header instead of protobuf: the simulator writes every entry on
 * every node, and this is the cheapest faithful encoding.
 */
export function encodeEntry(e: Entry): Uint8Array {
  const out = new Uint8Array(17 + e.data.length);
  out[0] = e.entryType;
  writeU64(out, 1, e.term);
  writeU64(out, 9, e.index);
  out.set(e.data, 17);
  return out;
}

export function decodeEntry(bytes: Uint8Array): Entry {
  assert(bytes.length >= 17, 'decodeEntry: short entry');
  const entryType = bytes[0] as number;
  if (!(entryType === EntryType.EntryNormal || entryType === EntryType.EntryConfChange || entryType === EntryType.EntryConfChangeV2)) assert(false, `decodeEntry: bad type ${entryType}`);
  return { entryType, term: decodeU64(bytes, 1), index: decodeU64(bytes, 9), data: Buffer.from(bytes.subarray(17)) };
}

/** Writes the initial state of a brand-new node: membership and empty log. */
export function formatRaftState(batch: WriteBatch, confState: ConfState): void {
  assert(confState.nodes.length > 0, 'formatRaftState: no voters');
  batch.put(CF_RAFT, CONF_STATE_KEY, ConfStateCodec.encode(confState).finish());
  batch.put(CF_RAFT, TRUNCATED_KEY, encodeTruncated(0, 0));
  batch.put(CF_RAFT, LAST_INDEX_KEY, encodeU64(0));
  batch.put(CF_META, APPLIED_KEY, encodeU64(0));
}

/** HardState on disk: term, vote, commit as u64 each. */
export function encodeHardState(hs: HardState): Uint8Array {
  const out = new Uint8Array(24);
  writeU64(out, 0, hs.term);
  writeU64(out, 8, hs.vote);
  writeU64(out, 16, hs.commit);
  return out;
}

export function decodeHardState(bytes: Uint8Array): HardState {
  assert(bytes.length === 24, 'decodeHardState: bad length');
  return { term: decodeU64(bytes, 0), vote: decodeU64(bytes, 8), commit: decodeU64(bytes, 16) };
}

function encodeTruncated(index: number, term: number): Uint8Array {
  const out = new Uint8Array(16);
  writeU64(out, 0, index);
  writeU64(out, 8, term);
  return out;
}

/** Produces the state machine's snapshot at its applied index (metadata and data). */
export type SnapshotProvider = () => Snapshot;

export class SimRaftStorage implements Storage {
  private hardState: HardState;
  private readonly confState: ConfState;
  /** Index and term of the last compacted entry. Invariant: truncatedIndex + entries.length = lastIndex. */
  private truncatedIndex: number;
  private truncatedTerm: number;
  /** Entries truncatedIndex+1 .. lastIndex, in order. */
  private log: Entry[];
  private readonly snapshotProvider: SnapshotProvider;

  /** Rebuilds the storage from a disk. @throws {AssertionError} on a corrupt or unformatted disk. */
  constructor(reader: Reader, snapshotProvider: SnapshotProvider) {
    const confBytes = reader.get(CF_RAFT, CONF_STATE_KEY);
    assert(confBytes !== undefined, 'raft storage: disk is not formatted (no ConfState)');
    this.confState = ConfStateCodec.decode(confBytes);
    const hs = reader.get(CF_RAFT, HARD_STATE_KEY);
    this.hardState = hs === undefined ? emptyHardState() : decodeHardState(hs);
    const truncated = reader.get(CF_RAFT, TRUNCATED_KEY);
    assert(truncated !== undefined, 'raft storage: no truncated state');
    this.truncatedIndex = decodeU64(truncated, 0);
    this.truncatedTerm = decodeU64(truncated, 8);
    const lastBytes = reader.get(CF_RAFT, LAST_INDEX_KEY);
    assert(lastBytes !== undefined, 'raft storage: no last index');
    const last = decodeU64(lastBytes);
    this.log = [];
    for (const { key, value } of reader.scan(CF_RAFT, { start: entryKey(this.truncatedIndex + 1), end: entryKey(last + 1) })) {
      const e = decodeEntry(value);
      assert(decodeU64(key, 1) === e.index, 'raft storage: entry key and index differ');
      assert(e.index === this.truncatedIndex + 1 + this.log.length, `raft storage: hole in the log at ${e.index}`);
      this.log.push(e);
    }
    // Pair assertion: the last index written with the entries matches the entries read back.
    assert(this.lastIndex() === last, `raft storage: last index ${last} but entries end at ${this.lastIndex()}`);
    assert(this.hardState.commit <= last, `raft storage: commit ${this.hardState.commit} beyond last index ${last}`);
    this.snapshotProvider = snapshotProvider;
  }

  initialState(): InitialState {
    return { hardState: this.hardState, confState: this.confState };
  }

  get membership(): ConfState {
    return this.confState;
  }

  entries(lo: number, hi: number, maxSizeBytes: number): Entry[] {
    if (lo <= this.truncatedIndex) {
      throw new RaftStorageError(RAFT_STORAGE_ERROR_CODES.Compacted, `entry ${lo} is compacted (first index ${this.firstIndex()})`);
    }
    if (hi > this.lastIndex() + 1) {
      throw new RaftStorageError(RAFT_STORAGE_ERROR_CODES.Unavailable, `entries [${lo}, ${hi}) out of bound, last index ${this.lastIndex()}`);
    }
    if (!(lo <= hi)) assert(false, `entries: lo ${lo} > hi ${hi}`);
    const offset = this.truncatedIndex + 1;
    return limitSize(this.log.slice(lo - offset, hi - offset), maxSizeBytes);
  }

  term(i: number): number {
    if (i === this.truncatedIndex) return this.truncatedTerm;
    if (i < this.truncatedIndex) throw new RaftStorageError(RAFT_STORAGE_ERROR_CODES.Compacted, `term of ${i} is compacted`);
    const e = this.log[i - this.truncatedIndex - 1];
    if (e === undefined) throw new RaftStorageError(RAFT_STORAGE_ERROR_CODES.Unavailable, `term of ${i} is unavailable`);
    return e.term;
  }

  lastIndex(): number {
    return this.truncatedIndex + this.log.length;
  }

  firstIndex(): number {
    return this.truncatedIndex + 1;
  }

  snapshot(): Snapshot {
    const snap = this.snapshotProvider();
    const index = snap.metadata?.index ?? 0;
    // A snapshot must cover everything compacted, or the follower would miss entries.
    assert(index >= this.truncatedIndex, `snapshot at ${index} is older than the compacted index ${this.truncatedIndex}`);
    return snap;
  }

  // --- writes: stage into a batch, commit to the mirror once durable ------

  /**
   * Stages everything a Ready persists, in order: snapshot, entries (truncating a
   * conflicting suffix), hard state. The mirror changes only in {@link commitReady}.
   */
  stageReady(batch: WriteBatch, rd: Pick<Ready, 'snapshot' | 'entries' | 'hardState'>): void {
    let truncated = this.truncatedIndex;
    let last = this.lastIndex();
    if (rd.snapshot !== undefined) {
      this.stageSnapshot(batch, rd.snapshot);
      truncated = rd.snapshot.metadata?.index ?? 0;
      last = truncated;
    }
    this.stageEntries(batch, rd.entries, truncated, last);
    if (rd.hardState !== undefined) batch.put(CF_RAFT, HARD_STATE_KEY, encodeHardState(rd.hardState));
  }

  /** Makes the mirror match what {@link stageReady} wrote, once it completed. */
  commitReady(rd: Pick<Ready, 'snapshot' | 'entries' | 'hardState'>): void {
    if (rd.snapshot !== undefined) this.commitSnapshot(rd.snapshot);
    this.commitEntries(rd.entries);
    if (rd.hardState !== undefined) this.commitHardState(rd.hardState);
  }

  private stageEntries(batch: WriteBatch, entries: readonly Entry[], truncated: number, last: number): void {
    if (entries.length === 0) return;
    const first = (entries[0] as Entry).index;
    const newLast = (entries[entries.length - 1] as Entry).index;
    if (!(first > truncated)) assert(false, `append at ${first} below the compacted index ${truncated}`);
    if (!(first <= last + 1)) assert(false, `append at ${first} leaves a hole after ${last}`);
    for (const e of entries) batch.put(CF_RAFT, entryKey(e.index), encodeEntry(e));
    // A shorter conflicting append leaves stale entries past its end: delete them.
    if (newLast < last) batch.deleteRange(CF_RAFT, entryKey(newLast + 1), entryKey(last + 1));
    batch.put(CF_RAFT, LAST_INDEX_KEY, encodeU64(newLast));
  }

  private commitEntries(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = (entries[0] as Entry).index;
    this.log.length = first - this.truncatedIndex - 1;
    for (const e of entries) this.log.push(e);
    assert(this.lastIndex() === (entries[entries.length - 1] as Entry).index, 'commitEntries: last index mismatch');
  }

  private commitHardState(hs: HardState): void {
    if (!(hs.term >= this.hardState.term)) assert(false, `hard state term went back from ${this.hardState.term} to ${hs.term}`);
    this.hardState = { term: hs.term, vote: hs.vote, commit: hs.commit };
  }

  /** Replaces the whole log by `snap`'s position (the state machine is replaced by the caller). */
  private stageSnapshot(batch: WriteBatch, snap: Snapshot): void {
    const md = snap.metadata;
    assert(md !== undefined && md.index > this.truncatedIndex, 'stageSnapshot: snapshot is not newer than the log start');
    batch.deleteRange(CF_RAFT, entryKey(0), entryKey(Number.MAX_SAFE_INTEGER));
    batch.put(CF_RAFT, TRUNCATED_KEY, encodeTruncated(md.index, md.term));
    batch.put(CF_RAFT, LAST_INDEX_KEY, encodeU64(md.index));
  }

  private commitSnapshot(snap: Snapshot): void {
    const md = snap.metadata;
    assert(md !== undefined, 'commitSnapshot: no metadata');
    this.truncatedIndex = md.index;
    this.truncatedTerm = md.term;
    this.log = [];
  }

  /** Compacts entries up to and including `compactIndex` (applied, so covered by any later snapshot). */
  compact(batch: WriteBatch, compactIndex: number): void {
    assert(compactIndex > this.truncatedIndex, `compact ${compactIndex} is already compacted`);
    assert(compactIndex <= this.lastIndex(), `compact ${compactIndex} is past the last index ${this.lastIndex()}`);
    const term = this.term(compactIndex);
    batch.deleteRange(CF_RAFT, entryKey(this.truncatedIndex + 1), entryKey(compactIndex + 1));
    batch.put(CF_RAFT, TRUNCATED_KEY, encodeTruncated(compactIndex, term));
    this.log = this.log.slice(compactIndex - this.truncatedIndex);
    this.truncatedIndex = compactIndex;
    this.truncatedTerm = term;
  }
}

/** Reads the applied index written with the state machine. */
export function readApplied(reader: Reader): number {
  const bytes = reader.get(CF_META, APPLIED_KEY);
  assert(bytes !== undefined, 'raft storage: no applied index');
  return decodeU64(bytes);
}
