/**
 * KvPrewrite (TinyKV 4B; Percolator phase one). For each mutation, under the
 * latches of all the request's keys:
 * - a write committed at or after startTs (any kind, a rollback of this txn
 *   included) is a write conflict: KeyError.conflict;
 * - a lock of another transaction is KeyError.locked. Our own lock (same ts)
 *   is a retried prewrite and is overwritten, as TiKV does;
 * - otherwise the value (Put) or its deletion (Del) is buffered with a lock.
 * Any KeyError means nothing is written; else all locks and values go to
 * storage in one atomic `write` (no partially prewritten request).
 */
import { Op } from '../../pb/kvrpcpb.js';
import type { KeyError, Mutation, PrewriteRequest, PrewriteResponse } from '../../pb/kvrpcpb.js';
import type { Storage } from '../../storage/storage.js';
import type { Latches } from '../latches.js';
import { MvccTxn } from '../mvcc_txn.js';
import { WriteKind } from '../write.js';
import { answeringRegionErrors, keyError, lockInfo, storageContext, toBuffer } from './_common.js';

/**
 * @throws {MvccError} on corrupt MVCC records; storage errors other than region errors.
 */
export async function kvPrewrite(storage: Storage, latches: Latches, req: PrewriteRequest): Promise<PrewriteResponse> {
  const keys = req.mutations.map((m) => m.key);
  const release = await latches.acquire(keys);
  try {
    return await answeringRegionErrors<PrewriteResponse>(async () => {
      const ctx = storageContext(req.context);
      const reader = await storage.reader(ctx);
      let txn: MvccTxn;
      const errors: KeyError[] = [];
      try {
        txn = new MvccTxn(reader, req.startVersion);
        for (const mutation of req.mutations) {
          const error = prewriteMutation(txn, req, mutation);
          if (error !== undefined) errors.push(error);
        }
      } finally {
        reader.close();
      }
      if (errors.length > 0) return { regionError: undefined, errors };
      latches.validate(txn, keys);
      if (txn.writes().length > 0) await storage.write(ctx, txn.writes());
      return { regionError: undefined, errors: [] };
    }, (regionError) => ({ regionError, errors: [] }));
  } finally {
    release();
  }
}

/** Checks one mutation and buffers its value and lock; returns its KeyError instead when it cannot be prewritten. */
function prewriteMutation(txn: MvccTxn, req: PrewriteRequest, mutation: Mutation): KeyError | undefined {
  const { key } = mutation;
  const recent = txn.mostRecentWrite(key);
  if (recent !== undefined && recent.commitTs >= txn.startTs) {
    return keyError({
      conflict: { startTs: txn.startTs, conflictTs: recent.commitTs, key: toBuffer(key), primary: req.primaryLock },
    });
  }
  const lock = txn.getLock(key);
  if (lock !== undefined && lock.ts !== txn.startTs) return keyError({ locked: lockInfo(key, lock) });
  let kind: WriteKind;
  switch (mutation.op) {
    case Op.Put:
      txn.putValue(key, mutation.value);
      kind = WriteKind.Put;
      break;
    case Op.Del:
      txn.deleteValue(key);
      kind = WriteKind.Delete;
      break;
    case Op.Rollback:
    case Op.Lock:
    case Op.UNRECOGNIZED:
    default:
      // TinyKV's WriteKind has no Lock, and a Rollback is not a mutation a
      // client may prewrite: refuse it rather than store what cannot commit.
      return keyError({ abort: `InvalidArgument: mutation op ${mutation.op} is not supported by prewrite (expected Put or Del)` });
  }
  txn.putLock(key, { primary: req.primaryLock, ts: txn.startTs, ttl: BigInt(req.lockTtl), kind });
  return undefined;
}
