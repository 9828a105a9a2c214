/**
 * Input validation at the network edge (DEVELOPERS.md rule 5). Each check
 * returns an error message for the response's `error` field, or undefined
 * when the input is acceptable. Messages start with a stable code so scripts
 * can match them; docs/ERRORS.md lists every one.
 */
import { DATA_CFS, CF_DEFAULT } from '../storage/engine.js';
import type { CfName } from '../storage/engine.js';
import { scanLimitMax, userKeyBytesMax, userValueBytesMax } from '../config/limits.js';
import { CodedError } from '../util/errors.js';

export const INVALID_ARGUMENT = 'InvalidArgument';

export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

const invalid = (detail: string): string => `${INVALID_ARGUMENT}: ${detail}`;

export function checkKey(key: Uint8Array, what = 'key'): string | undefined {
  if (key.length === 0) return invalid(`${what} is empty`);
  if (key.length > userKeyBytesMax) return invalid(`${what} is ${key.length} bytes, the limit is ${userKeyBytesMax}`);
  return undefined;
}

/** A scan start key may be empty (scan from the first key). */
export function checkStartKey(key: Uint8Array): string | undefined {
  return key.length === 0 ? undefined : checkKey(key, 'start key');
}

export function checkValue(value: Uint8Array): string | undefined {
  if (value.length > userValueBytesMax) {
    return invalid(`value is ${value.length} bytes, the limit is ${userValueBytesMax}`);
  }
  return undefined;
}

/** An empty column family name means `default`, as in TiKV. */
export function checkCf(cf: string): Checked<CfName> {
  if (cf === '') return { ok: true, value: CF_DEFAULT };
  const found = DATA_CFS.find((name) => name === cf);
  if (found === undefined) {
    return { ok: false, error: invalid(`unknown column family ${JSON.stringify(cf.slice(0, 64))} (expected ${DATA_CFS.join(', ')})`) };
  }
  return { ok: true, value: found };
}

export function checkScanLimit(limit: number): string | undefined {
  if (!Number.isInteger(limit) || limit < 1 || limit > scanLimitMax) {
    return invalid(`scan limit must be between 1 and ${scanLimitMax}, got ${limit}`);
  }
  return undefined;
}

/**
 * KvScan's limit: TinyKV answers limit 0 with no pairs (TestScanLimitZero4C),
 * so unlike RawScan it accepts 0; above {@link scanLimitMax} is refused.
 */
export function checkKvScanLimit(limit: number): string | undefined {
  if (!Number.isInteger(limit) || limit < 0 || limit > scanLimitMax) {
    return invalid(`scan limit must be between 0 and ${scanLimitMax}, got ${limit}`);
  }
  return undefined;
}

const U64_MAX = (1n << 64n) - 1n;

/** A TSO timestamp must be a u64 (the wire type); the decoder guarantees it, direct callers may not. */
export function checkTs(ts: bigint, what: string): string | undefined {
  if (ts < 0n || ts > U64_MAX) return invalid(`${what} ${ts} is not a u64 timestamp`);
  return undefined;
}

/** A lock TTL is a non-negative whole number of milliseconds. */
export function checkLockTtl(ttlMs: number): string | undefined {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 0) return invalid(`lock ttl must be a non-negative integer of ms, got ${ttlMs}`);
  return undefined;
}

/** Percolator: a transaction commits after it starts (TiKV InvalidTxnTso). */
export function checkCommitTs(startTs: bigint, commitTs: bigint): string | undefined {
  return commitTs > startTs ? undefined : invalid(`commit version ${commitTs} must be greater than start version ${startTs}`);
}

/**
 * Bad input to a command whose response has no field to carry it
 * (KvCheckTxnStatus: no `error`, no KeyError). The handler throws it and the
 * gRPC edge answers INVALID_ARGUMENT with its message (`InvalidArgument: …`).
 */
export class InvalidArgumentError extends CodedError<typeof INVALID_ARGUMENT> {
  override readonly name = 'InvalidArgumentError';

  constructor(message: string) {
    super(INVALID_ARGUMENT, message);
  }
}
