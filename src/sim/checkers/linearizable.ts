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
 */
import { assert, assertNever } from '../../util/assert.js';
import { mark } from '../../util/marks.js';
import { describeOperation, type KvOperation } from '../history.js';

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

/** Histories longer than this are reported without a timeline. */
const MAX_TIMELINE_OPS = 60;

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
// From operations to per-key operations

/** One operation as one key sees it: a write, or a read (a get, or one key of a scan). */
interface KeyOp {
  readonly source: KvOperation;
  readonly key: string;
  readonly write: boolean;
  /** The value written or observed; undefined = absent (delete, not found). */
  readonly value: string | undefined;
  readonly invoke: number;
  /** Infinity for indeterminate writes: they may take effect any time after invoke, or never. */
  readonly complete: number;
}

/** Drops what tells nothing: failed operations and indeterminate reads. */
function relevantOperations(history: readonly KvOperation[]): KvOperation[] {
  const out: KvOperation[] = [];
  for (const op of history) {
    if (op.status === 'fail') continue;
    const isRead = op.input.kind === 'get' || op.input.kind === 'scan';
    if (op.status === 'indeterminate' && isRead) continue;
    if (op.status === 'ok') {
      assert(op.completeTime >= op.invokeTime, `operation #${op.id} completes before it is invoked`);
      // A write's output carries nothing, so only reads must have one.
      assert(!isRead || op.output?.kind === op.input.kind, `ok operation #${op.id} has no ${op.input.kind} output`);
    }
    out.push(op);
  }
  return out;
}

/** Every key the history mentions: the only keys that can hold a value or be observed. */
function keyUniverse(ops: readonly KvOperation[]): string[] {
  const keys = new Set<string>();
  for (const op of ops) {
    if (op.input.kind !== 'scan') keys.add(op.input.key);
    else if (op.output?.kind === 'scan') for (const [key] of op.output.entries) keys.add(key);
  }
  return [...keys].sort(compareKeys);
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function inScanRange(key: string, start: string, end: string | undefined): boolean {
  return key >= start && (end === undefined || end === '' || key < end);
}

function toKeyOps(op: KvOperation, universe: readonly string[]): KeyOp[] {
  const input = op.input;
  switch (input.kind) {
    case 'put':
      return [keyOp(op, input.key, true, input.value)];
    case 'delete':
      return [keyOp(op, input.key, true, undefined)];
    case 'get':
      return [keyOp(op, input.key, false, op.output?.kind === 'get' ? op.output.value : undefined)];
    case 'scan': {
      const out: KeyOp[] = [];
      scanObservations(op, universe, (i, value) => out.push(keyOp(op, universe[i]!, false, value)));
      return out;
    }
  }
}

/**
 * Every `KeyOp` is built by this one literal, so all share one shape: object
 * spreads here gave each a dictionary-like shape of its own, and made
 * building and reading a scan-heavy history's observations the bulk of the
 * check.
 */
function keyOp(source: KvOperation, key: string, write: boolean, value: string | undefined): KeyOp {
  const complete = source.status === 'ok' ? source.completeTime : Infinity;
  return { source, key, write, value, invoke: source.invokeTime, complete };
}

/**
 * What a (well-formed) scan says about each key of `keys` (sorted; the
 * universe or part of it) in its range: `visit(i, value)` for keys[i], in
 * key order. A returned key has the returned value; a key not returned was
 * absent, unless the scan stopped at `limit` before reaching it (keys after
 * the last returned one are then unconstrained). Together these constraints
 * hold iff the scan's output is exactly what the map would return.
 *
 * Precondition: the scan passed `malformedScan` (entries strictly ascending,
 * inside the range), so one merge walk over the entries finds each value.
 * A callback rather than a list: a scan-heavy history has over a million
 * observations, and the replay (`replayInInvokeOrder`) needs no object for
 * any of them.
 */
function scanObservations(
  op: KvOperation,
  keys: readonly string[],
  visit: (index: number, value: string | undefined) => void,
): void {
  const input = op.input;
  const output = op.output;
  assert(input.kind === 'scan' && output?.kind === 'scan', 'scanObservations: not an ok scan');
  const entries = output.entries;
  // A full scan may have stopped early: keys after its last entry are unconstrained.
  const full = entries.length >= input.limit;
  const cut = entries.at(-1)?.[0];
  // Invariant: entries before `next` have keys below the current key.
  let next = 0;
  for (let i = lowerBound(keys, input.start); i < keys.length; i++) {
    const key = keys[i]!;
    if (!inScanRange(key, input.start, input.end) || (full && (cut === undefined || key > cut))) break;
    while (next < entries.length && entries[next]![0] < key) next++;
    const entry = entries[next];
    visit(i, entry !== undefined && entry[0] === key ? entry[1] : undefined);
  }
}

/** The index of the first key >= `key` in a sorted list. */
function lowerBound(sorted: readonly string[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A scan whose output no map could produce is a violation on its own. */
function malformedScan(ops: readonly KvOperation[]): LinearizabilityResult | undefined {
  for (const op of ops) {
    const input = op.input;
    const output = op.output;
    if (input.kind !== 'scan' || output?.kind !== 'scan') continue;
    let problem: string | undefined;
    let key = input.start;
    if (output.entries.length > Math.max(0, input.limit)) {
      problem = `returned ${output.entries.length} entries, more than its limit ${input.limit}`;
    }
    // An index loop: a scan-heavy history has hundreds of thousands of entries.
    const entries = output.entries;
    for (let i = 0; i < entries.length && problem === undefined; i++) {
      const k = entries[i]![0];
      key = k;
      if (!inScanRange(k, input.start, input.end)) problem = `returned key ${JSON.stringify(k)} outside its range`;
      else if (i > 0 && !(entries[i - 1]![0] < k)) problem = `returned keys out of order at ${JSON.stringify(k)}`;
    }
    if (problem !== undefined) {
      const report = `malformed scan output: ${problem}\n  ${describeOperation(op)}`;
      return { verdict: 'violation', key, minimal: [op], report };
    }
  }
  return undefined;
}

function allKeyOps(ops: readonly KvOperation[]): KeyOp[] {
  const universe = keyUniverse(ops);
  return ops.flatMap((op) => toKeyOps(op, universe));
}

/**
 * The sub-histories of `keys` (sorted, from the universe), each in history
 * order, without the indeterminate writes no read observes (see the module
 * comment). Keys left with no operation are absent; the rest are in key order.
 */
function partitionByKey(ops: readonly KvOperation[], keys: readonly string[]): Map<string, KeyOp[]> {
  const indexOf = new Map(keys.map((key, i) => [key, i]));
  const lists = keys.map((): KeyOp[] => []);
  for (const op of ops) {
    const input = op.input;
    if (input.kind === 'scan') {
      // Visits `keys` only, so no lookup by key per observation.
      scanObservations(op, keys, (i, value) => lists[i]!.push(keyOp(op, keys[i]!, false, value)));
      continue;
    }
    const i = indexOf.get(input.key);
    if (i !== undefined) lists[i]!.push(...toKeyOps(op, keys));
  }
  const byKey = new Map<string, KeyOp[]>();
  for (const [i, list] of lists.entries()) {
    const kept = withoutUnobservedMaybes(list);
    if (kept.length > 0) byKey.set(keys[i]!, kept);
  }
  return byKey;
}

/** One key's operations without its indeterminate writes of a value no read of the key saw. */
function withoutUnobservedMaybes(keyOps: KeyOp[]): KeyOp[] {
  if (!keyOps.some((op) => op.complete === Infinity)) return keyOps;
  const observed = new Set<string | undefined>();
  for (const op of keyOps) if (!op.write) observed.add(op.value);
  return keyOps.filter((op) => op.complete !== Infinity || observed.has(op.value));
}

/**
 * An identity for "key k holds value v (or is absent)". The key's length
 * prefix makes it unambiguous whatever the key and value contain (the value
 * follows `=`, absence is `-`), and it is far cheaper than JSON.stringify.
 */
function observation(op: KeyOp): string {
  return op.value === undefined ? `${op.key.length}:${op.key}-` : `${op.key.length}:${op.key}=${op.value}`;
}

/**
 * The observations of the reads, for `isUnobservedMaybeWrite`: only on keys
 * an indeterminate write touches, the only ones it asks about.
 */
function observedValues(keyOps: readonly KeyOp[]): Set<string> {
  const maybeKeys = new Set<string>();
  for (const op of keyOps) if (op.write && op.complete === Infinity) maybeKeys.add(op.key);
  const observed = new Set<string>();
  if (maybeKeys.size === 0) return observed;
  for (const op of keyOps) if (!op.write && maybeKeys.has(op.key)) observed.add(observation(op));
  return observed;
}

function isUnobservedMaybeWrite(op: KvOperation, observed: ReadonlySet<string>): boolean {
  if (op.status !== 'indeterminate') return false;
  const [keyOp] = toKeyOps(op, []);
  return keyOp !== undefined && keyOp.write && !observed.has(observation(keyOp));
}

// ---------------------------------------------------------------------------
// The fast path: replay in invocation order

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

/** What replaying the history in invocation order showed, per key (by index in the universe). */
interface Replay {
  /** 1 = the replay reproduced every read of the key: its sub-history is linearizable. */
  readonly reproduced: Uint8Array;
  /** Operations in the key's sub-history, as `partitionByKey` would keep them (where reproduced). */
  readonly counts: Int32Array;
}

/**
 * The fast path: replays the `ok` operations in invocation order (ties by
 * id) on one register per key, and checks every read against it: each get,
 * and each key a scan constrains. One pass, no object per observation.
 *
 * Sound: invocation order extends real-time order (if a completes before b
 * is invoked, a was invoked first), so a replay that reproduces every read
 * of a key is a linearization of the key's sub-history. Indeterminate writes
 * are left out, which is allowed (they may never take effect); a key with
 * one that some read observes is left to the full check, so from a
 * reproduced key the replay left out only writes `partitionByKey` drops too
 * (and `counts` is the size of its sub-history). Not complete: a key whose
 * operations overlap may linearize only in another order, so a key not
 * reproduced gets the full check (pre-checks, search, shrinking), which
 * finds and reports a violation exactly as without the fast path.
 *
 * Why it pays: in the simulator's histories a client runs one operation at a
 * time and often has keys of its own, so the replay decides most keys, and a
 * scan-heavy run's million observations cost one string comparison each.
 */
function replayInInvokeOrder(ops: readonly KvOperation[], universe: readonly string[]): Replay {
  const indexOf = new Map(universe.map((key, i) => [key, i]));
  const keyIndex = (key: string): number => {
    const i = indexOf.get(key);
    if (i === undefined) assert(false, `replay: key ${JSON.stringify(key)} is not in the universe`);
    return i;
  };
  const reproduced = new Uint8Array(universe.length).fill(1);
  const counts = new Int32Array(universe.length);
  const registers = new Array<string | undefined>(universe.length).fill(undefined);
  // The values read, kept only for keys with indeterminate writes: is one of them observed?
  const observedByKey = new Array<Set<string | undefined> | undefined>(universe.length);
  const maybes = ops.filter((op) => op.status === 'indeterminate');
  for (const op of maybes) observedByKey[keyIndex(singleKey(op))] ??= new Set();
  const read = (i: number, value: string | undefined): void => {
    counts[i]!++;
    if (registers[i] !== value) reproduced[i] = 0;
    observedByKey[i]?.add(value);
  };
  for (const op of [...ops].sort(byInvokeTime)) {
    if (op.status !== 'ok') continue;
    const input = op.input;
    switch (input.kind) {
      case 'put':
      case 'delete': {
        const i = keyIndex(input.key);
        registers[i] = input.kind === 'put' ? input.value : undefined;
        counts[i]!++;
        break;
      }
      case 'get':
        read(keyIndex(input.key), op.output?.kind === 'get' ? op.output.value : undefined);
        break;
      case 'scan':
        scanObservations(op, universe, read);
        break;
      default:
        assertNever(input);
    }
  }
  for (const op of maybes) {
    const i = keyIndex(singleKey(op));
    const value = op.input.kind === 'put' ? op.input.value : undefined;
    if (observedByKey[i]!.has(value)) reproduced[i] = 0;
  }
  return { reproduced, counts };
}

/** The key of an indeterminate operation: a write (`relevantOperations` drops indeterminate reads). */
function singleKey(op: KvOperation): string {
  const input = op.input;
  assert(input.kind === 'put' || input.kind === 'delete', `indeterminate operation #${op.id} is not a write`);
  return input.key;
}

function byInvokeTime(a: KvOperation, b: KvOperation): number {
  return a.invokeTime - b.invokeTime || a.id - b.id;
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

/**
 * How well each read of a sub-history is explained by its writes, by read
 * identity: 0 = some write of the value it saw (or the initial absence) may
 * still be current when the read ends; 1 = every such write was definitely
 * overwritten before the read began, or began after it ended (a stale or
 * future read); 2 = nothing wrote that value (a phantom read).
 *
 * A read graded 1 or 2 makes the history non-linearizable on its own: the
 * last write linearized before it would have to be a write of its value
 * that is neither overwritten for sure nor invoked too late, i.e. grade 0.
 * (Grade 0 everywhere does not imply linearizable: inversions between reads
 * need the search.) So `checkLinearizable` reports such reads without a
 * search, and shrinking starts from their witness (`badReadWitness`).
 *
 * Shrinking may not raise a grade: dropping the write a read saw leaves a
 * history that is non-linearizable for a misleading reason (e.g. dropping a
 * delete makes a correct "not found" look like a lost write).
 */
function readGrades(keyOps: readonly KeyOp[]): Map<string, number> {
  const byKey = new Map<string, KeyOp[]>();
  for (const op of keyOps) {
    let list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, (list = []));
    list.push(op);
  }
  const grades = new Map<string, number>();
  for (const ops of byKey.values()) {
    const grade = keyReadGrader(ops.filter((op) => op.write));
    for (const read of ops) if (!read.write) grades.set(readId(read), grade(read));
  }
  return grades;
}

/**
 * Grades reads of one key in O(log writes) each. A write w is definitely
 * overwritten before read r iff another write ran entirely between w's
 * completion and r's invocation, i.e. iff M(r) > w.complete, where M(r) is
 * the latest invocation among writes completed before r. So r has a fresh
 * source iff max{w.complete : w writes r's value, w.invoke <= r.complete} >= M(r).
 */
function keyReadGrader(writes: readonly KeyOp[]): (read: KeyOp) => number {
  const byComplete = [...writes].sort((a, b) => a.complete - b.complete);
  const latestInvoke = prefixMax(byComplete.map((w) => w.invoke));
  const byValue = new Map<string | undefined, KeyOp[]>();
  for (const w of [...writes].sort((a, b) => a.invoke - b.invoke)) {
    let list = byValue.get(w.value);
    if (list === undefined) byValue.set(w.value, (list = []));
    list.push(w);
  }
  const latestComplete = new Map([...byValue].map(([v, ws]) => [v, prefixMax(ws.map((w) => w.complete))]));
  return (read) => {
    const before = countBelow(byComplete, (w) => w.complete < read.invoke);
    const m = before === 0 ? -Infinity : latestInvoke[before - 1]!;
    const initialFresh = read.value === undefined && m === -Infinity;
    const sources = byValue.get(read.value);
    if (sources === undefined) return initialFresh ? 0 : read.value === undefined ? 1 : 2;
    const started = countBelow(sources, (w) => w.invoke <= read.complete);
    const fresh = initialFresh || (started > 0 && latestComplete.get(read.value)![started - 1]! >= m);
    return fresh ? 0 : 1;
  };
}

function prefixMax(xs: readonly number[]): number[] {
  let max = -Infinity;
  return xs.map((x) => (max = Math.max(max, x)));
}

/** The length of the prefix of `sorted` satisfying the monotone predicate `below`. */
function countBelow<T>(sorted: readonly T[], below: (item: T) => boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (below(sorted[mid]!)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function readId(read: KeyOp): string {
  return `${read.source.id}/${read.key}`;
}

function noWorseGrades(candidate: ReadonlyMap<string, number>, baseline: ReadonlyMap<string, number>): boolean {
  for (const [read, grade] of candidate) if (grade > (baseline.get(read) ?? 2)) return false;
  return true;
}

// ---------------------------------------------------------------------------
// Models

interface Interval {
  readonly invoke: number;
  /** Infinity = may take effect any time after invoke, or never. */
  readonly complete: number;
}

interface SearchModel<S> {
  readonly init: S;
  /** The state after operation `op`, or undefined if its output does not match `state`. */
  step(state: S, op: number): S | undefined;
  /** Whether `op` never changes the state (a read). */
  readOnly(op: number): boolean;
  /**
   * Told when `op` is linearized (+1) or unlinearized (-1), so `step` may
   * prune using the set of pending operations (a function of the memoized
   * linearized set, so memoization stays sound).
   */
  placed?(op: number, delta: 1 | -1): void;
  hash(state: S): number;
  equal(a: S, b: S): boolean;
}

type SearchVerdict = 'ok' | 'violation' | 'unknown';

interface Budget {
  remaining: number;
}

/** One key's register; values interned to small integers (0 = absent) for cheap hashing. */
function searchRegister(ops: readonly KeyOp[], budget: Budget): SearchVerdict {
  const ids = new Map<string, number>();
  const values = new Int32Array(ops.length);
  const writes = new Uint8Array(ops.length);
  for (const [i, op] of ops.entries()) {
    values[i] = op.value === undefined ? 0 : internValue(ids, op.value);
    writes[i] = op.write ? 1 : 0;
  }
  // Unlinearized reads and writes per value, for the pruning rule in `step`.
  const pendingReads = new Int32Array(ids.size + 1);
  const pendingWrites = new Int32Array(ids.size + 1);
  const count = (op: number, delta: number): void => {
    const counts = writes[op] === 1 ? pendingWrites : pendingReads;
    counts[values[op]!]! += delta;
  };
  for (let i = 0; i < ops.length; i++) count(i, 1);
  const model: SearchModel<number> = {
    init: 0,
    step: (state, op) => {
      const value = values[op]!;
      if (writes[op] === 0) return value === state ? state : undefined;
      // Overwriting a value that pending reads still need and no pending
      // write can bring back strands those reads: prune it now rather than
      // discover it after exploring everything in between.
      if (value !== state && pendingReads[state]! > 0 && pendingWrites[state] === 0) return undefined;
      // An indeterminate write nobody pending will read is never needed:
      // leaving it out keeps every continuation that placing it allows.
      if (ops[op]!.complete === Infinity && pendingReads[value] === 0) return undefined;
      return value;
    },
    readOnly: (op) => writes[op] === 0,
    placed: (op, delta) => count(op, -delta),
    hash: (state) => state,
    equal: (a, b) => a === b,
  };
  return search(ops, model, budget);
}

function internValue(ids: Map<string, number>, value: string): number {
  let id = ids.get(value);
  if (id === undefined) ids.set(value, (id = ids.size + 1));
  return id;
}

/** What one operation does to the map model: writes one key, or reads some keys. */
interface MapEffect {
  readonly write: boolean;
  readonly keys: readonly number[];
  readonly values: readonly number[];
}

/** The whole map, state = value id per key of the universe; a scan is one atomic multi-key read. */
function searchMap(ops: readonly KvOperation[], budget: Budget): SearchVerdict {
  const universe = keyUniverse(ops);
  const keyIndex = new Map(universe.map((k, i) => [k, i]));
  const ids = new Map<string, number>();
  const effects: MapEffect[] = ops.map((op) => {
    const keyOps = toKeyOps(op, universe);
    return {
      write: keyOps[0]?.write ?? false,
      keys: keyOps.map((k) => keyIndex.get(k.key)!),
      values: keyOps.map((k) => (k.value === undefined ? 0 : internValue(ids, k.value))),
    };
  });
  const model: SearchModel<readonly number[]> = {
    init: universe.map(() => 0),
    step: (state, op) => {
      const effect = effects[op]!;
      if (effect.write) return state.map((v, k) => (k === effect.keys[0] ? effect.values[0]! : v));
      return effect.keys.every((k, i) => state[k] === effect.values[i]) ? state : undefined;
    },
    readOnly: (op) => !effects[op]!.write,
    hash: (state) => state.reduce((h, v) => Math.imul(h ^ v, 0x01000193), 0x811c9dc5),
    equal: (a, b) => a.every((v, i) => v === b[i]),
  };
  const intervals = ops.map((op) => ({
    invoke: op.invokeTime,
    complete: op.status === 'ok' ? op.completeTime : Infinity,
  }));
  return search(intervals, model, budget);
}

// ---------------------------------------------------------------------------
// The search

/**
 * Call and return events in one doubly linked list, sorted by time (calls
 * before returns at equal times, so touching intervals overlap). Event i < n
 * is the call of operation i, n + i its return (absent for indeterminate
 * operations), 2n the head and 2n + 1 the tail sentinel. Linearizing an
 * operation unlinks its two events; backtracking relinks them in reverse
 * order ("dancing links").
 */
class EventList {
  readonly next: Int32Array;
  readonly prev: Int32Array;
  readonly head: number;

  constructor(private readonly ops: readonly Interval[]) {
    const n = ops.length;
    this.head = 2 * n;
    this.next = new Int32Array(2 * n + 2);
    this.prev = new Int32Array(2 * n + 2);
    const events: { e: number; time: number; isReturn: number }[] = [];
    for (const [i, op] of ops.entries()) {
      events.push({ e: i, time: op.invoke, isReturn: 0 });
      if (op.complete !== Infinity) events.push({ e: n + i, time: op.complete, isReturn: 1 });
    }
    events.sort((a, b) => a.time - b.time || a.isReturn - b.isReturn || a.e - b.e);
    let last = this.head;
    for (const { e } of events) {
      this.next[last] = e;
      this.prev[e] = last;
      last = e;
    }
    this.next[last] = 2 * n + 1;
    this.prev[2 * n + 1] = last;
  }

  isCall(event: number): boolean {
    return event < this.ops.length;
  }

  lift(op: number): void {
    this.unlink(op);
    if (this.ops[op]!.complete !== Infinity) this.unlink(this.ops.length + op);
  }

  unlift(op: number): void {
    if (this.ops[op]!.complete !== Infinity) this.relink(this.ops.length + op);
    this.relink(op);
  }

  private unlink(e: number): void {
    this.next[this.prev[e]!] = this.next[e]!;
    this.prev[this.next[e]!] = this.prev[e]!;
  }

  private relink(e: number): void {
    this.next[this.prev[e]!] = e;
    this.prev[this.next[e]!] = e;
  }
}

/**
 * The set of explored (linearized set, state) pairs. A pair seen before was
 * fully explored already (the linearized set only grows along the search
 * path, so it cannot be an ancestor), hence skipping it loses nothing.
 *
 * Operations are linearized roughly in index order, so a linearized set is a
 * run of full words, a short window, then zero words: only the window is
 * stored (`low` = leading full words, `high` = one past the last non-zero
 * word), which keeps memory proportional to concurrency, not history length.
 */
class Memo<S> {
  private readonly bits: Uint32Array;
  private low = 0;
  private high = 0;
  private bitsHash = 0;
  private readonly zobrist: Int32Array;
  private readonly table = new Map<number, { low: number; window: Uint32Array; state: S }[]>();

  constructor(
    n: number,
    private readonly model: SearchModel<S>,
  ) {
    this.bits = new Uint32Array((n + 31) >>> 5);
    this.zobrist = new Int32Array(n);
    for (let i = 0; i < n; i++) this.zobrist[i] = mix32(i + 1);
  }

  /** Adds `op` to the linearized set unless (set + op, state) was explored; returns whether it did. */
  enter(op: number, state: S): boolean {
    this.flip(op);
    const hash = this.bitsHash ^ Math.imul(this.model.hash(state) + 1, 0x9e3779b1);
    let bucket = this.table.get(hash);
    if (bucket === undefined) this.table.set(hash, (bucket = []));
    for (const seen of bucket) {
      if (seen.low === this.low && this.model.equal(seen.state, state) && this.windowEquals(seen.window)) {
        this.flip(op);
        return false;
      }
    }
    bucket.push({ low: this.low, window: this.bits.slice(this.low, Math.max(this.low, this.high)), state });
    return true;
  }

  leave(op: number): void {
    this.flip(op);
  }

  private windowEquals(window: Uint32Array): boolean {
    if (window.length !== Math.max(0, this.high - this.low)) return false;
    for (let i = 0; i < window.length; i++) if (window[i] !== this.bits[this.low + i]) return false;
    return true;
  }

  private flip(op: number): void {
    const w = op >>> 5;
    const bits = this.bits;
    bits[w]! ^= 1 << (op & 31);
    this.bitsHash ^= this.zobrist[op]!;
    if (bits[w] === 0xffffffff) {
      while (this.low < bits.length && bits[this.low] === 0xffffffff) this.low++;
    } else if (w < this.low) {
      this.low = w;
    }
    if (bits[w] !== 0) {
      this.high = Math.max(this.high, w + 1);
    } else {
      while (this.high > 0 && bits[this.high - 1] === 0) this.high--;
    }
  }
}

/** Murmur3's finalizer: spreads consecutive integers over 32 bits. */
function mix32(x: number): number {
  let h = x | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * Depth-first search for a linearization. At each point the candidates are
 * the calls before the first unlinearized return. They are tried in three
 * phases: `ok` reads, then `ok` writes, then indeterminate writes (placed as
 * late as possible). The search succeeds once every `ok` operation is placed:
 * indeterminate ones left over never took effect.
 *
 * Reads are forced: if a candidate read matches the state, the point has a
 * linearization iff it has one starting with that read (moving a read that
 * may go now to the front of any linearization keeps it valid: it changes
 * no state and only loosens real-time order). So a matching read is never
 * a choice point: when its subtree fails, so does its parent.
 */
function search<S>(ops: readonly Interval[], model: SearchModel<S>, budget: Budget): SearchVerdict {
  return new Search(ops, model, budget).run();
}

const READS = 1;
const WRITES = 2;
const MAYBES = 3;

class Search<S> {
  private readonly list: EventList;
  private readonly memo: Memo<S>;
  /** The phase in which each operation is a candidate. */
  private readonly phaseOf: Uint8Array;
  private readonly lastPhase: number;
  private readonly mustPlace: number;
  private readonly stack: { readonly op: number; readonly state: S; readonly phase: number }[] = [];
  private state: S;
  private placed = 0;

  constructor(
    private readonly ops: readonly Interval[],
    private readonly model: SearchModel<S>,
    private readonly budget: Budget,
  ) {
    this.list = new EventList(ops);
    this.memo = new Memo(ops.length, model);
    this.phaseOf = new Uint8Array(ops.length);
    for (const [i, op] of ops.entries()) {
      this.phaseOf[i] = op.complete === Infinity ? MAYBES : model.readOnly(i) ? READS : WRITES;
    }
    this.lastPhase = this.phaseOf.includes(MAYBES) ? MAYBES : WRITES;
    this.mustPlace = ops.filter((op) => op.complete !== Infinity).length;
    this.state = model.init;
  }

  run(): SearchVerdict {
    const { list, budget } = this;
    let phase = READS;
    let cur = list.next[list.head]!;
    while (this.placed < this.mustPlace) {
      if (budget.remaining <= 0) return 'unknown';
      budget.remaining--;
      let failed = false;
      if (list.isCall(cur)) {
        const next = this.phaseOf[cur] === phase ? this.model.step(this.state, cur) : undefined;
        if (next !== undefined && this.memo.enter(cur, next)) {
          this.push(cur, next, phase);
          phase = READS;
          cur = list.next[list.head]!;
          continue;
        }
        // A matching read whose successor was already explored: this point fails too.
        failed = next !== undefined && phase === READS;
        if (!failed) cur = list.next[cur]!;
      } else if (phase < this.lastPhase) {
        phase++;
        cur = list.next[list.head]!;
      } else {
        failed = true;
      }
      if (failed) {
        const resume = this.backtrack();
        if (resume === undefined) return 'violation';
        [cur, phase] = resume;
      }
    }
    return 'ok';
  }

  private push(op: number, next: S, phase: number): void {
    this.stack.push({ op, state: this.state, phase });
    this.list.lift(op);
    this.state = next;
    this.model.placed?.(op, 1);
    if (this.phaseOf[op] !== MAYBES) this.placed++;
  }

  /** Undoes the last choice (and forced reads above it); returns where to resume, undefined if none is left. */
  private backtrack(): [cursor: number, phase: number] | undefined {
    for (;;) {
      const top = this.stack.pop();
      if (top === undefined) return undefined;
      this.budget.remaining--;
      this.list.unlift(top.op);
      this.memo.leave(top.op);
      this.model.placed?.(top.op, -1);
      if (this.phaseOf[top.op] !== MAYBES) this.placed--;
      this.state = top.state;
      if (top.phase !== READS) return [this.list.next[top.op]!, top.phase];
    }
  }
}

// ---------------------------------------------------------------------------
// Shrinking and reporting

interface ShrinkLimits {
  attempts: number;
  readonly budget: Budget;
}

/**
 * Shrinks a bad sub-list (sorted by invoke time) by delta debugging (drop
 * chunks of halving size down to single items) over reads, whose removal
 * cannot create a violation, then over writes, repeated until nothing more
 * goes. The result is 1-minimal unless the attempt or step limits ran out.
 */
function minimize<T>(
  items: readonly T[],
  isWrite: (item: T) => boolean,
  isBad: (sub: readonly T[]) => boolean,
  limits: ShrinkLimits,
): readonly T[] {
  let cur = [...items];
  for (;;) {
    const before = cur.length;
    cur = deltaDebug(cur, (item) => !isWrite(item), isBad, limits);
    cur = deltaDebug(cur, isWrite, isBad, limits);
    if (cur.length === before || limitsSpent(limits)) return cur;
  }
}

/** Bisection for a short bad prefix: proving a violation costs more the longer the history. */
function shortestBadPrefix<T>(items: readonly T[], isBad: (sub: readonly T[]) => boolean, limits: ShrinkLimits): T[] {
  // Invariant: items[0, lo) is not known bad, items[0, hi) is bad.
  let lo = 0;
  let hi = items.length;
  while (hi - lo > 1 && !limitsSpent(limits)) {
    const mid = (lo + hi) >>> 1;
    if (isBad(items.slice(0, mid))) hi = mid;
    else lo = mid;
  }
  return items.slice(0, hi);
}

/** Drops chunks of removable items while `tryBad` holds, halving the chunk size down to 1. */
function deltaDebug<T>(
  items: T[],
  removable: (item: T) => boolean,
  isBad: (sub: readonly T[]) => boolean,
  limits: ShrinkLimits,
): T[] {
  let cur = items;
  let size = Number.MAX_SAFE_INTEGER;
  while (!limitsSpent(limits)) {
    const positions = cur.flatMap((item, i) => (removable(item) ? [i] : []));
    if (positions.length === 0) break;
    size = Math.max(1, Math.min(size, positions.length >>> 1));
    let removed = false;
    // From the end, so a removal does not shift the positions still to try.
    for (let end = positions.length; end > 0 && !limitsSpent(limits); end -= size) {
      const drop = new Set(positions.slice(Math.max(0, end - size), end));
      const candidate = cur.filter((_, i) => !drop.has(i));
      if (isBad(candidate)) {
        cur = candidate;
        removed = true;
      }
    }
    if (size > 1) size >>>= 1;
    else if (!removed) break;
  }
  return cur;
}

function limitsSpent(limits: ShrinkLimits): boolean {
  return limits.attempts <= 0 || limits.budget.remaining <= 0;
}

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

/** A value written exactly once, its write and reads; `from` < `to` (a forward zone). */
interface Zone {
  readonly value: string;
  readonly from: number;
  readonly to: number;
  /** The write and the operations completing first and invoked last. */
  readonly witness: readonly KeyOp[];
}

/**
 * Zones (Gibbons & Korach, "Testing shared memories", 1997) of the values
 * written exactly once. Linearized, such a value's write and its reads form
 * a run with no other write inside (another write would hide the value),
 * and the run covers [from, to] = [earliest completion, latest invocation]
 * among them. When from < to (a forward zone) no other zone's interval can
 * overlap it and no operation of another value can fit strictly inside it:
 * either is a violation, witnessed by a handful of operations.
 */
function zoneWitness(sorted: readonly KeyOp[]): KeyOp[] | undefined {
  const zones = forwardZones(sorted);
  const pick = (chosen: readonly KeyOp[]): KeyOp[] => sorted.filter((op) => chosen.includes(op));
  for (let i = 1; i < zones.length; i++) {
    // Sorted by `from`: if any two overlap, two neighbours do.
    if (zones[i]!.from < zones[i - 1]!.to) return pick([...zones[i - 1]!.witness, ...zones[i]!.witness]);
  }
  for (const op of sorted) {
    const zone = zones[countBelow(zones, (z) => z.from < op.invoke) - 1];
    if (zone === undefined || !(op.complete < zone.to) || op.value === zone.value) continue;
    // Keep what the read saw written, so its grade does not rise (see `readGrades`).
    const sources = op.write ? [] : sorted.filter((w) => w.write && w.value === op.value);
    return pick([...zone.witness, op, ...sources]);
  }
  return undefined;
}

function forwardZones(sorted: readonly KeyOp[]): Zone[] {
  const clusters = new Map<string, KeyOp[]>();
  const writers = new Map<string, number>();
  for (const op of sorted) {
    if (op.value === undefined) continue;
    if (op.write) writers.set(op.value, (writers.get(op.value) ?? 0) + 1);
    let cluster = clusters.get(op.value);
    if (cluster === undefined) clusters.set(op.value, (cluster = []));
    cluster.push(op);
  }
  const zones: Zone[] = [];
  for (const [value, cluster] of clusters) {
    const write = cluster.find((op) => op.write);
    if (writers.get(value) !== 1 || write === undefined) continue;
    const first = cluster.reduce((a, b) => (b.complete < a.complete ? b : a));
    const last = cluster.reduce((a, b) => (b.invoke > a.invoke ? b : a));
    if (first.complete < last.invoke) zones.push({ value, from: first.complete, to: last.invoke, witness: [write, first, last] });
  }
  return zones.sort((a, b) => a.from - b.from);
}

/**
 * The explanation of a read graded 1 or 2 (stale, future or phantom), tried
 * first when shrinking because proving a violation in a long history is
 * costly and in a handful of operations cheap: the read, every write of the
 * value it saw, and the write invoked last among those completed before the
 * read, which definitely overwrote every write of that value completed
 * before its invocation. These alone are not linearizable.
 */
function badReadWitness(read: KeyOp, sorted: readonly KeyOp[]): KeyOp[] {
  let overwriter: KeyOp | undefined;
  for (const w of sorted) {
    if (w.write && w.complete < read.invoke && (overwriter === undefined || w.invoke > overwriter.invoke)) overwriter = w;
  }
  return sorted.filter((op) => op === read || op === overwriter || (op.write && op.value === read.value));
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

function spentNote(limits: ShrinkLimits): string {
  return limitsSpent(limits) ? ' (shrinking stopped at its limit: may not be minimal)' : '';
}

function renderReport(
  header: string,
  ops: readonly KvOperation[],
  lines: readonly string[],
  originalCount: number,
  note: string,
): string {
  const out = [`${header}: ${ops.length} of ${originalCount} operations suffice${note}:`];
  out.push(...lines.map((line) => `  ${line}`));
  if (ops.length <= MAX_TIMELINE_OPS) {
    out.push('timeline (time compressed to event order; [#id-] spans invoke..complete; > = indeterminate, may take effect any time after invoke, or never):');
    out.push(...renderTimeline(ops).map((line) => `  ${line}`));
  }
  return out.join('\n');
}

/**
 * One row per client (more if its operations overlap), time compressed to
 * the order of distinct event times so short histories fit on a line.
 */
function renderTimeline(ops: readonly KvOperation[]): string[] {
  const maybe = (op: KvOperation): boolean => op.status !== 'ok';
  const times = [...new Set(ops.flatMap((op) => (maybe(op) ? [op.invokeTime] : [op.invokeTime, op.completeTime])))];
  times.sort((a, b) => a - b);
  const slot = new Map(times.map((t, i) => [t, i]));
  const step = Math.max(...ops.map((op) => `#${op.id}`.length)) + 2;
  const width = times.length * step;
  const clients = [...new Set(ops.map((op) => op.clientId))].sort((a, b) => a - b);
  const labelWidth = Math.max(...clients.map((c) => `c${c}`.length));
  const rows: string[] = [];
  for (const client of clients) {
    const lanes: string[][] = [];
    const laneEnds: number[] = [];
    for (const op of ops.filter((o) => o.clientId === client)) {
      const from = slot.get(op.invokeTime)! * step;
      const to = maybe(op) ? width - 1 : slot.get(op.completeTime)! * step + step - 1;
      let lane = laneEnds.findIndex((end) => end < from);
      if (lane < 0) {
        lane = lanes.push(new Array<string>(width).fill(' ')) - 1;
        laneEnds.push(-1);
      }
      drawSpan(lanes[lane]!, from, to, `#${op.id}`, maybe(op));
      laneEnds[lane] = to;
    }
    lanes.forEach((lane, i) => rows.push(`${(i === 0 ? `c${client}` : '').padEnd(labelWidth)} ${lane.join('').trimEnd()}`));
  }
  return rows;
}

function drawSpan(row: string[], from: number, to: number, label: string, open: boolean): void {
  for (let c = from; c <= to; c++) row[c] = '-';
  row[from] = '[';
  row[to] = open ? '>' : ']';
  for (const [i, ch] of [...label].entries()) if (from + 1 + i < to) row[from + 1 + i] = ch;
}
