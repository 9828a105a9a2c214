/**
 * The history as the linearizability checks see it: which operations count
 * (`relevantOperations`), which keys exist (`keyUniverse`), and each operation
 * as reads and writes of single keys (`toKeyOps`, a scan split by
 * `scanObservations`). One module for all of it because every path (the
 * replay, the per-key search, the whole-history search, shrinking) reads the
 * history through these, and they must agree on what a scan constrains and on
 * which indeterminate writes may be left out.
 */
import { assert } from '../../util/assert.js';
import { describeOperation, type KvOperation } from '../history.js';
import type { LinearizabilityResult } from './linearizable.js';

/** One operation as one key sees it: a write, or a read (a get, or one key of a scan). */
export interface KeyOp {
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
export function relevantOperations(history: readonly KvOperation[]): KvOperation[] {
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
export function keyUniverse(ops: readonly KvOperation[]): string[] {
  const keys = new Set<string>();
  for (const op of ops) {
    if (op.input.kind !== 'scan') keys.add(op.input.key);
    else if (op.output?.kind === 'scan') for (const [key] of op.output.entries) keys.add(key);
  }
  return [...keys].sort(compareKeys);
}

export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function inScanRange(key: string, start: string, end: string | undefined): boolean {
  return key >= start && (end === undefined || end === '' || key < end);
}

export function toKeyOps(op: KvOperation, universe: readonly string[]): KeyOp[] {
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
export function scanObservations(
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
export function malformedScan(ops: readonly KvOperation[]): LinearizabilityResult | undefined {
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

export function allKeyOps(ops: readonly KvOperation[]): KeyOp[] {
  const universe = keyUniverse(ops);
  return ops.flatMap((op) => toKeyOps(op, universe));
}

/**
 * The sub-histories of `keys` (sorted, from the universe), each in history
 * order, without the indeterminate writes no read observes (see the module
 * comment). Keys left with no operation are absent; the rest are in key order.
 */
export function partitionByKey(ops: readonly KvOperation[], keys: readonly string[]): Map<string, KeyOp[]> {
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
export function observedValues(keyOps: readonly KeyOp[]): Set<string> {
  const maybeKeys = new Set<string>();
  for (const op of keyOps) if (op.write && op.complete === Infinity) maybeKeys.add(op.key);
  const observed = new Set<string>();
  if (maybeKeys.size === 0) return observed;
  for (const op of keyOps) if (!op.write && maybeKeys.has(op.key)) observed.add(observation(op));
  return observed;
}

export function isUnobservedMaybeWrite(op: KvOperation, observed: ReadonlySet<string>): boolean {
  if (op.status !== 'indeterminate') return false;
  const [keyOp] = toKeyOps(op, []);
  return keyOp !== undefined && keyOp.write && !observed.has(observation(keyOp));
}

/** Invocation order, ties by id: the replay's order, and the order of a whole-history report. */
export function byInvokeTime(a: KvOperation, b: KvOperation): number {
  return a.invokeTime - b.invokeTime || a.id - b.id;
}
