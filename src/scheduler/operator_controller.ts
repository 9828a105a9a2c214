/**
 * Holds the unfinished operators, at most one per region (PD
 * `schedule.OperatorController`), and turns them into heartbeat responses.
 *
 * - {@link OperatorController.addOperator} admits an operator if its epoch
 *   still matches the region, no other operator holds the region (an admin
 *   operator replaces a non-admin one) and no store it touches is at its
 *   in-flight limit (admin operators are exempt). The first step is pushed
 *   at once: returned as a dispatch and passed to `onOperatorStep`.
 * - {@link OperatorController.dispatch} runs on every accepted heartbeat of
 *   the region: it advances finished steps, ends the operator on success,
 *   timeout or staleness, and otherwise returns the current step again. The
 *   step is re-sent on every heartbeat until it is done, as TinyKV does (the
 *   raftstore tolerates duplicate conf changes and transfers).
 * - {@link OperatorController.sweep} times out operators of regions that
 *   stopped heartbeating, so they do not hold a region or a store's limit.
 */
import type { RegionHeartbeatResponse } from '../pb/schedulerpb.js';
import { assert } from '../util/assert.js';
import { mark } from '../util/marks.js';
import type { ScheduleConfig } from './config.js';
import { stepResponse } from './operator.js';
import type { Operator, OperatorKind, OperatorStatus } from './operator.js';
import { epochOf } from './region_info.js';
import type { RegionInfo } from './region_info.js';

/** A step to send to a region's leader. */
export interface OperatorDispatch {
  readonly regionId: number;
  /** The leader's store: the RegionHeartbeat stream of this store carries the response. */
  readonly storeId: number;
  readonly response: RegionHeartbeatResponse;
}

export type AddOperatorResult =
  | { readonly ok: true; readonly dispatch: OperatorDispatch | undefined }
  | { readonly ok: false; readonly reason: string };

export interface OperatorControllerOptions {
  readonly config: () => ScheduleConfig;
  /** Put in response headers. */
  readonly clusterId: () => number;
  /** Called with the first step of every admitted operator (the service sends it on the leader store's stream). */
  readonly onOperatorStep?: (dispatch: OperatorDispatch) => void;
  /** Ended operators remembered for GetOperator. @default 1024 */
  readonly historyMax?: number;
}

export interface OperatorRecord {
  readonly operator: Operator;
  readonly status: OperatorStatus;
}

export class OperatorController {
  private readonly opts: OperatorControllerOptions;
  private readonly operators = new Map<number, Operator>();
  /** Ended operators by region id, oldest first (Map insertion order). */
  private readonly history = new Map<number, Operator>();

  constructor(opts: OperatorControllerOptions) {
    this.opts = opts;
  }

  /**
   * Admits `op` for `region` (the region as currently known).
   * @returns the first step to push, or why it was refused.
   */
  addOperator(op: Operator, region: RegionInfo, nowMs: number): AddOperatorResult {
    assert(op.regionId === region.meta.id, `operator for region ${op.regionId} added with region ${region.meta.id}`);
    assert(op.status === 'running', `operator ${op.describe()} added after it ended`);
    const epoch = epochOf(region);
    if (epoch.version !== op.regionEpoch.version || epoch.confVer !== op.regionEpoch.confVer) {
      return { ok: false, reason: `region ${region.meta.id} epoch changed since the operator was built` };
    }
    const existing = this.operators.get(op.regionId);
    if (existing !== undefined) {
      // Priority: admin > replica (repair) > balance. Repairing a region must not wait for a balance move.
      if (priority(op.kind) <= priority(existing.kind)) {
        return { ok: false, reason: `region ${op.regionId} already has operator ${existing.describe()}` };
      }
      mark(op.kind === 'admin' ? 'operator controller: admin operator replaced another' : 'operator controller: repair replaced a balance operator');
      this.end(existing, 'replace');
    }
    if (op.kind !== 'admin') {
      const limit = this.opts.config().storeOperatorLimit;
      for (const storeId of op.storeIds()) {
        if (this.storeOperatorCount(storeId) >= limit) {
          mark('operator controller: store limit reached');
          return { ok: false, reason: `store ${storeId} already has ${limit} operators in flight` };
        }
      }
    }
    this.operators.set(op.regionId, op);
    const dispatch = this.advance(op, region, nowMs);
    if (dispatch !== undefined) this.opts.onOperatorStep?.(dispatch);
    return { ok: true, dispatch };
  }

  /**
   * The response for an accepted heartbeat of `region`: the current step of
   * its operator, or undefined when it has none (or it just ended).
   */
  dispatch(region: RegionInfo, nowMs: number): RegionHeartbeatResponse | undefined {
    const op = this.operators.get(region.meta.id);
    if (op === undefined) return undefined;
    return this.advance(op, region, nowMs)?.response;
  }

  /** Ends every operator older than the timeout. @returns them. */
  sweep(nowMs: number): Operator[] {
    const timeoutMs = this.opts.config().operatorTimeoutMs;
    const ended: Operator[] = [];
    for (const op of this.getOperators()) {
      if (op.isTimeout(nowMs, timeoutMs)) {
        mark('operator controller: operator timed out');
        this.end(op, 'timeout');
        ended.push(op);
      }
    }
    return ended;
  }

  /** Ends the region's operator with `status` (e.g. cancelled by an admin). @returns whether there was one. */
  removeOperator(regionId: number, status: 'cancel' | 'replace' = 'cancel'): boolean {
    const op = this.operators.get(regionId);
    if (op === undefined) return false;
    this.end(op, status);
    return true;
  }

  getOperator(regionId: number): Operator | undefined {
    return this.operators.get(regionId);
  }

  /** Unfinished operators, by region id. */
  getOperators(): Operator[] {
    return [...this.operators.values()].sort((a, b) => a.regionId - b.regionId);
  }

  /** The running operator of the region, else the last one that ended (GetOperator RPC). */
  getOperatorRecord(regionId: number): OperatorRecord | undefined {
    const op = this.operators.get(regionId) ?? this.history.get(regionId);
    return op === undefined ? undefined : { operator: op, status: op.status };
  }

  hasOperator(regionId: number): boolean {
    return this.operators.has(regionId);
  }

  /** Unfinished operators that touch `storeId`. */
  storeOperatorCount(storeId: number): number {
    let n = 0;
    for (const op of this.operators.values()) if (op.kind !== 'admin' && op.storeIds().includes(storeId)) n++;
    return n;
  }

  /** Unfinished operators matching `pred`. */
  countOperators(pred: (op: Operator) => boolean): number {
    let n = 0;
    for (const op of this.operators.values()) if (pred(op)) n++;
    return n;
  }

  private advance(op: Operator, region: RegionInfo, nowMs: number): OperatorDispatch | undefined {
    if (op.isTimeout(nowMs, this.opts.config().operatorTimeoutMs)) {
      mark('operator controller: operator timed out');
      this.end(op, 'timeout');
      return undefined;
    }
    const step = op.check(region);
    const stale = op.staleReason(region);
    if (stale !== undefined) {
      mark('operator controller: stale operator cancelled');
      this.end(op, 'cancel');
      return undefined;
    }
    if (step === undefined) {
      mark('operator controller: operator finished');
      this.end(op, 'success');
      return undefined;
    }
    const response = stepResponse(step, region, this.opts.clusterId());
    if (response === undefined || region.leader === undefined) return undefined;
    return { regionId: region.meta.id, storeId: region.leader.storeId, response };
  }

  private end(op: Operator, status: Exclude<OperatorStatus, 'running'>): void {
    assert(this.operators.get(op.regionId) === op, `operator controller: ending ${op.describe()} that is not the region's operator`);
    op.finish(status);
    this.operators.delete(op.regionId);
    this.history.delete(op.regionId);
    this.history.set(op.regionId, op);
    const max = this.opts.historyMax ?? 1024;
    for (const id of this.history.keys()) {
      if (this.history.size <= max) break;
      this.history.delete(id);
    }
  }
}

/** Which operator may replace which: a higher priority replaces a lower one. */
function priority(kind: OperatorKind): number {
  switch (kind) {
    case 'admin':
      return 2;
    case 'replica':
      return 1;
    case 'balance':
      return 0;
  }
}
