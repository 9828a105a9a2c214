/**
 * The replica checker: repairs one region at a time (PD `ReplicaChecker`),
 * in this order of urgency:
 * 1. A peer on a lost store (down ≥ MaxStoreDownTime, or tombstone):
 *    with more peers than MaxReplicas just remove it; otherwise replace it
 *    by REMOVING it first and then adding a peer on the best store (or only
 *    remove it when no store can take the peer). Removing first keeps a live
 *    majority throughout; see placement.ts for the arithmetic.
 * 2. Fewer peers than MaxReplicas: add one on the best store.
 * 3. More peers than MaxReplicas: remove one, preferring a peer on an
 *    Offline store, then a pending one, then the one on the fullest store
 *    (a leader hands over leadership first).
 * 4. A peer on an Offline store: move it (add on the best store, then remove).
 * Nothing is planned for a region without a known leader (loaded but not yet
 * heard from) or without a live majority (its conf changes cannot commit),
 * and every plan must pass {@link isQuorumSafe}.
 *
 * The best store can take load (Up, recently heard from, not busy), holds no
 * peer of the region, and has the smallest region size, then count, then id.
 */
import { mark } from '../util/marks.js';
import type { OpStep } from './operator.js';
import { Operator } from './operator.js';
import { createMovePeerOperator, removePeerSteps } from './operator_builder.js';
import { canTakeLoad, isQuorumSafe, isStoreLost, majority } from './placement.js';
import { isPendingPeer, regionStoreIds } from './region_info.js';
import type { RegionInfo } from './region_info.js';
import type { ScheduleCluster } from './schedule_cluster.js';

export class ReplicaChecker {
  readonly name = 'replica-checker';

  /** An operator that repairs `region`, or undefined when it needs none (or none is possible now). */
  check(cluster: ScheduleCluster, region: RegionInfo, nowMs: number): Operator | undefined {
    const leader = region.leader;
    if (leader === undefined) return undefined;
    const peers = [...region.meta.peers].sort((a, b) => a.storeId - b.storeId);
    const lost = peers.filter((p) => isStoreLost(cluster, p.storeId, nowMs));
    if (peers.length - lost.length < majority(peers.length)) {
      mark('replica checker: region has no live majority');
      return undefined;
    }
    const max = cluster.config.maxReplicas;
    const down = lost.find((p) => p.id !== leader.id);
    if (down !== undefined) return this.replaceLost(cluster, region, down.storeId, peers.length > max, nowMs);
    if (peers.length < max) return this.addReplica(cluster, region, nowMs);
    if (peers.length > max) return this.removeExtra(cluster, region, nowMs);
    const offline = peers.find((p) => cluster.getStore(p.storeId)?.isOffline() === true);
    if (offline !== undefined) {
      const target = this.bestTarget(cluster, region, nowMs);
      const peerId = target === undefined ? undefined : cluster.allocPeerId();
      if (target === undefined || peerId === undefined) return undefined;
      const op = createMovePeerOperator(cluster, region, { desc: 'replace-offline-peer', kind: 'replica', nowMs }, offline.storeId, target, peerId);
      return this.safe(cluster, region, op, nowMs);
    }
    return undefined;
  }

  private replaceLost(cluster: ScheduleCluster, region: RegionInfo, storeId: number, extra: boolean, nowMs: number): Operator | undefined {
    const steps: OpStep[] = [{ type: 'removePeer', storeId }];
    const target = extra ? undefined : this.bestTarget(cluster, region, nowMs);
    if (target !== undefined) {
      const peerId = cluster.allocPeerId();
      if (peerId === undefined) return undefined;
      steps.push({ type: 'addPeer', storeId: target, peerId });
    }
    mark('replica checker: replace lost peer');
    const desc = target === undefined ? 'remove-down-peer' : 'replace-down-peer';
    return this.safe(cluster, region, Operator.forRegion(region, { desc, kind: 'replica', steps, createdAtMs: nowMs }), nowMs);
  }

  private addReplica(cluster: ScheduleCluster, region: RegionInfo, nowMs: number): Operator | undefined {
    const target = this.bestTarget(cluster, region, nowMs);
    if (target === undefined) {
      mark('replica checker: no store for a missing replica');
      return undefined;
    }
    const peerId = cluster.allocPeerId();
    if (peerId === undefined) return undefined;
    const steps: OpStep[] = [{ type: 'addPeer', storeId: target, peerId }];
    return this.safe(cluster, region, Operator.forRegion(region, { desc: 'add-replica', kind: 'replica', steps, createdAtMs: nowMs }), nowMs);
  }

  private removeExtra(cluster: ScheduleCluster, region: RegionInfo, nowMs: number): Operator | undefined {
    const rank = (storeId: number, peerId: number): [number, number, number] => {
      const s = cluster.getStore(storeId);
      return [s?.isOffline() === true ? 0 : 1, isPendingPeer(region, peerId) ? 0 : 1, -(s?.regionSize ?? 0)];
    };
    const victim = [...region.meta.peers].sort((a, b) => {
      const x = rank(a.storeId, a.id);
      const y = rank(b.storeId, b.id);
      return x[0] - y[0] || x[1] - y[1] || x[2] - y[2] || a.storeId - b.storeId;
    })[0];
    if (victim === undefined) return undefined;
    const steps = removePeerSteps(cluster, region, victim.storeId, nowMs);
    if (steps === undefined) return undefined;
    return this.safe(cluster, region, Operator.forRegion(region, { desc: 'remove-extra-replica', kind: 'replica', steps, createdAtMs: nowMs }), nowMs);
  }

  private bestTarget(cluster: ScheduleCluster, region: RegionInfo, nowMs: number): number | undefined {
    const holders = regionStoreIds(region);
    return cluster.getStores()
      .filter((s) => canTakeLoad(s, nowMs, cluster.config) && !holders.includes(s.id))
      .sort((a, b) => a.regionSize - b.regionSize || a.regionCount - b.regionCount || a.id - b.id)[0]?.id;
  }

  private safe(cluster: ScheduleCluster, region: RegionInfo, op: Operator | undefined, nowMs: number): Operator | undefined {
    if (op === undefined) return undefined;
    if (!isQuorumSafe(cluster, region, op.steps, nowMs)) {
      mark('replica checker: plan would not be quorum safe');
      return undefined;
    }
    return op;
  }
}
