/**
 * TinyKV mvcc.Scanner: the user keys of a read view in ascending order from a
 * start key, as a transaction started at `startTs` sees them. For each key it
 * yields either
 * - the value of the latest committed Put visible at `startTs` (commitTs <=
 *   startTs; Rollback records are skipped as in MvccTxn.getValue, and a key
 *   whose latest visible write is a Delete, or that has none, is skipped), or
 * - the lock on the key, when one with ts <= startTs is present: its txn may
 *   still commit below `startTs`, so the reader cannot decide the key and
 *   must report the lock (TiKV's scanner does the same; KvScan turns it into
 *   a KvPair carrying KeyError.locked). A newer lock cannot commit at or
 *   before `startTs` (commitTs > lock ts > startTs) and is ignored.
 *
 * Two cursors advance together: one over CF write (MVCC keys, newest version
 * of a user key first) and one over CF lock (raw keys), so a key that is only
 * locked (its first prewrite, no committed version yet) is reported too.
 * Memory is bounded: nothing is buffered beyond the current entry. The scan
 * stops at `endKey` (exclusive; empty = unbounded) or where the reader's
 * iterators end (a region-bounded reader ends at its region's end).
 */
import { CF_LOCK, CF_WRITE } from '../storage/engine.js';
import type { DBIterator, StorageReader } from '../storage/storage.js';
import { assert } from '../util/assert.js';
import { compareBytes, equalBytes } from '../util/bytes.js';
import { assertU64, decodeKey, decodeUserKey, encodeBytes, encodeKey } from './codec.js';
import { parseLock } from './lock.js';
import type { Lock } from './lock.js';
import { parseWrite, WriteKind } from './write.js';
import { readCommittedValue } from './mvcc_txn.js';

/** One user key of a scan: its visible value, or the lock that hides it. */
export type ScanEntry =
  | { readonly kind: 'value'; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly kind: 'locked'; readonly key: Uint8Array; readonly lock: Lock };

export interface ScannerOptions {
  /** The first user key to visit (inclusive); empty = the first key of the reader. */
  readonly startKey: Uint8Array;
  /** Where to stop (exclusive). @default empty: to the end of the reader */
  readonly endKey?: Uint8Array;
}

export class Scanner {
  private readonly reader: StorageReader;
  private readonly startTs: bigint;
  private readonly endKey: Uint8Array;
  private readonly writes: DBIterator;
  private readonly locks: DBIterator;
  private done = false;

  /** The reader stays owned by the caller, who closes it after {@link close}. */
  constructor(reader: StorageReader, startTs: bigint, options: ScannerOptions) {
    assertU64(startTs, 'Scanner: startTs');
    this.reader = reader;
    this.startTs = startTs;
    this.endKey = options.endKey ?? new Uint8Array(0);
    this.writes = reader.iterCF(CF_WRITE);
    this.locks = reader.iterCF(CF_LOCK);
    // encodeBytes(k) is a prefix of (so sorts at or before) every MVCC key of k.
    this.writes.seek(encodeBytes(options.startKey));
    this.locks.seek(options.startKey);
  }

  /**
   * The next key with a visible value or a blocking lock; undefined at the end.
   * Terminates: every pass of the loop moves at least one cursor past a key.
   * @throws {MvccError} BadKey / BadWrite / BadLock on corrupt records, or
   *   MissingValue when a committed Put has no value in CF default.
   */
  next(): ScanEntry | undefined {
    while (!this.done) {
      const writeKey = this.writes.valid() ? decodeUserKey(this.writes.item().key) : undefined;
      const lockKey = this.locks.valid() ? this.locks.item().key.slice() : undefined;
      const key = minKey(writeKey, lockKey);
      if (key === undefined || (this.endKey.length > 0 && compareBytes(key, this.endKey) >= 0)) {
        this.done = true;
        break;
      }
      let lock: Lock | undefined;
      if (lockKey !== undefined && equalBytes(lockKey, key)) {
        lock = parseLock(this.locks.item().value);
        this.locks.next();
      }
      const value = writeKey !== undefined && equalBytes(writeKey, key) ? this.visibleValue(key) : undefined;
      if (lock !== undefined && lock.ts <= this.startTs) return { kind: 'locked', key, lock };
      if (value !== undefined) return { kind: 'value', key, value };
    }
    return undefined;
  }

  /** Closes the iterators (idempotent); the reader is the caller's to close. */
  close(): void {
    this.done = true;
    this.writes.close();
    this.locks.close();
  }

  /**
   * The value of `key` visible at startTs (undefined when deleted or absent),
   * leaving the write cursor on the first entry of the next user key.
   */
  private visibleValue(key: Uint8Array): Uint8Array | undefined {
    let visible: { readonly startTs: bigint; readonly kind: WriteKind } | undefined;
    // Seek lands on the newest version with commitTs <= startTs (codec.ts).
    for (this.writes.seek(encodeKey(key, this.startTs)); this.writes.valid(); this.writes.next()) {
      const item = this.writes.item();
      const { userKey, ts: commitTs } = decodeKey(item.key);
      if (!equalBytes(userKey, key)) break;
      assert(commitTs <= this.startTs, 'Scanner: seek lands at or below startTs');
      const write = parseWrite(item.value);
      if (write.kind !== WriteKind.Rollback) {
        visible = write;
        break;
      }
    }
    // encodeKey(key, 0) is the last MVCC key of `key`: at most one step past it.
    this.writes.seek(encodeKey(key, 0n));
    if (this.writes.valid() && equalBytes(decodeUserKey(this.writes.item().key), key)) this.writes.next();
    assert(!this.writes.valid() || !equalBytes(decodeUserKey(this.writes.item().key), key), 'Scanner: cursor moved past the key');
    if (visible === undefined || visible.kind === WriteKind.Delete) return undefined;
    return readCommittedValue(this.reader, key, visible.startTs, 'scan');
  }

}

function minKey(a: Uint8Array | undefined, b: Uint8Array | undefined): Uint8Array | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareBytes(a, b) <= 0 ? a : b;
}
