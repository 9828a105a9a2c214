/**
 * A {@link ScheduleCluster} for scheduler and checker tests, after TinyKV's
 * `mockcluster`: store aggregates are set by hand (`addRegionStore(id, n)`
 * gives n regions of size n × 10), regions live in a real RegionsInfo, and
 * the clock stands at a fixed {@link MockCluster.nowMs}.
 */
import { StoreState } from '../pb/metapb.js';
import type { Peer, Region } from '../pb/metapb.js';
import type { StoreStats } from '../pb/schedulerpb.js';
import type { Rng } from '../util/prng.js';
import { makeScheduleConfig } from './config.js';
import type { ScheduleConfig } from './config.js';
import { newRegionInfo } from './region_info.js';
import type { RegionInfo } from './region_info.js';
import { RegionsInfo } from './regions_info.js';
import type { RegionFilter } from './regions_info.js';
import type { ScheduleCluster } from './schedule_cluster.js';
import { StoreInfo } from './stores_info.js';

export class MockCluster implements ScheduleCluster {
  config: ScheduleConfig;
  readonly nowMs = 10_000_000_000;
  readonly regions = new RegionsInfo();
  private readonly stores = new Map<number, StoreInfo>();
  private nextId = 1000;

  constructor(config: Partial<ScheduleConfig> = {}) {
    this.config = makeScheduleConfig(config);
  }

  setMaxReplicas(n: number): void {
    this.config = makeScheduleConfig({ maxReplicas: n }, this.config);
  }

  getStores(): StoreInfo[] {
    return [...this.stores.values()].sort((a, b) => a.id - b.id);
  }

  getStore(storeId: number): StoreInfo | undefined {
    return this.stores.get(storeId);
  }

  getRegion(regionId: number): RegionInfo | undefined {
    return this.regions.getRegion(regionId);
  }

  randPendingRegion(storeId: number, rng: Rng, filter?: RegionFilter): RegionInfo | undefined {
    return this.regions.randPendingRegion(storeId, rng, filter);
  }

  randFollowerRegion(storeId: number, rng: Rng, filter?: RegionFilter): RegionInfo | undefined {
    return this.regions.randFollowerRegion(storeId, rng, filter);
  }

  randLeaderRegion(storeId: number, rng: Rng, filter?: RegionFilter): RegionInfo | undefined {
    return this.regions.randLeaderRegion(storeId, rng, filter);
  }

  allocPeerId(): number | undefined {
    return this.nextId++;
  }

  /** TinyKV `AddRegionStore`: n regions of size n × 10, heard from now. */
  addRegionStore(id: number, n: number): void {
    const old = this.stores.get(id);
    this.putStore(id, { regionCount: n, leaderCount: old?.leaderCount ?? 0, pendingPeerCount: 0, regionSize: n * 10, leaderSize: old?.leaderSize ?? 0 });
  }

  /** TinyKV `AddLeaderStore`: n leaders of size 10 each, unless `leaderSize` is given. */
  addLeaderStore(id: number, n: number, leaderSize = n * 10): void {
    const old = this.stores.get(id);
    this.putStore(id, { regionCount: old?.regionCount ?? n, leaderCount: n, pendingPeerCount: 0, regionSize: old?.regionSize ?? n * 10, leaderSize });
  }

  updateRegionCount(id: number, n: number): void {
    this.update(id, (s) => s.with({ counts: { ...counts(s), regionCount: n, regionSize: n * 10 } }));
  }

  updateLeaderCount(id: number, n: number): void {
    this.update(id, (s) => s.with({ counts: { ...counts(s), leaderCount: n, leaderSize: n * 10 } }));
  }

  setStoreDown(id: number): void {
    this.update(id, (s) => new StoreInfo({ meta: { ...s.meta, state: StoreState.Up }, stats: s.stats, lastHeartbeatMs: 0, knownSinceMs: 0, counts: s }));
  }

  setStoreUp(id: number): void {
    this.update(id, (s) => s.with({ state: StoreState.Up, lastHeartbeatMs: this.nowMs }));
  }

  setStoreOffline(id: number): void {
    this.update(id, (s) => s.with({ state: StoreState.Offline }));
  }

  setStoreBusy(id: number, busy: boolean): void {
    this.update(id, (s) => s.with({ stats: { ...(s.stats ?? emptyStats(id)), isBusy: busy } }));
  }

  /** Heard from just longer ago than the disconnect time, but not down. */
  setStoreDisconnect(id: number): void {
    this.update(id, (s) => s.with({ lastHeartbeatMs: this.nowMs - this.config.storeDisconnectTimeMs - 1 }));
  }

  /** TinyKV `AddLeaderRegion(regionID, leaderStore, followerStores...)`: size 10, new peer ids. */
  addLeaderRegion(regionId: number, leaderStoreId: number, ...followerStoreIds: number[]): RegionInfo {
    const peers: Peer[] = [leaderStoreId, ...followerStoreIds].map((storeId) => ({ id: this.nextId++, storeId }));
    const meta: Region = {
      id: regionId, startKey: Buffer.from(`r${String(regionId).padStart(8, '0')}`), endKey: Buffer.from(`r${String(regionId).padStart(8, '0')}~`),
      regionEpoch: { confVer: 1, version: 1 }, peers,
    };
    const region = newRegionInfo(meta, peers[0], { approximateSize: 10 });
    this.regions.setRegion(region);
    return region;
  }

  putRegion(region: RegionInfo): void {
    this.regions.setRegion(region);
  }

  private putStore(id: number, c: ReturnType<typeof counts>): void {
    const old = this.stores.get(id);
    this.stores.set(id, new StoreInfo({
      meta: old?.meta ?? { id, address: `store${id}`, state: StoreState.Up }, stats: old?.stats ?? emptyStats(id),
      lastHeartbeatMs: this.nowMs, knownSinceMs: 0, counts: c,
    }));
  }

  private update(id: number, f: (s: StoreInfo) => StoreInfo): void {
    const s = this.stores.get(id);
    if (s === undefined) throw new Error(`mock cluster: no store ${id}`);
    this.stores.set(id, f(s));
  }
}

function counts(s: StoreInfo): { regionCount: number; leaderCount: number; pendingPeerCount: number; regionSize: number; leaderSize: number } {
  return { regionCount: s.regionCount, leaderCount: s.leaderCount, pendingPeerCount: s.pendingPeerCount, regionSize: s.regionSize, leaderSize: s.leaderSize };
}

function emptyStats(storeId: number): StoreStats {
  return {
    storeId, capacity: 1024, available: 1024, regionCount: 0, sendingSnapCount: 0, receivingSnapCount: 0, startTime: 0, applyingSnapCount: 0,
    isBusy: false, usedSize: 0, interval: undefined, cpuUsages: [], readIoRates: [], writeIoRates: [], opLatencies: [],
  };
}
