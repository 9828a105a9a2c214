/**
 * TinyKV mvcc.Lock: the record in CF lock at the raw user key while a
 * transaction started at `ts` holds the key between prewrite and commit.
 * Byte format: `primary ++ kind(1B) ++ BE64(ts) ++ BE64(ttl)`. The primary is
 * not length-prefixed: its length is the value length minus the fixed 17-byte
 * tail, so the parser reads the tail from the end.
 */
import { toHex } from '../util/bytes.js';
import { assertU64 } from './codec.js';
import { MVCC_ERROR_CODES, MvccError } from './errors.js';
import { isWriteKind } from './write.js';
import type { WriteKind } from './write.js';

export interface Lock {
  /** The primary key of the transaction, where its status is decided. */
  readonly primary: Uint8Array;
  /** The start timestamp of the locking transaction. */
  readonly ts: bigint;
  /** Time to live in milliseconds, compared on physical time (ts >> 18). */
  readonly ttl: bigint;
  /** The write the commit will record (TinyKV reuses WriteKind for locks). */
  readonly kind: WriteKind;
}

/** Bytes after the primary: kind, ts and ttl. */
export const LOCK_TAIL_BYTES = 17;

/** TinyKV Lock.ToBytes. */
export function encodeLock(lock: Lock): Uint8Array {
  assertU64(lock.ts, 'encodeLock: ts');
  assertU64(lock.ttl, 'encodeLock: ttl');
  const n = lock.primary.length;
  const out = new Uint8Array(n + LOCK_TAIL_BYTES);
  out.set(lock.primary, 0);
  out[n] = lock.kind;
  const view = new DataView(out.buffer);
  view.setBigUint64(n + 1, lock.ts, false);
  view.setBigUint64(n + 9, lock.ttl, false);
  return out;
}

/**
 * TinyKV ParseLock. An empty primary (exactly 17 bytes) is accepted, as in
 * TinyKV (TestSingleCommit4B stores one). Stricter than TinyKV on the kind:
 * an unknown kind byte is refused.
 * @throws {MvccError} BadLock when `value` is shorter than 17 bytes or has an unknown kind.
 */
export function parseLock(value: Uint8Array): Lock {
  if (value.length < LOCK_TAIL_BYTES) {
    throw badLock(value, `expected at least ${LOCK_TAIL_BYTES} bytes, found ${value.length}`);
  }
  const n = value.length - LOCK_TAIL_BYTES;
  const kind = value[n] as number;
  if (!isWriteKind(kind)) throw badLock(value, `unknown lock kind ${kind}`);
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  return {
    // A copy: the engine may hand out views of buffers it reuses.
    primary: value.slice(0, n),
    kind,
    ts: view.getBigUint64(n + 1, false),
    ttl: view.getBigUint64(n + 9, false),
  };
}

function badLock(value: Uint8Array, reason: string): MvccError {
  return new MvccError(MVCC_ERROR_CODES.BadLock, `Cannot parse lock 0x${toHex(value)}: ${reason}`);
}
