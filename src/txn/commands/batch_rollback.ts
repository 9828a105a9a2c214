/**
 * KvBatchRollback (TinyKV 4C): rolls back the txn started at `startVersion`
 * on each distinct key, under the latches of all the request's keys:
 * - the txn's own write record (currentWrite) decides first:
 *   - committed (Put/Delete): KeyError.abort, a committed txn cannot be
 *     rolled back (TestRollbackCommitted4C);
 *   - rolled back already: nothing to do (TestRollbackDuplicate4C);
 * - our lock (lock.ts == startVersion): delete it and its prewritten value,
 *   and write a Rollback record at startVersion (TestRollback4C);
 * - no lock, or another txn's lock (left alone): still write the Rollback
 *   record, so our prewrite, if it arrives late, is refused
 *   (TestRollbackMissingPrewrite4C, TestRollbackOtherTxn4C).
 * The first KeyError (keys in ascending order) answers the request and
 * nothing is written; else every change goes to storage in one atomic write.
 */
import type { BatchRollbackRequest, BatchRollbackResponse, KeyError } from '../../pb/kvrpcpb.js';
import type { Storage } from '../../storage/storage.js';
import { formatKey } from '../../util/bytes.js';
import type { Latches } from '../latches.js';
import type { MvccTxn } from '../mvcc_txn.js';
import { WriteKind } from '../write.js';
import { keyError, perKeyCommand } from './_common.js';
import { putRollback, rollbackLock } from './_lock_actions.js';

/** @throws {MvccError} on corrupt MVCC records; storage errors other than region errors. */
export async function kvBatchRollback(storage: Storage, latches: Latches, req: BatchRollbackRequest): Promise<BatchRollbackResponse> {
  return perKeyCommand(storage, latches, req.context, req.startVersion, req.keys, rollbackKey);
}

function rollbackKey(txn: MvccTxn, key: Uint8Array): KeyError | undefined {
  const own = txn.currentWrite(key);
  if (own !== undefined) {
    if (own.write.kind === WriteKind.Rollback) return undefined;
    return keyError({ abort: `Cannot roll back ${formatKey(key)}: txn ${txn.startTs} is committed at ${own.commitTs}` });
  }
  const lock = txn.getLock(key);
  if (lock !== undefined && lock.ts === txn.startTs) rollbackLock(txn, key, lock);
  else putRollback(txn, key);
  return undefined;
}
