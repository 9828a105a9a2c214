/**
 * Test support for the scheduler process: a server on 127.0.0.1:0 over a
 * temp data dir (restartable on the same dir), the generated gRPC clients
 * for the RPCs PdClient does not wrap, and builders of stores and regions.
 * No production code imports it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { SchedulerAdminClient } from '../../pb/adminpb.js';
import type { Region, Store } from '../../pb/metapb.js';
import { StoreState } from '../../pb/metapb.js';
import { SchedulerClient } from '../../pb/schedulerpb.js';
import { silentLogger } from '../../util/log.js';
import { Prng } from '../../util/prng.js';
import type { ScheduleConfig } from '../config.js';
import { startSchedulerServer } from './scheduler_server.js';
import type { RunningSchedulerServer } from './scheduler_server.js';

/** Schedules nothing by itself: tests that want no operators but their own. */
export const QUIET: Partial<ScheduleConfig> = { replicaCheckerEnabled: false, balanceLeaderEnabled: false, balanceRegionEnabled: false };

export class TestScheduler {
  readonly dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinykv-sched-svc-'));
  server: RunningSchedulerServer | undefined;
  private readonly closers: (() => void)[] = [];

  /** Starts (or restarts, on the same data dir) the server. */
  async start(config: Partial<ScheduleConfig> = QUIET, tickMs = 20): Promise<RunningSchedulerServer> {
    this.server = await startSchedulerServer({ dataDir: this.dataDir, addr: '127.0.0.1:0', logger: silentLogger(), config, tickMs, rng: new Prng(7) });
    return this.server;
  }

  get addr(): string {
    if (this.server === undefined) throw new Error('scheduler not started');
    return this.server.addr;
  }

  async stop(): Promise<void> {
    await this.server?.stop(1_000);
    this.server = undefined;
  }

  /** A raw `schedulerpb.Scheduler` client, closed by {@link dispose}. */
  raw(): SchedulerClient {
    const c = new SchedulerClient(this.addr, grpc.credentials.createInsecure());
    this.closers.push(() => c.close());
    return c;
  }

  /** A raw `adminpb.SchedulerAdmin` client, closed by {@link dispose}. */
  admin(): SchedulerAdminClient {
    const c = new SchedulerAdminClient(this.addr, grpc.credentials.createInsecure());
    this.closers.push(() => c.close());
    return c;
  }

  async dispose(): Promise<void> {
    for (const close of this.closers) close();
    await this.stop();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Promisifies one unary call of a generated client. */
export function call<Res>(invoke: (cb: (err: grpc.ServiceError | null, res: Res) => void) => void): Promise<Res> {
  return new Promise((resolve, reject) => invoke((err, res) => (err === null ? resolve(res) : reject(err))));
}

export const store = (id: number, address = `127.0.0.1:${20160 + id}`): Store => ({ id, address, state: StoreState.Up });

/** A region with one peer per store (peer id = region id * 10 + store id). */
export function region(id: number, start: string, end: string, storeIds: readonly number[], version = 1, confVer = 1): Region {
  return {
    id, startKey: Buffer.from(start), endKey: Buffer.from(end), regionEpoch: { confVer, version },
    peers: storeIds.map((storeId) => ({ id: id * 10 + storeId, storeId })),
  };
}

/** Polls `probe` until it returns a value (not undefined), for at most `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
