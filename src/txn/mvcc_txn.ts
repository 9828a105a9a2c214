/**
 * TinyKV mvcc.MvccTxn: one transaction's view of the MVCC data, at its
 * `startTs`. It lowers timestamps, writes and locks into plain keys in the
 * three data CFs, reading through a `StorageReader` (a read view) and
 * buffering its own changes as `Modify`s for the caller to submit in one
 * batch. Reads never see the buffered changes, as in TinyKV.
 *
 * Layout (PROTOCOL.md, "Storage encodings"):
 * - CF lock:    raw key               -> Lock bytes
 * - CF default: EncodeKey(key, start) -> value
 * - CF write:   EncodeKey(key, commit) -> Write bytes (a rollback uses commit = start)
 */
import { CF_DEFAULT, CF_LOCK, CF_WRITE } from '../storage/engine.js';
import type { DBIterator, Modify, StorageReader } from '../storage/storage.js';
import { assert } from '../util/assert.js';
import { equalBytes, formatKey } from '../util/bytes.js';
import { assertU64, decodeKey, encodeKey, U64_MAX } from './codec.js';
import { MVCC_ERROR_CODES, MvccError } from './errors.js';
import { encodeLock, parseLock } from './lock.js';
import type { Lock } from './lock.js';
import { encodeWrite, parseWrite, WriteKind } from './write.js';
import type { Write } from './write.js';

/** A write record together with the commit timestamp it is stored under. */
export interface CommittedWrite {
  readonly write: Write;
  readonly commitTs: bigint;
}

export class MvccTxn {
  /** The transaction's start timestamp: it reads as of this time and writes values at it. */
  readonly startTs: bigint;
  private readonly reader: StorageReader;
  private readonly buffered: Modify[] = [];

  /** The reader stays owned by the caller, who closes it after the txn is done. */
  constructor(reader: StorageReader, startTs: bigint) {
    assertU64(startTs, 'MvccTxn: startTs');
    this.reader = reader;
    this.startTs = startTs;
  }

  /** The changes buffered so far, in call order (TinyKV Writes). */
  writes(): readonly Modify[] {
    return this.buffered;
  }

  /** Records a write at `EncodeKey(key, ts)` in CF write; `ts` is the commit ts. */
  putWrite(key: Uint8Array, ts: bigint, write: Write): void {
    this.buffered.push({ type: 'put', cf: CF_WRITE, key: encodeKey(key, ts), value: encodeWrite(write) });
  }

  /**
   * The write record stored exactly at `EncodeKey(key, commitTs)`, or
   * undefined when there is none.
   * @throws {MvccError} BadWrite when the stored record is corrupt.
   */
  getWrite(key: Uint8Array, commitTs: bigint): Write | undefined {
    const value = this.reader.getCF(CF_WRITE, encodeKey(key, commitTs));
    return value === undefined ? undefined : parseWrite(value);
  }

  /**
   * The lock on `key`, or undefined when the key is not locked.
   * @throws {MvccError} BadLock when the stored lock is corrupt.
   */
  getLock(key: Uint8Array): Lock | undefined {
    const value = this.reader.getCF(CF_LOCK, key);
    return value === undefined ? undefined : parseLock(value);
  }

  putLock(key: Uint8Array, lock: Lock): void {
    this.buffered.push({ type: 'put', cf: CF_LOCK, key, value: encodeLock(lock) });
  }

  deleteLock(key: Uint8Array): void {
    this.buffered.push({ type: 'delete', cf: CF_LOCK, key });
  }

  /**
   * The value of `key` visible at `startTs`: the one written by the latest
   * transaction that committed at or before `startTs`. A Delete hides older
   * values. A Rollback record is not a committed version, so it is skipped and
   * the search continues with older writes (as TiKV does): otherwise a rolled
   * back txn would hide the value committed before it.
   * @throws {MvccError} BadKey / BadWrite on corrupt CF write entries, or
   *   MissingValue when a Put write has no value in CF default.
   */
  getValue(key: Uint8Array): Uint8Array | undefined {
    const found = this.scanWrites(key, this.startTs, (w) => w.kind !== WriteKind.Rollback);
    if (found === undefined) return undefined;
    const { write } = found;
    if (write.kind === WriteKind.Put) return readCommittedValue(this.reader, key, write.startTs, 'read');
    // Rollbacks were skipped by the scan, so only a Delete can remain.
    assert(write.kind === WriteKind.Delete, 'getValue: rollback writes are skipped');
    return undefined;
  }

  /** Buffers `value` at `EncodeKey(key, startTs)` in CF default. */
  putValue(key: Uint8Array, value: Uint8Array): void {
    this.buffered.push({ type: 'put', cf: CF_DEFAULT, key: encodeKey(key, this.startTs), value });
  }

  deleteValue(key: Uint8Array): void {
    this.buffered.push({ type: 'delete', cf: CF_DEFAULT, key: encodeKey(key, this.startTs) });
  }

  /**
   * The write of this transaction on `key` (its startTs equals `this.startTs`),
   * with its commit timestamp; undefined when there is none.
   * @throws {MvccError} BadKey / BadWrite on corrupt CF write entries.
   */
  currentWrite(key: Uint8Array): CommittedWrite | undefined {
    // Newest first, stopping below startTs: commitTs >= startTs for every write
    // (equal for a rollback), so an older record cannot belong to this txn.
    return this.scanWrites(key, U64_MAX, (w, commitTs) => {
      if (commitTs < this.startTs) return 'stop';
      return w.startTs === this.startTs;
    });
  }

  /**
   * The newest write on `key` whatever its timestamps or kind (Delete and
   * Rollback included), with its commit timestamp; undefined when there is none.
   * @throws {MvccError} BadKey / BadWrite on corrupt CF write entries.
   */
  mostRecentWrite(key: Uint8Array): CommittedWrite | undefined {
    return this.scanWrites(key, U64_MAX, () => true);
  }

  /**
   * Visits the writes of `key` with commitTs <= `maxTs`, newest first, and
   * returns the first one `accept` takes; 'stop' ends the search early.
   * Terminates because the iterator is over a finite read view.
   */
  private scanWrites(
    key: Uint8Array,
    maxTs: bigint,
    accept: (write: Write, commitTs: bigint) => boolean | 'stop',
  ): CommittedWrite | undefined {
    const iter: DBIterator = this.reader.iterCF(CF_WRITE);
    try {
      for (iter.seek(encodeKey(key, maxTs)); iter.valid(); iter.next()) {
        const item = iter.item();
        const { userKey, ts: commitTs } = decodeKey(item.key);
        if (!equalBytes(userKey, key)) return undefined;
        assert(commitTs <= maxTs, 'scanWrites: seek lands at or below maxTs');
        const write = parseWrite(item.value);
        const verdict = accept(write, commitTs);
        if (verdict === 'stop') return undefined;
        if (verdict) return { write, commitTs };
      }
      return undefined;
    } finally {
      iter.close();
    }
  }

}

/**
 * The value a committed Put of the txn started at `startTs` wrote for `key`
 * (CF default at encodeKey(key, startTs)).
 * @throws {MvccError} MissingValue when it is not there: the record and its value are written together, so storage is corrupt.
 */
export function readCommittedValue(reader: StorageReader, key: Uint8Array, startTs: bigint, verb: string): Uint8Array {
  const value = reader.getCF(CF_DEFAULT, encodeKey(key, startTs));
  if (value === undefined) {
    throw new MvccError(MVCC_ERROR_CODES.MissingValue, `Cannot ${verb} ${formatKey(key)}: committed Put of txn ${startTs} has no value in CF default`);
  }
  return value;
}
