/**
 * Runs the checkers and schedulers and the admin commands (PD
 * `server.coordinator`). The service calls {@link Coordinator.tick} on a
 * timer (e.g. every 100 ms) with the clock's time; a tick:
 * 1. times out operators whose region went silent;
 * 2. every `patrolRegionIntervalMs`, runs the replica checker over the next
 *    `patrolRegionBatch` regions in key order (wrapping around);
 * 3. every `balanceLeaderIntervalMs` / `balanceRegionIntervalMs`, asks
 *    balance-leader / balance-region for an operator (a few attempts).
 * Each kind stays under its in-flight limit, and the controller enforces the
 * per-store limit. Regions with an operator, or without a known leader, are
 * never picked. New operators' first steps go out through the controller's
 * `onOperatorStep` hook and are also returned in the {@link TickReport}.
 *
 * `tick` is async only to top up reserved ids before the synchronous
 * scheduling pass ({@link Coordinator.runOnce}), which the simulator may call
 * directly.
 */
import { mark } from '../util/marks.js';
import type { Rng } from '../util/prng.js';
import { BalanceLeaderScheduler } from './balance_leader.js';
import { BalanceRegionScheduler } from './balance_region.js';
import type { RaftCluster } from './cluster.js';
import { SchedulerError } from './errors.js';
import { Operator } from './operator.js';
import type { OpStep } from './operator.js';
import type { OperatorDispatch } from './operator_controller.js';
import { removePeerSteps } from './operator_builder.js';
import { storePeer } from './region_info.js';
import type { RegionInfo } from './region_info.js';
import { ReplicaChecker } from './replica_checker.js';

export interface CoordinatorOptions {
  /** Random region choice of the balancers. */
  readonly rng: Rng;
}

export interface TickReport {
  readonly created: readonly Operator[];
  /** First steps of `created` (also passed to onOperatorStep). */
  readonly dispatches: readonly OperatorDispatch[];
  readonly timedOut: readonly Operator[];
}

/** Attempts per balancer per run when the controller refuses an operator (PD maxScheduleRetries is 10). */
const SCHEDULE_ATTEMPTS_MAX = 3;

export class Coordinator {
  readonly cluster: RaftCluster;
  private readonly balanceRegion: BalanceRegionScheduler;
  private readonly balanceLeader: BalanceLeaderScheduler;
  private readonly replicaChecker = new ReplicaChecker();
  private nextPatrolMs: number | undefined;
  private nextBalanceRegionMs: number | undefined;
  private nextBalanceLeaderMs: number | undefined;
  /** Where the next patrol batch starts. */
  private patrolKey: Uint8Array = new Uint8Array(0);

  constructor(cluster: RaftCluster, opts: CoordinatorOptions) {
    this.cluster = cluster;
    this.balanceRegion = new BalanceRegionScheduler(opts.rng);
    this.balanceLeader = new BalanceLeaderScheduler(opts.rng);
  }

  /**
   * Reserves ids for a full pass, then runs {@link runOnce}.
   * @throws {SchedulerError} STORAGE when ids cannot be reserved.
   */
  async tick(nowMs: number): Promise<TickReport> {
    const c = this.cluster.config;
    await this.cluster.reserveIds(c.patrolRegionBatch + 2 * SCHEDULE_ATTEMPTS_MAX);
    return this.runOnce(nowMs);
  }

  /** One synchronous scheduling pass with the ids already reserved. */
  runOnce(nowMs: number): TickReport {
    const created: Operator[] = [];
    const dispatches: OperatorDispatch[] = [];
    const timedOut = this.cluster.operators.sweep(nowMs);
    this.cancelUnreachableTargets(nowMs);
    const c = this.cluster.config;
    const add = (op: Operator): boolean => {
      const region = this.cluster.getRegion(op.regionId);
      if (region === undefined) return false;
      const res = this.cluster.operators.addOperator(op, region, nowMs);
      if (!res.ok) return false;
      created.push(op);
      if (res.dispatch !== undefined) dispatches.push(res.dispatch);
      return true;
    };
    if (c.replicaCheckerEnabled && due(this.nextPatrolMs, nowMs)) {
      this.nextPatrolMs = nowMs + c.patrolRegionIntervalMs;
      this.patrol(nowMs, add);
    }
    if (c.balanceLeaderEnabled && due(this.nextBalanceLeaderMs, nowMs)) {
      this.nextBalanceLeaderMs = nowMs + c.balanceLeaderIntervalMs;
      this.runBalancer((op) => op.desc === this.balanceLeader.name, c.leaderScheduleLimit, () => this.balanceLeader.schedule(this.cluster, nowMs, this.filter), add);
    }
    if (c.balanceRegionEnabled && due(this.nextBalanceRegionMs, nowMs)) {
      this.nextBalanceRegionMs = nowMs + c.balanceRegionIntervalMs;
      this.runBalancer((op) => op.desc === this.balanceRegion.name, c.regionScheduleLimit, () => this.balanceRegion.schedule(this.cluster, nowMs, this.filter), add);
    }
    return { created, dispatches, timedOut };
  }

  /**
   * Cancels every operator with a step still to come that needs a store
   * which stopped reporting (a peer to add there, leadership to hand to it).
   * Such a step cannot finish, and while it waits the region's operator slot
   * blocks its repair; a transfer to an unreachable peer is worse: the leader
   * re-enters it at every re-sent step and refuses writes meanwhile. The
   * checkers plan again with the stores that are alive.
   */
  private cancelUnreachableTargets(nowMs: number): void {
    const c = this.cluster.config;
    for (const op of this.cluster.operators.getOperators()) {
      const remaining = op.steps.slice(op.currentStepIndex);
      const unreachable = remaining.some((step) => {
        const target = step.type === 'addPeer' ? step.storeId : step.type === 'transferLeader' ? step.toStoreId : undefined;
        if (target === undefined) return false;
        const store = this.cluster.getStore(target);
        return store === undefined || !store.isUp() || store.downTimeMs(nowMs) >= c.storeDisconnectTimeMs;
      });
      if (!unreachable) continue;
      mark('coordinator: operator to an unreachable store cancelled');
      this.cluster.operators.removeOperator(op.regionId, 'cancel');
    }
  }

  /**
   * Admin (ctl): add a peer of `regionId` on `storeId`.
   * @returns the first step to send (also passed to onOperatorStep), if the
   *   region's leader is known.
   * @throws {SchedulerError} REGION_NOT_FOUND, STORE_NOT_FOUND,
   *   STORE_TOMBSTONE, INVALID_ARGUMENT (already has a peer there),
   *   OPERATOR_EXISTS, STORAGE.
   */
  async addPeer(regionId: number, storeId: number, nowMs: number): Promise<OperatorDispatch | undefined> {
    await this.cluster.reserveIds(1);
    const region = this.adminRegion(regionId);
    this.adminStore(storeId);
    if (storePeer(region, storeId) !== undefined) throw new SchedulerError('INVALID_ARGUMENT', `Region ${regionId} already has a peer on store ${storeId}`);
    const peerId = this.cluster.allocPeerId();
    if (peerId === undefined) throw new SchedulerError('STORAGE', `Cannot add a peer to region ${regionId}: no id available`);
    return this.addAdmin(region, 'admin-add-peer', [{ type: 'addPeer', storeId, peerId }], nowMs);
  }

  /**
   * Admin (ctl): remove the peer of `regionId` on `storeId`, moving
   * leadership away first if it leads.
   * @throws {SchedulerError} REGION_NOT_FOUND, INVALID_ARGUMENT (no peer
   *   there, or the last peer), OPERATOR_REJECTED (no follower to lead),
   *   OPERATOR_EXISTS.
   */
  removePeer(regionId: number, storeId: number, nowMs: number): OperatorDispatch | undefined {
    const region = this.adminRegion(regionId);
    if (storePeer(region, storeId) === undefined) throw new SchedulerError('INVALID_ARGUMENT', `Region ${regionId} has no peer on store ${storeId}`);
    if (region.meta.peers.length <= 1) throw new SchedulerError('INVALID_ARGUMENT', `Cannot remove the last peer of region ${regionId}`);
    const steps = removePeerSteps(this.cluster, region, storeId, nowMs);
    if (steps === undefined) throw new SchedulerError('OPERATOR_REJECTED', `Cannot remove region ${regionId}'s leader on store ${storeId}: no follower can take leadership`);
    return this.addAdmin(region, 'admin-remove-peer', steps, nowMs);
  }

  /**
   * Admin (ctl): move `regionId`'s leadership to its peer on `storeId`.
   * @throws {SchedulerError} REGION_NOT_FOUND, INVALID_ARGUMENT (no peer
   *   there, leader unknown, or already the leader), OPERATOR_EXISTS.
   */
  transferLeader(regionId: number, storeId: number, nowMs: number): OperatorDispatch | undefined {
    const region = this.adminRegion(regionId);
    const leader = region.leader;
    if (storePeer(region, storeId) === undefined) throw new SchedulerError('INVALID_ARGUMENT', `Region ${regionId} has no peer on store ${storeId}`);
    if (leader === undefined) throw new SchedulerError('INVALID_ARGUMENT', `Region ${regionId} has no known leader yet`);
    if (leader.storeId === storeId) throw new SchedulerError('INVALID_ARGUMENT', `Region ${regionId}'s leader is already on store ${storeId}`);
    return this.addAdmin(region, 'admin-transfer-leader', [{ type: 'transferLeader', fromStoreId: leader.storeId, toStoreId: storeId }], nowMs);
  }

  /** Admin (ctl): cancel the region's operator. @returns whether there was one. */
  cancelOperator(regionId: number): boolean {
    return this.cluster.operators.removeOperator(regionId, 'cancel');
  }

  private readonly filter = (r: RegionInfo): boolean => r.leader !== undefined && !this.cluster.operators.hasOperator(r.meta.id);

  private patrol(nowMs: number, add: (op: Operator) => boolean): void {
    const c = this.cluster.config;
    const batch = this.cluster.scanRegions(this.patrolKey, new Uint8Array(0), c.patrolRegionBatch);
    const last = batch[batch.length - 1];
    this.patrolKey = batch.length < c.patrolRegionBatch || last === undefined || last.meta.endKey.length === 0 ? new Uint8Array(0) : last.meta.endKey;
    for (const region of batch) {
      if (this.cluster.operators.countOperators((op) => op.kind === 'replica') >= c.replicaScheduleLimit) {
        mark('coordinator: replica schedule limit reached');
        return;
      }
      if (!this.filter(region)) continue;
      const op = this.replicaChecker.check(this.cluster, region, nowMs);
      if (op !== undefined) add(op);
    }
  }

  private runBalancer(
    isMine: (op: Operator) => boolean, limit: number, schedule: () => Operator | undefined, add: (op: Operator) => boolean,
  ): void {
    for (let attempt = 0; attempt < SCHEDULE_ATTEMPTS_MAX; attempt++) {
      if (this.cluster.operators.countOperators(isMine) >= limit) return;
      const op = schedule();
      if (op === undefined || add(op)) return;
    }
  }

  private addAdmin(region: RegionInfo, desc: string, steps: OpStep[], nowMs: number): OperatorDispatch | undefined {
    const op = Operator.forRegion(region, { desc, kind: 'admin', steps, createdAtMs: nowMs });
    const res = this.cluster.operators.addOperator(op, region, nowMs);
    if (!res.ok) throw new SchedulerError('OPERATOR_EXISTS', `Cannot schedule ${desc} for region ${region.meta.id}: ${res.reason}`);
    return res.dispatch;
  }

  private adminRegion(regionId: number): RegionInfo {
    const region = this.cluster.getRegion(regionId);
    if (region === undefined) throw new SchedulerError('REGION_NOT_FOUND', `Region ${regionId} not found`);
    return region;
  }

  private adminStore(storeId: number): void {
    const s = this.cluster.getStore(storeId);
    if (s === undefined) throw new SchedulerError('STORE_NOT_FOUND', `Store ${storeId} not found`);
    if (s.isTombstone()) throw new SchedulerError('STORE_TOMBSTONE', `Store ${storeId} is a tombstone`);
  }
}

function due(nextMs: number | undefined, nowMs: number): boolean {
  return nextMs === undefined || nowMs >= nextMs;
}
