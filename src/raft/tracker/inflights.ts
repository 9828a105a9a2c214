/**
 * The in-flight window of MsgAppend to one follower (etcd's Inflights): a
 * bounded ring of the last index of each unacknowledged message, with its
 * byte size, so the leader stops sending when the window is full.
 */
import { assert } from '../../util/assert.js';

export class Inflights {
  private start = 0;
  private count = 0;
  private bytes = 0;
  private readonly indexes: number[];
  private readonly sizes: number[];

  constructor(
    /** Most messages in flight. */
    readonly capacity: number,
    /** Most payload bytes in flight; 0 means unlimited. */
    readonly bytesMax: number = 0,
  ) {
    assert(capacity > 0, 'Inflights capacity must be positive');
    this.indexes = new Array<number>(capacity).fill(0);
    this.sizes = new Array<number>(capacity).fill(0);
  }

  clone(): Inflights {
    const c = new Inflights(this.capacity, this.bytesMax);
    c.start = this.start;
    c.count = this.count;
    c.bytes = this.bytes;
    for (let i = 0; i < this.capacity; i++) {
      c.indexes[i] = this.indexes[i] as number;
      c.sizes[i] = this.sizes[i] as number;
    }
    return c;
  }

  /** Records a message whose last entry is `index`. */
  add(index: number, bytes: number): void {
    assert(!this.full(), 'cannot add into a full inflights');
    let next = this.start + this.count;
    if (next >= this.capacity) next -= this.capacity;
    this.indexes[next] = index;
    this.sizes[next] = bytes;
    this.count++;
    this.bytes += bytes;
  }

  /** Frees every message whose last index is <= `to`. */
  freeLE(to: number): void {
    if (this.count === 0 || to < (this.indexes[this.start] as number)) return;
    let idx = this.start;
    let i = 0;
    let bytes = 0;
    for (; i < this.count; i++) {
      if (to < (this.indexes[idx] as number)) break;
      bytes += this.sizes[idx] as number;
      idx++;
      if (idx >= this.capacity) idx -= this.capacity;
    }
    this.count -= i;
    this.bytes -= bytes;
    this.start = idx;
    if (this.count === 0) this.start = 0;
  }

  /** Frees the oldest message (a heartbeat response showed the follower is alive). */
  freeFirstOne(): void {
    if (this.count > 0) this.freeLE(this.indexes[this.start] as number);
  }

  full(): boolean {
    return this.count === this.capacity || (this.bytesMax !== 0 && this.bytes >= this.bytesMax);
  }

  get size(): number {
    return this.count;
  }

  reset(): void {
    this.count = 0;
    this.start = 0;
    this.bytes = 0;
  }
}
