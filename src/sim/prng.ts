/**
 * Randomness for the simulator: the project's integer-only {@link Prng}
 * (xoshiro128**; TigerBeetle's rule: no floats in decisions, so a seed replays
 * bit for bit) plus the helpers the simulator draws with. Every component
 * (network, disk, each node incarnation, each client, the fault injector)
 * gets its own stream split from the seed's root generator, so that adding a
 * draw in one component does not shift the draws of the others.
 */
import { assert } from '../util/assert.js';
import { Prng } from '../util/prng.js';

export { Prng };
export type { Rng } from '../util/prng.js';

/**
 * The simulator's generator: util's {@link Prng} (same stream, same
 * results) with an `intInclusive` that builds its assertion messages only
 * when they fail. The simulator draws several numbers per message, and the
 * base method formats two template strings per call.
 */
export class SimPrng extends Prng {
  override intInclusive(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi)) assert(false, 'intInclusive bounds must be safe integers');
    if (lo > hi) assert(false, `intInclusive: lo ${lo} > hi ${hi}`);
    const span = hi - lo + 1;
    if (span > 2 ** 32) assert(false, `intInclusive: span ${span} exceeds 2^32`);
    // Rejection sampling keeps the distribution exactly uniform (as the base method does).
    const limit = 2 ** 32 - (2 ** 32 % span);
    for (;;) {
      const v = this.uint32();
      if (v < limit) return lo + (v % span);
    }
  }
}

/** A probability as an integer fraction (TigerBeetle's `Ratio`). */
export interface Ratio {
  readonly numerator: number;
  readonly denominator: number;
}

export function ratio(numerator: number, denominator: number): Ratio {
  assert(Number.isSafeInteger(numerator) && numerator >= 0, `ratio: bad numerator ${numerator}`);
  assert(Number.isSafeInteger(denominator) && denominator > 0, `ratio: bad denominator ${denominator}`);
  assert(numerator <= denominator, `ratio: ${numerator}/${denominator} exceeds 1`);
  return { numerator, denominator };
}

export const RATIO_NEVER: Ratio = { numerator: 0, denominator: 1 };

/** `3/100` style rendering for the SEED= line. */
export function formatRatio(r: Ratio): string {
  return `${r.numerator}/${r.denominator}`;
}

/** A uniformly chosen element of a non-empty array. */
export function pick<T>(prng: Prng, items: readonly T[]): T {
  assert(items.length > 0, 'pick: empty array');
  return items[prng.intInclusive(0, items.length - 1)] as T;
}

/** A new array with the elements in a uniformly random order (Fisher–Yates). */
export function shuffle<T>(prng: Prng, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = prng.intInclusive(0, i);
    const t = out[i] as T;
    out[i] = out[j] as T;
    out[j] = t;
  }
  assert(out.length === items.length, 'shuffle: length changed');
  return out;
}

/** A ratio with numerator drawn uniformly in [0, maxNumerator] over `denominator`. */
export function drawRatio(prng: Prng, maxNumerator: number, denominator: number): Ratio {
  assert(maxNumerator <= denominator, 'drawRatio: max exceeds 1');
  return ratio(prng.intInclusive(0, maxNumerator), denominator);
}

/**
 * Named per-component streams derived from one seed. Streams are split in a
 * fixed order at construction, so `stream('network')` is the same generator
 * for a seed no matter which other streams a run asks for.
 */
export class SimRandom {
  readonly seed: number;
  private readonly streams = new Map<string, SimPrng>();

  constructor(seed: number) {
    assert(Number.isSafeInteger(seed) && seed >= 0, `SimRandom: seed must be a non-negative safe integer, got ${seed}`);
    this.seed = seed;
  }

  /**
   * The stream named `name`, derived from the seed and the name only (not
   * from the order streams are requested in).
   */
  stream(name: string): SimPrng {
    const existing = this.streams.get(name);
    if (existing !== undefined) return existing;
    const prng = new SimPrng(deriveSeed(this.seed, name));
    this.streams.set(name, prng);
    return prng;
  }
}

/** A seed for stream `name` (FNV-1a of the name mixed with the run seed). */
export function deriveSeed(seed: number, name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  const low = (seed % 2 ** 32 ^ h) >>> 0;
  const high = Math.floor(seed / 2 ** 32) % 2 ** 21;
  const derived = high * 2 ** 32 + low;
  assert(Number.isSafeInteger(derived) && derived >= 0, 'deriveSeed: out of range');
  return derived;
}
