/**
 * The one place where thrown values become gRPC statuses (the edge, STYLE.md
 * principle 19). Bad input never gets here: handlers answer it in the
 * response body. What gets here is operational (storage stopped, I/O error)
 * or a bug. Assertion failures are not mapped: they crash the process.
 *
 * Region errors (`STORAGE_REGION_ERROR`) belong in the response's
 * `regionError` field, and the raw handlers put them there. One that escapes
 * a handler anyway (a handler that does not answer them yet) is UNAVAILABLE,
 * like TiKV's "region error → retry elsewhere": the request was well formed,
 * this store cannot serve it now, and a retry after refreshing the route may
 * succeed. It is never INVALID_ARGUMENT, which tells a client not to retry.
 * The status details keep the region error's message, so a client can still
 * tell an `OutcomeUnknown` (the write may have applied) from a definite
 * refusal (docs/ERRORS.md).
 */
import { status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { Metadata } from '@grpc/grpc-js';
import { AssertionError, assertNever } from '../util/assert.js';
import { EngineError, ENGINE_ERROR_CODES } from '../storage/engine.js';
import { StorageError, STORAGE_ERROR_CODES } from '../storage/storage.js';
import type { StorageErrorCode } from '../storage/storage.js';
import { UnimplementedError } from './server.js';

export function serviceError(code: status, details: string): ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new Metadata() });
}

/** @throws {AssertionError} rethrown: a broken invariant must not become a status. */
export function toServiceError(err: unknown): ServiceError {
  if (err instanceof AssertionError) throw err;
  if (err instanceof UnimplementedError) return serviceError(status.UNIMPLEMENTED, err.message);
  if (err instanceof StorageError) return serviceError(storageErrorStatus(err.code), err.message);
  if (err instanceof EngineError) {
    switch (err.code) {
      case ENGINE_ERROR_CODES.Closed:
        return serviceError(status.UNAVAILABLE, err.message);
      case ENGINE_ERROR_CODES.InvalidKey:
      case ENGINE_ERROR_CODES.UnknownCf:
        return serviceError(status.INVALID_ARGUMENT, err.message);
      case ENGINE_ERROR_CODES.DataDirLocked:
      case ENGINE_ERROR_CODES.Io:
        return serviceError(status.INTERNAL, err.message);
    }
  }
  return serviceError(status.INTERNAL, err instanceof Error ? `${err.name}: ${err.message}` : String(err));
}

/** The status of a storage error that escaped a handler. */
function storageErrorStatus(code: StorageErrorCode): status {
  switch (code) {
    case STORAGE_ERROR_CODES.InvalidCf:
      return status.INVALID_ARGUMENT;
    case STORAGE_ERROR_CODES.Stopped:
    case STORAGE_ERROR_CODES.RegionError:
      return status.UNAVAILABLE;
    default:
      return assertNever(code);
  }
}
