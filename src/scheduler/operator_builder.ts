/**
 * Builds the operators the schedulers, checkers and admin commands need
 * (PD `operator.CreateMovePeerOperator` and friends). Step order matters for
 * availability; see placement.ts for why a move adds before it removes and a
 * replacement of a down peer removes before it adds.
 */
import type { OpStep, OperatorKind } from './operator.js';
import { Operator } from './operator.js';
import { canTakeLoad, isStoreLost } from './placement.js';
import type { RegionInfo } from './region_info.js';
import type { ScheduleCluster } from './schedule_cluster.js';

/**
 * The store to hand leadership to before the leader's peer on `fromStoreId`
 * is removed: a follower on a store that can take load, fewest leaders first
 * (then lowest id); else `fallbackStoreId` (e.g. the store a move just added
 * a peer on); else undefined.
 */
export function pickLeaderTarget(
  cluster: ScheduleCluster, region: RegionInfo, fromStoreId: number, nowMs: number, fallbackStoreId?: number,
): number | undefined {
  const candidates = region.meta.peers
    .filter((p) => p.storeId !== fromStoreId && p.id !== region.leader?.id)
    .map((p) => cluster.getStore(p.storeId))
    .filter((s) => s !== undefined && canTakeLoad(s, nowMs, cluster.config) && !isStoreLost(cluster, s.id, nowMs))
    .sort((a, b) => (a?.leaderCount ?? 0) - (b?.leaderCount ?? 0) || (a?.id ?? 0) - (b?.id ?? 0));
  return candidates[0]?.id ?? fallbackStoreId;
}

/** Steps that remove the peer on `storeId`, transferring leadership first if it leads. */
export function removePeerSteps(
  cluster: ScheduleCluster, region: RegionInfo, storeId: number, nowMs: number, fallbackLeaderStoreId?: number,
): OpStep[] | undefined {
  const steps: OpStep[] = [];
  if (region.leader?.storeId === storeId) {
    // C4: a leader never proposes its own removal; move leadership first.
    const to = pickLeaderTarget(cluster, region, storeId, nowMs, fallbackLeaderStoreId);
    if (to === undefined) return undefined;
    steps.push({ type: 'transferLeader', fromStoreId: storeId, toStoreId: to });
  }
  steps.push({ type: 'removePeer', storeId });
  return steps;
}

/**
 * Move a healthy peer: add on `targetStoreId`, transfer leadership away if
 * the source leads, remove the source (TinyKV CreateMovePeerOperator).
 */
export function createMovePeerOperator(
  cluster: ScheduleCluster, region: RegionInfo, init: { desc: string; kind: OperatorKind; nowMs: number },
  sourceStoreId: number, targetStoreId: number, peerId: number,
): Operator | undefined {
  const remove = removePeerSteps(cluster, region, sourceStoreId, init.nowMs, targetStoreId);
  if (remove === undefined) return undefined;
  const steps: OpStep[] = [{ type: 'addPeer', storeId: targetStoreId, peerId }, ...remove];
  return Operator.forRegion(region, { desc: init.desc, kind: init.kind, steps, createdAtMs: init.nowMs });
}
