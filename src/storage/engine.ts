/**
 * The storage engine interface: an ordered byte-key store with column
 * families, atomic cross-CF write batches, durable and non-durable commits,
 * point-in-time read views and range deletion.
 *
 * Reads are synchronous (LMDB reads are memory-mapped; etcd's raft `Storage`
 * is synchronous too); writes are asynchronous and resolve once committed,
 * and, for `sync: true`, once durable. The production engine is LMDB
 * (`lmdb_engine.ts`); `mem_engine.ts` is the test double, and both pass the
 * same conformance suite (`engine_conformance.ts`).
 */
import { CodedError } from '../util/errors.js';
import type { WriteBatch } from './write_batch.js';

/**
 * Column families. `default`, `lock` and `write` hold user data (TinyKV's
 * Percolator layout); `raft` holds raft log entries and `RaftLocalState`;
 * `meta` holds `RaftApplyState`, `RegionLocalState` and store identity, so
 * apply can write them atomically with the data they describe.
 */
export const CF_DEFAULT = 'default';
export const CF_LOCK = 'lock';
export const CF_WRITE = 'write';
export const CF_RAFT = 'raft';
export const CF_META = 'meta';

export const ALL_CFS = [CF_DEFAULT, CF_LOCK, CF_WRITE, CF_RAFT, CF_META] as const;
export type CfName = (typeof ALL_CFS)[number];

/** Column families users may address through the raw API. */
export const DATA_CFS: readonly CfName[] = [CF_DEFAULT, CF_LOCK, CF_WRITE];

export function isCfName(name: string): name is CfName {
  return (ALL_CFS as readonly string[]).includes(name);
}

export interface KvEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

/** Bounds of a range scan. Keys are compared with `compareBytes`. */
export interface ScanOptions {
  /** Inclusive lower bound. @default the first key */
  readonly start?: Uint8Array;
  /** Exclusive upper bound; an empty array also means unbounded. @default past the last key */
  readonly end?: Uint8Array;
  /** Visit keys from high to low, still within [start, end). @default false */
  readonly reverse?: boolean;
  /** Stop after this many entries. @default unbounded */
  readonly limit?: number;
}

/** Reads shared by an engine's latest state and its read views. */
export interface Reader {
  /** The value at `key`, or `undefined`. The result is owned by the caller. */
  get(cf: CfName, key: Uint8Array): Uint8Array | undefined;
  /**
   * Entries in key order within the bounds. Entries are owned by the caller.
   * An iteration sees one consistent state even while writes commit.
   */
  scan(cf: CfName, options?: ScanOptions): IterableIterator<KvEntry>;
}

/**
 * A consistent point-in-time view across all column families of an engine
 * ("read view"; the word "snapshot" is kept for raft snapshots, HARD-CASES P2).
 * Must be closed: an open view pins old data.
 */
export interface ReadView extends Reader {
  /** Releases the view. Reads after close throw an {@link EngineError}. */
  close(): void;
}

export interface WriteOptions {
  /**
   * When true the returned promise resolves only after the batch is durable
   * (fsync); when false it resolves once committed and visible, and a crash
   * may lose it.
   */
  readonly sync: boolean;
}

/** What the raftstore's functional core reads through: the latest state and read views of it. */
export interface ViewableReader extends Reader {
  /** A consistent view of the current state; close it when done. */
  readView(): ReadView;
}

export interface Engine extends ViewableReader {
  /** Column families this engine was opened with. */
  readonly cfs: readonly CfName[];
  /**
   * Applies every operation of `batch` atomically, in order. Resolves when the
   * batch is committed (and durable if `options.sync`); the changes are visible
   * to reads from then on.
   * @throws {EngineError} when the engine is closed or the batch is invalid.
   */
  write(batch: WriteBatch, options: WriteOptions): Promise<void>;
  /** Waits for pending writes, then releases all resources. Idempotent. */
  close(): Promise<void>;
}

export const ENGINE_ERROR_CODES = {
  Closed: 'ENGINE_CLOSED',
  InvalidKey: 'ENGINE_INVALID_KEY',
  UnknownCf: 'ENGINE_UNKNOWN_CF',
  DataDirLocked: 'ENGINE_DATA_DIR_LOCKED',
  Io: 'ENGINE_IO',
} as const;
export type EngineErrorCode = (typeof ENGINE_ERROR_CODES)[keyof typeof ENGINE_ERROR_CODES];

/** An operating error of an engine (as opposed to a broken invariant). */
export class EngineError extends CodedError<EngineErrorCode> {
  override readonly name = 'EngineError';
}
