/**
 * balance-leader: moves leadership from stores with many leaders to stores
 * with few, by leader count (PD's default "count" strategy). Leadership
 * moves are cheap (no data is copied) but cost a short write stall, so a
 * move is made only when source.leaders − target.leaders >
 * `leaderBalanceTolerance`.
 *
 * Sources (any store still serving: not tombstone, not down, Offline
 * included because it still leads regions) are tried in descending leader
 * count: a random region led there moves to its follower on the store with
 * the fewest leaders that can take load (Up, recently heard from, not busy).
 * If no source finds a worthwhile move, targets are tried in ascending leader
 * count: a random region with a follower there moves its leadership in, if
 * that is worthwhile. Ties break by store id.
 */
import { mark } from '../util/marks.js';
import type { Rng } from '../util/prng.js';
import { Operator } from './operator.js';
import { canTakeLoad } from './placement.js';
import type { RegionInfo } from './region_info.js';
import type { RegionFilter } from './regions_info.js';
import type { ScheduleCluster } from './schedule_cluster.js';
import type { StoreInfo } from './stores_info.js';

export class BalanceLeaderScheduler {
  readonly name = 'balance-leader';
  private readonly rng: Rng;

  constructor(rng: Rng) {
    this.rng = rng;
  }

  schedule(cluster: ScheduleCluster, nowMs: number, filter?: RegionFilter): Operator | undefined {
    const config = cluster.config;
    const stores = cluster.getStores();
    const sources = stores.filter((s) => !s.isTombstone() && !s.isDown(nowMs, config.maxStoreDownTimeMs))
      .sort((a, b) => b.leaderCount - a.leaderCount || a.id - b.id);
    const targets = stores.filter((s) => canTakeLoad(s, nowMs, config)).sort((a, b) => a.leaderCount - b.leaderCount || a.id - b.id);
    const worth = (from: StoreInfo, to: StoreInfo): boolean => from.leaderCount - to.leaderCount > config.leaderBalanceTolerance;

    for (const source of sources) {
      const region = cluster.randLeaderRegion(source.id, this.rng, filter);
      if (region === undefined) continue;
      const target = targets.find((t) => t.id !== source.id && region.meta.peers.some((p) => p.storeId === t.id));
      if (target !== undefined && worth(source, target)) return this.transfer(region, source.id, target.id, nowMs);
    }
    for (const target of targets) {
      const region = cluster.randFollowerRegion(target.id, this.rng, filter);
      const leaderStoreId = region?.leader?.storeId;
      if (region === undefined || leaderStoreId === undefined) continue;
      const source = cluster.getStore(leaderStoreId);
      if (source !== undefined && worth(source, target)) return this.transfer(region, source.id, target.id, nowMs);
    }
    mark('balance-leader: balanced');
    return undefined;
  }

  private transfer(region: RegionInfo, fromStoreId: number, toStoreId: number, nowMs: number): Operator {
    return Operator.forRegion(region, {
      desc: this.name, kind: 'balance', createdAtMs: nowMs,
      steps: [{ type: 'transferLeader', fromStoreId, toStoreId }],
    });
  }
}
