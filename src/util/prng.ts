/**
 * Seeded pseudo-random numbers with an integer-only API (TigerBeetle's PRNG
 * rule: no floats in decisions, so runs replay bit-for-bit everywhere).
 * Algorithm: xoshiro128** seeded through splitmix32.
 */
import { assert } from './assert.js';

export interface Rng {
  /** A uniformly distributed 32-bit unsigned integer. */
  uint32(): number;
  /** A uniformly distributed integer in [lo, hi]. */
  intInclusive(lo: number, hi: number): number;
  /** True with probability numerator/denominator. */
  chance(ratio: { readonly numerator: number; readonly denominator: number }): boolean;
}

export class Prng implements Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    if (!(Number.isSafeInteger(seed) && seed >= 0)) assert(false, `Prng seed must be a non-negative safe integer, got ${seed}`);
    let x = (seed ^ Math.floor(seed / 2 ** 32)) >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next() | 1;
  }

  uint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ t) >>> 0;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  intInclusive(lo: number, hi: number): number {
    assert(Number.isSafeInteger(lo) && Number.isSafeInteger(hi), 'intInclusive bounds must be safe integers');
    if (!(lo <= hi)) assert(false, `intInclusive: lo ${lo} > hi ${hi}`);
    const span = hi - lo + 1;
    if (!(span <= 2 ** 32)) assert(false, `intInclusive: span ${span} exceeds 2^32`);
    // Rejection sampling keeps the distribution exactly uniform.
    const limit = 2 ** 32 - (2 ** 32 % span);
    for (;;) {
      const v = this.uint32();
      if (v < limit) return lo + (v % span);
    }
  }

  chance(ratio: { readonly numerator: number; readonly denominator: number }): boolean {
    assert(ratio.denominator > 0 && ratio.numerator >= 0 && ratio.numerator <= ratio.denominator, 'chance: bad ratio');
    return this.intInclusive(0, ratio.denominator - 1) < ratio.numerator;
  }

  /** An independent generator derived from this one (per component streams). */
  split(): Prng {
    return new Prng(this.uint32() * 2 ** 20 + (this.uint32() >>> 12));
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
