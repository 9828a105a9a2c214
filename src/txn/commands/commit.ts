/**
 * KvCommit (TinyKV 4B; Percolator phase two). For each distinct key, under
 * the latches of all the request's keys:
 * - our lock (lock.ts == startVersion): record a write at commitVersion with
 *   the lock's kind, and delete the lock;
 * - otherwise look for this txn's own write record (currentWrite):
 *   - committed (Put/Delete): a retried commit, idempotent success
 *     (TestCommitConflictRepeat4B);
 *   - rolled back: KeyError.abort, the txn cannot commit any more
 *     (TestCommitConflictRollback4B);
 *   - none, and another txn's lock: KeyError.retryable
 *     (TestCommitConflictRace4B);
 *   - none and no lock: nothing to do (TestCommitMissingPrewrite4B).
 * The first KeyError answers the request and nothing is written; else every
 * commit goes to storage in one atomic `write`.
 */
import type { CommitRequest, CommitResponse, KeyError } from '../../pb/kvrpcpb.js';
import type { Storage } from '../../storage/storage.js';
import { formatKey } from '../../util/bytes.js';
import type { Latches } from '../latches.js';
import type { MvccTxn } from '../mvcc_txn.js';
import { WriteKind } from '../write.js';
import { keyError, perKeyCommand } from './_common.js';
import { commitLock } from './_lock_actions.js';

/**
 * @throws {MvccError} on corrupt MVCC records; storage errors other than region errors.
 */
export async function kvCommit(storage: Storage, latches: Latches, req: CommitRequest): Promise<CommitResponse> {
  return perKeyCommand(storage, latches, req.context, req.startVersion, req.keys, (txn, key) => commitKey(txn, key, req.commitVersion));
}

function commitKey(txn: MvccTxn, key: Uint8Array, commitTs: bigint): KeyError | undefined {
  const lock = txn.getLock(key);
  if (lock !== undefined && lock.ts === txn.startTs) {
    commitLock(txn, key, lock, commitTs);
    return undefined;
  }
  const own = txn.currentWrite(key);
  if (own !== undefined) {
    if (own.write.kind !== WriteKind.Rollback) return undefined;
    return keyError({ abort: `Cannot commit ${formatKey(key)}: txn ${txn.startTs} was rolled back` });
  }
  if (lock !== undefined) {
    return keyError({
      retryable: `Cannot commit ${formatKey(key)}: it is locked by txn ${lock.ts}, not by txn ${txn.startTs}`,
    });
  }
  return undefined;
}
