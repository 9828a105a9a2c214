/**
 * The production engine: one LMDB environment per engine, one named database
 * per column family (see docs/STORAGE.md and ../shared STACK.md §2 for the
 * measurements behind the choice).
 *
 * - Reads are synchronous; a read view is an LMDB read transaction, which is a
 *   point-in-time snapshot across every named database of the environment.
 * - A write batch runs as one asynchronous LMDB transaction callback, so it is
 *   atomic across column families. LMDB merges all batches submitted in one
 *   event turn into one commit (free group commit).
 * - Durability: LMDB commits with `overlappingSync` (the default off Windows)
 *   and fsyncs every commit; a `sync: true` write also waits for that flush.
 *   We never use `noSync`, which can corrupt the environment on a crash
 *   (kriszyp/lmdb-js#132).
 */
import * as path from 'node:path';
import { open } from 'lmdb';
import type { Database, RootDatabase, Transaction } from 'lmdb';
import { assert } from '../util/assert.js';
import { compareBytes } from '../util/bytes.js';
import { ALL_CFS, EngineError, ENGINE_ERROR_CODES } from './engine.js';
import type { CfName, Engine, KvEntry, ReadView, ScanOptions, WriteOptions } from './engine.js';
import { acquireDataDirLock } from './data_dir_lock.js';
import type { DataDirLock } from './data_dir_lock.js';
import type { WriteBatch, WriteOp } from './write_batch.js';

type Db = Database<Uint8Array, Uint8Array>;

export interface LmdbEngineOptions {
  /** Directory holding the environment; created if missing and locked while open. */
  readonly dataDir: string;
  /** Column families to open. @default ALL_CFS */
  readonly cfs?: readonly CfName[];
}

export class LmdbEngine implements Engine {
  readonly cfs: readonly CfName[];
  readonly dataDir: string;
  private readonly root: RootDatabase<Uint8Array, Uint8Array>;
  private readonly dbs = new Map<CfName, Db>();
  private readonly lock: DataDirLock;
  private readonly openViews = new Set<Transaction>();
  private pendingWrites = new Set<Promise<void>>();
  private closed = false;

  /**
   * @throws {EngineError} ENGINE_DATA_DIR_LOCKED when another live process
   * holds the directory; ENGINE_IO when LMDB cannot open it.
   */
  constructor(options: LmdbEngineOptions) {
    this.cfs = options.cfs ?? ALL_CFS;
    this.dataDir = options.dataDir;
    this.lock = acquireDataDirLock(options.dataDir);
    try {
      this.root = open<Uint8Array, Uint8Array>({
        path: path.join(options.dataDir, 'engine.mdb'),
        keyEncoding: 'binary',
        encoding: 'binary',
        maxDbs: ALL_CFS.length + 2,
        // Checked write semantics rather than speed tricks: no noSync,
        // no useWritemap (a stray pointer could corrupt the map).
      });
      for (const cf of this.cfs) {
        this.dbs.set(cf, this.root.openDB<Uint8Array, Uint8Array>({ name: cf, keyEncoding: 'binary', encoding: 'binary' }));
      }
    } catch (err: unknown) {
      this.lock.release();
      throw new EngineError(ENGINE_ERROR_CODES.Io, `Cannot open LMDB engine in ${options.dataDir}: ${String(err)}`, {
        cause: err,
      });
    }
  }

  get(cf: CfName, key: Uint8Array): Uint8Array | undefined {
    this.checkOpen();
    return toOwned(this.db(cf).get(key));
  }

  scan(cf: CfName, options: ScanOptions = {}): IterableIterator<KvEntry> {
    this.checkOpen();
    return scanDb(this.db(cf), options, undefined, () => this.checkOpen());
  }

  readView(): ReadView {
    this.checkOpen();
    const txn = this.root.useReadTransaction();
    this.openViews.add(txn);
    return new LmdbReadView(this, txn, () => {
      this.openViews.delete(txn);
      txn.done();
    });
  }

  async write(batch: WriteBatch, options: WriteOptions): Promise<void> {
    this.checkOpen();
    for (const op of batch.ops) this.db(op.cf);
    if (batch.isEmpty()) return;
    const done = this.commit(batch.ops, options.sync);
    this.pendingWrites.add(done);
    try {
      await done;
    } finally {
      this.pendingWrites.delete(done);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.pendingWrites]);
    for (const txn of this.openViews) txn.done();
    this.openViews.clear();
    try {
      await this.root.close();
    } finally {
      this.lock.release();
    }
  }

  /** @internal Used by read views. */
  db(cf: CfName): Db {
    const db = this.dbs.get(cf);
    if (db === undefined) {
      throw new EngineError(ENGINE_ERROR_CODES.UnknownCf, `Column family "${cf}" is not open in this engine`);
    }
    return db;
  }

  /** @internal */
  checkOpen(): void {
    if (this.closed) throw new EngineError(ENGINE_ERROR_CODES.Closed, `LMDB engine in ${this.dataDir} is closed`);
  }

  private async commit(ops: readonly WriteOp[], sync: boolean): Promise<void> {
    try {
      await this.root.transaction(() => {
        for (const op of ops) this.applyOp(op);
      });
      if (sync) await this.root.flushed;
    } catch (err: unknown) {
      throw new EngineError(ENGINE_ERROR_CODES.Io, `LMDB write failed in ${this.dataDir}: ${String(err)}`, {
        cause: err,
      });
    }
  }

  /** Runs inside the write transaction callback. */
  private applyOp(op: WriteOp): void {
    const db = this.db(op.cf);
    switch (op.type) {
      case 'put':
        db.putSync(op.key, op.value);
        return;
      case 'delete':
        db.removeSync(op.key);
        return;
      case 'deleteRange': {
        // LMDB has no range tombstone: collect the keys first, since removing
        // while a cursor walks the same database is not supported.
        const keys: Uint8Array[] = [];
        for (const entry of scanDb(db, { start: op.start, end: op.end }, undefined, undefined)) keys.push(entry.key);
        for (const key of keys) db.removeSync(key);
        return;
      }
    }
  }
}

class LmdbReadView implements ReadView {
  private closed = false;
  constructor(
    private readonly engine: LmdbEngine,
    private readonly txn: Transaction,
    private readonly onClose: () => void,
  ) {}

  get(cf: CfName, key: Uint8Array): Uint8Array | undefined {
    this.checkOpen();
    return toOwned(this.engine.db(cf).get(key, { transaction: this.txn }));
  }

  scan(cf: CfName, options: ScanOptions = {}): IterableIterator<KvEntry> {
    this.checkOpen();
    return scanDb(this.engine.db(cf), options, this.txn, () => this.checkOpen());
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClose();
  }

  private checkOpen(): void {
    if (this.closed) throw new EngineError(ENGINE_ERROR_CODES.Closed, 'Read view is closed');
    this.engine.checkOpen();
  }
}

/**
 * Scans [start, end) forward or backward. LMDB's own reverse bounds are
 * asymmetric (inclusive start at the high end), so reverse scans start at
 * `end` and filter both bounds here.
 */
function* scanDb(
  db: Db,
  options: ScanOptions,
  transaction: Transaction | undefined,
  checkOpen: (() => void) | undefined,
): IterableIterator<KvEntry> {
  const start = options.start !== undefined && options.start.length > 0 ? options.start : undefined;
  const end = options.end !== undefined && options.end.length > 0 ? options.end : undefined;
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  assert(limit >= 0, `scan limit must be non-negative, got ${limit}`);
  if (limit === 0) return;
  const range = options.reverse === true
    ? db.getRange({ ...(end !== undefined ? { start: end } : {}), reverse: true, ...(transaction ? { transaction } : {}) })
    : db.getRange({ ...(start !== undefined ? { start } : {}), ...(end !== undefined ? { end } : {}), ...(transaction ? { transaction } : {}) });
  let count = 0;
  for (const { key, value } of range) {
    checkOpen?.();
    if (options.reverse === true) {
      if (end !== undefined && compareBytes(key, end) >= 0) continue;
      if (start !== undefined && compareBytes(key, start) < 0) return;
    }
    yield { key: toOwned(key) as Uint8Array, value: toOwned(value) as Uint8Array };
    if (++count >= limit) return;
  }
}

/** LMDB hands out Buffers; callers get plain Uint8Array copies they own. */
function toOwned(bytes: Uint8Array | undefined): Uint8Array | undefined {
  return bytes === undefined ? undefined : new Uint8Array(bytes);
}
