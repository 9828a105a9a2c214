/**
 * Storage on a single local engine, with no replication (TinyKV Project 1).
 * Every write is durable before it is acknowledged; every reader is a read
 * view, so an iterator opened before a write does not see it
 * (TestIterWithRawDelete1).
 */
import type { CfName, Engine, ReadView } from './engine.js';
import { EngineIterator } from './engine_iterator.js';
import { checkDataCf, StorageError, STORAGE_ERROR_CODES } from './storage.js';
import type { DBIterator, Modify, Storage, StorageContext, StorageReader } from './storage.js';
import { WriteBatch } from './write_batch.js';

export class StandaloneStorage implements Storage {
  private running = false;

  /** Takes ownership of `engine`: {@link stop} closes it. */
  constructor(private readonly engine: Engine) {}

  async start(): Promise<void> {
    this.running = true;
  }

  /** Closes the engine; idempotent, and safe without a prior start(). */
  async stop(): Promise<void> {
    this.running = false;
    await this.engine.close();
  }

  async write(_ctx: StorageContext, batch: readonly Modify[]): Promise<void> {
    this.checkRunning();
    const wb = new WriteBatch();
    for (const m of batch) {
      checkDataCf(m.cf);
      if (m.type === 'put') wb.put(m.cf, m.key, m.value);
      else wb.delete(m.cf, m.key);
    }
    await this.engine.write(wb, { sync: true });
  }

  async reader(_ctx: StorageContext): Promise<StorageReader> {
    this.checkRunning();
    return new ViewReader(this.engine.readView());
  }

  private checkRunning(): void {
    if (!this.running) throw new StorageError(STORAGE_ERROR_CODES.Stopped, 'Storage is not running');
  }
}

class ViewReader implements StorageReader {
  private readonly iterators = new Set<DBIterator>();
  constructor(private readonly view: ReadView) {}

  getCF(cf: CfName, key: Uint8Array): Uint8Array | undefined {
    checkDataCf(cf);
    return this.view.get(cf, key);
  }

  iterCF(cf: CfName): DBIterator {
    checkDataCf(cf);
    const it = new EngineIterator(this.view, cf);
    this.iterators.add(it);
    return it;
  }

  close(): void {
    for (const it of this.iterators) it.close();
    this.iterators.clear();
    this.view.close();
  }
}
