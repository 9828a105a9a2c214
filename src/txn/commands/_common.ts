/**
 * Helpers shared by the transactional commands: the request context, the
 * KeyError shapes of kvrpcpb, and the region-error boundary (a region error
 * from replicated storage is answered in the response's `regionError` field,
 * as TinyKV does; any other thrown value propagates to the gRPC edge).
 */
import type { Context, KeyError, LockInfo } from '../../pb/kvrpcpb.js';
export { answeringRegionErrors } from '../../storage/storage.js';
import type { StorageContext } from '../../storage/storage.js';
import type { Lock } from '../lock.js';

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

