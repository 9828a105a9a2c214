/**
 * The complete search for a linearization (Wing & Gong as improved by Lowe,
 * after Porcupine) and the two models it runs on: one key's register
 * (`searchRegister`) and the whole map with atomic scans (`searchMap`). Apart
 * because it is the one exponential part, and it needs nothing but
 * intervals, a model and a step budget: no keys, reports or shrinking.
 */
import type { KvOperation } from '../history.js';
import { keyUniverse, toKeyOps, type KeyOp } from './lin_key_ops.js';

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

export interface Budget {
  remaining: number;
}

/** One key's register; values interned to small integers (0 = absent) for cheap hashing. */
export function searchRegister(ops: readonly KeyOp[], budget: Budget): SearchVerdict {
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
export function searchMap(ops: readonly KvOperation[], budget: Budget): SearchVerdict {
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
