/**
 * The KV workload: each client, after a think time, issues a random get,
 * put, delete or scan over a small key space, waits for it to be recorded,
 * and repeats until the workload stops. Every put writes a value unique in
 * the run (`c<client>.<n>`), so a read identifies the write it saw.
 */
import { assert } from '../util/assert.js';
import { WORLD } from './clock.js';
import type { SimClock } from './clock.js';
import type { SimClient } from './client.js';
import type { KvInput } from './history.js';
import { scanLimitMax } from './limits.js';
import type { Prng } from './prng.js';

export interface OperationMix {
  readonly get: number;
  readonly put: number;
  readonly delete: number;
  readonly scan: number;
}

export interface WorkloadConfig {
  /** Keys `k00` .. `k<keyCount-1>` (zero-padded so string order is numeric order). */
  readonly keyCount: number;
  /** Relative weights of the operation kinds. */
  readonly mix: OperationMix;
  readonly thinkTimeMsMin: number;
  readonly thinkTimeMsMax: number;
  /** Largest `limit` of a scan. */
  readonly scanLimitMax: number;
}

export function keyName(i: number): string {
  return `k${String(i).padStart(2, '0')}`;
}

export class Workload {
  private readonly clients: readonly SimClient[];
  private readonly clock: SimClock;
  private readonly prng: Prng;
  private readonly config: WorkloadConfig;
  private running = false;
  private readonly valueCounters = new Map<number, number>();

  constructor(deps: { readonly clients: readonly SimClient[]; readonly clock: SimClock; readonly prng: Prng }, config: WorkloadConfig) {
    const total = config.mix.get + config.mix.put + config.mix.delete + config.mix.scan;
    assert(total > 0, 'workload: empty operation mix');
    assert(config.keyCount > 0 && config.keyCount <= 100, `workload: keyCount ${config.keyCount} out of range`);
    assert(config.scanLimitMax > 0 && config.scanLimitMax <= scanLimitMax, 'workload: bad scan limit');
    assert(config.thinkTimeMsMin >= 0 && config.thinkTimeMsMax >= config.thinkTimeMsMin, 'workload: bad think time');
    this.clients = deps.clients;
    this.clock = deps.clock;
    this.prng = deps.prng;
    this.config = config;
  }

  start(): void {
    assert(!this.running, 'workload: already running');
    this.running = true;
    for (const client of this.clients) this.scheduleNext(client);
  }

  /** No new operations start; those in flight finish (or time out) on their own. */
  stop(): void {
    this.running = false;
  }

  /** True when no client has an operation in flight. */
  idle(): boolean {
    return this.clients.every((c) => !c.busy);
  }

  /** A unique value for a put by `clientId`. */
  nextValue(clientId: number): string {
    const n = (this.valueCounters.get(clientId) ?? 0) + 1;
    this.valueCounters.set(clientId, n);
    return `c${clientId}.${n}`;
  }

  private scheduleNext(client: SimClient): void {
    const think = this.prng.intInclusive(this.config.thinkTimeMsMin, this.config.thinkTimeMsMax);
    this.clock.schedule(think, WORLD, 'client think', () => {
      if (!this.running) return;
      client.invoke(this.drawInput(client.clientId), () => this.scheduleNext(client));
    });
  }

  drawInput(clientId: number): KvInput {
    const { mix, keyCount } = this.config;
    const key = keyName(this.prng.intInclusive(0, keyCount - 1));
    let roll = this.prng.intInclusive(0, mix.get + mix.put + mix.delete + mix.scan - 1);
    if (roll < mix.get) return { kind: 'get', key };
    roll -= mix.get;
    if (roll < mix.put) return { kind: 'put', key, value: this.nextValue(clientId) };
    roll -= mix.put;
    if (roll < mix.delete) return { kind: 'delete', key };
    const a = this.prng.intInclusive(0, keyCount);
    const b = this.prng.intInclusive(0, keyCount);
    const limit = this.prng.intInclusive(1, this.config.scanLimitMax);
    const start = keyName(Math.min(a, b));
    // An end past the last key is left open: the unbounded case of a scan.
    return Math.max(a, b) >= keyCount ? { kind: 'scan', start, limit } : { kind: 'scan', start, end: keyName(Math.max(a, b)), limit };
  }
}
