/**
 * Bounded exponential backoff (STYLE 11: no unbounded retry loops, no bare
 * sleeps): the pause doubles with each failure in a row up to a maximum and
 * restarts from the first pause when an answer teaches the caller something
 * (a leader, a newer region, a working stream), as the simulator's client
 * does (docs/RAFTSTORE.md, "EpochNotMatch and region caches").
 */
import { setMaxListeners } from 'node:events';
import { assert } from '../util/assert.js';

export interface BackoffOptions {
  /** First pause, ms. */
  readonly baseMs: number;
  /** Longest pause, ms. */
  readonly maxMs: number;
}

export class Backoff {
  private readonly baseMs: number;
  private readonly maxMs: number;
  /** Failures in a row since the last reset: the exponent. */
  private failures = 0;

  /** @throws {RangeError} when the pauses are not positive or max < base. */
  constructor(options: BackoffOptions) {
    checkBackoffOptions(options);
    this.baseMs = options.baseMs;
    this.maxMs = options.maxMs;
  }

  /** The pause before the next retry; the one after it doubles, up to `maxMs`. */
  next(): number {
    // The exponent is capped so that 2 ** failures stays exact and finite.
    const pause = Math.min(this.baseMs * 2 ** Math.min(this.failures, 30), this.maxMs);
    this.failures++;
    assert(pause >= this.baseMs && pause <= this.maxMs, `backoff pause ${pause} outside [${this.baseMs}, ${this.maxMs}]`);
    return pause;
  }

  /** An answer taught something: the next pause is the first one again. */
  reset(): void {
    this.failures = 0;
  }
}

/** @throws {RangeError} unless 0 < baseMs <= maxMs, both finite */
export function checkBackoffOptions(options: BackoffOptions): void {
  const { baseMs, maxMs } = options;
  if (!(Number.isFinite(baseMs) && baseMs > 0 && Number.isFinite(maxMs) && maxMs >= baseMs)) {
    throw new RangeError(`Cannot back off: need 0 < baseMs <= maxMs, got baseMs=${baseMs} maxMs=${maxMs}`);
  }
}

/**
 * An AbortController whose signal takes any number of listeners: a client
 * with hundreds of operations in flight may have them all pausing on it at
 * once (Node warns past 10 listeners, as for a leak).
 */
export function unboundedAbortController(): AbortController {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  return controller;
}

/**
 * Resolves after `ms`, or early when `signal` aborts (the client closed; the
 * caller then sees its closed flag and stops). Never rejects.
 */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
