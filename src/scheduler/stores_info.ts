/**
 * Stores as the scheduler knows them (TinyKV `core.StoreInfo` /
 * `core.StoresInfo`): the metapb.Store (address, state Up / Offline /
 * Tombstone), the last StoreStats, when the last heartbeat arrived (injected
 * clock, ms) and the region aggregates the cluster copies in from
 * RegionsInfo after each region heartbeat (TinyKV `updateStoreStatusLocked`),
 * so schedulers read one immutable snapshot per store.
 */
import { StoreState } from '../pb/metapb.js';
import type { Store } from '../pb/metapb.js';
import type { StoreStats } from '../pb/schedulerpb.js';
import { assert } from '../util/assert.js';

export interface StoreCounts {
  readonly regionCount: number;
  readonly leaderCount: number;
  readonly pendingPeerCount: number;
  /** MiB, summed over the regions with a peer here. */
  readonly regionSize: number;
  /** MiB, summed over the regions led from here. */
  readonly leaderSize: number;
}

export const ZERO_COUNTS: StoreCounts = Object.freeze({ regionCount: 0, leaderCount: 0, pendingPeerCount: 0, regionSize: 0, leaderSize: 0 });

export class StoreInfo implements StoreCounts {
  readonly meta: Readonly<Store>;
  readonly stats: Readonly<StoreStats> | undefined;
  /** When the last store heartbeat was handled; undefined before the first (TinyKV: zero time). */
  readonly lastHeartbeatMs: number | undefined;
  /**
   * When this scheduler learned of the store (put or loaded). Silence is
   * counted from here until the first heartbeat, so a restarted scheduler
   * does not find every store down before they have had time to report.
   */
  readonly knownSinceMs: number;
  readonly regionCount: number;
  readonly leaderCount: number;
  readonly pendingPeerCount: number;
  readonly regionSize: number;
  readonly leaderSize: number;

  constructor(init: {
    readonly meta: Readonly<Store>; readonly stats?: Readonly<StoreStats> | undefined; readonly lastHeartbeatMs?: number | undefined;
    readonly knownSinceMs: number; readonly counts?: StoreCounts;
  }) {
    assert(Number.isSafeInteger(init.meta.id) && init.meta.id >= 0, `store id ${init.meta.id} is not a non-negative safe integer`);
    this.meta = Object.freeze({ id: init.meta.id, address: init.meta.address, state: init.meta.state });
    this.stats = init.stats;
    this.lastHeartbeatMs = init.lastHeartbeatMs;
    this.knownSinceMs = init.knownSinceMs;
    const c = init.counts ?? ZERO_COUNTS;
    this.regionCount = c.regionCount;
    this.leaderCount = c.leaderCount;
    this.pendingPeerCount = c.pendingPeerCount;
    this.regionSize = c.regionSize;
    this.leaderSize = c.leaderSize;
    Object.freeze(this);
  }

  get id(): number {
    return this.meta.id;
  }

  /** A copy with some fields replaced (TinyKV `StoreInfo.Clone(opts...)`). */
  with(changes: {
    readonly meta?: Readonly<Store>; readonly stats?: Readonly<StoreStats>; readonly lastHeartbeatMs?: number;
    readonly knownSinceMs?: number; readonly counts?: StoreCounts; readonly state?: StoreState;
  }): StoreInfo {
    const meta = changes.meta ?? this.meta;
    return new StoreInfo({
      meta: changes.state === undefined ? meta : { ...meta, state: changes.state },
      stats: changes.stats ?? this.stats,
      lastHeartbeatMs: changes.lastHeartbeatMs ?? this.lastHeartbeatMs,
      knownSinceMs: changes.knownSinceMs ?? this.knownSinceMs,
      counts: changes.counts ?? this,
    });
  }

  isUp(): boolean {
    return this.meta.state === StoreState.Up;
  }

  isOffline(): boolean {
    return this.meta.state === StoreState.Offline;
  }

  isTombstone(): boolean {
    return this.meta.state === StoreState.Tombstone;
  }

  isBusy(): boolean {
    return this.stats?.isBusy ?? false;
  }

  /** Milliseconds since the last heartbeat (or since the store became known). Never negative. */
  downTimeMs(nowMs: number): number {
    return Math.max(0, nowMs - (this.lastHeartbeatMs ?? this.knownSinceMs));
  }

  /** Silent for at least `maxStoreDownTimeMs` (TinyKV: `DownTime() >= MaxStoreDownTime` means not suitable). */
  isDown(nowMs: number, maxStoreDownTimeMs: number): boolean {
    return this.downTimeMs(nowMs) >= maxStoreDownTimeMs;
  }
}

/** All stores by id. Iteration helpers return id order (STYLE §12). */
export class StoresInfo {
  private readonly stores = new Map<number, StoreInfo>();

  getStore(storeId: number): StoreInfo | undefined {
    return this.stores.get(storeId);
  }

  setStore(store: StoreInfo): void {
    this.stores.set(store.id, store);
  }

  /** Stores sorted by id. */
  getStores(): StoreInfo[] {
    return [...this.stores.values()].sort((a, b) => a.id - b.id);
  }

  getStoreCount(): number {
    return this.stores.size;
  }
}
