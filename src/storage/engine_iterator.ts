/**
 * A {@link DBIterator} over one column family of a read view, optionally
 * bounded to a key range (a region's): the seek/valid/item/next cursor of
 * TinyKV's engine_util on top of our generator-based scans.
 */
import { assert } from '../util/assert.js';
import { compareBytes } from '../util/bytes.js';
import type { CfName, KvEntry, ReadView } from './engine.js';
import type { DBIterator } from './storage.js';

export class EngineIterator implements DBIterator {
  private entries: Iterator<KvEntry> | undefined;
  private current: KvEntry | undefined;

  /** `bounds`: iterate only [start, end) (an empty end is unbounded); seeks below start go to start. */
  constructor(
    private readonly view: ReadView,
    private readonly cf: CfName,
    private readonly bounds: { readonly start: Uint8Array; readonly end: Uint8Array } = { start: new Uint8Array(), end: new Uint8Array() },
  ) {
    this.seek(new Uint8Array());
  }

  seek(key: Uint8Array): void {
    this.entries?.return?.();
    const start = compareBytes(key, this.bounds.start) > 0 ? key : this.bounds.start;
    const end = this.bounds.end;
    this.entries = this.view.scan(this.cf, { ...(start.length > 0 ? { start } : {}), ...(end.length > 0 ? { end } : {}) });
    this.next();
  }

  valid(): boolean {
    return this.current !== undefined;
  }

  item(): KvEntry {
    assert(this.current !== undefined, 'DBIterator.item() called on an invalid iterator');
    return this.current;
  }

  next(): void {
    assert(this.entries !== undefined, 'DBIterator used after close()');
    const step = this.entries.next();
    this.current = step.done === true ? undefined : step.value;
  }

  close(): void {
    this.entries?.return?.();
    this.entries = undefined;
    this.current = undefined;
  }
}
