/**
 * A node's simulated disk: the in-memory engine wrapped so that a write
 * becomes durable only when synced. Writes are visible to the node's reads as
 * soon as they are submitted (as a WAL plus memtable would make them), and
 * complete in a later event after a drawn latency, in submission order. The
 * completion of a `sync: true` write makes it and every write before it
 * durable (an fsync flushes the whole log). A crash drops every write that is
 * not durable (optionally keeping a random prefix of them: pages the OS
 * happened to flush), and the node's reads see the durable state again.
 *
 * The durable state is a read view of the engine taken right after the last
 * durable write: MemEngine's state is persistent (immutable roots), so a view
 * costs O(1) and nothing is written twice. A crash copies that view into a
 * fresh engine.
 *
 * The disk does not implement {@link Engine}'s promise-returning `write`:
 * the simulator runs whole seeds inside one synchronous loop, where a promise
 * would settle only after the run. Completions are clock events instead.
 */
import { assert } from '../util/assert.js';
import { ALL_CFS } from '../storage/engine.js';
import type { CfName, KvEntry, ReadView, ScanOptions, ViewableReader } from '../storage/engine.js';
import { MemEngine } from '../storage/mem_engine.js';
import { checkEngineKey, WriteBatch } from '../storage/write_batch.js';
import type { SimClock } from './clock.js';
import type { Prng } from './prng.js';
import type { Trace } from './trace.js';

export interface DiskOptions {
  /** Latency of a write, drawn uniformly per write. */
  readonly writeLatencyMsMin: number;
  readonly writeLatencyMsMax: number;
  /** On a crash, keep a random prefix of the non-durable writes. @default false */
  readonly crashKeepsUnsyncedPrefix?: boolean;
}

export interface DiskDeps {
  readonly clock: SimClock;
  readonly prng: Prng;
  readonly trace: Trace;
  /** The node whose events the completions are (cancelled when it crashes). */
  readonly owner: number;
}

export interface DiskStats {
  writes: number;
  syncs: number;
  crashes: number;
  lostWrites: number;
}

interface PendingWrite {
  readonly sync: boolean;
  /** The engine state right after this write: what is durable once it is. */
  readonly after: ReadView;
}

export class SimDisk implements ViewableReader {
  readonly stats: DiskStats = { writes: 0, syncs: 0, crashes: 0, lostWrites: 0 };
  private readonly deps: DiskDeps;
  private options: DiskOptions;
  /** Every submitted write: what the node reads. */
  private visible = new MemEngine();
  /** The state after the last durable write: what survives a crash. */
  private durable: ReadView;
  /** Submitted writes not yet durable, in submission order. */
  private unsynced: PendingWrite[] = [];
  /** Completion time of the last submitted write: completions keep submission order. */
  private lastCompletionMs = 0;
  /** Bumped by each crash: completions of an older generation are void. */
  private generation = 0;

  constructor(deps: DiskDeps, options: DiskOptions) {
    assert(Number.isSafeInteger(options.writeLatencyMsMin) && options.writeLatencyMsMin >= 0, 'disk: bad min latency');
    assert(options.writeLatencyMsMax >= options.writeLatencyMsMin, 'disk: max latency below min latency');
    this.deps = deps;
    this.options = options;
    this.durable = this.visible.readView();
  }

  get(cf: CfName, key: Uint8Array): Uint8Array | undefined {
    return this.visible.get(cf, key);
  }

  scan(cf: CfName, options?: ScanOptions): IterableIterator<KvEntry> {
    return this.visible.scan(cf, options);
  }

  /** Changes the write latency from now on (scripted slow-disk faults). */
  setLatency(minMs: number, maxMs: number): void {
    assert(Number.isSafeInteger(minMs) && minMs >= 0 && maxMs >= minMs, 'disk: bad latency');
    this.options = { ...this.options, writeLatencyMsMin: minMs, writeLatencyMsMax: maxMs };
  }

  /** A consistent view of what the node reads now (every submitted write). */
  readView(): ReadView {
    return this.visible.readView();
  }

  /** Writes not yet durable. */
  get unsyncedCount(): number {
    return this.unsynced.length;
  }

  /**
   * Writes `batch` durably at once, outside of time: formatting a fresh disk
   * before the run starts.
   */
  format(batch: WriteBatch): void {
    assert(this.unsynced.length === 0, 'disk: format with writes pending');
    commit(this.visible, batch);
    this.durable.close();
    this.durable = this.visible.readView();
  }

  /**
   * Submits a write: visible at once, complete after the drawn latency (then
   * durable if `sync`), at which point `onComplete` runs in an event owned by
   * the node. A crash before that cancels the completion. A write without
   * `onComplete` and without sync has nothing to wait for: it schedules no
   * event (it becomes durable with the next sync, or is lost in a crash).
   */
  submit(batch: WriteBatch, sync: boolean, onComplete?: () => void): void {
    assert(!batch.isEmpty(), 'disk: empty write');
    commit(this.visible, batch);
    const write: PendingWrite = { sync, after: this.visible.readView() };
    this.unsynced.push(write);
    this.stats.writes++;
    if (!sync && onComplete === undefined) return;
    const latency = this.deps.prng.intInclusive(this.options.writeLatencyMsMin, this.options.writeLatencyMsMax);
    const at = Math.max(this.deps.clock.nowMs + latency, this.lastCompletionMs);
    this.lastCompletionMs = at;
    const generation = this.generation;
    this.deps.clock.scheduleAt(at, this.deps.owner, 'disk write', () => {
      assert(generation === this.generation, 'disk: completion of a crashed generation');
      if (sync) {
        this.makeDurableThrough(write);
        this.stats.syncs++;
      }
      onComplete?.();
    });
  }

  /**
   * Drops every non-durable write (or all but a random prefix of them) and
   * returns how many were lost. The owner's pending completions must be
   * cancelled by the caller (the node's crash cancels all its events).
   */
  crash(): number {
    this.generation++;
    this.stats.crashes++;
    let keep = 0;
    if (this.options.crashKeepsUnsyncedPrefix === true && this.unsynced.length > 0) {
      keep = this.deps.prng.intInclusive(0, this.unsynced.length);
    }
    if (keep > 0) this.makeDurableThrough(this.unsynced[keep - 1] as PendingWrite);
    const lost = this.unsynced.length;
    for (const write of this.unsynced) write.after.close();
    this.stats.lostWrites += lost;
    this.unsynced = [];
    this.lastCompletionMs = 0;
    this.visible = copyEngine(this.durable);
    this.durable.close();
    this.durable = this.visible.readView();
    if (this.deps.trace.enabled) this.deps.trace.record(`disk n${this.deps.owner} crash: kept ${keep}, lost ${lost} unsynced writes`);
    return lost;
  }

  private makeDurableThrough(write: PendingWrite): void {
    const i = this.unsynced.indexOf(write);
    assert(i >= 0, 'disk: synced write is not pending');
    // An fsync flushes everything written before it too.
    for (const w of this.unsynced.slice(0, i)) w.after.close();
    this.durable.close();
    this.durable = write.after;
    this.unsynced = this.unsynced.slice(i + 1);
  }
}

/** Applies `batch` synchronously (MemEngine commits inside `write`). */
function commit(engine: MemEngine, batch: WriteBatch): void {
  // Validate first so that the engine cannot reject: a rejection would only
  // surface after the synchronous run, as an unhandled rejection.
  for (const op of batch.ops) {
    if (!engine.cfs.includes(op.cf)) assert(false, `disk: unknown column family ${op.cf}`);
    if (op.type !== 'deleteRange') checkEngineKey(op.key);
  }
  void engine.write(batch, { sync: false });
}

function copyEngine(source: ReadView): MemEngine {
  const copy = new MemEngine();
  const batch = new WriteBatch();
  for (const cf of ALL_CFS) {
    for (const { key, value } of source.scan(cf)) batch.put(cf, key, value);
  }
  if (!batch.isEmpty()) commit(copy, batch);
  return copy;
}
