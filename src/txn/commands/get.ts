/**
 * KvGet (TinyKV 4B, kv/server/server.go): a snapshot read of one key at
 * `version`. A lock with ts <= version means a transaction that may commit
 * before `version` holds the key, so the read cannot decide and answers
 * KeyError.locked (the client resolves the lock, then retries). A newer lock
 * cannot commit at or before `version` (commitTs > startTs > version), so it
 * is ignored. Read-only: it takes no latches, the read view is consistent.
 */
import type { GetRequest, GetResponse } from '../../pb/kvrpcpb.js';
import type { Storage } from '../../storage/storage.js';
import { MvccTxn } from '../mvcc_txn.js';
import { answeringRegionErrors, keyError, lockInfo, storageContext, toBuffer } from './_common.js';

/** @throws {MvccError} on corrupt MVCC records; storage errors other than region errors. */
export async function kvGet(storage: Storage, req: GetRequest): Promise<GetResponse> {
  const res: GetResponse = { regionError: undefined, error: undefined, value: Buffer.alloc(0), notFound: false };
  return answeringRegionErrors<GetResponse>(async () => {
    const reader = await storage.reader(storageContext(req.context));
    try {
      const txn = new MvccTxn(reader, req.version);
      const lock = txn.getLock(req.key);
      if (lock !== undefined && lock.ts <= req.version) {
        return { ...res, error: keyError({ locked: lockInfo(req.key, lock) }) };
      }
      const value = txn.getValue(req.key);
      return value === undefined ? { ...res, notFound: true } : { ...res, value: toBuffer(value) };
    } finally {
      reader.close();
    }
  }, (regionError) => ({ ...res, regionError }));
}
