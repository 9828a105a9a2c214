/**
 * The closed-loop load of the cluster benches (`cluster.ts`, `txn.ts`):
 * `concurrency` workers, each running one operation at a time back to back,
 * through a warm-up (excluded) and then a measured window. Only operations
 * started in the window count, and the rate is their number over the time
 * from the window's start until the last of them ended, so the tail of the
 * window is neither lost nor padded.
 */
import { nowMs, quantile, round, xorshift32 } from './_report.js';

/** Pause of a worker after a failed operation, so a dead cluster is not spun on. */
const errorPauseMs = 10;

export interface DriveOptions {
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Seeds each worker's generator (seed * 1000 + worker + 1), so key orders repeat. */
  readonly seed: number;
  /** Checked before each operation: true stops the workers (SIGINT). */
  readonly stopped: () => boolean;
}

export interface DriveResult {
  /** Operations started in the window that succeeded. */
  readonly ops: number;
  readonly opsPerSec: number;
  /** Latency of the successful ones, ms (retries included: see `retried`). */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Operations started in the window that failed or answered wrong. */
  readonly errors: number;
  /** Retries the operations started in the window reported (`retried()` calls). */
  readonly retries: number;
  readonly firstError?: string;
}

/**
 * One operation. `r` is a fresh random uint32 of the worker's generator;
 * `worker` is the worker's index (0 .. concurrency - 1).
 * Resolves true when done, false on a wrong answer (counted as an error);
 * may throw (counted as an error). An operation that retries internally
 * (a transaction after a conflict) calls `retried()` once per retry.
 */
export type DriveOp = (r: number, retried: () => void, worker: number) => Promise<boolean>;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `op` from `o.concurrency` workers for the warm-up and then the measured window. */
export async function drive(o: DriveOptions, op: DriveOp): Promise<DriveResult> {
  const latencies: number[] = [];
  let errors = 0;
  let retries = 0;
  let firstError: string | undefined;
  const measureFrom = nowMs() + o.warmupMs;
  const measureUntil = measureFrom + o.durationMs;
  let lastEnd = measureFrom;
  const worker = async (w: number): Promise<void> => {
    const rand = xorshift32(o.seed * 1_000 + w + 1);
    for (let t = nowMs(); t < measureUntil && !o.stopped(); t = nowMs()) {
      const measured = t >= measureFrom;
      let ok: boolean;
      let error: unknown;
      try {
        ok = await op(rand(), () => {
          if (measured) retries++;
        }, w);
      } catch (err: unknown) {
        ok = false;
        error = err;
      }
      const end = nowMs();
      if (measured) {
        lastEnd = Math.max(lastEnd, end);
        if (ok) latencies.push(end - t);
        else {
          errors++;
          firstError ??= error === undefined ? 'wrong answer (a pre-loaded key was missing)' : String(error);
        }
      }
      if (!ok) await sleep(errorPauseMs);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, (_, w) => worker(w)));
  latencies.sort((a, b) => a - b);
  const elapsedMs = Math.max(lastEnd - measureFrom, 1);
  return {
    ops: latencies.length,
    opsPerSec: round((latencies.length / elapsedMs) * 1000, 0),
    p50Ms: round(quantile(latencies, 0.5), 3),
    p99Ms: round(quantile(latencies, 0.99), 3),
    errors,
    retries,
    ...(firstError === undefined ? {} : { firstError }),
  };
}
