/**
 * Globally unique ids for stores, regions and peers (PD `id.AllocatorImpl`).
 *
 * Ids are reserved in steps: the step's upper bound is saved through the
 * persistence hook and the save is awaited before any id of the step is
 * handed out. After a crash the allocator restarts above the saved bound, so
 * an id is never handed out twice; at most one step of ids is skipped.
 *
 * Concurrency: reservations are single-flight (one save in progress at a
 * time; every caller that needs ids waits for that one). Taking ids from the
 * durable window is synchronous, so {@link IdAllocator.tryAllocSync} lets
 * synchronous code (schedulers building operators) use ids that
 * {@link IdAllocator.ensureAvailable} reserved beforehand.
 */
import { assert } from '../util/assert.js';
import { SchedulerError } from './errors.js';

export interface IdAllocatorOptions {
  /** The loaded bound: every id ever handed out is <= this. */
  readonly savedBound: number;
  /** Saves a new bound durably (SchedulerStorage.saveIdBound). */
  readonly persist: (bound: number) => Promise<void>;
  /** Ids reserved per save. @default 1000 */
  readonly step?: number;
}

/** Reservations one allocation may wait for before giving up (STYLE §11: no unbounded retries). */
const RESERVE_ATTEMPTS_MAX = 8;
/** Most ids one call may ask for. */
export const ID_BATCH_MAX = 10_000;

export class IdAllocator {
  /** The next id to hand out. Invariant: next <= end + 1. */
  private next: number;
  /** Durable: ids up to and including `end` are reserved. */
  private end: number;
  private readonly step: number;
  private readonly persist: (bound: number) => Promise<void>;
  private reserving: Promise<void> | undefined;

  constructor(opts: IdAllocatorOptions) {
    assert(Number.isSafeInteger(opts.savedBound) && opts.savedBound >= 0, `id allocator: bad saved bound ${opts.savedBound}`);
    const step = opts.step ?? 1000;
    assert(Number.isSafeInteger(step) && step > 0, `id allocator: bad step ${step}`);
    this.next = opts.savedBound + 1;
    this.end = opts.savedBound;
    this.step = step;
    this.persist = opts.persist;
  }

  /** Ids that can be handed out without waiting. */
  get available(): number {
    return this.end - this.next + 1;
  }

  /** The durable bound: no id above it was ever handed out. */
  get durableBound(): number {
    return this.end;
  }

  /**
   * One new id (the AllocID RPC).
   * @throws {SchedulerError} STORAGE when the bound cannot be saved.
   */
  async alloc(): Promise<number> {
    const [id] = await this.allocMany(1);
    assert(id !== undefined, 'id allocator: allocMany(1) returned nothing');
    return id;
  }

  /**
   * `count` new ids, ascending (AskSplit takes 1 + one per peer).
   * @throws {SchedulerError} INVALID_ARGUMENT for a bad count; STORAGE when
   *   the bound cannot be saved.
   */
  async allocMany(count: number): Promise<number[]> {
    if (!(Number.isSafeInteger(count) && count >= 1 && count <= ID_BATCH_MAX)) {
      throw new SchedulerError('INVALID_ARGUMENT', `Cannot allocate ${count} ids: count must be in [1, ${ID_BATCH_MAX}]`);
    }
    // Check and take in the same synchronous run: another caller may take ids
    // between a reservation resolving and this continuation resuming.
    for (let attempt = 0; ; attempt++) {
      if (this.available >= count) {
        const first = this.next;
        this.next += count;
        return Array.from({ length: count }, (_, i) => first + i);
      }
      if (attempt >= RESERVE_ATTEMPTS_MAX) {
        throw new SchedulerError('STORAGE', `Cannot allocate ${count} ids: still short after ${attempt} reservations (contention)`);
      }
      await this.reserve(count);
    }
  }

  /**
   * An id from the durable window without waiting, or undefined when the
   * window is empty (then await {@link ensureAvailable} and retry later).
   */
  tryAllocSync(): number | undefined {
    if (this.next > this.end) return undefined;
    const id = this.next;
    this.next++;
    return id;
  }

  /**
   * Resolves once at least `count` ids are available (they may still be
   * taken by others before the caller runs: callers that must not fail use
   * allocMany, which takes them synchronously on resumption).
   * @throws {SchedulerError} STORAGE when the bound cannot be saved.
   */
  async ensureAvailable(count: number): Promise<void> {
    for (let attempt = 0; this.available < count; attempt++) {
      if (attempt >= RESERVE_ATTEMPTS_MAX) {
        throw new SchedulerError('STORAGE', `Cannot allocate ${count} ids: still short after ${attempt} reservations (contention)`);
      }
      await this.reserve(count);
    }
  }

  /** Single-flight: joins the reservation in progress or starts one. */
  private reserve(minCount: number): Promise<void> {
    if (this.reserving === undefined) {
      const bound = this.end + Math.max(this.step, minCount);
      assert(Number.isSafeInteger(bound), 'id allocator: ids exhausted');
      this.reserving = this.persist(bound).then(
        () => {
          // Invariant: the window only grows, and only after the save is durable.
          if (bound > this.end) this.end = bound;
        },
        (cause: unknown) => {
          throw new SchedulerError('STORAGE', `Cannot allocate ids: saving id bound ${bound} failed`, { cause });
        },
      ).finally(() => {
        this.reserving = undefined;
      });
    }
    return this.reserving;
  }
}
