/**
 * TinyKV mvcc.Write: the record in CF write at `EncodeKey(key, commitTs)` that
 * says a transaction started at `startTs` committed (Put/Delete) or was
 * rolled back (Rollback, stored with commitTs = startTs).
 * Byte format (9 bytes): `kind(1B) ++ BE64(startTs)`.
 */
import { assertNever } from '../util/assert.js';
import { toHex } from '../util/bytes.js';
import { assertU64 } from './codec.js';
import { MVCC_ERROR_CODES, MvccError } from './errors.js';

/** TinyKV WriteKind; the numbers are the wire/storage byte. */
export const WriteKind = { Put: 1, Delete: 2, Rollback: 3 } as const;
export type WriteKind = (typeof WriteKind)[keyof typeof WriteKind];

export interface Write {
  readonly startTs: bigint;
  readonly kind: WriteKind;
}

export const WRITE_BYTES = 9;

export function isWriteKind(byte: number): byte is WriteKind {
  return byte === WriteKind.Put || byte === WriteKind.Delete || byte === WriteKind.Rollback;
}

/** TinyKV Write.ToBytes. */
export function encodeWrite(write: Write): Uint8Array {
  assertU64(write.startTs, 'encodeWrite: startTs');
  const out = new Uint8Array(WRITE_BYTES);
  out[0] = write.kind;
  new DataView(out.buffer).setBigUint64(1, write.startTs, false);
  return out;
}

/**
 * TinyKV ParseWrite. Stricter than TinyKV on the kind byte: an unknown kind
 * is refused rather than carried along, since nothing could interpret it.
 * @throws {MvccError} BadWrite when `value` is not 9 bytes or has an unknown kind.
 */
export function parseWrite(value: Uint8Array): Write {
  if (value.length !== WRITE_BYTES) {
    throw badWrite(value, `expected ${WRITE_BYTES} bytes, found ${value.length}`);
  }
  const kind = value[0] as number;
  if (!isWriteKind(kind)) throw badWrite(value, `unknown write kind ${kind}`);
  const startTs = new DataView(value.buffer, value.byteOffset, WRITE_BYTES).getBigUint64(1, false);
  return { startTs, kind };
}

/** The kvrpcpb.Op name of a kind, for messages. */
export function writeKindName(kind: WriteKind): 'Put' | 'Delete' | 'Rollback' {
  switch (kind) {
    case WriteKind.Put:
      return 'Put';
    case WriteKind.Delete:
      return 'Delete';
    case WriteKind.Rollback:
      return 'Rollback';
    default:
      return assertNever(kind);
  }
}

function badWrite(value: Uint8Array, reason: string): MvccError {
  return new MvccError(MVCC_ERROR_CODES.BadWrite, `Cannot parse write record 0x${toHex(value)}: ${reason}`);
}
