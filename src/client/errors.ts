/**
 * Typed errors of the client library. `code` says what happened and whether
 * a retry can help; `cause` keeps the underlying gRPC error.
 */
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
} as const;
export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[keyof typeof CLIENT_ERROR_CODES];

export class ClientError extends CodedError<ClientErrorCode> {
  override readonly name = 'ClientError';
}
