/**
 * Convergence (TigerBeetle's "state convergence" of the liveness mode): after
 * the faults heal, every live replica must reach the same applied state (the
 * same applied index and identical KV contents) within a bounded virtual
 * time, otherwise the run fails with "no liveness".
 *
 * `compareReplicas` is the pure check of one instant; `awaitConvergence`
 * drives the simulation forward in steps until the check passes or the
 * deadline passes.
 */
import { assert } from '../../util/assert.js';

export interface ReplicaState {
  readonly nodeId: number;
  readonly appliedIndex: number;
  /** Every pair, in key order. */
  readonly contents: readonly (readonly [key: string, value: string])[];
}

export type ConvergenceResult =
  | { readonly verdict: 'converged'; readonly appliedIndex: number }
  | { readonly verdict: 'diverged'; readonly report: string };

/** Compares replicas against the first (lowest id); all must be equal. */
export function compareReplicas(replicas: readonly ReplicaState[]): ConvergenceResult {
  assert(replicas.length > 0, 'compareReplicas: no replicas');
  const sorted = [...replicas].sort((a, b) => a.nodeId - b.nodeId);
  const base = sorted[0] as ReplicaState;
  for (const other of sorted.slice(1)) {
    if (other.appliedIndex !== base.appliedIndex) {
      return {
        verdict: 'diverged',
        report: `applied index differs: n${base.nodeId} at ${base.appliedIndex}, n${other.nodeId} at ${other.appliedIndex}`,
      };
    }
    const difference = firstDifference(base.contents, other.contents);
    if (difference !== undefined) {
      return { verdict: 'diverged', report: `contents differ at applied index ${base.appliedIndex}: ${describe(base, other, difference)}` };
    }
  }
  return { verdict: 'converged', appliedIndex: base.appliedIndex };
}

/** The first key where two sorted contents differ, or undefined when equal. */
function firstDifference(
  a: ReplicaState['contents'],
  b: ReplicaState['contents'],
): { readonly key: string; readonly left: string | undefined; readonly right: string | undefined } | undefined {
  let i = 0;
  let j = 0;
  const limit = a.length + b.length;
  for (let steps = 0; steps <= limit; steps++) {
    const x = a[i];
    const y = b[j];
    if (x === undefined && y === undefined) return undefined;
    if (x !== undefined && y !== undefined && x[0] === y[0]) {
      if (x[1] !== y[1]) return { key: x[0], left: x[1], right: y[1] };
      i++;
      j++;
    } else if (y === undefined || (x !== undefined && x[0] < y[0])) {
      return { key: (x as readonly [string, string])[0], left: (x as readonly [string, string])[1], right: undefined };
    } else {
      return { key: y[0], left: undefined, right: y[1] };
    }
  }
  assert(false, 'firstDifference: did not terminate');
}

function describe(
  a: ReplicaState,
  b: ReplicaState,
  d: { readonly key: string; readonly left: string | undefined; readonly right: string | undefined },
): string {
  const show = (v: string | undefined): string => (v === undefined ? 'absent' : JSON.stringify(v));
  return `key ${JSON.stringify(d.key)} is ${show(d.left)} on n${a.nodeId} but ${show(d.right)} on n${b.nodeId}`;
}

export interface AwaitConvergenceOptions {
  /** Current virtual time. */
  readonly nowMs: () => number;
  /** Runs the simulation up to the given virtual time. */
  readonly runUntil: (timeMs: number) => void;
  /** The live replicas' states; undefined when not every replica that should be live is up. */
  readonly replicas: () => readonly ReplicaState[] | undefined;
  /** Give up at this virtual time. */
  readonly deadlineMs: number;
  /** How often to check, in virtual ms. */
  readonly pollMs: number;
}

export type AwaitConvergenceResult =
  | { readonly verdict: 'converged'; readonly atMs: number; readonly appliedIndex: number }
  | { readonly verdict: 'no liveness'; readonly report: string };

/** Steps the simulation until the replicas converge, or reports "no liveness" at the deadline. */
export function awaitConvergence(options: AwaitConvergenceOptions): AwaitConvergenceResult {
  assert(options.pollMs > 0, 'awaitConvergence: pollMs must be positive');
  assert(options.deadlineMs >= options.nowMs(), 'awaitConvergence: deadline in the past');
  const pollsMax = Math.ceil((options.deadlineMs - options.nowMs()) / options.pollMs) + 1;
  let last = 'no replica state observed';
  for (let poll = 0; poll <= pollsMax; poll++) {
    const replicas = options.replicas();
    if (replicas === undefined) {
      last = 'some replica is down';
    } else {
      const result = compareReplicas(replicas);
      if (result.verdict === 'converged') return { verdict: 'converged', atMs: options.nowMs(), appliedIndex: result.appliedIndex };
      last = result.report;
    }
    const now = options.nowMs();
    if (now >= options.deadlineMs) break;
    options.runUntil(Math.min(options.deadlineMs, now + options.pollMs));
  }
  return { verdict: 'no liveness', report: `no liveness: replicas did not converge by ${options.deadlineMs} ms: ${last}` };
}
