/**
 * The sound O(n log n) pre-checks on one key's sub-history: read grades
 * (stale, future and phantom reads) and zones of values written once
 * (inversions), each with a small witness to shrink from. Apart from the
 * search because shrinking relies on them too: a shrunk history may not raise
 * a read's grade (`noWorseGrades`), for the per-key and whole-history checks
 * alike.
 */
import type { KeyOp } from './lin_key_ops.js';

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
export function readGrades(keyOps: readonly KeyOp[]): Map<string, number> {
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
export function keyReadGrader(writes: readonly KeyOp[]): (read: KeyOp) => number {
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

export function noWorseGrades(candidate: ReadonlyMap<string, number>, baseline: ReadonlyMap<string, number>): boolean {
  for (const [read, grade] of candidate) if (grade > (baseline.get(read) ?? 2)) return false;
  return true;
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
export function zoneWitness(sorted: readonly KeyOp[]): KeyOp[] | undefined {
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
export function badReadWitness(read: KeyOp, sorted: readonly KeyOp[]): KeyOp[] {
  let overwriter: KeyOp | undefined;
  for (const w of sorted) {
    if (w.write && w.complete < read.invoke && (overwriter === undefined || w.invoke > overwriter.invoke)) overwriter = w;
  }
  return sorted.filter((op) => op === read || op === overwriter || (op.write && op.value === read.value));
}
