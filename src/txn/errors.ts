/**
 * Typed errors of the MVCC layer. Malformed bytes (a corrupt engine entry, a
 * key that is not an MVCC key) are operating errors, not bugs: TinyKV panics
 * on them, but a store must answer the request with an error instead of
 * crashing on one bad record.
 */
import { CodedError } from '../util/errors.js';

export const MVCC_ERROR_CODES = {
  /** Bytes are not a valid memcomparable encoding or MVCC key. */
  BadKey: 'MVCC_BAD_KEY',
  /** A CF lock value does not parse as a Lock. */
  BadLock: 'MVCC_BAD_LOCK',
  /** A CF write value does not parse as a Write. */
  BadWrite: 'MVCC_BAD_WRITE',
  /** A committed Put write points at a value missing from CF default. */
  MissingValue: 'MVCC_MISSING_VALUE',
} as const;
export type MvccErrorCode = (typeof MVCC_ERROR_CODES)[keyof typeof MVCC_ERROR_CODES];

export class MvccError extends CodedError<MvccErrorCode> {
  override readonly name = 'MvccError';
}
