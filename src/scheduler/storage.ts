/**
 * What the scheduler persists, as an interface the lead implements on LMDB
 * (TinyKV `core.Storage` on etcd), plus {@link MemorySchedulerStorage}, an
 * in-memory double for tests and the simulator.
 *
 * Durability contract:
 * - `load()` runs once at open and returns everything below.
 * - `saveBootstrap`, `saveStore`, `saveIdBound` and `saveTsoBound` are
 *   awaited and must be durable when they resolve: ids and timestamps are
 *   handed out only after their bound is durable, which is what makes them
 *   unique across crashes.
 * - `saveRegion` / `deleteRegion` are fire-and-forget: region metadata is a
 *   cache rebuilt from heartbeats (leaders re-report within a heartbeat
 *   interval), so losing the last few writes is harmless. An implementation
 *   may batch them; it must not throw (log instead).
 * - The optional `saveClusterConfig` and `loadGcSafePoint` / `saveGcSafePoint`
 *   back PutClusterConfig and the GC safe point RPCs (PD `SaveMeta`,
 *   `LoadGCSafePoint` / `SaveGCSafePoint`); saves are durable when they
 *   resolve. A storage without them leaves those values in memory only.
 */
import type { Region, Store } from '../pb/metapb.js';
import { copyRegion } from './region_info.js';

/** Cluster metadata written once, by bootstrap. */
export interface ClusterMeta {
  readonly clusterId: number;
  /** Desired replicas per region (metapb.Cluster.max_peer_count). */
  readonly maxPeerCount: number;
}

export interface LoadedSchedulerState {
  /** Undefined until the cluster is bootstrapped. */
  readonly meta: ClusterMeta | undefined;
  readonly stores: readonly Store[];
  readonly regions: readonly Region[];
  /** Every id ever handed out is <= this (0 when none was). */
  readonly idBound: number;
  /** Every TSO physical part ever handed out is < this (ms; 0 when none was). */
  readonly tsoBoundMs: number;
}

export interface SchedulerStorage {
  load(): Promise<LoadedSchedulerState>;
  /** Atomically: the meta (which marks the cluster bootstrapped), the first store and the first region. */
  saveBootstrap(meta: ClusterMeta, store: Store, region: Region): Promise<void>;
  saveStore(store: Store): Promise<void>;
  /** Fire-and-forget (see the file comment). */
  saveRegion(region: Region): void;
  /** Fire-and-forget (see the file comment). */
  deleteRegion(regionId: number): void;
  /** Durable when resolved. Bounds only grow; a smaller value is a caller bug. */
  saveIdBound(bound: number): Promise<void>;
  /** Durable when resolved. Bounds only grow; a smaller value is a caller bug. */
  saveTsoBound(boundMs: number): Promise<void>;
  /**
   * Replaces the bootstrap meta (TinyKV `putMetaLocked`, for
   * PutClusterConfig); `load()` returns it as `meta` afterwards. Only valid
   * once bootstrapped: saving a meta is what marks the cluster bootstrapped.
   * Durable when resolved.
   */
  saveClusterConfig?(meta: ClusterMeta): Promise<void>;
  /** The GC safe point (a TSO timestamp), 0n when none was saved. */
  loadGcSafePoint?(): Promise<bigint>;
  /** Durable when resolved. The caller only moves it forward. */
  saveGcSafePoint?(safePoint: bigint): Promise<void>;
}

/**
 * In-memory {@link SchedulerStorage}. "Durable" means: survives a
 * {@link MemorySchedulerStorage.load} by a new scheduler instance, the way a
 * restart would. `failNext` injects one failure of a named save, and
 * `saveCounts` lets tests check how often bounds were written.
 */
export class MemorySchedulerStorage implements SchedulerStorage {
  private meta: ClusterMeta | undefined;
  private readonly stores = new Map<number, Store>();
  private readonly regions = new Map<number, Region>();
  private idBound = 0;
  private tsoBoundMs = 0;
  private gcSafePoint = 0n;
  private readonly failures = new Set<'id' | 'tso' | 'store' | 'bootstrap'>();
  readonly saveCounts = { id: 0, tso: 0, store: 0, region: 0 };

  constructor(initial?: Partial<LoadedSchedulerState>) {
    if (initial === undefined) return;
    this.meta = initial.meta;
    for (const s of initial.stores ?? []) this.stores.set(s.id, { ...s });
    for (const r of initial.regions ?? []) this.regions.set(r.id, copyRegion(r));
    this.idBound = initial.idBound ?? 0;
    this.tsoBoundMs = initial.tsoBoundMs ?? 0;
  }

  /** Makes the next save of `what` reject (once). */
  failNext(what: 'id' | 'tso' | 'store' | 'bootstrap'): void {
    this.failures.add(what);
  }

  load(): Promise<LoadedSchedulerState> {
    return Promise.resolve({
      meta: this.meta === undefined ? undefined : { ...this.meta },
      stores: [...this.stores.values()].sort((a, b) => a.id - b.id).map((s) => ({ ...s })),
      regions: [...this.regions.values()].sort((a, b) => a.id - b.id).map(copyRegion),
      idBound: this.idBound,
      tsoBoundMs: this.tsoBoundMs,
    });
  }

  saveBootstrap(meta: ClusterMeta, store: Store, region: Region): Promise<void> {
    if (this.consumeFailure('bootstrap')) return Promise.reject(new Error('injected bootstrap save failure'));
    this.meta = { ...meta };
    this.stores.set(store.id, { ...store });
    this.regions.set(region.id, copyRegion(region));
    return Promise.resolve();
  }

  saveStore(store: Store): Promise<void> {
    if (this.consumeFailure('store')) return Promise.reject(new Error('injected store save failure'));
    this.saveCounts.store++;
    this.stores.set(store.id, { ...store });
    return Promise.resolve();
  }

  saveRegion(region: Region): void {
    this.saveCounts.region++;
    this.regions.set(region.id, copyRegion(region));
  }

  deleteRegion(regionId: number): void {
    this.regions.delete(regionId);
  }

  saveIdBound(bound: number): Promise<void> {
    if (this.consumeFailure('id')) return Promise.reject(new Error('injected id bound save failure'));
    if (bound < this.idBound) return Promise.reject(new Error(`id bound would go backwards: ${bound} < ${this.idBound}`));
    this.saveCounts.id++;
    this.idBound = bound;
    return Promise.resolve();
  }

  saveTsoBound(boundMs: number): Promise<void> {
    if (this.consumeFailure('tso')) return Promise.reject(new Error('injected tso bound save failure'));
    if (boundMs < this.tsoBoundMs) return Promise.reject(new Error(`tso bound would go backwards: ${boundMs} < ${this.tsoBoundMs}`));
    this.saveCounts.tso++;
    this.tsoBoundMs = boundMs;
    return Promise.resolve();
  }

  saveClusterConfig(meta: ClusterMeta): Promise<void> {
    if (this.meta === undefined) return Promise.reject(new Error('cannot save the cluster config before bootstrap'));
    this.meta = { ...meta };
    return Promise.resolve();
  }

  loadGcSafePoint(): Promise<bigint> {
    return Promise.resolve(this.gcSafePoint);
  }

  saveGcSafePoint(safePoint: bigint): Promise<void> {
    this.gcSafePoint = safePoint;
    return Promise.resolve();
  }

  private consumeFailure(what: 'id' | 'tso' | 'store' | 'bootstrap'): boolean {
    return this.failures.delete(what);
  }
}
