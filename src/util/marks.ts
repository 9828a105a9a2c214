/**
 * Coverage marks (TigerBeetle's testing/marks): production code calls
 * `mark('peer: reject snapshot, pending snapshot not applied')` on the path a
 * rule takes; a test arms `const m = expectMark(name)`, runs its scenario and
 * calls `m.assertHit()`. A passing test alone does not prove the rule ran; a
 * hit mark does. Counting costs one Map lookup when any mark is armed, nothing
 * otherwise.
 */
import { assert } from './assert.js';

const armed = new Map<string, number>();

export function mark(name: string): void {
  if (armed.size === 0) return;
  const hits = armed.get(name);
  if (hits !== undefined) armed.set(name, hits + 1);
}

export interface MarkCheck {
  readonly name: string;
  hits(): number;
  /** Disarms the mark and asserts it was hit at least once. */
  assertHit(): void;
  /** Disarms the mark and asserts it was never hit. */
  assertNotHit(): void;
}

export function expectMark(name: string): MarkCheck {
  assert(!armed.has(name), `mark "${name}" is already armed`);
  armed.set(name, 0);
  const disarm = (): number => {
    const hits = armed.get(name) ?? 0;
    armed.delete(name);
    return hits;
  };
  return {
    name,
    hits: () => armed.get(name) ?? 0,
    assertHit: () => {
      const hits = disarm();
      assert(hits > 0, `expected mark "${name}" to be hit`);
    },
    assertNotHit: () => {
      const hits = disarm();
      assert(hits === 0, `expected mark "${name}" not to be hit, hit ${hits} times`);
    },
  };
}
