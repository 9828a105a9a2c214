/**
 * A {@link DBIterator} over one column family of a read view: the
 * seek/valid/item/next cursor of TinyKV's engine_util on top of our
 * generator-based scans.
 */
import { assert } from '../util/assert.js';
import type { CfName, KvEntry, ReadView } from './engine.js';
import type { DBIterator } from './storage.js';

export class EngineIterator implements DBIterator {
  private entries: Iterator<KvEntry> | undefined;
  private current: KvEntry | undefined;

  constructor(
    private readonly view: ReadView,
    private readonly cf: CfName,
  ) {
    this.seek(new Uint8Array());
  }

  seek(key: Uint8Array): void {
    this.entries?.return?.();
    this.entries = this.view.scan(this.cf, key.length > 0 ? { start: key } : {});
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
