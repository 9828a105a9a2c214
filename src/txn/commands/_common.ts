/**
 * Helpers shared by the transactional commands: the request context, the
 * KeyError shapes of kvrpcpb, and the region-error boundary (a region error
 * from replicated storage is answered in the response's `regionError` field,
 * as TinyKV does; any other thrown value propagates to the gRPC edge).
 */
import type { Error as RegionError } from '../../pb/errorpb.js';
import type { Context, KeyError, LockInfo } from '../../pb/kvrpcpb.js';
import { answeringRegionErrors } from '../../storage/storage.js';
import type { Storage, StorageContext } from '../../storage/storage.js';
import { sortedUniqueKeys } from '../latches.js';
import type { Latches } from '../latches.js';
import type { Lock } from '../lock.js';
import { MvccTxn } from '../mvcc_txn.js';

export { answeringRegionErrors };

const NO_CONTEXT: StorageContext = { regionId: 0, term: 0 };

export function storageContext(context: Context | undefined): StorageContext {
  return context ?? NO_CONTEXT;
}

/** Generated protobuf types use Node's Buffer for `bytes`; the MVCC layer uses Uint8Array. */
export function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function keyError(fields: Partial<KeyError>): KeyError {
  return { locked: undefined, retryable: '', abort: '', conflict: undefined, ...fields };
}

/** TinyKV Lock.Info: what a client needs to resolve the lock on `key`. */
export function lockInfo(key: Uint8Array, lock: Lock): LockInfo {
  return {
    primaryLock: toBuffer(lock.primary),
    lockVersion: lock.ts,
    key: toBuffer(key),
    // LockInfo.lockTtl is a JS number (ms). A TTL beyond 2^53 ms is far past
    // any expiry check, so clamping it loses nothing a client can act on.
    lockTtl: lock.ttl > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(lock.ttl),
  };
}


/** CommitResponse and BatchRollbackResponse. */
interface PerKeyResponse {
  regionError: RegionError | undefined;
  error: KeyError | undefined;
}

/**
 * The shape of KvCommit and KvBatchRollback: under the latches of all
 * `keys`, each distinct key in ascending order goes through `perKey` on one
 * read view; the first KeyError answers the request and nothing is written,
 * else every buffered change goes to storage in one atomic write. Answers
 * `{ regionError, error }` as both responses do.
 * @throws {MvccError} on corrupt MVCC records; storage errors other than region errors.
 */
export async function perKeyCommand(
  storage: Storage,
  latches: Latches,
  context: Context | undefined,
  startTs: bigint,
  keys: readonly Uint8Array[],
  perKey: (txn: MvccTxn, key: Uint8Array) => KeyError | undefined,
): Promise<PerKeyResponse> {
  const release = await latches.acquire(keys);
  try {
    return await answeringRegionErrors<PerKeyResponse>(async () => {
      const ctx = storageContext(context);
      const reader = await storage.reader(ctx);
      let txn: MvccTxn;
      try {
        txn = new MvccTxn(reader, startTs);
        // Duplicates would buffer the same change twice (TestRecommitKey4B, TestRollbackDuplicateKeys4C).
        for (const key of sortedUniqueKeys(keys)) {
          const error = perKey(txn, key);
          if (error !== undefined) return { regionError: undefined, error };
        }
      } finally {
        reader.close();
      }
      latches.validate(txn, keys);
      if (txn.writes().length > 0) await storage.write(ctx, txn.writes());
      return { regionError: undefined, error: undefined };
    }, (regionError) => ({ regionError, error: undefined }));
  } finally {
    release();
  }
}
