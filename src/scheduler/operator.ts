/**
 * Operators (PD `schedule/operator`): a sequence of steps that changes one
 * region, judged done from the region's own heartbeats.
 *
 * - AddPeer(storeId, peerId) is done when the peer is in the region and the
 *   leader no longer reports it pending (it has caught up).
 * - RemovePeer(storeId) is done when the region has no peer on the store.
 * - TransferLeader(from, to) is done when the leader is on `to`.
 *
 * An operator remembers the region epoch it was built against. It is stale
 * (cancelled) when the region's version moved (split/merge: its range is not
 * what the plan was made for) or when conf_ver moved further than its own
 * completed conf changes explain (someone else changed membership).
 */
import { ConfChangeType } from '../pb/eraftpb.js';
import type { RegionEpoch } from '../pb/metapb.js';
import { OperatorStatus as PbOperatorStatus } from '../pb/schedulerpb.js';
import type { RegionHeartbeatResponse } from '../pb/schedulerpb.js';
import { assert, assertNever } from '../util/assert.js';
import { copyPeer, epochOf, isPendingPeer, storePeer } from './region_info.js';
import type { RegionInfo } from './region_info.js';

export type OpStep =
  | { readonly type: 'addPeer'; readonly storeId: number; readonly peerId: number }
  | { readonly type: 'removePeer'; readonly storeId: number }
  | { readonly type: 'transferLeader'; readonly fromStoreId: number; readonly toStoreId: number };

/** Who asked: `admin` (ctl), `balance` (balance-region / balance-leader), `replica` (replica checker). */
export type OperatorKind = 'admin' | 'balance' | 'replica';

/** Mirrors schedulerpb.OperatorStatus. */
export type OperatorStatus = 'running' | 'success' | 'timeout' | 'cancel' | 'replace';

/** schedulerpb.OperatorStatus for the GetOperator RPC. */
export function toPbOperatorStatus(status: OperatorStatus): PbOperatorStatus {
  switch (status) {
    case 'running': return PbOperatorStatus.RUNNING;
    case 'success': return PbOperatorStatus.SUCCESS;
    case 'timeout': return PbOperatorStatus.TIMEOUT;
    case 'cancel': return PbOperatorStatus.CANCEL;
    case 'replace': return PbOperatorStatus.REPLACE;
    default: return assertNever(status);
  }
}

export interface OperatorInit {
  /** What made it, e.g. "balance-region", "replace-down-peer", "admin-add-peer". */
  readonly desc: string;
  readonly regionId: number;
  readonly regionEpoch: RegionEpoch;
  readonly kind: OperatorKind;
  readonly steps: readonly OpStep[];
  readonly createdAtMs: number;
}

export class Operator {
  readonly desc: string;
  readonly regionId: number;
  readonly regionEpoch: Readonly<RegionEpoch>;
  readonly kind: OperatorKind;
  readonly steps: readonly OpStep[];
  readonly createdAtMs: number;
  /** Index of the first unfinished step; === steps.length when done. */
  private current = 0;
  private statusValue: OperatorStatus = 'running';

  constructor(init: OperatorInit) {
    assert(init.steps.length > 0, `operator ${init.desc} for region ${init.regionId} has no steps`);
    this.desc = init.desc;
    this.regionId = init.regionId;
    this.regionEpoch = Object.freeze({ ...init.regionEpoch });
    this.kind = init.kind;
    this.steps = Object.freeze(init.steps.map((s) => Object.freeze({ ...s })));
    this.createdAtMs = init.createdAtMs;
  }

  /** Creates an operator for `region`, taking the epoch from it. */
  static forRegion(region: RegionInfo, init: Omit<OperatorInit, 'regionId' | 'regionEpoch'>): Operator {
    return new Operator({ ...init, regionId: region.meta.id, regionEpoch: epochOf(region) });
  }

  get status(): OperatorStatus {
    return this.statusValue;
  }

  get currentStepIndex(): number {
    return this.current;
  }

  currentStep(): OpStep | undefined {
    return this.steps[this.current];
  }

  /** Store ids any step touches, sorted, unique (for per-store limits). */
  storeIds(): number[] {
    const ids = new Set<number>();
    for (const s of this.steps) {
      if (s.type === 'transferLeader') { ids.add(s.fromStoreId); ids.add(s.toStoreId); } else ids.add(s.storeId);
    }
    return [...ids].sort((a, b) => a - b);
  }

  /** Whether only leadership moves (balance-leader): no data is copied. */
  isLeaderOnly(): boolean {
    return this.steps.every((s) => s.type === 'transferLeader');
  }

  /**
   * Advances past the steps `region` shows finished (PD `Operator.Check`).
   * @returns the step to perform next, or undefined when all are done.
   */
  check(region: RegionInfo): OpStep | undefined {
    assert(region.meta.id === this.regionId, `operator for region ${this.regionId} checked against region ${region.meta.id}`);
    while (this.current < this.steps.length && isStepFinished(this.steps[this.current] as OpStep, region)) this.current++;
    return this.currentStep();
  }

  /**
   * Why the operator no longer fits `region`, or undefined if it still does.
   * Call after {@link check}.
   */
  staleReason(region: RegionInfo): string | undefined {
    const epoch = epochOf(region);
    if (epoch.version !== this.regionEpoch.version) {
      return `region version moved from ${this.regionEpoch.version} to ${epoch.version}`;
    }
    let applied = 0;
    for (let i = 0; i < this.steps.length; i++) {
      const s = this.steps[i] as OpStep;
      if (s.type === 'transferLeader') continue;
      if (i < this.current || (i === this.current && isConfChangeApplied(s, region))) applied++;
    }
    const expected = this.regionEpoch.confVer + applied;
    if (epoch.confVer > expected) return `region conf_ver is ${epoch.confVer}, this operator explains at most ${expected}`;
    return undefined;
  }

  isTimeout(nowMs: number, timeoutMs: number): boolean {
    return nowMs - this.createdAtMs > timeoutMs;
  }

  /** Marks the end of the operator; only a running one can end. */
  finish(status: Exclude<OperatorStatus, 'running'>): void {
    assert(this.statusValue === 'running', `operator ${this.describe()} already ended with ${this.statusValue}`);
    if (status === 'success') assert(this.current === this.steps.length, `operator ${this.describe()} succeeded with steps left`);
    this.statusValue = status;
  }

  describe(): string {
    return `${this.desc} (${this.kind}) region ${this.regionId} [${this.steps.map(describeStep).join(', ')}] at step ${this.current}`;
  }
}

export function describeStep(s: OpStep): string {
  switch (s.type) {
    case 'addPeer': return `add peer ${s.peerId} on store ${s.storeId}`;
    case 'removePeer': return `remove peer on store ${s.storeId}`;
    case 'transferLeader': return `transfer leader from store ${s.fromStoreId} to store ${s.toStoreId}`;
    default: return assertNever(s);
  }
}

export function isStepFinished(s: OpStep, region: RegionInfo): boolean {
  switch (s.type) {
    case 'addPeer': {
      const p = storePeer(region, s.storeId);
      return p !== undefined && p.id === s.peerId && !isPendingPeer(region, p.id);
    }
    case 'removePeer':
      return storePeer(region, s.storeId) === undefined;
    case 'transferLeader':
      return region.leader !== undefined && region.leader.storeId === s.toStoreId;
    default:
      return assertNever(s);
  }
}

/** The conf change of an add/remove step is in the region (it may still be catching up). */
function isConfChangeApplied(s: OpStep, region: RegionInfo): boolean {
  switch (s.type) {
    case 'addPeer': return storePeer(region, s.storeId)?.id === s.peerId;
    case 'removePeer': return storePeer(region, s.storeId) === undefined;
    case 'transferLeader': return false;
    default: return assertNever(s);
  }
}

/**
 * The heartbeat response that asks the region's leader to perform `step`, in
 * the shape our raftstore expects (see src/sim/cluster/mock_scheduler.ts):
 * `regionId`, the region's current epoch, `targetPeer` = the leader, plus
 * `changePeer` or `transferLeader`. Undefined when there is nothing to send
 * now: an added peer that is in the region but still pending (we wait for it
 * to catch up), or a step that names a peer the region does not have.
 */
export function stepResponse(step: OpStep, region: RegionInfo, clusterId: number): RegionHeartbeatResponse | undefined {
  const base: RegionHeartbeatResponse = {
    header: { clusterId, error: undefined }, changePeer: undefined, transferLeader: undefined,
    regionId: region.meta.id, regionEpoch: { ...epochOf(region) },
    targetPeer: region.leader === undefined ? undefined : copyPeer(region.leader),
  };
  switch (step.type) {
    case 'addPeer': {
      if (storePeer(region, step.storeId) !== undefined) return undefined;
      return { ...base, changePeer: { changeType: ConfChangeType.AddNode, peer: { id: step.peerId, storeId: step.storeId } } };
    }
    case 'removePeer': {
      const p = storePeer(region, step.storeId);
      if (p === undefined) return undefined;
      return { ...base, changePeer: { changeType: ConfChangeType.RemoveNode, peer: copyPeer(p) } };
    }
    case 'transferLeader': {
      const p = storePeer(region, step.toStoreId);
      if (p === undefined) return undefined;
      return { ...base, transferLeader: { peer: copyPeer(p) } };
    }
    default:
      return assertNever(step);
  }
}
