/**
 * The timestamp oracle (PD `tso.TimestampOracle`): strictly increasing
 * timestamps `physical_ms << 18 | logical`.
 *
 * Persistence: a bound on the physical part is saved (and the save awaited)
 * before any timestamp at or above the previous bound is handed out, as PD
 * saves `now + 3 s`. Invariant: every physical part handed out is < the
 * durable bound. On start the physical part begins at max(saved bound, now),
 * so timestamps never go backwards across restarts even if the wall clock did.
 *
 * Differences from PD, because the core never sleeps and has no timers:
 * - The physical part follows the injected clock lazily, on each request,
 *   instead of a 50 ms update loop.
 * - When the logical part would overflow 2^18, the physical part advances by
 *   1 ms at once (PD sleeps until its update loop moves it). The physical
 *   part may then run ahead of the wall clock; the clock catches up, and
 *   the durable bound keeps restarts safe regardless.
 * Requests are served one at a time, in call order.
 */
import type { Timestamp } from '../pb/schedulerpb.js';
import { assert } from '../util/assert.js';
import { SchedulerError } from './errors.js';

export const LOGICAL_BITS = 18;
/** Logical parts are < this. */
export const MAX_LOGICAL = 1 << LOGICAL_BITS;

export interface TsoOptions {
  /** The loaded bound (SchedulerStorage): every physical part handed out is < this. */
  readonly savedBoundMs: number;
  /** Saves a new bound durably (SchedulerStorage.saveTsoBound). */
  readonly persist: (boundMs: number) => Promise<void>;
  /** The injected wall clock, ms since the unix epoch. */
  readonly nowMs: () => number;
  /** How far ahead of the physical part each save reaches. @default 3000 */
  readonly saveWindowMs?: number;
}

/** `physical << 18 | logical` (STYLE §16: TSO values are bigint). */
export function composeTs(ts: Readonly<Timestamp>): bigint {
  return (BigInt(ts.physical) << BigInt(LOGICAL_BITS)) | BigInt(ts.logical);
}

/** The two parts of a composed timestamp. */
export function splitTs(ts: bigint): Timestamp {
  return { physical: Number(ts >> BigInt(LOGICAL_BITS)), logical: Number(ts & BigInt(MAX_LOGICAL - 1)) };
}

export class Tso {
  private readonly opts: Required<TsoOptions>;
  /** Undefined until the first request (the clock is read then). */
  private physical: number | undefined;
  /** The logical part of the last timestamp handed out at `physical`. */
  private logical = 0;
  /** Durable. Invariant: physical < boundMs once physical is set. */
  private boundMs: number;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(opts: TsoOptions) {
    assert(Number.isSafeInteger(opts.savedBoundMs) && opts.savedBoundMs >= 0, `tso: bad saved bound ${opts.savedBoundMs}`);
    const saveWindowMs = opts.saveWindowMs ?? 3000;
    assert(Number.isSafeInteger(saveWindowMs) && saveWindowMs > 0, `tso: bad save window ${saveWindowMs}`);
    this.opts = { ...opts, saveWindowMs };
    this.boundMs = opts.savedBoundMs;
  }

  /** The durable bound (for tests and metrics). */
  get durableBoundMs(): number {
    return this.boundMs;
  }

  /**
   * Reserves `count` consecutive timestamps and returns the last of them,
   * as PD's Tso RPC does (the caller uses logical-count+1 .. logical).
   * @throws {SchedulerError} INVALID_ARGUMENT when count is not in
   *   [1, 2^18 - 1]; STORAGE when the bound cannot be saved (nothing is
   *   handed out then, and the next call retries).
   */
  getTimestamp(count = 1): Promise<Timestamp> {
    if (!(Number.isSafeInteger(count) && count >= 1 && count < MAX_LOGICAL)) {
      return Promise.reject(new SchedulerError('INVALID_ARGUMENT', `Cannot allocate ${count} timestamps: count must be in [1, ${MAX_LOGICAL - 1}]`));
    }
    const run = this.tail.then(() => this.serve(count));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async serve(count: number): Promise<Timestamp> {
    const now = this.opts.nowMs();
    assert(Number.isSafeInteger(now) && now >= 0, `tso: clock returned ${now}`);
    let physical: number;
    let logical: number;
    if (this.physical === undefined) {
      physical = Math.max(now, this.boundMs);
      logical = 0;
    } else if (now > this.physical) {
      physical = now;
      logical = 0;
    } else {
      // The clock stood still or went backwards: keep counting at the old physical part.
      physical = this.physical;
      logical = this.logical;
    }
    if (logical + count >= MAX_LOGICAL) {
      physical += 1;
      logical = 0;
    }
    if (physical >= this.boundMs) {
      const bound = physical + this.opts.saveWindowMs;
      try {
        await this.opts.persist(bound);
      } catch (cause) {
        throw new SchedulerError('STORAGE', `Cannot allocate timestamps: saving tso bound ${bound} failed`, { cause });
      }
      this.boundMs = bound;
    }
    // Postconditions: strictly after the previous timestamp, and below the durable bound.
    if (this.physical !== undefined && !(physical > this.physical || (physical === this.physical && logical >= this.logical))) {
      assert(false, `tso: timestamp would go backwards (${physical}, ${logical}) < (${this.physical}, ${this.logical})`);
    }
    assert(physical < this.boundMs, `tso: physical ${physical} not below durable bound ${this.boundMs}`);
    this.physical = physical;
    this.logical = logical + count;
    return { physical, logical: this.logical };
  }
}
