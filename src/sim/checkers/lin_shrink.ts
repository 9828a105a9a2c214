/**
 * Shrinking a violating history to a small one that still violates. Generic
 * over the item so that the per-key check (shrinking `KeyOp`s) and the
 * whole-history check (shrinking `KvOperation`s) share it; what counts as bad
 * is the caller's. One `ShrinkLimits` bounds a whole shrink (the prefix
 * bisection and the delta debugging together), so a report always comes.
 */
import type { Budget } from './lin_search.js';

export interface ShrinkLimits {
  attempts: number;
  readonly budget: Budget;
}

/**
 * Shrinks a bad sub-list (sorted by invoke time) by delta debugging (drop
 * chunks of halving size down to single items) over reads, whose removal
 * cannot create a violation, then over writes, repeated until nothing more
 * goes. The result is 1-minimal unless the attempt or step limits ran out.
 */
export function minimize<T>(
  items: readonly T[],
  isWrite: (item: T) => boolean,
  isBad: (sub: readonly T[]) => boolean,
  limits: ShrinkLimits,
): readonly T[] {
  let cur = [...items];
  for (;;) {
    const before = cur.length;
    cur = deltaDebug(cur, (item) => !isWrite(item), isBad, limits);
    cur = deltaDebug(cur, isWrite, isBad, limits);
    if (cur.length === before || limitsSpent(limits)) return cur;
  }
}

/** Bisection for a short bad prefix: proving a violation costs more the longer the history. */
export function shortestBadPrefix<T>(items: readonly T[], isBad: (sub: readonly T[]) => boolean, limits: ShrinkLimits): T[] {
  // Invariant: items[0, lo) is not known bad, items[0, hi) is bad.
  let lo = 0;
  let hi = items.length;
  while (hi - lo > 1 && !limitsSpent(limits)) {
    const mid = (lo + hi) >>> 1;
    if (isBad(items.slice(0, mid))) hi = mid;
    else lo = mid;
  }
  return items.slice(0, hi);
}

/** Drops chunks of removable items while `tryBad` holds, halving the chunk size down to 1. */
function deltaDebug<T>(
  items: T[],
  removable: (item: T) => boolean,
  isBad: (sub: readonly T[]) => boolean,
  limits: ShrinkLimits,
): T[] {
  let cur = items;
  let size = Number.MAX_SAFE_INTEGER;
  while (!limitsSpent(limits)) {
    const positions = cur.flatMap((item, i) => (removable(item) ? [i] : []));
    if (positions.length === 0) break;
    size = Math.max(1, Math.min(size, positions.length >>> 1));
    let removed = false;
    // From the end, so a removal does not shift the positions still to try.
    for (let end = positions.length; end > 0 && !limitsSpent(limits); end -= size) {
      const drop = new Set(positions.slice(Math.max(0, end - size), end));
      const candidate = cur.filter((_, i) => !drop.has(i));
      if (isBad(candidate)) {
        cur = candidate;
        removed = true;
      }
    }
    if (size > 1) size >>>= 1;
    else if (!removed) break;
  }
  return cur;
}

function limitsSpent(limits: ShrinkLimits): boolean {
  return limits.attempts <= 0 || limits.budget.remaining <= 0;
}

export function spentNote(limits: ShrinkLimits): string {
  return limitsSpent(limits) ? ' (shrinking stopped at its limit: may not be minimal)' : '';
}
