/**
 * A set of ids with O(1) add, delete and pick-by-index, for the per-store
 * region indexes random selection draws from. Removal swaps the last id into
 * the hole, so the order depends only on the history of calls: deterministic.
 */
import { assert } from '../util/assert.js';

export class IdSet {
  private readonly ids: number[] = [];
  private readonly at = new Map<number, number>();

  get size(): number {
    return this.ids.length;
  }

  has(id: number): boolean {
    return this.at.has(id);
  }

  add(id: number): void {
    if (this.at.has(id)) return;
    this.at.set(id, this.ids.length);
    this.ids.push(id);
  }

  delete(id: number): void {
    const i = this.at.get(id);
    if (i === undefined) return;
    const last = this.ids.pop();
    assert(last !== undefined, 'IdSet: index without ids');
    this.at.delete(id);
    if (last !== id) {
      this.ids[i] = last;
      this.at.set(last, i);
    }
  }

  /** The id at position `i` (0 <= i < size). */
  get(i: number): number {
    const id = this.ids[i];
    if (id === undefined) assert(false, `IdSet: index ${i} out of range ${this.ids.length}`);
    return id;
  }
}
