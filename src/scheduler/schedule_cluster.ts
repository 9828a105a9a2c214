/**
 * What schedulers and checkers may read and allocate (TinyKV `opt.Cluster`).
 * RaftCluster implements it; tests use a mock whose store aggregates are set
 * by hand, as TinyKV's mockcluster does. Everything is synchronous: a peer id
 * comes from ids already reserved (undefined when none are: the scheduler
 * then builds nothing and tries again next round).
 */
import type { Rng } from '../util/prng.js';
import type { ScheduleConfig } from './config.js';
import type { RegionInfo } from './region_info.js';
import type { RegionFilter } from './regions_info.js';
import type { StoreInfo } from './stores_info.js';

export interface ScheduleCluster {
  readonly config: ScheduleConfig;
  /** All stores, sorted by id (tombstones included). */
  getStores(): readonly StoreInfo[];
  getStore(storeId: number): StoreInfo | undefined;
  getRegion(regionId: number): RegionInfo | undefined;
  randPendingRegion(storeId: number, rng: Rng, filter?: RegionFilter): RegionInfo | undefined;
  randFollowerRegion(storeId: number, rng: Rng, filter?: RegionFilter): RegionInfo | undefined;
  randLeaderRegion(storeId: number, rng: Rng, filter?: RegionFilter): RegionInfo | undefined;
  /** A new peer id, or undefined when no reserved id is left. */
  allocPeerId(): number | undefined;
}
