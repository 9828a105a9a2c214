/**
 * KvResolveLock (TinyKV 4C): finishes every lock of the txn started at
 * `startVersion` in the region the reader covers, once the txn's fate is
 * known (from KvCheckTxnStatus on its primary): `commitVersion` 0 rolls them
 * back (as KvBatchRollback does for a lock of ours), any other value commits
 * them at `commitVersion` (as KvCommit does). Keys without such a lock are
 * left alone: another command resolved them already
 * (TestResolveCommitWritten4C, TestResolveRollbackWritten4C).
 *
 * The locks are found by scanning CF lock, then resolved in rounds of at
 * most {@link resolveLockBatchKeysMax} keys, each round latched and written
 * atomically (TiKV resolves in batches too): memory and the size of one raft
 * entry stay bounded however many locks the txn left. The rounds need not be
 * atomic together: each lock's outcome is already decided by the primary, so
 * resolving some now and the rest on a retry is the same end state.
 */
import type { ResolveLockRequest, ResolveLockResponse } from '../../pb/kvrpcpb.js';
import { CF_LOCK } from '../../storage/engine.js';
import type { Storage, StorageContext } from '../../storage/storage.js';
import { assert } from '../../util/assert.js';
import type { Latches } from '../latches.js';
import { parseLock } from '../lock.js';
import { MvccTxn } from '../mvcc_txn.js';
import { answeringRegionErrors, storageContext } from './_common.js';
import { commitLock, rollbackLock } from './_lock_actions.js';

/** Keys resolved per latched round (TiKV RESOLVE_LOCK_BATCH_SIZE is 256 too). */
export const resolveLockBatchKeysMax = 256;

/** Locks of the txn found by one scan, and where the next scan starts (undefined: the scan reached the end). */
interface FoundLocks {
  readonly keys: readonly Uint8Array[];
  readonly next: Uint8Array | undefined;
}

/**
 * @param batchKeysMax keys per round. @default resolveLockBatchKeysMax
 * @throws {MvccError} on corrupt MVCC records; storage errors other than region errors.
 */
export async function kvResolveLock(
  storage: Storage,
  latches: Latches,
  req: ResolveLockRequest,
  batchKeysMax = resolveLockBatchKeysMax,
): Promise<ResolveLockResponse> {
  assert(Number.isSafeInteger(batchKeysMax) && batchKeysMax >= 1, `kvResolveLock: batchKeysMax ${batchKeysMax} must be a positive integer`);
  const ctx = storageContext(req.context);
  return answeringRegionErrors<ResolveLockResponse>(async () => {
    let from: Uint8Array = new Uint8Array(0);
    // Terminates: each round's scan starts strictly after the last key of the
    // previous one, and the rounds end when a scan reaches the reader's end.
    for (;;) {
      const found = await findLocks(storage, ctx, req.startVersion, from, batchKeysMax);
      if (found.keys.length > 0) await resolveRound(storage, latches, ctx, req, found.keys);
      if (found.next === undefined) break;
      from = found.next;
    }
    return { regionError: undefined, error: undefined };
  }, (regionError) => ({ regionError, error: undefined }));
}

/** Up to `max` keys from `from` on whose lock belongs to txn `startTs`. Takes no latches: the result is a candidate set. */
async function findLocks(storage: Storage, ctx: StorageContext, startTs: bigint, from: Uint8Array, max: number): Promise<FoundLocks> {
  const reader = await storage.reader(ctx);
  try {
    const keys: Uint8Array[] = [];
    const it = reader.iterCF(CF_LOCK);
    for (it.seek(from); it.valid(); it.next()) {
      const { key, value } = it.item();
      if (parseLock(value).ts !== startTs) continue;
      keys.push(key.slice());
      // The smallest key after `key` is `key ++ 0x00`.
      if (keys.length === max) return { keys, next: Uint8Array.of(...key, 0) };
    }
    return { keys, next: undefined };
  } finally {
    reader.close();
  }
}

/**
 * Resolves the candidate `keys` under their latches. The candidates were
 * read before the latches were taken, so between the two another command
 * (the txn's own commit, a rollback, another resolve) may have finished a
 * lock and even let a new txn lock the key. Acting on the stale set could
 * commit a key whose lock is gone or roll back someone else's lock; so a
 * fresh reader is taken only once the latches are held, and each lock is
 * checked again through it: read candidates, latch, read, re-check, write.
 */
async function resolveRound(
  storage: Storage,
  latches: Latches,
  ctx: StorageContext,
  req: ResolveLockRequest,
  keys: readonly Uint8Array[],
): Promise<void> {
  const release = await latches.acquire(keys);
  try {
    const reader = await storage.reader(ctx);
    let txn: MvccTxn;
    try {
      txn = new MvccTxn(reader, req.startVersion);
      for (const key of keys) {
        const lock = txn.getLock(key);
        if (lock === undefined || lock.ts !== txn.startTs) continue;
        if (req.commitVersion === 0n) rollbackLock(txn, key, lock);
        else commitLock(txn, key, lock, req.commitVersion);
      }
    } finally {
      reader.close();
    }
    latches.validate(txn, keys);
    if (txn.writes().length > 0) await storage.write(ctx, txn.writes());
  } finally {
    release();
  }
}
