/**
 * The scheduler's {@link SchedulerStorage} on an LMDB engine in its own data
 * dir (TinyKV keeps it in embedded etcd). One column family holds:
 *
 *   cluster_id            the cluster id, created once at the first start
 *   meta                  metapb.Cluster (written by bootstrap: the cluster exists)
 *   store/<id u64 BE>     metapb.Store
 *   region/<id u64 BE>    metapb.Region (a cache: leaders re-report theirs)
 *   id_bound              u64 BE: every id handed out is <= this
 *   tso_bound             u64 BE: every TSO physical part handed out is < this
 *   gc_safe_point         u64 BE: the GC safe point (a TSO timestamp, may exceed 2^53)
 *
 * The cluster id exists before bootstrap because stores write it into their
 * identity as soon as they first contact the scheduler; a scheduler that
 * restarted before bootstrap and invented a new id would turn them away.
 *
 * PutClusterConfig rewrites `meta` (TinyKV `putMetaLocked`), so a restart
 * loads the new max_peer_count.
 *
 * Region saves are batched: every save of one event-loop turn goes out in
 * one unsynced write (they are a cache, see SchedulerStorage), while bounds,
 * stores and bootstrap are synced writes of their own.
 */
import { Cluster, Region, Store } from '../../pb/metapb.js';
import { CF_META } from '../../storage/engine.js';
import { LmdbEngine } from '../../storage/lmdb_engine.js';
import { WriteBatch } from '../../storage/write_batch.js';
import { assert } from '../../util/assert.js';
import type { Logger } from '../../util/log.js';
import type { ClusterMeta, LoadedSchedulerState, SchedulerStorage } from '../storage.js';

const CLUSTER_ID_KEY = Buffer.from('cluster_id');
const META_KEY = Buffer.from('meta');
const ID_BOUND_KEY = Buffer.from('id_bound');
const TSO_BOUND_KEY = Buffer.from('tso_bound');
const GC_SAFE_POINT_KEY = Buffer.from('gc_safe_point');
const STORE_PREFIX = 'store/';
const REGION_PREFIX = 'region/';

function idKey(prefix: string, id: number): Buffer {
  const key = Buffer.alloc(prefix.length + 8);
  key.write(prefix, 'latin1');
  key.writeBigUInt64BE(BigInt(id), prefix.length);
  return key;
}

function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix, 'latin1');
  end[end.length - 1] = (end[end.length - 1] as number) + 1;
  return end;
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

function readU64(b: Uint8Array | undefined): number {
  if (b === undefined) return 0;
  assert(b.length === 8, `a stored bound has ${b.length} bytes, not 8`);
  const n = Buffer.from(b.buffer, b.byteOffset, b.byteLength).readBigUInt64BE();
  assert(n <= BigInt(Number.MAX_SAFE_INTEGER), `a stored bound ${n} exceeds 2^53`);
  return Number(n);
}

export class LmdbSchedulerStorage implements SchedulerStorage {
  private readonly engine: LmdbEngine;
  private readonly logger: Logger;
  /** Region saves (or deletes: undefined) of this turn, flushed together. */
  private pendingRegions = new Map<number, Region | undefined>();
  private flushScheduled = false;
  private flushing: Promise<void> = Promise.resolve();

  /** @throws {EngineError} when the data dir is locked by a live process or cannot be opened. */
  constructor(dataDir: string, logger: Logger) {
    this.engine = new LmdbEngine({ dataDir, cfs: [CF_META] });
    this.logger = logger;
  }

  /** The cluster id, created (from `generate`) and synced at the first start. */
  async clusterId(generate: () => number): Promise<number> {
    const raw = this.engine.get(CF_META, CLUSTER_ID_KEY);
    if (raw !== undefined) return readU64(raw);
    const id = generate();
    assert(Number.isSafeInteger(id) && id > 0, `cluster id must be a positive safe integer, got ${id}`);
    const batch = new WriteBatch();
    batch.put(CF_META, CLUSTER_ID_KEY, u64(id));
    await this.engine.write(batch, { sync: true });
    return id;
  }

  async load(): Promise<LoadedSchedulerState> {
    const rawMeta = this.engine.get(CF_META, META_KEY);
    let meta: ClusterMeta | undefined;
    if (rawMeta !== undefined) {
      const c = Cluster.decode(rawMeta);
      meta = { clusterId: c.id, maxPeerCount: c.maxPeerCount };
    }
    const stores: Store[] = [];
    for (const e of this.engine.scan(CF_META, { start: Buffer.from(STORE_PREFIX), end: prefixEnd(STORE_PREFIX) })) stores.push(Store.decode(e.value));
    const regions: Region[] = [];
    for (const e of this.engine.scan(CF_META, { start: Buffer.from(REGION_PREFIX), end: prefixEnd(REGION_PREFIX) })) regions.push(Region.decode(e.value));
    return {
      meta, stores, regions,
      idBound: readU64(this.engine.get(CF_META, ID_BOUND_KEY)),
      tsoBoundMs: readU64(this.engine.get(CF_META, TSO_BOUND_KEY)),
    };
  }

  async saveBootstrap(meta: ClusterMeta, store: Store, region: Region): Promise<void> {
    const batch = new WriteBatch();
    batch.put(CF_META, META_KEY, Cluster.encode({ id: meta.clusterId, maxPeerCount: meta.maxPeerCount }).finish());
    batch.put(CF_META, idKey(STORE_PREFIX, store.id), Store.encode(store).finish());
    batch.put(CF_META, idKey(REGION_PREFIX, region.id), Region.encode(region).finish());
    await this.engine.write(batch, { sync: true });
  }

  async saveStore(store: Store): Promise<void> {
    const batch = new WriteBatch();
    batch.put(CF_META, idKey(STORE_PREFIX, store.id), Store.encode(store).finish());
    await this.engine.write(batch, { sync: true });
  }

  saveRegion(region: Region): void {
    this.pendingRegions.set(region.id, Region.fromPartial(region));
    this.scheduleFlush();
  }

  deleteRegion(regionId: number): void {
    this.pendingRegions.set(regionId, undefined);
    this.scheduleFlush();
  }

  async saveIdBound(bound: number): Promise<void> {
    await this.saveBound(ID_BOUND_KEY, bound, 'id');
  }

  async saveTsoBound(boundMs: number): Promise<void> {
    await this.saveBound(TSO_BOUND_KEY, boundMs, 'tso');
  }

  async saveClusterConfig(meta: ClusterMeta): Promise<void> {
    // Writing `meta` is what marks the cluster bootstrapped: only a bootstrapped cluster may rewrite it.
    assert(this.engine.get(CF_META, META_KEY) !== undefined, 'cluster config saved before bootstrap');
    const batch = new WriteBatch();
    batch.put(CF_META, META_KEY, Cluster.encode({ id: meta.clusterId, maxPeerCount: meta.maxPeerCount }).finish());
    await this.engine.write(batch, { sync: true });
  }

  loadGcSafePoint(): Promise<bigint> {
    const raw = this.engine.get(CF_META, GC_SAFE_POINT_KEY);
    if (raw === undefined) return Promise.resolve(0n);
    assert(raw.length === 8, `the stored GC safe point has ${raw.length} bytes, not 8`);
    return Promise.resolve(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).readBigUInt64BE());
  }

  async saveGcSafePoint(safePoint: bigint): Promise<void> {
    assert(safePoint >= 0n && safePoint < 1n << 64n, `GC safe point ${safePoint} is not a u64`);
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(safePoint);
    const batch = new WriteBatch();
    batch.put(CF_META, GC_SAFE_POINT_KEY, b);
    await this.engine.write(batch, { sync: true });
  }

  /** Writes what is pending, then closes the engine. */
  async close(): Promise<void> {
    this.flushScheduled = false;
    this.flushing = this.flushing.then(() => this.flush());
    await this.flushing;
    await this.engine.close();
  }

  private async saveBound(key: Buffer, bound: number, what: string): Promise<void> {
    const current = readU64(this.engine.get(CF_META, key));
    assert(bound >= current, `${what} bound would go backwards: ${bound} < ${current}`);
    const batch = new WriteBatch();
    batch.put(CF_META, key, u64(bound));
    await this.engine.write(batch, { sync: true });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      if (!this.flushScheduled) return;
      this.flushScheduled = false;
      this.flushing = this.flushing.then(() => this.flush());
    });
  }

  /** Never rejects: region metadata is a cache, a failed write is logged. */
  private async flush(): Promise<void> {
    if (this.pendingRegions.size === 0) return;
    const pending = this.pendingRegions;
    this.pendingRegions = new Map();
    const batch = new WriteBatch();
    for (const [id, region] of pending) {
      if (region === undefined) batch.delete(CF_META, idKey(REGION_PREFIX, id));
      else batch.put(CF_META, idKey(REGION_PREFIX, id), Region.encode(region).finish());
    }
    try {
      await this.engine.write(batch, { sync: false });
    } catch (err: unknown) {
      this.logger.warn({ err: err instanceof Error ? err.message : String(err), regions: pending.size }, 'region metadata save failed');
    }
  }
}
