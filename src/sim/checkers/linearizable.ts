/**
 * Linearizability checker for the simulator's KV histories.
 *
 * Algorithm, for each key's sub-history (P-compositionality, see below):
 * 0. A fast path, in one pass over the whole history: replay every key's
 *    operations in invocation order on a register (`replayInInvokeOrder`).
 *    Invocation order extends real-time order, so a key whose reads the
 *    replay reproduces is linearizable, and is decided without building its
 *    sub-history. This decides most keys of the simulator's histories, where
 *    a client runs one operation at a time on keys mostly its own; the other
 *    keys take steps 1-3, so violations and their reports are unchanged.
 * 1. Two sound pre-checks in O(n log n), which catch the usual anomalies
 *    whatever the concurrency: a read no write can explain (stale, from the
 *    future, or phantom: `readGrades`), and conflicting zones of values
 *    written once (an inversion, two writes seen in both orders:
 *    `zoneWitness`). Each yields a small witness.
 * 2. Otherwise, the complete search: Wing–Gong as improved by Lowe and
 *    implemented by Porcupine (anishathalye/porcupine, MIT; this is an
 *    independent TypeScript rewrite). Operations become call and return
 *    events sorted by time in a doubly linked list; a depth-first search
 *    repeatedly picks a pending call that precedes the first unlinearized
 *    return, applies it to the model if its output matches, and backtracks
 *    when stuck. Every explored (set of linearized operations, model state)
 *    pair is memoized, the set as a bitset hashed incrementally (Zobrist).
 *    On top of Porcupine: a matching read is linearized without branching,
 *    and a write that would hide a value pending reads still need is pruned
 *    (see `search` and `searchRegister`).
 * 3. On a violation, shrinking (`minimize`) to a small sub-history, rendered
 *    with a timeline.
 *
 * Semantics of a history:
 * - `fail` operations did not happen and are dropped;
 * - `indeterminate` reads tell nothing and are dropped;
 * - `indeterminate` writes may take effect at any point after their invoke
 *   time, or never: they complete at +infinity and the search succeeds as soon
 *   as every `ok` operation is linearized. They are tried only after every
 *   `ok` candidate at the same point (so placed as late as possible) and
 *   only while a pending read needs their value; one whose value no read
 *   observes is dropped up front. Both are exact, not heuristics: such a
 *   write could only be overwritten before anyone reads it, so leaving it out
 *   keeps every linearization valid.
 * - `ok` operations take effect between invoke and complete, returning their
 *   output. Intervals are closed: operations whose intervals merely touch
 *   (one completes at the tick the other is invoked) count as concurrent.
 *
 * Model: a register per key (a string, or absent); put sets, delete removes,
 * get returns the current value (undefined = absent). Keys compare as JS
 * strings (byte order for the simulator's printable ASCII keys); a scan
 * covers [start, end), where an undefined or empty end means unbounded (the
 * TiKV convention), and returns at most `limit` entries in key order.
 *
 * `checkLinearizable` uses P-compositionality: a history is linearizable iff
 * each key's sub-history is, so each key is checked alone. A scan is split
 * into one read per key it constrains (see `scanObservations`), which checks
 * that everything each scan saw was linearizable key by key, but NOT that a
 * scan saw all keys at one single instant (cross-key atomicity: e.g. a scan
 * showing a later write to y but not an earlier write to x). That needs
 * `checkLinearizableWhole`, which searches the whole history at once over a
 * map model with scans as atomic multi-key reads: exact, but exponential in
 * concurrency over all keys, so meant for small histories.
 *
 * Layout: this module holds the public API and the orchestration (which path
 * decides each key, the step budgets, the results). The steps live apart so
 * each can be read alone: the per-key view of operations in
 * `lin_key_ops.ts`, step 0 in `lin_replay.ts`, step 1 in `lin_prechecks.ts`,
 * step 2 in `lin_search.ts`, step 3 in `lin_shrink.ts` and `lin_report.ts`.
 */
import { mark } from '../../util/marks.js';
import { describeOperation, type KvOperation } from '../history.js';
import {
  allKeyOps,
  byInvokeTime,
  compareKeys,
  isUnobservedMaybeWrite,
  keyUniverse,
  malformedScan,
  observedValues,
  partitionByKey,
  relevantOperations,
  type KeyOp,
} from './lin_key_ops.js';
import { badReadWitness, keyReadGrader, noWorseGrades, readGrades, zoneWitness } from './lin_prechecks.js';
import { replayInInvokeOrder } from './lin_replay.js';
import { renderReport } from './lin_report.js';
import { searchMap, searchRegister, type Budget } from './lin_search.js';
import { minimize, shortestBadPrefix, spentNote, type ShrinkLimits } from './lin_shrink.js';

export type LinearizabilityResult =
  | { readonly verdict: 'ok' }
  | {
      readonly verdict: 'violation';
      /** The key whose sub-history is not linearizable (`WHOLE_HISTORY_KEY` for the whole check). */
      readonly key: string;
      /** A small non-linearizable sub-history, sorted by invoke time. */
      readonly minimal: readonly KvOperation[];
      /** Human-readable rendering of `minimal`, with a timeline. */
      readonly report: string;
    }
  | { readonly verdict: 'unknown'; readonly reason: string };

export interface LinearizabilityOptions {
  /**
   * Search steps (one step = one candidate considered or one backtrack)
   * allowed for the whole check, summed over keys; beyond it the verdict is
   * `unknown`. Shrinking a violation gets a separate budget of the same size.
   */
  readonly timeoutOps?: number;
  /**
   * Whether `checkLinearizable` first replays each key's operations in
   * invocation order (`replayInInvokeOrder`) and accepts the keys the replay
   * reproduces without the pre-checks and the search. It cannot change an
   * `ok` or a `violation` verdict, nor a report; it can only decide a key
   * where the search would have run out of budget (see `chargeReplayed`).
   * The switch is here so tests can check that and benchmarks time both.
   * @default true
   */
  readonly replay?: boolean;
}

/**
 * Default step budget. A realistic 10,000-operation history takes well under
 * a million steps (see the performance test); this leaves a wide margin and
 * still answers within seconds on a pathological one.
 */
export const DEFAULT_TIMEOUT_OPS = 20_000_000;

/** The `key` of a violation found by `checkLinearizableWhole`. */
export const WHOLE_HISTORY_KEY = '*';

/** At most this many sub-histories are tried while shrinking a violation. */
const MAX_SHRINK_ATTEMPTS = 2_000;

// ---------------------------------------------------------------------------
// Public entry points

/** Checks each key separately (P-compositionality); see the module comment. */
export function checkLinearizable(
  history: readonly KvOperation[],
  options: LinearizabilityOptions = {},
): LinearizabilityResult {
  const limit = options.timeoutOps ?? DEFAULT_TIMEOUT_OPS;
  const ops = relevantOperations(history);
  const malformed = malformedScan(ops);
  if (malformed !== undefined) return malformed;
  const budget = { remaining: limit };
  for (const sub of subHistories(ops, options.replay ?? true)) {
    const result =
      sub.keyOps === undefined ? chargeReplayed(sub, budget, limit) : checkKey(sub.key, sub.keyOps, budget, limit);
    // On `unknown` the budget is spent: no later key could be decided either.
    if (result.verdict !== 'ok') return result;
  }
  return { verdict: 'ok' };
}

/**
 * Checks the whole history at once with scans as atomic multi-key reads: also
 * catches cross-key atomicity violations, but the search is exponential in
 * the concurrency over all keys together. Use it on small histories.
 */
export function checkLinearizableWhole(
  history: readonly KvOperation[],
  options: LinearizabilityOptions = {},
): LinearizabilityResult {
  const limit = options.timeoutOps ?? DEFAULT_TIMEOUT_OPS;
  const ops = relevantOperations(history);
  const malformed = malformedScan(ops);
  if (malformed !== undefined) return malformed;
  const observed = observedValues(allKeyOps(ops));
  const kept = ops.filter((op) => !isUnobservedMaybeWrite(op, observed));
  const verdict = searchMap(kept, { remaining: limit });
  if (verdict === 'ok') return { verdict: 'ok' };
  if (verdict === 'unknown') return { verdict: 'unknown', reason: `search budget of ${limit} steps exhausted` };
  return mapViolation(kept, limit);
}

// ---------------------------------------------------------------------------
// Sub-histories and the replay

/** One key's sub-history to check, in the order `checkLinearizable` visits them. */
interface SubHistory {
  readonly key: string;
  /** Operations in the sub-history (after dropping indeterminate writes no read observes). */
  readonly count: number;
  /** The operations, or undefined when the replay already showed them linearizable. */
  readonly keyOps: readonly KeyOp[] | undefined;
}

/**
 * Every key's sub-history, smallest first (cheap violations are found before
 * the budget runs out; ties in key order). With `replay`, the keys the
 * replay reproduced come without their operations, which are never built:
 * that is most of the saving on a scan-heavy history.
 */
function subHistories(ops: readonly KvOperation[], replay: boolean): SubHistory[] {
  const universe = keyUniverse(ops);
  const subs: SubHistory[] = [];
  let rest: string[] = universe;
  if (replay) {
    const replayed = replayInInvokeOrder(ops, universe);
    rest = [];
    for (const [i, key] of universe.entries()) {
      const count = replayed.counts[i]!;
      if (replayed.reproduced[i] === 0) {
        mark('linearizable: key not reproduced by the replay, full check');
        rest.push(key);
      } else if (count > 0) {
        subs.push({ key, count, keyOps: undefined });
      }
    }
  }
  for (const [key, keyOps] of partitionByKey(ops, rest)) subs.push({ key, count: keyOps.length, keyOps });
  return subs.sort((a, b) => a.count - b.count || compareKeys(a.key, b.key));
}

/**
 * The verdict on a key the replay reproduced: `ok`, charged one step per
 * operation. The search places at most one operation per step, so on this
 * key it would have spent at least that many, and it answers `unknown` for
 * sure when fewer remain: that answer (and reason) is kept. Otherwise the
 * key is `ok` where the search might still have run out, and later keys get
 * at least the budget they had. So verdicts only change from `unknown` to
 * the right answer, and a violation found at a key is the one found before,
 * with the same report (the key gets the same check with no less budget).
 */
function chargeReplayed(sub: SubHistory, budget: Budget, limit: number): LinearizabilityResult {
  if (budget.remaining < sub.count) {
    budget.remaining = 0;
    return budgetExhausted(sub.key, sub.count, limit);
  }
  budget.remaining -= sub.count;
  mark('linearizable: key decided by the replay');
  return { verdict: 'ok' };
}

function budgetExhausted(key: string, count: number, limit: number): LinearizabilityResult {
  return { verdict: 'unknown', reason: `search budget of ${limit} steps exhausted at key ${JSON.stringify(key)} (${count} operations)` };
}

// ---------------------------------------------------------------------------
// Checking one key, and the violation results

function byInvoke(a: { readonly invoke: number; readonly source: KvOperation }, b: typeof a): number {
  return a.invoke - b.invoke || a.source.id - b.source.id;
}

/**
 * One key's register. Two sound O(n log n) pre-checks first (a bad read, see
 * `readGrades`; conflicting zones, see `zoneWitness`): they catch the usual
 * anomalies at any concurrency, with a small witness to shrink from. Then the
 * complete search, whose cost on a violation grows with the concurrency of
 * everything before it.
 */
function checkKey(key: string, keyOps: readonly KeyOp[], budget: Budget, limit: number): LinearizabilityResult {
  const sorted = [...keyOps].sort(byInvoke);
  const limits: ShrinkLimits = { attempts: MAX_SHRINK_ATTEMPTS, budget: { remaining: limit } };
  let baseline: Map<string, number> | undefined; // only needed once a violation is found
  const isBad = (sub: readonly KeyOp[]): boolean => {
    limits.attempts--;
    baseline ??= readGrades(sorted);
    return noWorseGrades(readGrades(sub), baseline) && searchRegister(sub, limits.budget) === 'violation';
  };
  const isWrite = (op: KeyOp): boolean => op.write;
  const grade = keyReadGrader(sorted.filter(isWrite));
  const badRead = sorted.find((op) => !op.write && grade(op) > 0);
  const witness = badRead !== undefined ? badReadWitness(badRead, sorted) : zoneWitness(sorted);
  if (witness !== undefined && isBad(witness)) {
    return registerViolation(key, minimize(witness, isWrite, isBad, limits), sorted.length, limits);
  }
  const verdict = searchRegister(sorted, budget);
  if (verdict === 'ok') return { verdict: 'ok' };
  if (verdict === 'unknown') return budgetExhausted(key, sorted.length, limit);
  const minimal = minimize(shortestBadPrefix(sorted, isBad, limits), isWrite, isBad, limits);
  return registerViolation(key, minimal, sorted.length, limits);
}

function registerViolation(
  key: string,
  minimal: readonly KeyOp[],
  originalCount: number,
  limits: ShrinkLimits,
): LinearizabilityResult {
  const lines = minimal.map((op) => {
    if (op.source.input.kind !== 'scan') return describeOperation(op.source);
    const seen = op.value === undefined ? 'absent' : `= ${JSON.stringify(op.value)}`;
    return `${describeOperation(op.source)}  (sees ${key} ${seen})`;
  });
  const header = `key ${JSON.stringify(key)} is not linearizable`;
  const report = renderReport(header, minimal.map((op) => op.source), lines, originalCount, spentNote(limits));
  return { verdict: 'violation', key, minimal: minimal.map((op) => op.source), report };
}

function mapViolation(ops: readonly KvOperation[], limit: number): LinearizabilityResult {
  const sorted = [...ops].sort(byInvokeTime);
  const baseline = readGrades(allKeyOps(sorted));
  const limits: ShrinkLimits = { attempts: MAX_SHRINK_ATTEMPTS, budget: { remaining: limit } };
  const isBad = (sub: readonly KvOperation[]): boolean => {
    limits.attempts--;
    return noWorseGrades(readGrades(allKeyOps(sub)), baseline) && searchMap(sub, limits.budget) === 'violation';
  };
  const isWrite = (op: KvOperation): boolean => op.input.kind === 'put' || op.input.kind === 'delete';
  const minimal = minimize(shortestBadPrefix(sorted, isBad, limits), isWrite, isBad, limits);
  const header = 'the history is not linearizable as a whole (scans atomic)';
  const report = renderReport(header, minimal, minimal.map(describeOperation), ops.length, spentNote(limits));
  return { verdict: 'violation', key: WHOLE_HISTORY_KEY, minimal, report };
}
