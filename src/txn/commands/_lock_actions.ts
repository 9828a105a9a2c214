/**
 * The two ways a lock of transaction `txn.startTs` ends, shared by KvCommit,
 * KvBatchRollback, KvCheckTxnStatus and KvResolveLock so they record exactly
 * the same bytes. Helpers only buffer changes in the MvccTxn; the command
 * checks its preconditions first and writes the batch.
 */
import { assert } from '../../util/assert.js';
import type { Lock } from '../lock.js';
import type { MvccTxn } from '../mvcc_txn.js';
import { WriteKind } from '../write.js';

/** Commits our lock on `key` at `commitTs`: a write of the lock's kind, and the lock deleted. */
export function commitLock(txn: MvccTxn, key: Uint8Array, lock: Lock, commitTs: bigint): void {
  assert(lock.ts === txn.startTs, 'commitLock: the lock belongs to the txn');
  assert(commitTs > txn.startTs, 'commitLock: commitTs > startTs');
  txn.putWrite(key, commitTs, { startTs: txn.startTs, kind: lock.kind });
  txn.deleteLock(key);
}

/** Rolls back our lock on `key`: the lock and its prewritten value deleted, and a rollback record. */
export function rollbackLock(txn: MvccTxn, key: Uint8Array, lock: Lock): void {
  assert(lock.ts === txn.startTs, 'rollbackLock: the lock belongs to the txn');
  // Only a Put prewrite stored a value (prewrite.ts deletes it for Del).
  if (lock.kind === WriteKind.Put) txn.deleteValue(key);
  txn.deleteLock(key);
  putRollback(txn, key);
}

/**
 * Records that txn `startTs` is rolled back on `key` (a Rollback write at
 * commitTs = startTs), so a prewrite of the txn arriving late is refused as
 * a write conflict and a commit as aborted (Percolator's rollback marker;
 * TinyKV writes it even when the key was never locked).
 *
 * Beyond TinyKV: when another txn's write record already sits at exactly
 * `EncodeKey(key, startTs)` (its commitTs equals our startTs: impossible
 * with a TSO, possible with hand-picked timestamps) it is kept, not
 * overwritten: overwriting would erase a committed version. That record
 * already refuses a late prewrite of ours (commitTs >= startTs conflicts).
 */
export function putRollback(txn: MvccTxn, key: Uint8Array): void {
  const occupying = txn.getWrite(key, txn.startTs);
  if (occupying !== undefined && occupying.startTs !== txn.startTs) return;
  txn.putWrite(key, txn.startTs, { startTs: txn.startTs, kind: WriteKind.Rollback });
}
