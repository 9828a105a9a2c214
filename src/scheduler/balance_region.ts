/**
 * balance-region, exactly as TinyKV Project 3C specifies it:
 * 1. Suitable stores: Up, and silent for less than MaxStoreDownTime.
 * 2. Sources in descending region size; from the first store that has one,
 *    pick a random region with a pending peer there, else a follower, else
 *    a leader.
 * 3. Skip the region (no operator this round) when it has fewer peers than
 *    MaxReplicas: the replica checker owns it.
 * 4. Target: the smallest-size suitable store not holding the region.
 * 5. Move only if source.size − target.size > 2 × region size; otherwise the
 *    move would just reverse the imbalance.
 * 6. The move adds a peer on the target, transfers leadership away if the
 *    source leads, then removes the source's peer.
 * Ties are broken by store id for determinism (TinyKV's sort is unstable).
 */
import type { Rng } from '../util/prng.js';
import { mark } from '../util/marks.js';
import type { Operator } from './operator.js';
import { createMovePeerOperator } from './operator_builder.js';
import { isQuorumSafe, isSuitableStore } from './placement.js';
import { regionStoreIds } from './region_info.js';
import type { RegionInfo } from './region_info.js';
import type { RegionFilter } from './regions_info.js';
import type { ScheduleCluster } from './schedule_cluster.js';

export class BalanceRegionScheduler {
  readonly name = 'balance-region';
  private readonly rng: Rng;

  constructor(rng: Rng) {
    this.rng = rng;
  }

  /**
   * One operator, or undefined when nothing is worth moving.
   * @param filter skips regions (the coordinator passes "has no operator").
   */
  schedule(cluster: ScheduleCluster, nowMs: number, filter?: RegionFilter): Operator | undefined {
    const suitable = cluster.getStores().filter((s) => isSuitableStore(s, nowMs, cluster.config));
    const sources = [...suitable].sort((a, b) => b.regionSize - a.regionSize || a.id - b.id);
    let region: RegionInfo | undefined;
    let sourceId = 0;
    for (const s of sources) {
      region = cluster.randPendingRegion(s.id, this.rng, filter)
        ?? cluster.randFollowerRegion(s.id, this.rng, filter)
        ?? cluster.randLeaderRegion(s.id, this.rng, filter);
      if (region !== undefined) {
        sourceId = s.id;
        break;
      }
    }
    if (region === undefined) return undefined;
    const holders = regionStoreIds(region);
    if (holders.length < cluster.config.maxReplicas) {
      mark('balance-region: region has fewer peers than max replicas');
      return undefined;
    }
    const source = cluster.getStore(sourceId);
    const target = [...suitable].sort((a, b) => a.regionSize - b.regionSize || a.id - b.id).find((s) => !holders.includes(s.id));
    if (source === undefined || target === undefined) return undefined;
    if (source.regionSize - target.regionSize <= 2 * region.approximateSize) {
      mark('balance-region: difference too small to move');
      return undefined;
    }
    const peerId = cluster.allocPeerId();
    if (peerId === undefined) return undefined;
    const op = createMovePeerOperator(cluster, region, { desc: this.name, kind: 'balance', nowMs }, source.id, target.id, peerId);
    if (op === undefined || !isQuorumSafe(cluster, region, op.steps, nowMs)) {
      mark('balance-region: move would not be quorum safe');
      return undefined;
    }
    return op;
  }
}
