/**
 * Typed errors of the client library. `code` says what happened and whether
 * a retry can help; `cause` keeps the underlying gRPC error.
 *
 * Two classes: {@link ClientError} for everything about the call itself
 * (bad input, transport, deadlines, region errors, unknown outcomes) and
 * {@link SchedulerError} for a refusal the scheduler wrote into its
 * response header (`ResponseHeader.error`, schedulerpb `ErrorType`).
 */
import * as grpc from '@grpc/grpc-js';
import { ErrorType } from '../pb/schedulerpb.js';
import { CodedError } from '../util/errors.js';

export const CLIENT_ERROR_CODES = {
  /** The request was rejected as malformed, by the client or the server. Not retryable. */
  InvalidArgument: 'INVALID_ARGUMENT',
  /** The server answered with a region error (leader moved, epoch changed...). Retryable after refresh. */
  RegionError: 'REGION_ERROR',
  /** The server answered with an error string that is not about the input. */
  ServerError: 'SERVER_ERROR',
  /** The call did not finish before its deadline; it may or may not have taken effect. */
  DeadlineExceeded: 'DEADLINE_EXCEEDED',
  /** The server could not be reached or is shutting down. */
  Unavailable: 'UNAVAILABLE',
  /** The server does not implement the method. */
  Unimplemented: 'UNIMPLEMENTED',
  /** Any other gRPC failure. */
  Rpc: 'RPC_ERROR',
  /** The client was closed. */
  Closed: 'CLIENT_CLOSED',
  /**
   * A write may or may not have taken effect: an attempt was sent and its
   * answer was lost (transport failure, attempt timeout, or the store's
   * `OutcomeUnknown` region error). It is not retried (a retry is not
   * linearizable, docs/CLUSTER.md) unless `retryAmbiguousWrites` is set.
   * Reading the key tells which.
   */
  OutcomeUnknown: 'OUTCOME_UNKNOWN',
  /**
   * A command pinned to a region (`RoutedCommand.region`: a transactional
   * batch built for that region's keys) found the region changed (split,
   * merged, gone) before it was served. Not an error of the operation: the
   * caller regroups the keys by the regions it now knows and resends.
   */
  RegionChanged: 'REGION_CHANGED',
} as const;
export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[keyof typeof CLIENT_ERROR_CODES];

export class ClientError extends CodedError<ClientErrorCode> {
  override readonly name = 'ClientError';
}

/** Codes of {@link SchedulerError}: schedulerpb `ErrorType`, plus a mismatched cluster. */
export const SCHEDULER_ERROR_CODES = {
  Unknown: 'SCHEDULER_UNKNOWN',
  NotBootstrapped: 'NOT_BOOTSTRAPPED',
  StoreTombstone: 'STORE_TOMBSTONE',
  AlreadyBootstrapped: 'ALREADY_BOOTSTRAPPED',
  IncompatibleVersion: 'INCOMPATIBLE_VERSION',
  RegionNotFound: 'REGION_NOT_FOUND',
  /** The scheduler answered for another cluster than the one this client joined. Not retryable. */
  ClusterMismatch: 'CLUSTER_MISMATCH',
} as const;
export type SchedulerErrorCode = (typeof SCHEDULER_ERROR_CODES)[keyof typeof SCHEDULER_ERROR_CODES];

/** The scheduler refused a request in its response header. Not retried by the client. */
export class SchedulerError extends CodedError<SchedulerErrorCode> {
  override readonly name = 'SchedulerError';
  /** The header's `ErrorType` (UNKNOWN for a cluster mismatch). */
  readonly errorType: ErrorType;
  constructor(errorType: ErrorType, code: SchedulerErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.errorType = errorType;
  }
}

/** The {@link SchedulerErrorCode} of a header's `ErrorType`; `OK` is not an error. */
export function schedulerErrorCode(type: Exclude<ErrorType, ErrorType.OK>): SchedulerErrorCode {
  switch (type) {
    case ErrorType.NOT_BOOTSTRAPPED:
      return SCHEDULER_ERROR_CODES.NotBootstrapped;
    case ErrorType.STORE_TOMBSTONE:
      return SCHEDULER_ERROR_CODES.StoreTombstone;
    case ErrorType.ALREADY_BOOTSTRAPPED:
      return SCHEDULER_ERROR_CODES.AlreadyBootstrapped;
    case ErrorType.INCOMPATIBLE_VERSION:
      return SCHEDULER_ERROR_CODES.IncompatibleVersion;
    case ErrorType.REGION_NOT_FOUND:
      return SCHEDULER_ERROR_CODES.RegionNotFound;
    case ErrorType.UNKNOWN:
    case ErrorType.UNRECOGNIZED:
      return SCHEDULER_ERROR_CODES.Unknown;
    default:
      // A value newer than this build's enum: still an error, of unknown kind.
      return SCHEDULER_ERROR_CODES.Unknown;
  }
}

/** The one mapping of a gRPC status to a {@link ClientError} (STYLE 19: translate at the edge). */
export function fromServiceError(method: string, err: grpc.ServiceError): ClientError {
  const message = `${method} failed: ${err.details || err.message}`;
  switch (err.code) {
    case grpc.status.DEADLINE_EXCEEDED:
      return new ClientError(CLIENT_ERROR_CODES.DeadlineExceeded, message, { cause: err });
    case grpc.status.UNAVAILABLE:
      return new ClientError(CLIENT_ERROR_CODES.Unavailable, message, { cause: err });
    case grpc.status.INVALID_ARGUMENT:
      return new ClientError(CLIENT_ERROR_CODES.InvalidArgument, message, { cause: err });
    case grpc.status.UNIMPLEMENTED:
      return new ClientError(CLIENT_ERROR_CODES.Unimplemented, message, { cause: err });
    default:
      return new ClientError(CLIENT_ERROR_CODES.Rpc, message, { cause: err });
  }
}
