/**
 * Typed operating errors of the scheduler core (STYLE §10, §19): a caller
 * branches on `err.code`; the gRPC edge turns a code into a schedulerpb
 * `ResponseHeader.error` with {@link toErrorType}. Bugs are AssertionErrors
 * and are never mapped.
 */
import { ErrorType } from '../pb/schedulerpb.js';
import { CodedError } from '../util/errors.js';

/** Every code, with the schedulerpb ErrorType the service reports it as. */
export const SCHEDULER_ERROR_TYPES = {
  NOT_BOOTSTRAPPED: ErrorType.NOT_BOOTSTRAPPED,
  ALREADY_BOOTSTRAPPED: ErrorType.ALREADY_BOOTSTRAPPED,
  STORE_TOMBSTONE: ErrorType.STORE_TOMBSTONE,
  REGION_NOT_FOUND: ErrorType.REGION_NOT_FOUND,
  /** A region heartbeat or AskSplit carried an epoch older than what is known (TinyKV ErrRegionIsStale). */
  STALE_REGION: ErrorType.UNKNOWN,
  STORE_NOT_FOUND: ErrorType.UNKNOWN,
  /** Malformed request: bad id, empty address, duplicate address, bad count... */
  INVALID_ARGUMENT: ErrorType.UNKNOWN,
  /** A region already has an operator that may not be replaced. */
  OPERATOR_EXISTS: ErrorType.UNKNOWN,
  /** An operator cannot be built (no suitable store, would break quorum, limit reached). */
  OPERATOR_REJECTED: ErrorType.UNKNOWN,
  /** The persistence hook failed or an allocator could not make progress. */
  STORAGE: ErrorType.UNKNOWN,
} as const satisfies Record<string, ErrorType>;

export type SchedulerErrorCode = keyof typeof SCHEDULER_ERROR_TYPES;

export class SchedulerError extends CodedError<SchedulerErrorCode> {
  override readonly name = 'SchedulerError';
}

/** The schedulerpb ErrorType for a thrown {@link SchedulerError}. */
export function toErrorType(err: SchedulerError): ErrorType {
  return SCHEDULER_ERROR_TYPES[err.code];
}

/** A schedulerpb `Error` value for a response header. */
export function toPbError(err: SchedulerError): { type: ErrorType; message: string } {
  return { type: toErrorType(err), message: err.message };
}
