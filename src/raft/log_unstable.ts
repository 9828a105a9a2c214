/**
 * Entries and a snapshot not yet written to stable storage (etcd's unstable).
 * Invariant: entries[i] has index offset + i; if a snapshot is present,
 * offset = snapshot.index + 1 at the time it was set.
 */
import { assert } from '../util/assert.js';
import { snapshotIndex, snapshotTerm } from './types.js';
import type { Entry, Snapshot } from './types.js';

export class Unstable {
  snapshot: Snapshot | undefined = undefined;
  /**
   * True once the pending snapshot was handed to the application in a Ready
   * and until it reports it persisted and applied (advance): S1's window.
   */
  snapshotInProgress = false;
  entries: Entry[] = [];
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  /** The first index, only if a snapshot is pending. */
  maybeFirstIndex(): number | undefined {
    return this.snapshot !== undefined ? snapshotIndex(this.snapshot) + 1 : undefined;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    if (this.snapshot !== undefined) return snapshotIndex(this.snapshot);
    return undefined;
  }

  maybeTerm(i: number): number | undefined {
    if (i < this.offset) {
      if (this.snapshot !== undefined && snapshotIndex(this.snapshot) === i) return snapshotTerm(this.snapshot);
      return undefined;
    }
    const last = this.maybeLastIndex();
    if (last === undefined || i > last) return undefined;
    return (this.entries[i - this.offset] as Entry).term;
  }

  /** Entries up to (i, t) are now stable. */
  stableTo(i: number, t: number): void {
    const gt = this.maybeTerm(i);
    // Only drop entries if the term matches: a later append may have replaced them.
    if (gt === t && i >= this.offset) {
      this.entries = this.entries.slice(i + 1 - this.offset);
      this.offset = i + 1;
    }
  }

  stableSnapTo(i: number): void {
    if (this.snapshot !== undefined && snapshotIndex(this.snapshot) === i) {
      this.snapshot = undefined;
      this.snapshotInProgress = false;
    }
  }

  /** The pending snapshot was handed to the application. */
  acceptInProgress(): void {
    if (this.snapshot !== undefined) this.snapshotInProgress = true;
  }

  restore(s: Snapshot): void {
    this.offset = snapshotIndex(s) + 1;
    this.entries = [];
    this.snapshot = s;
    this.snapshotInProgress = false;
  }

  truncateAndAppend(ents: readonly Entry[]): void {
    const after = (ents[0] as Entry).index;
    if (after === this.offset + this.entries.length) {
      // Directly after: append.
      for (const e of ents) this.entries.push(e);
    } else if (after <= this.offset) {
      // Replace the whole unstable tail, and restart it at `after`.
      this.offset = after;
      this.entries = [...ents];
    } else {
      // Truncate to `after`, then append.
      this.entries = [...this.slice(this.offset, after), ...ents];
    }
  }

  slice(lo: number, hi: number): Entry[] {
    if (!(lo <= hi)) assert(false, `invalid unstable.slice ${lo} > ${hi}`);
    const upper = this.offset + this.entries.length;
    if (!(lo >= this.offset && hi <= upper)) assert(false, `unstable.slice[${lo},${hi}) out of bound [${this.offset},${upper}]`);
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
