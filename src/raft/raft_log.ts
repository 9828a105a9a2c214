/**
 * The raft log: stable entries in {@link Storage} followed by unstable ones,
 * with the `committed` and `applied` cursors (etcd's raftLog).
 * Invariants: applied <= committed <= lastIndex; firstIndex - 1 <= applied.
 */
import { assert } from '../util/assert.js';
import { isStorageError, RaftStorageError, RAFT_STORAGE_ERROR_CODES } from './storage.js';
import type { Storage } from './storage.js';
import { Unstable } from './log_unstable.js';
import { snapshotIndex } from './types.js';
import type { Entry, Snapshot } from './types.js';
import { limitSize } from './util.js';

export const NO_LIMIT = Number.MAX_SAFE_INTEGER;

export class RaftLog {
  readonly storage: Storage;
  readonly unstable: Unstable;
  /** Highest index known to be committed by a quorum. */
  committed: number;
  /** Highest index applied by the application. Invariant: applied <= committed. */
  applied: number;
  /** Max bytes of committed entries handed out per Ready. */
  readonly maxNextEntsSizeBytes: number;

  constructor(storage: Storage, maxNextEntsSizeBytes = NO_LIMIT) {
    this.storage = storage;
    this.maxNextEntsSizeBytes = maxNextEntsSizeBytes;
    const firstIndex = storage.firstIndex();
    const lastIndex = storage.lastIndex();
    this.unstable = new Unstable(lastIndex + 1);
    // Everything up to the snapshot (firstIndex - 1) is committed and applied.
    this.committed = firstIndex - 1;
    this.applied = firstIndex - 1;
  }

  toString(): string {
    return `committed=${this.committed}, applied=${this.applied}, unstable.offset=${this.unstable.offset}, len(unstable.Entries)=${this.unstable.entries.length}`;
  }

  /**
   * Appends `ents` after (index, logTerm) if that entry matches, truncating
   * conflicts; returns the new last index, or undefined when it does not match.
   */
  maybeAppend(index: number, logTerm: number, committed: number, ents: readonly Entry[]): number | undefined {
    if (!this.matchTerm(index, logTerm)) return undefined;
    const lastNewIndex = index + ents.length;
    const ci = this.findConflict(ents);
    if (ci !== 0) {
      if (!(ci > this.committed)) assert(false, `entry ${ci} conflicts with committed entry [committed(${this.committed})]`);
      this.append(ents.slice(ci - (index + 1)));
    }
    this.commitTo(Math.min(committed, lastNewIndex));
    return lastNewIndex;
  }

  append(ents: readonly Entry[]): number {
    if (ents.length === 0) return this.lastIndex();
    const after = (ents[0] as Entry).index - 1;
    if (!(after >= this.committed)) assert(false, `after(${after}) is out of range [committed(${this.committed})]`);
    this.unstable.truncateAndAppend(ents);
    return this.lastIndex();
  }

  /**
   * The first index of `ents` whose term differs from the log's (or that is
   * past the end), or 0 when all match.
   */
  findConflict(ents: readonly Entry[]): number {
    for (const e of ents) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term` (etcd's
   * findConflictByTerm): lets the leader skip all entries of a conflicting term
   * in one round trip.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = index; i >= 0; i--) {
      const t = this.termOrUndefined(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  unstableEntries(): Entry[] {
    return this.unstable.entries.slice();
  }

  /** Committed entries not yet applied, bounded by maxNextEntsSizeBytes. */
  nextEnts(): Entry[] {
    const off = Math.max(this.applied + 1, this.firstIndex());
    if (this.committed + 1 > off) return this.slice(off, this.committed + 1, this.maxNextEntsSizeBytes);
    return [];
  }

  hasNextEnts(): boolean {
    const off = Math.max(this.applied + 1, this.firstIndex());
    return this.committed + 1 > off;
  }

  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== undefined;
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** The index of the last stable entry (TinyKV's `stabled`). */
  stabled(): number {
    return this.unstable.offset - 1;
  }

  commitTo(toCommit: number): void {
    // Never decrease commit.
    if (this.committed < toCommit) {
      if (!(this.lastIndex() >= toCommit)) assert(false, `toCommit(${toCommit}) is out of range [lastIndex(${this.lastIndex()})]`);
      this.committed = toCommit;
    }
  }

  appliedTo(i: number): void {
    if (i === 0) return;
    if (!(this.committed >= i && i >= this.applied)) assert(false, `applied(${i}) is out of range [prevApplied(${this.applied}), committed(${this.committed})]`);
    this.applied = i;
  }

  stableTo(i: number, t: number): void {
    this.unstable.stableTo(i, t);
  }

  stableSnapTo(i: number): void {
    this.unstable.stableSnapTo(i);
  }

  lastTerm(): number {
    const t = this.termOrUndefined(this.lastIndex());
    assert(t !== undefined, 'unexpected error when getting the last term');
    return t;
  }

  /** The term of entry i, or undefined when it is compacted or unavailable. */
  termOrUndefined(i: number): number | undefined {
    // The valid term range is [index of dummy entry, last index].
    const dummyIndex = this.firstIndex() - 1;
    if (i < dummyIndex || i > this.lastIndex()) return undefined;
    const t = this.unstable.maybeTerm(i);
    if (t !== undefined) return t;
    try {
      return this.storage.term(i);
    } catch (err: unknown) {
      if (isStorageError(err, RAFT_STORAGE_ERROR_CODES.Compacted) || isStorageError(err, RAFT_STORAGE_ERROR_CODES.Unavailable)) {
        return undefined;
      }
      throw err;
    }
  }

  /** The term of entry i; 0 when compacted or past the end (TinyKV tests' zeroTermOnErrCompacted). */
  term(i: number): number {
    return this.termOrUndefined(i) ?? 0;
  }

  /**
   * Entries from i on, up to maxSizeBytes.
   * @throws {RaftStorageError} Compacted when i is compacted.
   */
  entries(i: number, maxSizeBytes: number): Entry[] {
    if (i > this.lastIndex()) return [];
    return this.slice(i, this.lastIndex() + 1, maxSizeBytes);
  }

  /** Entries from i on, or undefined when i is compacted. */
  entriesOrUndefined(i: number, maxSizeBytes: number): Entry[] | undefined {
    try {
      return this.entries(i, maxSizeBytes);
    } catch (err: unknown) {
      if (isStorageError(err, RAFT_STORAGE_ERROR_CODES.Compacted)) return undefined;
      throw err;
    }
  }

  /** The latest snapshot, or undefined while storage is still generating it. */
  snapshotOrUndefined(): Snapshot | undefined {
    try {
      return this.snapshot();
    } catch (err: unknown) {
      if (isStorageError(err, RAFT_STORAGE_ERROR_CODES.SnapshotTemporarilyUnavailable)) return undefined;
      throw err;
    }
  }

  allEntries(): Entry[] {
    try {
      return this.entries(this.firstIndex(), NO_LIMIT);
    } catch (err: unknown) {
      // Racing with compaction: try again.
      if (isStorageError(err, RAFT_STORAGE_ERROR_CODES.Compacted)) return this.allEntries();
      throw err;
    }
  }

  /** §5.4.1: is (lastIndex, term) at least as up to date as our log? */
  isUpToDate(lasti: number, term: number): boolean {
    return term > this.lastTerm() || (term === this.lastTerm() && lasti >= this.lastIndex());
  }

  matchTerm(i: number, term: number): boolean {
    const t = this.termOrUndefined(i);
    return t !== undefined && t === term;
  }

  maybeCommit(maxIndex: number, term: number): boolean {
    if (maxIndex > this.committed && this.term(maxIndex) === term) {
      this.commitTo(maxIndex);
      return true;
    }
    return false;
  }

  restore(s: Snapshot): void {
    this.committed = snapshotIndex(s);
    this.unstable.restore(s);
  }

  /** Entries in [lo, hi). @throws {RaftStorageError} Compacted when lo is compacted. */
  slice(lo: number, hi: number, maxSizeBytes: number): Entry[] {
    this.mustCheckOutOfBounds(lo, hi);
    if (lo === hi) return [];
    let ents: Entry[] = [];
    if (lo < this.unstable.offset) {
      const stored = this.storage.entries(lo, Math.min(hi, this.unstable.offset), maxSizeBytes);
      // Check whether storage stopped short (size limit): then return what it has.
      if (stored.length < Math.min(hi, this.unstable.offset) - lo) return stored;
      ents = stored;
    }
    if (hi > this.unstable.offset) {
      const unstable = this.unstable.slice(Math.max(lo, this.unstable.offset), hi);
      ents = ents.length > 0 ? ents.concat(unstable) : unstable;
    }
    return limitSize(ents, maxSizeBytes);
  }

  /** @throws {RaftStorageError} Compacted when lo < firstIndex. */
  private mustCheckOutOfBounds(lo: number, hi: number): void {
    if (!(lo <= hi)) assert(false, `invalid slice ${lo} > ${hi}`);
    const fi = this.firstIndex();
    if (lo < fi) throw new RaftStorageError(RAFT_STORAGE_ERROR_CODES.Compacted, `slice from ${lo} is compacted (first index ${fi})`);
    const length = this.lastIndex() + 1 - fi;
    if (!(hi <= fi + length)) assert(false, `slice[${lo},${hi}) out of bound [${fi},${this.lastIndex()}]`);
  }
}
