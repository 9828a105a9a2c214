/**
 * The raft log's stable storage (etcd raft's Storage), read synchronously by
 * the core. `MemoryStorage` is the in-memory implementation used by tests and
 * as the model for the raftstore's PeerStorage.
 *
 * Storage errors are thrown as {@link RaftStorageError}: a compacted or
 * unavailable entry is an expected condition the core handles (by sending a
 * snapshot, or retrying later).
 */
import { assert } from '../util/assert.js';
import { CodedError } from '../util/errors.js';
import { emptyConfState, emptyHardState, emptySnapshot, newEntry } from './types.js';
import type { ConfState, Entry, HardState, Snapshot } from './types.js';
import { limitSize } from './util.js';

export const RAFT_STORAGE_ERROR_CODES = {
  /** The requested index is older than the first available entry. */
  Compacted: 'RAFT_STORAGE_COMPACTED',
  /** The requested snapshot is older than the existing one. */
  SnapOutOfDate: 'RAFT_STORAGE_SNAP_OUT_OF_DATE',
  /** The requested entry is past the last one. */
  Unavailable: 'RAFT_STORAGE_UNAVAILABLE',
  /** The snapshot is being generated; ask again later. */
  SnapshotTemporarilyUnavailable: 'RAFT_STORAGE_SNAPSHOT_TEMPORARILY_UNAVAILABLE',
} as const;
export type RaftStorageErrorCode = (typeof RAFT_STORAGE_ERROR_CODES)[keyof typeof RAFT_STORAGE_ERROR_CODES];

export class RaftStorageError extends CodedError<RaftStorageErrorCode> {
  override readonly name = 'RaftStorageError';
}

export function isStorageError(err: unknown, code: RaftStorageErrorCode): boolean {
  return err instanceof RaftStorageError && err.code === code;
}

export interface InitialState {
  readonly hardState: HardState;
  readonly confState: ConfState;
}

export interface Storage {
  /** The persisted HardState and ConfState, read once at start. */
  initialState(): InitialState;
  /**
   * Entries in [lo, hi), limited to `maxSizeBytes` total but always at least one.
   * @throws {RaftStorageError} Compacted when lo < firstIndex; Unavailable when hi > lastIndex + 1.
   */
  entries(lo: number, hi: number, maxSizeBytes: number): Entry[];
  /**
   * The term of entry `i`, for i in [firstIndex - 1, lastIndex].
   * @throws {RaftStorageError} Compacted or Unavailable outside that range.
   */
  term(i: number): number;
  lastIndex(): number;
  /** Index of the first entry still available (older ones are in the snapshot). */
  firstIndex(): number;
  /** @throws {RaftStorageError} SnapshotTemporarilyUnavailable while one is being made. */
  snapshot(): Snapshot;
}

export class MemoryStorage implements Storage {
  hardState: HardState = emptyHardState();
  private snap: Snapshot = emptySnapshot();
  /** ents[0] is a dummy entry holding the snapshot's index and term. */
  private ents: Entry[] = [newEntry()];

  initialState(): InitialState {
    return { hardState: this.hardState, confState: this.snap.metadata?.confState ?? emptyConfState() };
  }

  /** Sets the membership of an empty storage (a new group's initial voters and learners). */
  bootstrap(cs: ConfState): void {
    assert(this.lastIndex() === 0 && this.snap.metadata!.index === 0, 'bootstrap of a non-empty MemoryStorage');
    this.snap = { ...this.snap, metadata: { index: 0, term: 0, confState: cs } };
  }

  setHardState(hs: HardState): void {
    this.hardState = { ...hs };
  }

  entries(lo: number, hi: number, maxSizeBytes: number): Entry[] {
    const offset = this.offset();
    if (lo <= offset) throw new RaftStorageError(RAFT_STORAGE_ERROR_CODES.Compacted, `entry ${lo} is compacted (first index ${offset + 1})`);
    if (hi > this.lastIndex() + 1) {
      throw new RaftStorageError(RAFT_STORAGE_ERROR_CODES.Unavailable, `entries [${lo}, ${hi}) out of bound, last index ${this.lastIndex()}`);
    }
    // Only the dummy entry: no data.
    if (this.ents.length === 1) throw new RaftStorageError(RAFT_STORAGE_ERROR_CODES.Unavailable, 'no entries');
    return limitSize(this.ents.slice(lo - offset, hi - offset), maxSizeBytes);
  }

  term(i: number): number {
    const offset = this.offset();
    if (i < offset) throw new RaftStorageError(RAFT_STORAGE_ERROR_CODES.Compacted, `term of ${i} is compacted`);
    if (i - offset >= this.ents.length) throw new RaftStorageError(RAFT_STORAGE_ERROR_CODES.Unavailable, `term of ${i} is unavailable`);
    return (this.ents[i - offset] as Entry).term;
  }

  lastIndex(): number {
    return this.offset() + this.ents.length - 1;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replaces the contents with `snap`. @throws {RaftStorageError} SnapOutOfDate. */
  applySnapshot(snap: Snapshot): void {
    const index = snap.metadata?.index ?? 0;
    if (index <= this.snap.metadata!.index) {
      throw new RaftStorageError(RAFT_STORAGE_ERROR_CODES.SnapOutOfDate, `snapshot ${index} is out of date`);
    }
    this.snap = snap;
    this.ents = [newEntry({ term: snap.metadata?.term ?? 0, index })];
  }

  /**
   * Makes a snapshot at index `i` (which must be applied) with the given
   * membership and application data, for later compaction.
   * @throws {RaftStorageError} SnapOutOfDate when `i` is not newer.
   */
  createSnapshot(i: number, cs: ConfState | undefined, data: Buffer): Snapshot {
    if (i <= this.snap.metadata!.index) {
      throw new RaftStorageError(RAFT_STORAGE_ERROR_CODES.SnapOutOfDate, `snapshot ${i} is out of date`);
    }
    const offset = this.offset();
    if (!(i <= this.lastIndex())) assert(false, `snapshot ${i} is out of bound, last index ${this.lastIndex()}`);
    this.snap = {
      data,
      metadata: { index: i, term: (this.ents[i - offset] as Entry).term, confState: cs ?? this.snap.metadata!.confState },
    };
    return this.snap;
  }

  /** Discards entries up to and including `compactIndex`. @throws {RaftStorageError} Compacted. */
  compact(compactIndex: number): void {
    const offset = this.offset();
    if (compactIndex <= offset) throw new RaftStorageError(RAFT_STORAGE_ERROR_CODES.Compacted, `compact ${compactIndex} is compacted`);
    if (!(compactIndex <= this.lastIndex())) assert(false, `compact ${compactIndex} is out of bound, last index ${this.lastIndex()}`);
    const i = compactIndex - offset;
    const dummy = newEntry({ index: (this.ents[i] as Entry).index, term: (this.ents[i] as Entry).term });
    this.ents = [dummy, ...this.ents.slice(i + 1)];
  }

  /** Appends entries, truncating any conflicting suffix. Entries must be continuous. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    const last = (entries[entries.length - 1] as Entry).index;
    if (last < first) return; // all compacted already
    let ents = entries;
    if (first > (entries[0] as Entry).index) ents = entries.slice(first - (entries[0] as Entry).index);
    const offset = (ents[0] as Entry).index - this.offset();
    if (!(offset <= this.ents.length)) assert(false, `missing log entry [last: ${this.lastIndex()}, append at: ${(ents[0] as Entry).index}]`);
    // Truncate a conflicting suffix in place, then append: O(appended), not O(log).
    if (offset < this.ents.length) this.ents.length = offset;
    for (const e of ents) this.ents.push(e);
  }

  private offset(): number {
    return (this.ents[0] as Entry).index;
  }
}
