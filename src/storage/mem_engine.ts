/**
 * An in-memory {@link Engine}: the test double of the LMDB engine, and the
 * engine of the deterministic simulator.
 *
 * State is one persistent sorted map root per column family (see
 * `_sorted_map.ts`), held together in one immutable `State` object. A write
 * builds new roots and swaps the whole `State` reference synchronously inside
 * `write()`, so a read view is just the captured reference (O(1)) and stays
 * unchanged forever, and a scan iterates the roots it started with.
 *
 * Durability: there is nothing to fsync, so `sync` is accepted and ignored and
 * every committed write survives until the object is dropped. The simulator
 * wraps this engine to model crashes that lose unsynced writes.
 */
import { assert, assertNever } from '../util/assert.js';
import { copyBytes } from '../util/bytes.js';
import { ALL_CFS, ENGINE_ERROR_CODES, EngineError } from './engine.js';
import type { CfName, Engine, KvEntry, ReadView, ScanOptions, WriteOptions } from './engine.js';
import { checkEngineKey } from './write_batch.js';
import type { WriteBatch, WriteOp } from './write_batch.js';
import * as sortedMap from './_sorted_map.js';
import type { SortedMapRoot } from './_sorted_map.js';

export interface MemEngineOptions {
  /** Column families to open. @default ALL_CFS */
  readonly cfs?: readonly CfName[];
}

/**
 * The roots of every opened column family at one instant, indexed by the
 * column family's position in `cfs`. Never mutated once published.
 */
type State = readonly SortedMapRoot[];

export class MemEngine implements Engine {
  readonly cfs: readonly CfName[];
  /** Position of each opened column family in `cfs` (and in every `State`). */
  readonly #cfIndex: ReadonlyMap<CfName, number>;
  #state: State;
  /** What the engine's read views need of it (one object per engine, not per view). */
  readonly #hooks: ViewHooks;
  #closed = false;
  #openViews = 0;

  constructor(options: MemEngineOptions = {}) {
    const cfs = options.cfs ?? ALL_CFS;
    assert(new Set(cfs).size === cfs.length, 'MemEngine: duplicate column family');
    this.cfs = Object.freeze([...cfs]);
    this.#cfIndex = new Map(this.cfs.map((cf, i) => [cf, i]));
    this.#state = this.cfs.map(() => sortedMap.EMPTY_SORTED_MAP);
    this.#hooks = {
      engineClosed: () => this.#closed,
      indexOf: (cf) => this.#indexOf(cf),
      release: () => {
        this.#openViews--;
        assert(this.#openViews >= 0, 'MemEngine: more read views closed than opened');
      },
    };
  }

  /** Number of read views not yet closed (lets tests catch leaked views). */
  get openViewCount(): number {
    return this.#openViews;
  }

  /** @throws {EngineError} `ENGINE_CLOSED` or `ENGINE_UNKNOWN_CF`. */
  get(cf: CfName, key: Uint8Array): Uint8Array | undefined {
    return stateGet(this.#liveState(), this.#indexOf(cf), key);
  }

  /**
   * Iterates the state current at the call: writes committed during the
   * iteration are not seen. The iterator throws `ENGINE_CLOSED` if the engine
   * is closed before it finishes (as an LMDB cursor would).
   * @throws {EngineError} `ENGINE_CLOSED` or `ENGINE_UNKNOWN_CF`.
   */
  scan(cf: CfName, options?: ScanOptions): IterableIterator<KvEntry> {
    const state = this.#liveState();
    return stateScan(state, this.#indexOf(cf), options, () => this.#closed, 'engine');
  }

  /**
   * An O(1) view of the current state. Reads on it throw `ENGINE_CLOSED`
   * once the view or the engine is closed. Closing a view twice is harmless.
   */
  readView(): ReadView {
    const state = this.#liveState();
    this.#openViews++;
    return new MemReadView(this.#hooks, state);
  }

  /**
   * Validates every op, then applies them in order and publishes the result
   * before returning: the batch is visible as soon as `write()` returns, and
   * the returned promise is already settled. All or nothing: a rejected batch
   * changes nothing. `options.sync` is ignored (see the module comment).
   * @throws {EngineError} (as a rejection) `ENGINE_CLOSED`, `ENGINE_UNKNOWN_CF` or `ENGINE_INVALID_KEY`.
   */
  write(batch: WriteBatch, _options: WriteOptions): Promise<void> {
    try {
      this.#commit(batch);
    } catch (error) {
      // Operating errors become rejections; broken invariants stay loud throws.
      if (error instanceof EngineError) return Promise.reject(error);
      throw error;
    }
    return Promise.resolve();
  }

  /** Marks the engine closed. Idempotent; there is nothing to flush. */
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  #commit(batch: WriteBatch): void {
    if (this.#closed) throw closedError('engine');
    const ops = batch.ops;
    for (const op of ops) this.#validate(op);
    const roots = this.#state.slice();
    for (const op of ops) {
      const i = this.#cfIndex.get(op.cf);
      if (i === undefined) assert(false, 'MemEngine: validated op has an unknown column family');
      roots[i] = applyOp(roots[i] ?? null, op);
    }
    assert(roots.length === this.cfs.length, 'MemEngine: write changed the set of column families');
    this.#state = roots;
  }

  #liveState(): State {
    if (this.#closed) throw closedError('engine');
    return this.#state;
  }

  /** @throws {EngineError} `ENGINE_UNKNOWN_CF`. */
  #indexOf(cf: CfName): number {
    const i = this.#cfIndex.get(cf);
    if (i === undefined) throw unknownCfError(cf);
    return i;
  }

  #validate(op: WriteOp): void {
    if (!this.#cfIndex.has(op.cf)) throw unknownCfError(op.cf);
    // WriteBatch already checked keys, but `ops` is a public array: check
    // again so that a hand-built op cannot corrupt the store.
    if (op.type !== 'deleteRange') checkEngineKey(op.key);
  }
}

interface ViewHooks {
  engineClosed(): boolean;
  /** @throws {EngineError} `ENGINE_UNKNOWN_CF`. */
  indexOf(cf: CfName): number;
  /** A view was closed. */
  release(): void;
}

/**
 * A point-in-time view: the captured state. Reads throw `ENGINE_CLOSED` once
 * the view or the engine is closed. Closing a view twice is harmless.
 */
class MemReadView implements ReadView {
  readonly #hooks: ViewHooks;
  readonly #state: State;
  #closed = false;

  constructor(hooks: ViewHooks, state: State) {
    this.#hooks = hooks;
    this.#state = state;
  }

  get(cf: CfName, key: Uint8Array): Uint8Array | undefined {
    if (this.#isClosed()) throw closedError('read view');
    return stateGet(this.#state, this.#hooks.indexOf(cf), key);
  }

  scan(cf: CfName, options?: ScanOptions): IterableIterator<KvEntry> {
    if (this.#isClosed()) throw closedError('read view');
    return stateScan(this.#state, this.#hooks.indexOf(cf), options, () => this.#isClosed(), 'read view');
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#hooks.release();
  }

  #isClosed(): boolean {
    return this.#closed || this.#hooks.engineClosed();
  }
}

/** Applies one validated op to a root. Puts copy their buffers: the caller keeps ownership. */
function applyOp(root: SortedMapRoot, op: WriteOp): SortedMapRoot {
  switch (op.type) {
    case 'put':
      return sortedMap.insert(root, copyBytes(op.key), copyBytes(op.value));
    case 'delete':
      return sortedMap.remove(root, op.key);
    case 'deleteRange':
      // Empty start = from the first key (a natural lower bound already);
      // empty end = past the last key, which the map spells `undefined`.
      return sortedMap.removeRange(root, { start: op.start, end: op.end.length === 0 ? undefined : op.end });
    default:
      return assertNever(op, 'MemEngine: unknown write op');
  }
}

function stateGet(state: State, cf: number, key: Uint8Array): Uint8Array | undefined {
  const value = sortedMap.get(state[cf] ?? null, key);
  return value === undefined ? undefined : copyBytes(value);
}

/**
 * Validates eagerly (so errors surface at the `scan()` call, not at the first
 * `next()`), then iterates the captured root lazily.
 */
function stateScan(
  state: State,
  cf: number,
  options: ScanOptions = {},
  isClosed: () => boolean,
  what: string,
): IterableIterator<KvEntry> {
  const root = state[cf] ?? null;
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  assert(limit >= 0 && (Number.isInteger(limit) || limit === Number.POSITIVE_INFINITY), `scan: bad limit ${limit}`);
  const end = options.end === undefined || options.end.length === 0 ? undefined : options.end;
  const inner = sortedMap.entries(root, { start: options.start, end, reverse: options.reverse });
  return scanEntries(inner, limit, isClosed, what);
}

function* scanEntries(
  inner: Iterator<{ readonly key: Uint8Array; readonly value: Uint8Array }, void, undefined>,
  limit: number,
  isClosed: () => boolean,
  what: string,
): Generator<KvEntry, void, undefined> {
  for (let count = 0; count < limit; count++) {
    if (isClosed()) throw closedError(what);
    const step = inner.next();
    if (step.done === true) return;
    yield { key: copyBytes(step.value.key), value: copyBytes(step.value.value) };
  }
}

function closedError(what: string): EngineError {
  return new EngineError(ENGINE_ERROR_CODES.Closed, `Cannot use the ${what}: it is closed`);
}

function unknownCfError(cf: string): EngineError {
  return new EngineError(
    ENGINE_ERROR_CODES.UnknownCf,
    `Cannot use column family "${cf}": the engine was not opened with it`,
  );
}
