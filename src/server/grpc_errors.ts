/**
 * The one place where thrown values become gRPC statuses (the edge, STYLE.md
 * principle 19). Bad input never gets here: handlers answer it in the
 * response body. What gets here is operational (storage stopped, I/O error)
 * or a bug. Assertion failures are not mapped: they crash the process.
 */
import { status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { Metadata } from '@grpc/grpc-js';
import { AssertionError } from '../util/assert.js';
import { EngineError, ENGINE_ERROR_CODES } from '../storage/engine.js';
import { StorageError, STORAGE_ERROR_CODES } from '../storage/storage.js';
import { UnimplementedError } from './server.js';

export function serviceError(code: status, details: string): ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new Metadata() });
}

/** @throws {AssertionError} rethrown: a broken invariant must not become a status. */
export function toServiceError(err: unknown): ServiceError {
  if (err instanceof AssertionError) throw err;
  if (err instanceof UnimplementedError) return serviceError(status.UNIMPLEMENTED, err.message);
  if (err instanceof StorageError) {
    const code = err.code === STORAGE_ERROR_CODES.Stopped ? status.UNAVAILABLE : status.INVALID_ARGUMENT;
    return serviceError(code, err.message);
  }
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
