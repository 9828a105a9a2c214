/**
 * Key encodings of the MVCC layer, byte-identical to TinyKV
 * (kv/util/codec/codec.go and kv/transaction/mvcc/transaction.go).
 *
 * Memcomparable bytes: the key is cut into 8-byte groups; each group is
 * zero-padded to 8 bytes and followed by a marker `0xFF - padCount`. The last
 * group always has padCount >= 1 (an exact multiple of 8 gets an extra empty
 * group, marker 247), so an encoded key is never a prefix of another one and
 * byte order of encodings equals byte order of the keys.
 *
 * MVCC key: `EncodeBytes(userKey) ++ BE64(^ts)`. Inverting the timestamp makes
 * newer versions of one user key sort first, so a seek to EncodeKey(k, ts)
 * lands on the newest version with timestamp <= ts.
 */
import { assert } from '../util/assert.js';
import { formatKey, toHex } from '../util/bytes.js';
import { MVCC_ERROR_CODES, MvccError } from './errors.js';

const ENC_GROUP_SIZE = 8;
const ENC_MARKER = 0xff;
const ENC_PAD = 0x00;
/** Bytes of the timestamp suffix of an MVCC key. */
export const TS_BYTES = 8;
export const U64_MAX = (1n << 64n) - 1n;
/** Bits of the logical part of a TSO timestamp (TinyKV tsoutil.physicalShiftBits). */
export const PHYSICAL_SHIFT_BITS = 18n;

/** Asserts `ts` is a u64: a bigint outside that range is a caller bug. */
export function assertU64(ts: bigint, what: string): void {
  if (ts < 0n || ts > U64_MAX) assert(false, `${what} ${ts} is not a u64`);
}

/** TinyKV codec.EncodeBytes: memcomparable encoding of `data`. */
export function encodeBytes(data: Uint8Array): Uint8Array {
  const groups = Math.floor(data.length / ENC_GROUP_SIZE) + 1;
  const out = new Uint8Array(groups * (ENC_GROUP_SIZE + 1)); // Zero-filled: ENC_PAD is 0.
  for (let g = 0; g < groups; g++) {
    const start = g * ENC_GROUP_SIZE;
    const size = Math.min(ENC_GROUP_SIZE, data.length - start);
    out.set(data.subarray(start, start + size), g * (ENC_GROUP_SIZE + 1));
    out[g * (ENC_GROUP_SIZE + 1) + ENC_GROUP_SIZE] = ENC_MARKER - (ENC_GROUP_SIZE - size);
  }
  assert(out.length % (ENC_GROUP_SIZE + 1) === 0, 'encodeBytes: whole groups');
  return out;
}

/** The decoded bytes and what follows the encoding in the input. */
export interface DecodedBytes {
  readonly value: Uint8Array;
  readonly rest: Uint8Array;
}

/**
 * TinyKV codec.DecodeBytes: decodes one memcomparable value from the front
 * of `input`, checking markers and padding (so non-canonical input is refused).
 * @throws {MvccError} BadKey when the input is truncated or malformed.
 */
export function decodeBytes(input: Uint8Array): DecodedBytes {
  const parts: Uint8Array[] = [];
  let offset = 0;
  // Bounded: each pass consumes one 9-byte group of a finite input.
  for (;;) {
    if (input.length - offset < ENC_GROUP_SIZE + 1) {
      throw badKey(input, 'insufficient bytes to decode value');
    }
    const marker = input[offset + ENC_GROUP_SIZE] as number;
    const padCount = ENC_MARKER - marker;
    if (padCount > ENC_GROUP_SIZE) throw badKey(input, `invalid marker byte ${marker}`);
    const realSize = ENC_GROUP_SIZE - padCount;
    parts.push(input.subarray(offset, offset + realSize));
    for (let i = offset + realSize; i < offset + ENC_GROUP_SIZE; i++) {
      if (input[i] !== ENC_PAD) throw badKey(input, `invalid padding byte ${input[i]}`);
    }
    offset += ENC_GROUP_SIZE + 1;
    if (padCount !== 0) break;
  }
  const value = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    value.set(p, at);
    at += p.length;
  }
  return { value, rest: input.subarray(offset) };
}

/** TinyKV mvcc.EncodeKey: `EncodeBytes(key) ++ BE64(^ts)`. */
export function encodeKey(key: Uint8Array, ts: bigint): Uint8Array {
  assertU64(ts, 'encodeKey: timestamp');
  const prefix = encodeBytes(key);
  const out = new Uint8Array(prefix.length + TS_BYTES);
  out.set(prefix, 0);
  new DataView(out.buffer).setBigUint64(prefix.length, U64_MAX ^ ts, false);
  return out;
}

/**
 * Splits an MVCC key into user key and timestamp. Stricter than TinyKV, which
 * ignores bytes after the timestamp: an MVCC key is exactly encoding + 8 bytes.
 * @throws {MvccError} BadKey when `key` is not an MVCC key.
 */
export function decodeKey(key: Uint8Array): { readonly userKey: Uint8Array; readonly ts: bigint } {
  const { value, rest } = decodeBytes(key);
  if (rest.length !== TS_BYTES) {
    throw badKey(key, `expected ${TS_BYTES} timestamp bytes after the user key, found ${rest.length}`);
  }
  const inverted = new DataView(rest.buffer, rest.byteOffset, TS_BYTES).getBigUint64(0, false);
  return { userKey: value, ts: U64_MAX ^ inverted };
}

/** TinyKV mvcc.DecodeUserKey. @throws {MvccError} BadKey on a malformed key. */
export function decodeUserKey(key: Uint8Array): Uint8Array {
  return decodeKey(key).userKey;
}

/** TinyKV mvcc.decodeTimestamp. @throws {MvccError} BadKey on a malformed key. */
export function decodeTimestamp(key: Uint8Array): bigint {
  return decodeKey(key).ts;
}

/** TinyKV PhysicalTime: the milliseconds part of a TSO timestamp; TTLs compare on it. */
export function physical(ts: bigint): bigint {
  assertU64(ts, 'physical: timestamp');
  return ts >> PHYSICAL_SHIFT_BITS;
}

function badKey(input: Uint8Array, reason: string): MvccError {
  const shown = input.length <= 64 ? formatKey(input) : `0x${toHex(input.subarray(0, 64))}…`;
  return new MvccError(MVCC_ERROR_CODES.BadKey, `Cannot decode key ${shown}: ${reason}`);
}
