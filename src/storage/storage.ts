/**
 * TinyKV's storage abstraction (kv/storage/storage.go), the seam between the
 * request handlers and whatever holds the data: the standalone engine now,
 * the replicated raft store later. Handlers only ever see this interface.
 */
// Type only: errorpb.Error is the wire shape of a region error, which raft
// storage hands up to the request handlers unchanged (no runtime dependency).
import type { Error as RegionError } from '../pb/errorpb.js';
import { CodedError } from '../util/errors.js';
import { DATA_CFS } from './engine.js';
import type { CfName, KvEntry } from './engine.js';

/**
 * The request context of a call (kvrpcpb.Context in shape). Standalone
 * storage ignores it; raft storage routes and checks epochs with it.
 */
export interface StorageContext {
  readonly regionId: number;
  readonly regionEpoch?: { readonly confVer: number; readonly version: number } | undefined;
  readonly peer?: { readonly id: number; readonly storeId: number } | undefined;
  readonly term: number;
}

export type Modify =
  | { readonly type: 'put'; readonly cf: CfName; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: 'delete'; readonly cf: CfName; readonly key: Uint8Array };

export interface Storage {
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * Applies `batch` atomically and durably: when the promise resolves, the
   * writes survive a crash of the process or machine.
   * @throws {StorageError} on invalid column families or engine failure.
   */
  write(ctx: StorageContext, batch: readonly Modify[]): Promise<void>;
  /**
   * A reader over one consistent point-in-time state (a read view): writes
   * that land after this resolves are not visible through it.
   * Close it when done.
   */
  reader(ctx: StorageContext): Promise<StorageReader>;
}

export interface StorageReader {
  /** The value of `key` in `cf`, or `undefined` when absent (not an error). */
  getCF(cf: CfName, key: Uint8Array): Uint8Array | undefined;
  /** A forward iterator over `cf`, positioned at the first key. */
  iterCF(cf: CfName): DBIterator;
  close(): void;
}

/** TinyKV's engine_util.DBIterator, with the same seek/valid/item/next cycle. */
export interface DBIterator {
  /** Positions at the first key >= `key`. */
  seek(key: Uint8Array): void;
  /** False once the iterator is past the last key. */
  valid(): boolean;
  /** The current entry. @throws {AssertionError} when not valid. */
  item(): KvEntry;
  next(): void;
  close(): void;
}

export const STORAGE_ERROR_CODES = {
  InvalidCf: 'STORAGE_INVALID_CF',
  Stopped: 'STORAGE_STOPPED',
  /**
   * The replicated store refused the request for routing reasons (NotLeader,
   * EpochNotMatch, KeyNotInRegion, …): the error carries the errorpb.Error,
   * which the request handlers answer in the response's `regionError` field.
   */
  RegionError: 'STORAGE_REGION_ERROR',
} as const;
export type StorageErrorCode = (typeof STORAGE_ERROR_CODES)[keyof typeof STORAGE_ERROR_CODES];

export class StorageError extends CodedError<StorageErrorCode> {
  override readonly name = 'StorageError';
  /** The region error, set exactly when `code` is `STORAGE_REGION_ERROR`. */
  readonly regionError: RegionError | undefined;

  constructor(code: StorageErrorCode, message: string, options?: { readonly cause?: unknown; readonly regionError?: RegionError }) {
    super(code, message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.regionError = options?.regionError;
  }

  /** A `STORAGE_REGION_ERROR` carrying `regionError` (its message becomes the error's message). */
  static region(regionError: RegionError): StorageError {
    return new StorageError(STORAGE_ERROR_CODES.RegionError, `Region error: ${regionError.message}`, { regionError });
  }
}

/** The region error a thrown value carries, if it is a `STORAGE_REGION_ERROR`. */
export function regionErrorOf(err: unknown): RegionError | undefined {
  return err instanceof StorageError && err.code === STORAGE_ERROR_CODES.RegionError ? err.regionError : undefined;
}

/** Runs `body`; a region error it throws becomes `onRegionError`'s response (the handlers answer it in `region_error`), anything else propagates. */
export async function answeringRegionErrors<T>(body: () => Promise<T>, onRegionError: (error: RegionError) => T): Promise<T> {
  try {
    return await body();
  } catch (err: unknown) {
    const regionError = regionErrorOf(err);
    if (regionError === undefined) throw err;
    return onRegionError(regionError);
  }
}

/**
 * Storage serves the data column families only (default, lock, write).
 * @throws {StorageError} InvalidCf for an internal one (raft, meta).
 */
export function checkDataCf(cf: CfName): void {
  if (!DATA_CFS.includes(cf)) {
    throw new StorageError(STORAGE_ERROR_CODES.InvalidCf, `Column family "${cf}" is internal and cannot be used for user data`);
  }
}
