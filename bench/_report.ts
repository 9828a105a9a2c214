/**
 * Shared bench plumbing: one JSON line per scenario on stdout, so runs can be
 * compared with `diff` or loaded into anything that reads JSON lines.
 */
import * as os from 'node:os';

export interface Figures {
  readonly [name: string]: number | string | boolean;
}

export function report(bench: string, scenario: string, figures: Figures): void {
  const line = {
    bench,
    scenario,
    ...figures,
    node: process.version,
    cpus: os.cpus().length,
    at: new Date().toISOString(),
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Value at quantile q (0..1) of an ascending-sorted array. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] as number;
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** A small seeded generator (xorshift32) so bench key orders repeat. */
export function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** `--name N` from the command line, a positive integer, or `fallback`. */
export function argNumber(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isSafeInteger(v) || v <= 0) throw new RangeError(`--${name} must be a positive integer`);
  return v;
}
