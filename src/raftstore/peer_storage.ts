/**
 * PeerStorage: the raft core's {@link Storage} for one region's peer, over
 * two engines (TinyKV `kv/raftstore/peer_storage.go`, TiKV `PeerStorage`).
 *
 * - Raft engine, CF `raft`: log entries at raft_log_key and RaftLocalState
 *   {hardState, lastIndex, lastTerm} at raft_state_key.
 * - KV engine, CF `meta`: RaftApplyState {appliedIndex, truncatedState} at
 *   apply_state_key and RegionLocalState at region_state_key, so apply can
 *   write them in the same batch as the data they describe.
 *
 * Functional core (STYLE.md 3): reads are synchronous engine reads; writes are
 * only *staged* into a caller-provided WriteBatch and never executed here.
 * Each `stage*` returns a {@link PendingUpdate}; the shell writes the batch and,
 * once it is durable, calls {@link PeerStorage.applyPersisted}. Invariant: the
 * in-memory state that reads use (`raftState`, `applyState`) only ever
 * describes durable data. Staging builds on the latest *staged* state, so
 * several batches may be in flight as long as the shell writes them in staging
 * order and installs their updates in that order (asserted per kind).
 *
 * Reads during an in-flight raft write stay correct: the raft core keeps the
 * Ready's entries in its unstable log until `advance`, and it only asks storage
 * for indexes below the unstable offset, which the in-flight batch never
 * changes (a conflicting append only rewrites indexes >= that offset).
 */
import type { ConfState, Entry, HardState, Snapshot } from '../pb/eraftpb.js';
import { Entry as EntryCodec } from '../pb/eraftpb.js';
import type { Region } from '../pb/metapb.js';
import { PeerState, RaftApplyState, RaftLocalState, RegionLocalState } from '../pb/raft_serverpb.js';
import type { RaftTruncatedState } from '../pb/raft_serverpb.js';
import type { Ready } from '../raft/ready.js';
import { RaftStorageError, RAFT_STORAGE_ERROR_CODES } from '../raft/storage.js';
import type { InitialState, Storage } from '../raft/storage.js';
import { emptyConfState, emptyHardState } from '../raft/types.js';
import { entrySizeBytes } from '../raft/util.js';
import { CF_META, CF_RAFT } from '../storage/engine.js';
import type { ViewableReader } from '../storage/engine.js';
import type { WriteBatch } from '../storage/write_batch.js';
import { assert } from '../util/assert.js';
import { applyStateKey, raftLogIndex, raftLogKey, raftLogKeyRange, raftStateKey, regionStateKey } from './meta/keys.js';
import { cloneRegion } from './responses.js';
import { buildSnapshotData, decodeSnapshotData, stageApplySnapshotData, stageClearRange } from './snapshot.js';

/**
 * A bootstrapped (initialized) region's log starts after index 5 of term 5
 * (TinyKV `RaftInitLogIndex`/`RaftInitLogTerm`): a peer created later by a
 * message starts at 0 and so can never be mistaken for one holding that
 * initial state; it must receive a snapshot first.
 */
export const RAFT_INIT_LOG_INDEX = 5;
export const RAFT_INIT_LOG_TERM = 5;

/** A state change staged into a batch, to install once the batch is durable. */
export type PendingUpdate =
  | { readonly kind: 'raft'; readonly seq: number; readonly raftState: Readonly<RaftLocalState> }
  | { readonly kind: 'apply'; readonly seq: number; readonly applyState: Readonly<RaftApplyState> }
  | {
      /** An applied snapshot: installs raft state, apply state and region at once (one seq of each track). */
      readonly kind: 'snapshot';
      readonly raftSeq: number;
      readonly applySeq: number;
      readonly raftState: Readonly<RaftLocalState>;
      readonly applyState: Readonly<RaftApplyState>;
      readonly region: Readonly<Region>;
    }
  /** A region changed by an applied conf change or split (its RegionLocalState is in the same batch). */
  | { readonly kind: 'region'; readonly region: Readonly<Region> };

/**
 * Most entries kept in the entry cache. Applying reads back entries appended
 * a moment earlier; the cache serves them without decoding (TiKV EntryCache).
 */
export const ENTRY_CACHE_ENTRIES_MAX = 4096;

/** Staged-but-not-installed bookkeeping for one kind of state. */
interface Track<T> {
  /** Latest staged state: the base for the next stage. */
  staged: T;
  nextStageSeq: number;
  nextInstallSeq: number;
}

export class PeerStorage implements Storage {
  readonly regionId: number;
  /** Durable raft state. Invariant: truncated.index <= lastIndex; commit <= lastIndex. */
  private raftStateValue: RaftLocalState;
  /** Durable apply state. Invariant: truncated.index <= appliedIndex <= commit. */
  private applyStateValue: RaftApplyState;
  private readonly raftTrack: Track<RaftLocalState>;
  private readonly applyTrack: Track<RaftApplyState>;
  /** Index of the last snapshot staged by {@link stageApplySnapshot} (its Ready may then go to stageReady). */
  private stagedSnapshotIndex = 0;
  /** Region as of the latest stage (a staged snapshot's region), for the next stage. */
  private stagedRegion: Region;
  /**
   * The latest appended entries, contiguous, as staged: the same content as
   * the raft engine once the batches are written (raft only reads indexes the
   * in-flight batches do not change, see the file comment).
   */
  private cache: Entry[] = [];

  private constructor(
    readonly raftEngine: ViewableReader,
    readonly kvEngine: ViewableReader,
    private regionValue: Region,
    raftState: RaftLocalState,
    applyState: RaftApplyState,
  ) {
    assert(Number.isSafeInteger(regionValue.id) && regionValue.id > 0, `invalid region id ${regionValue.id}`);
    this.regionId = regionValue.id;
    this.raftStateValue = raftState;
    this.applyStateValue = applyState;
    this.raftTrack = { staged: raftState, nextStageSeq: 0, nextInstallSeq: 0 };
    this.applyTrack = { staged: applyState, nextStageSeq: 0, nextInstallSeq: 0 };
    this.stagedRegion = regionValue;
  }

  /**
   * A peer for a region with no persisted state yet. An initialized region
   * (one with peers) starts at RAFT_INIT_LOG_INDEX/TERM, an uninitialized peer
   * at 0. Nothing is written: call {@link stageInitialState} to persist it.
   */
  static create(raftEngine: ViewableReader, kvEngine: ViewableReader, region: Region, earlier?: HardState): PeerStorage {
    const raftState = initialRaftState(region);
    // A split replacing an uninitialized peer keeps the term and vote that peer may have given:
    // forgetting a vote would let the peer vote twice in one term.
    if (earlier !== undefined && raftState.hardState !== undefined && earlier.term > raftState.hardState.term) {
      raftState.hardState = { ...raftState.hardState, term: earlier.term, vote: earlier.vote };
    }
    const ps = new PeerStorage(raftEngine, kvEngine, cloneRegion(region), raftState, initialApplyState(region));
    ps.assertInvariants();
    return ps;
  }

  /**
   * Rebuilds a peer after a restart from what its engines hold (TinyKV
   * `NewPeerStorage`). A state never written (a region created by bootstrap or
   * split whose raft state was not yet persisted) falls back to the initial one.
   * @throws {AssertionError} when the persisted states break their invariants.
   */
  static load(raftEngine: ViewableReader, kvEngine: ViewableReader, region: Region): PeerStorage {
    const rawRaft = raftEngine.get(CF_RAFT, raftStateKey(region.id));
    const rawApply = kvEngine.get(CF_META, applyStateKey(region.id));
    const raftState = rawRaft === undefined ? initialRaftState(region) : RaftLocalState.decode(rawRaft);
    const applyState = rawApply === undefined ? initialApplyState(region) : RaftApplyState.decode(rawApply);
    const ps = new PeerStorage(raftEngine, kvEngine, cloneRegion(region), raftState, applyState);
    // Pair assertion (STYLE.md 10): what was asserted before persisting is asserted after reading back.
    ps.assertInvariants();
    ps.assertLogMatchesState();
    return ps;
  }

  /** The persisted RegionLocalState of `regionId`, if any (what a restarting store scans). */
  static loadRegionState(kvEngine: ViewableReader, regionId: number): RegionLocalState | undefined {
    const raw = kvEngine.get(CF_META, regionStateKey(regionId));
    return raw === undefined ? undefined : RegionLocalState.decode(raw);
  }

  get region(): Region {
    return this.regionValue;
  }

  /** The region as of the latest stage (apply sees the changes of entries applied before it in the round). */
  get appliedRegion(): Region {
    return this.stagedRegion;
  }

  /** The durable raft state (a copy). */
  get raftState(): RaftLocalState {
    return cloneRaftState(this.raftStateValue);
  }

  /** The durable apply state (a copy). */
  get applyState(): RaftApplyState {
    return cloneApplyState(this.applyStateValue);
  }

  get appliedIndex(): number {
    return this.applyStateValue.appliedIndex;
  }

  /** The durable truncated index (no copy: hot paths read it every round). */
  get truncatedIndex(): number {
    return truncated(this.applyStateValue).index;
  }

  get truncatedState(): RaftTruncatedState {
    return { ...truncated(this.applyStateValue) };
  }

  /** True once the region has peers (it has data or a bootstrap state). */
  isInitialized(): boolean {
    return this.regionValue.peers.length > 0;
  }

  // ---- Storage (raft core) ----

  initialState(): InitialState {
    const hardState = this.raftStateValue.hardState ?? emptyHardState();
    return { hardState: { ...hardState }, confState: confStateOfRegion(this.regionValue) };
  }

  entries(lo: number, hi: number, maxSizeBytes: number): Entry[] {
    this.checkRange(lo, hi);
    if (lo === hi) return [];
    const cacheFirst = this.cache[0]?.index;
    if (cacheFirst !== undefined && lo >= cacheFirst && hi <= cacheFirst + this.cache.length) {
      return limitSize(this.cache.slice(lo - cacheFirst, hi - cacheFirst), maxSizeBytes);
    }
    const out: Entry[] = [];
    let size = 0;
    const scan = this.raftEngine.scan(CF_RAFT, { start: raftLogKey(this.regionId, lo), end: raftLogKey(this.regionId, hi) });
    for (const { key, value } of scan) {
      const expected = lo + out.length;
      // A gap would mean a lost write or a GC of live entries: never expected.
      if (raftLogIndex(key) !== expected) assert(false, `region ${this.regionId}: log gap, want ${expected} got ${raftLogIndex(key)}`);
      const e = EntryCodec.decode(value);
      if (e.index !== expected) assert(false, `region ${this.regionId}: entry at key ${expected} has index ${e.index}`);
      size += entrySizeBytes(e);
      // Always at least one entry, then stop before exceeding the budget (etcd limitSize).
      if (out.length > 0 && size > maxSizeBytes) break;
      out.push(e);
    }
    if (out.length === 0 || (out.length < hi - lo && size <= maxSizeBytes)) {
      assert(false, `region ${this.regionId}: entries [${lo}, ${hi}) missing from the raft engine (got ${out.length})`);
    }
    return out;
  }

  term(i: number): number {
    const t = truncated(this.applyStateValue);
    if (i === t.index) return t.term;
    if (i < t.index) throw new RaftStorageError(RAFT_STORAGE_ERROR_CODES.Compacted, `term of ${i} is compacted (truncated ${t.index})`);
    const last = this.raftStateValue.lastIndex;
    if (i > last) throw new RaftStorageError(RAFT_STORAGE_ERROR_CODES.Unavailable, `term of ${i} is unavailable (last ${last})`);
    if (i === last) return this.raftStateValue.lastTerm;
    const cacheFirst = this.cache[0]?.index;
    if (cacheFirst !== undefined && i >= cacheFirst && i < cacheFirst + this.cache.length) return (this.cache[i - cacheFirst] as Entry).term;
    const raw = this.raftEngine.get(CF_RAFT, raftLogKey(this.regionId, i));
    if (raw === undefined) assert(false, `region ${this.regionId}: entry ${i} missing from the raft engine`);
    return EntryCodec.decode(raw).term;
  }

  lastIndex(): number {
    return this.raftStateValue.lastIndex;
  }

  firstIndex(): number {
    return truncated(this.applyStateValue).index + 1;
  }

  /**
   * Generates a snapshot of the region at its applied index from one
   * consistent kv read view: the apply state, region state and data are all
   * read from that view, so they describe the same point even while apply
   * batches are being written (an apply batch holds data and apply state).
   * Metadata: index = applied, term = term(applied) (the truncated term when
   * applied == truncated), confState = the region's peers.
   *
   * Generation is synchronous for now. TinyKV/TiKV generate asynchronously
   * (region worker) and answer `SnapshotTemporarilyUnavailable` until the
   * snapshot is ready; the raft core already handles that answer by retrying
   * later, which is how an asynchronous generator will plug in.
   */
  snapshot(): Snapshot {
    const view = this.kvEngine.readView();
    try {
      const rawApply = view.get(CF_META, applyStateKey(this.regionId));
      const applyState = rawApply === undefined ? this.applyStateValue : RaftApplyState.decode(rawApply);
      const rawRegion = view.get(CF_META, regionStateKey(this.regionId));
      const region = (rawRegion === undefined ? undefined : RegionLocalState.decode(rawRegion).region) ?? this.regionValue;
      const index = applyState.appliedIndex;
      const t = truncated(applyState);
      const term = index === t.index ? t.term : this.term(index);
      const data = buildSnapshotData(view, region);
      return { data, metadata: { index, term, confState: confStateOfRegion(region) } };
    } finally {
      view.close();
    }
  }

  // ---- Staged writes ----

  /**
   * Stages the initial RaftLocalState, RaftApplyState and RegionLocalState
   * (TinyKV `writeInitialRaftState`/`writeInitialApplyState`, bootstrap).
   * `raftBatch` goes to the raft engine, `kvBatch` to the kv engine (they
   * may be the same batch when the engines are the same).
   */
  stageInitialState(raftBatch: WriteBatch, kvBatch: WriteBatch): void {
    assert(this.raftTrack.nextStageSeq === 0 && this.applyTrack.nextStageSeq === 0, 'stageInitialState after other stages');
    raftBatch.put(CF_RAFT, raftStateKey(this.regionId), RaftLocalState.encode(this.raftStateValue).finish());
    kvBatch.put(CF_META, applyStateKey(this.regionId), RaftApplyState.encode(this.applyStateValue).finish());
    const regionState: RegionLocalState = { state: PeerState.Normal, region: this.regionValue };
    kvBatch.put(CF_META, regionStateKey(this.regionId), RegionLocalState.encode(regionState).finish());
  }

  /**
   * Stages what a Ready asks to persist (ready.ts step 1): its entries and its
   * hard state, into the raft-engine batch. Returns the update to install with
   * {@link applyPersisted} once the batch is durable, before the Ready's
   * messages are sent and before `advance`.
   * A Ready carrying a snapshot goes to {@link stageApplySnapshot} first; this
   * then stages the rest of it (its hard state, any entries after the snapshot).
   * @throws {AssertionError} on a Ready whose snapshot was not staged first,
   * or entries that do not continue the log.
   */
  stageReady(raftBatch: WriteBatch, rd: Ready): PendingUpdate | undefined {
    if (rd.snapshot !== undefined && (rd.snapshot.metadata?.index ?? 0) !== this.stagedSnapshotIndex) {
      assert(false, `region ${this.regionId}: stage the Ready's snapshot with stageApplySnapshot before stageReady`);
    }
    if (rd.entries.length === 0 && rd.hardState === undefined) return undefined;
    const base = this.raftTrack.staged;
    let next: RaftLocalState = cloneRaftState(base);
    if (rd.entries.length > 0) next = this.stageAppend(raftBatch, base, rd.entries);
    if (rd.hardState !== undefined) next.hardState = { ...rd.hardState };
    return this.stageRaftState(raftBatch, next);
  }

  /** Stages a new hard state alone (e.g. a commit index advanced without entries). */
  stageHardState(raftBatch: WriteBatch, hardState: HardState): PendingUpdate {
    const next = cloneRaftState(this.raftTrack.staged);
    next.hardState = { ...hardState };
    return this.stageRaftState(raftBatch, next);
  }

  /**
   * Stages an apply state into the kv batch that also holds the applied data,
   * so data and apply state are durable together (issue 5, PeerStorage).
   */
  stageApplyState(kvBatch: WriteBatch, applyState: RaftApplyState): PendingUpdate {
    const next = cloneApplyState(applyState);
    const t = truncated(next);
    const prev = this.applyTrack.staged;
    if (!(t.index <= next.appliedIndex)) assert(false, `truncated ${t.index} > applied ${next.appliedIndex}`);
    if (!(next.appliedIndex >= prev.appliedIndex)) assert(false, `applied index moved back ${prev.appliedIndex} -> ${next.appliedIndex}`);
    if (!(t.index >= truncated(prev).index)) assert(false, `truncated index moved back ${truncated(prev).index} -> ${t.index}`);
    kvBatch.put(CF_META, applyStateKey(this.regionId), RaftApplyState.encode(next).finish());
    this.applyTrack.staged = next;
    return { kind: 'apply', seq: this.applyTrack.nextStageSeq++, applyState: next };
  }

  /**
   * Stages log compaction up to `index` (applying CompactLog, TinyKV
   * `handleCompactLog`): the truncated state moves to {index, term}; the old
   * entries stay in the raft engine until {@link stageGcLogs} deletes them.
   * A compaction that does not advance the truncated index is ignored.
   * @throws {AssertionError} when `index` is not applied or `term` is not its term.
   */
  stageCompactTo(kvBatch: WriteBatch, index: number, term: number): PendingUpdate | undefined {
    const base = this.applyTrack.staged;
    if (index <= truncated(base).index) return undefined; // stale CompactLog: TinyKV ignores it too
    if (!(index <= base.appliedIndex)) assert(false, `compact to ${index} beyond applied ${base.appliedIndex}`);
    if (index <= this.raftStateValue.lastIndex && index > truncated(this.applyStateValue).index) {
      const stored = this.term(index);
      if (stored !== term) assert(false, `compact to ${index}: term ${term} but the log has ${stored}`);
    }
    return this.stageApplyState(kvBatch, { appliedIndex: base.appliedIndex, truncatedState: { index, term } });
  }

  /**
   * Stages deletion of log entries [from, to). Only entries already compacted
   * durably may go: `to` <= durable truncated index + 1.
   */
  stageGcLogs(raftBatch: WriteBatch, from: number, to: number): void {
    const limit = truncated(this.applyStateValue).index + 1;
    if (!(to <= limit)) assert(false, `gc logs up to ${to} past the durable truncated index ${limit - 1}`);
    if (from >= to) return;
    raftBatch.deleteRange(CF_RAFT, raftLogKey(this.regionId, from), raftLogKey(this.regionId, to));
  }

  /**
   * Stages applying a snapshot received by raft (a Ready's `snapshot`, TinyKV
   * `ApplySnapshot`), before {@link stageReady} of the same Ready:
   * - raft batch: the region's whole old log is deleted, and RaftLocalState
   *   becomes {lastIndex, lastTerm} = the snapshot's {index, term}, the hard
   *   state unchanged except commit raised to the snapshot index;
   * - kv batch: the old range's data is cleared only if the peer was
   *   initialized (an uninitialized peer's region has an empty, i.e.
   *   unbounded, range: clearing it would wipe every other region, TinyKV
   *   pitfall 17); then the snapshot's range is cleared and its data put
   *   (snapshot.ts), with RaftApplyState {applied = truncated = snapshot} and
   *   RegionLocalState (the snapshot's region) in the same batch.
   * The returned update installs raft state, apply state and region together;
   * install it only once both batches are durable. When the engines differ
   * the two batches are not written atomically (see the report; TiKV uses an
   * `Applying` peer state for this), so pass the same batch when they are one.
   * @throws {SnapshotError} when the snapshot data is corrupt.
   * @throws {AssertionError} on a snapshot for another region or not ahead of the log.
   */
  stageApplySnapshot(raftBatch: WriteBatch, kvBatch: WriteBatch, snapshot: Snapshot): PendingUpdate {
    const meta = snapshot.metadata;
    if (meta === undefined) assert(false, `region ${this.regionId}: snapshot without metadata`);
    const { index, term } = meta;
    const data = decodeSnapshotData(snapshot.data);
    if (data.region.id !== this.regionId) assert(false, `region ${this.regionId}: snapshot of region ${data.region.id}`);
    const baseRaft = this.raftTrack.staged;
    const baseApply = this.applyTrack.staged;
    if (!(Number.isSafeInteger(index) && index > baseApply.appliedIndex)) {
      assert(false, `region ${this.regionId}: snapshot ${index} not past applied ${baseApply.appliedIndex}`);
    }
    if (!(Number.isSafeInteger(term) && term > 0)) assert(false, `region ${this.regionId}: snapshot term ${term}`);

    const logRange = raftLogKeyRange(this.regionId);
    raftBatch.deleteRange(CF_RAFT, logRange.start, logRange.end);
    this.cache = [];
    const hard = baseRaft.hardState ?? emptyHardState();
    const raftState: RaftLocalState = { hardState: { ...hard, commit: Math.max(hard.commit, index) }, lastIndex: index, lastTerm: term };
    assertRaftState(raftState, index);
    raftBatch.put(CF_RAFT, raftStateKey(this.regionId), RaftLocalState.encode(raftState).finish());

    const old = this.stagedRegion;
    if (old.peers.length > 0) stageClearRange(kvBatch, old.startKey, old.endKey);
    stageApplySnapshotData(kvBatch, data);
    const applyState: RaftApplyState = { appliedIndex: index, truncatedState: { index, term } };
    kvBatch.put(CF_META, applyStateKey(this.regionId), RaftApplyState.encode(applyState).finish());
    const region = cloneRegion(data.region);
    const regionState: RegionLocalState = { state: PeerState.Normal, region };
    kvBatch.put(CF_META, regionStateKey(this.regionId), RegionLocalState.encode(regionState).finish());

    this.raftTrack.staged = raftState;
    this.applyTrack.staged = applyState;
    this.stagedRegion = region;
    this.stagedSnapshotIndex = index;
    return {
      kind: 'snapshot',
      raftSeq: this.raftTrack.nextStageSeq++,
      applySeq: this.applyTrack.nextStageSeq++,
      raftState,
      applyState,
      region,
    };
  }

  /**
   * Stages a region changed by an applied conf change or split: its
   * RegionLocalState goes into the kv batch that also holds the apply state
   * of the entry that changed it.
   */
  stageRegion(kvBatch: WriteBatch, region: Region): PendingUpdate {
    if (!(region.id === this.regionId)) assert(false, `region ${this.regionId}: staging region ${region.id}`);
    const copy = cloneRegion(region);
    const regionState: RegionLocalState = { state: PeerState.Normal, region: copy };
    kvBatch.put(CF_META, regionStateKey(this.regionId), RegionLocalState.encode(regionState).finish());
    this.stagedRegion = copy;
    return { kind: 'region', region: copy };
  }

  /**
   * Stages destroying this peer (TinyKV \`ClearMeta\` + \`ClearData\`): its
   * log, raft state and apply state are deleted, its data cleared when it was
   * initialized (an uninitialized peer owns no range: clearing its empty,
   * unbounded one would wipe the store), and a Tombstone RegionLocalState
   * remembers \`region\` (its latest epoch) so that older messages cannot
   * recreate it (HARD-CASES P6). Nothing is installed: the peer is dropped.
   */
  stageDestroy(batch: WriteBatch, region: Region): void {
    const logRange = raftLogKeyRange(this.regionId);
    batch.deleteRange(CF_RAFT, logRange.start, logRange.end);
    batch.delete(CF_RAFT, raftStateKey(this.regionId));
    batch.delete(CF_META, applyStateKey(this.regionId));
    const local = this.stagedRegion;
    if (local.peers.length > 0) stageClearRange(batch, local.startKey, local.endKey);
    const regionState: RegionLocalState = { state: PeerState.Tombstone, region: cloneRegion(region) };
    batch.put(CF_META, regionStateKey(this.regionId), RegionLocalState.encode(regionState).finish());
    this.cache = [];
  }

  /**
   * Installs a staged update once its batch is durable. Updates of one kind
   * must be installed in staging order.
   */
  applyPersisted(update: PendingUpdate): void {
    if (update.kind === 'snapshot') {
      if (update.raftSeq !== this.raftTrack.nextInstallSeq) assert(false, `snapshot raft update ${update.raftSeq} installed out of order`);
      if (update.applySeq !== this.applyTrack.nextInstallSeq) assert(false, `snapshot apply update ${update.applySeq} installed out of order`);
      this.raftTrack.nextInstallSeq++;
      this.applyTrack.nextInstallSeq++;
      this.raftStateValue = cloneRaftState(update.raftState);
      this.applyStateValue = cloneApplyState(update.applyState);
      this.regionValue = cloneRegion(update.region);
    } else if (update.kind === 'region') {
      this.regionValue = cloneRegion(update.region);
    } else if (update.kind === 'raft') {
      if (update.seq !== this.raftTrack.nextInstallSeq) assert(false, `raft update ${update.seq} installed out of order`);
      this.raftTrack.nextInstallSeq++;
      this.raftStateValue = cloneRaftState(update.raftState);
    } else {
      if (update.seq !== this.applyTrack.nextInstallSeq) assert(false, `apply update ${update.seq} installed out of order`);
      this.applyTrack.nextInstallSeq++;
      this.applyStateValue = cloneApplyState(update.applyState);
    }
    this.assertInvariants();
  }

  /**
   * Puts `entries` and deletes any persisted tail past the new last index:
   * those entries conflicted and will never commit, and must never be read
   * back (TinyKV white paper pitfall 19). Returns the resulting raft state.
   */
  private stageAppend(raftBatch: WriteBatch, base: RaftLocalState, entries: readonly Entry[]): RaftLocalState {
    const first = (entries[0] as Entry).index;
    const last = entries[entries.length - 1] as Entry;
    const t = truncated(this.applyTrack.staged);
    if (!(first > t.index)) assert(false, `append at ${first} into the compacted log (truncated ${t.index})`);
    if (!(first <= base.lastIndex + 1)) assert(false, `append at ${first} leaves a gap after last index ${base.lastIndex}`);
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i] as Entry;
      if (e.index !== first + i) assert(false, `entries not contiguous at ${first + i}`);
      raftBatch.put(CF_RAFT, raftLogKey(this.regionId, e.index), EntryCodec.encode(e).finish());
    }
    if (base.lastIndex > last.index) {
      raftBatch.deleteRange(CF_RAFT, raftLogKey(this.regionId, last.index + 1), raftLogKey(this.regionId, base.lastIndex + 1));
    }
    this.cacheAppend(entries);
    const next = cloneRaftState(base);
    next.lastIndex = last.index;
    next.lastTerm = last.term;
    return next;
  }

  /** Appends to the cache, dropping a conflicting tail, keeping it contiguous and bounded. */
  private cacheAppend(entries: readonly Entry[]): void {
    const first = (entries[0] as Entry).index;
    const cacheFirst = this.cache[0]?.index;
    if (cacheFirst === undefined || first < cacheFirst || first > cacheFirst + this.cache.length) {
      this.cache = [...entries];
    } else {
      this.cache.length = first - cacheFirst;
      for (const e of entries) this.cache.push(e);
    }
    // Trim in steps of a quarter of the bound (a splice per append would cost O(n) each);
    // entries below the truncated index are never read again.
    if (this.cache.length < ENTRY_CACHE_ENTRIES_MAX + ENTRY_CACHE_ENTRIES_MAX / 4) return;
    const t = truncated(this.applyStateValue).index;
    const head = (this.cache[0] as Entry).index;
    const drop = Math.max(this.cache.length - ENTRY_CACHE_ENTRIES_MAX, Math.min(this.cache.length, t - head + 1));
    this.cache.splice(0, drop);
  }

  private stageRaftState(raftBatch: WriteBatch, next: RaftLocalState): PendingUpdate {
    // Pair assertion: checked before persisting, and again after reading back in load().
    assertRaftState(next, truncated(this.applyTrack.staged).index);
    raftBatch.put(CF_RAFT, raftStateKey(this.regionId), RaftLocalState.encode(next).finish());
    this.raftTrack.staged = next;
    return { kind: 'raft', seq: this.raftTrack.nextStageSeq++, raftState: next };
  }

  private checkRange(lo: number, hi: number): void {
    if (!(lo <= hi)) assert(false, `invalid range [${lo}, ${hi})`);
    const t = truncated(this.applyStateValue).index;
    if (lo <= t) throw new RaftStorageError(RAFT_STORAGE_ERROR_CODES.Compacted, `entry ${lo} is compacted (first index ${t + 1})`);
    const last = this.raftStateValue.lastIndex;
    if (hi > last + 1) {
      throw new RaftStorageError(RAFT_STORAGE_ERROR_CODES.Unavailable, `entries [${lo}, ${hi}) out of bound, last index ${last}`);
    }
  }

  /** truncated <= applied <= committed <= lastIndex, on the durable states. */
  private assertInvariants(): void {
    const t = truncated(this.applyStateValue);
    const applied = this.applyStateValue.appliedIndex;
    assertRaftState(this.raftStateValue, t.index);
    if (!(t.index <= applied)) assert(false, `region ${this.regionId}: truncated ${t.index} > applied ${applied}`);
    // Apply only follows a durable commit index (ready.ts: persist, then apply).
    const committed = this.raftStateValue.hardState?.commit ?? 0;
    if (!(applied <= committed)) assert(false, `region ${this.regionId}: applied ${applied} > committed ${committed}`);
  }

  /** lastTerm agrees with the stored last entry, and no stale entry follows it. */
  private assertLogMatchesState(): void {
    const { lastIndex, lastTerm } = this.raftStateValue;
    const t = truncated(this.applyStateValue);
    if (lastIndex === t.index) {
      if (lastTerm !== t.term) assert(false, `region ${this.regionId}: last term ${lastTerm} != truncated term ${t.term}`);
    } else {
      const raw = this.raftEngine.get(CF_RAFT, raftLogKey(this.regionId, lastIndex));
      if (raw === undefined) assert(false, `region ${this.regionId}: last entry ${lastIndex} missing`);
      const e = EntryCodec.decode(raw);
      if (e.term !== lastTerm) assert(false, `region ${this.regionId}: last term ${lastTerm} but entry ${lastIndex} has term ${e.term}`);
    }
    const after = this.raftEngine.get(CF_RAFT, raftLogKey(this.regionId, lastIndex + 1));
    if (after !== undefined) assert(false, `region ${this.regionId}: stale entry ${lastIndex + 1} past the last index`);
  }
}

/** At least one entry, then as many as fit in `maxSizeBytes` (etcd limitSize). */
function limitSize(entries: Entry[], maxSizeBytes: number): Entry[] {
  let size = 0;
  for (let i = 0; i < entries.length; i++) {
    size += entrySizeBytes(entries[i] as Entry);
    if (i > 0 && size > maxSizeBytes) return entries.slice(0, i);
  }
  return entries;
}

function assertRaftState(s: RaftLocalState, truncatedIndex: number): void {
  if (!(Number.isSafeInteger(s.lastIndex) && s.lastIndex >= truncatedIndex)) {
    assert(false, `last index ${s.lastIndex} below truncated ${truncatedIndex}`);
  }
  const commit = s.hardState?.commit ?? 0;
  if (!(commit <= s.lastIndex)) assert(false, `commit ${commit} > last index ${s.lastIndex}`);
  if (!(s.lastTerm >= 0 && (s.lastIndex === 0) === (s.lastTerm === 0))) assert(false, `last term ${s.lastTerm} at ${s.lastIndex}`);
}

function initialRaftState(region: Region): RaftLocalState {
  if (region.peers.length === 0) return { hardState: undefined, lastIndex: 0, lastTerm: 0 };
  // TinyKV writes hard state {term: 5, commit: 5} so the initial entries count as committed.
  const hardState: HardState = { term: RAFT_INIT_LOG_TERM, vote: 0, commit: RAFT_INIT_LOG_INDEX };
  return { hardState, lastIndex: RAFT_INIT_LOG_INDEX, lastTerm: RAFT_INIT_LOG_TERM };
}

function initialApplyState(region: Region): RaftApplyState {
  if (region.peers.length === 0) return { appliedIndex: 0, truncatedState: { index: 0, term: 0 } };
  return { appliedIndex: RAFT_INIT_LOG_INDEX, truncatedState: { index: RAFT_INIT_LOG_INDEX, term: RAFT_INIT_LOG_TERM } };
}

/** The voters are the region's peers (TinyKV has no learners in a region). */
function confStateOfRegion(region: Region): ConfState {
  const nodes = region.peers.map((p) => p.id).sort((a, b) => a - b);
  return { ...emptyConfState(), nodes };
}

function truncated(s: RaftApplyState): RaftTruncatedState {
  return s.truncatedState ?? { index: 0, term: 0 };
}

function cloneRaftState(s: RaftLocalState): RaftLocalState {
  return { hardState: s.hardState === undefined ? undefined : { ...s.hardState }, lastIndex: s.lastIndex, lastTerm: s.lastTerm };
}

function cloneApplyState(s: RaftApplyState): RaftApplyState {
  return { appliedIndex: s.appliedIndex, truncatedState: { ...truncated(s) } };
}
