/**
 * KvCheckTxnStatus (TinyKV 4C): the status of the txn started at `lockTs`,
 * decided on its primary key, under the primary's latch. A client that
 * found one of the txn's locks asks it to learn whether to wait, commit or
 * roll back the lock.
 * - The primary holds the txn's lock (lock.ts == lockTs):
 *   - its TTL has expired (physical(lock.ts) + ttl < physical(currentTs),
 *     TTLs being milliseconds of TSO physical time): roll it back (lock and
 *     prewritten value deleted, Rollback write at lockTs), TTLExpireRollback;
 *   - else NoAction, lockTtl = the lock's TTL (the txn is alive).
 * - Otherwise (no lock, or another txn's lock) the txn's own write record
 *   on the primary (currentWrite) decides:
 *   - committed: NoAction, commitVersion = its commit ts;
 *   - rolled back: NoAction, commitVersion 0;
 *   - none: the prewrite never arrived (or is late): write a Rollback at
 *     lockTs so it can never succeed, LockNotExistRollback.
 * Status encoding of the response: locked ⇔ lockTtl > 0; committed ⇔
 * commitVersion > 0; rolled back ⇔ both 0. So a live lock with TTL 0 (not
 * yet expired because currentTs is in the same millisecond) answers
 * lockTtl 1, not 0: 0 would read as "rolled back" and a client would roll
 * back the secondaries of a txn that may still commit (beyond TinyKV).
 */
import { Action } from '../../pb/kvrpcpb.js';
import type { CheckTxnStatusRequest, CheckTxnStatusResponse } from '../../pb/kvrpcpb.js';
import type { Storage } from '../../storage/storage.js';
import { physical } from '../codec.js';
import type { Latches } from '../latches.js';
import type { Lock } from '../lock.js';
import { MvccTxn } from '../mvcc_txn.js';
import { WriteKind } from '../write.js';
import { answeringRegionErrors, lockInfo, storageContext } from './_common.js';
import { putRollback, rollbackLock } from './_lock_actions.js';

type Status = Omit<CheckTxnStatusResponse, 'regionError'>;

/** @throws {MvccError} on corrupt MVCC records; storage errors other than region errors. */
export async function kvCheckTxnStatus(storage: Storage, latches: Latches, req: CheckTxnStatusRequest): Promise<CheckTxnStatusResponse> {
  const keys = [req.primaryKey];
  const release = await latches.acquire(keys);
  try {
    return await answeringRegionErrors<CheckTxnStatusResponse>(async () => {
      const ctx = storageContext(req.context);
      const reader = await storage.reader(ctx);
      let txn: MvccTxn;
      let status: Status;
      try {
        txn = new MvccTxn(reader, req.lockTs);
        status = checkPrimary(txn, req.primaryKey, req.currentTs);
      } finally {
        reader.close();
      }
      latches.validate(txn, keys);
      if (txn.writes().length > 0) await storage.write(ctx, txn.writes());
      return { regionError: undefined, ...status };
    }, (regionError) => ({ regionError, lockTtl: 0, commitVersion: 0n, action: Action.NoAction }));
  } finally {
    release();
  }
}

/** Decides the txn's status on its primary, buffering a rollback when one is due. */
function checkPrimary(txn: MvccTxn, primary: Uint8Array, currentTs: bigint): Status {
  const lock = txn.getLock(primary);
  if (lock !== undefined && lock.ts === txn.startTs) {
    if (expired(lock, currentTs)) {
      rollbackLock(txn, primary, lock);
      return { lockTtl: 0, commitVersion: 0n, action: Action.TTLExpireRollback };
    }
    return { lockTtl: Math.max(1, lockInfo(primary, lock).lockTtl), commitVersion: 0n, action: Action.NoAction };
  }
  const own = txn.currentWrite(primary);
  if (own !== undefined) {
    const commitVersion = own.write.kind === WriteKind.Rollback ? 0n : own.commitTs;
    return { lockTtl: 0, commitVersion, action: Action.NoAction };
  }
  putRollback(txn, primary);
  return { lockTtl: 0, commitVersion: 0n, action: Action.LockNotExistRollback };
}

function expired(lock: Lock, currentTs: bigint): boolean {
  return physical(lock.ts) + lock.ttl < physical(currentTs);
}
