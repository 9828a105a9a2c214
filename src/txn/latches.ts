/**
 * TinyKV latches.Latches: per-key latches that serialise the transactional
 * commands touching a key, so a command's read-check-write on its keys is
 * atomic with respect to the other commands of this store.
 *
 * - FIFO per key: waiters are handed the latch in arrival order, so no
 *   command starves behind later ones.
 * - No deadlock: a command acquires its keys one at a time in ascending byte
 *   order (compareBytes), so no two commands can each hold a key the other
 *   waits for (the classic ordered-resource argument).
 * - Promise-based and deterministic: no timers; a release hands the latch to
 *   the next waiter by resolving its promise.
 */
import { assert } from '../util/assert.js';
import { compareBytes, toHex } from '../util/bytes.js';
import type { MvccTxn } from './mvcc_txn.js';

/** Frees every latch an {@link Latches.acquire} took; call it exactly once. */
export type ReleaseLatches = () => void;

/** TinyKV Latches.Validation: called by commands while they hold their latches (tests check writes). */
export type LatchValidation = (txn: MvccTxn, keys: readonly Uint8Array[]) => void;

interface Slot {
  /** Waiters for this key, oldest first; each is resumed holding the latch. */
  readonly waiters: (() => void)[];
}

/** The keys sorted ascending by bytes, duplicates removed. */
export function sortedUniqueKeys(keys: readonly Uint8Array[]): Uint8Array[] {
  const sorted = [...keys].sort(compareBytes);
  return sorted.filter((key, i) => i === 0 || compareBytes(sorted[i - 1] as Uint8Array, key) !== 0);
}

export class Latches {
  /**
   * Held latches by key. The hex string is only an identity for lookup (JS
   * maps cannot key on bytes); ordering always uses compareBytes on the bytes.
   * Invariant: a key is present exactly while some command holds its latch.
   */
  private readonly held = new Map<string, Slot>();

  /** Test hook (TinyKV `Validation`); undefined in production. */
  validation: LatchValidation | undefined = undefined;

  /**
   * Waits until this caller holds the latch of every key in `keys`
   * (duplicates allowed), then returns the function that releases them all.
   */
  async acquire(keys: readonly Uint8Array[]): Promise<ReleaseLatches> {
    const ids = sortedUniqueKeys(keys).map(toHex);
    const taken: string[] = [];
    for (const id of ids) {
      const slot = this.held.get(id);
      if (slot === undefined) {
        this.held.set(id, { waiters: [] });
      } else {
        // Resumed by release() with the latch already handed over to us.
        await new Promise<void>((resume) => slot.waiters.push(resume));
      }
      taken.push(id);
    }
    let released = false;
    return () => {
      assert(!released, 'Latches: released twice');
      released = true;
      for (const id of taken) this.releaseOne(id);
    };
  }

  /** TinyKV Latches.Validate: runs the validation hook, if any. */
  validate(txn: MvccTxn, keys: readonly Uint8Array[]): void {
    this.validation?.(txn, keys);
  }

  /** Keys currently latched (for tests and invariants). */
  heldCount(): number {
    return this.held.size;
  }

  private releaseOne(id: string): void {
    const slot = this.held.get(id);
    assert(slot !== undefined, `Latches: releasing key 0x${id} that is not latched`);
    const next = slot.waiters.shift();
    // Hand-over keeps the slot: the next waiter now holds the latch.
    if (next === undefined) this.held.delete(id);
    else next();
  }
}
