/**
 * Test support: a scheduler and three stores in this process on loopback
 * (20 ms ticks, 200 ms heartbeats, temp data dirs), started the way
 * server/cluster_store.test.ts starts them, ready once the first region has
 * three replicas. For tests of what runs on top of a cluster (the
 * transactional client, the CLI). No production code imports it.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PdClient } from '../client/scheduler_client.js';
import { DEFAULT_RAFTSTORE_CONFIG } from '../raftstore/config.js';
import { startSchedulerServer } from '../scheduler/server/scheduler_server.js';
import type { RunningSchedulerServer } from '../scheduler/server/scheduler_server.js';
import { silentLogger } from '../util/log.js';
import { startClusterStore } from './cluster_store.js';
import type { RunningClusterStore } from './cluster_store.js';

export interface TestCluster {
  /** The temp dir holding every data dir (tests may put files there). */
  readonly root: string;
  readonly scheduler: RunningSchedulerServer;
  readonly stores: readonly RunningClusterStore[];
  /** Stops the stores and the scheduler and removes the temp dir. */
  stop(): Promise<void>;
}

/** Polls `cond` every 20 ms; throws after `timeoutMs`. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Starts the cluster under a new temp dir named by `prefix`; resolves once the first region has three replicas. */
export async function startTestCluster(prefix: string): Promise<TestCluster> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const scheduler = await startSchedulerServer({ dataDir: path.join(root, 'scheduler'), addr: '127.0.0.1:0', logger: silentLogger(), tickMs: 50 });
  const stores: RunningClusterStore[] = [];
  const start = async (i: number): Promise<void> => {
    stores.push(await startClusterStore({
      dataDir: path.join(root, `store-${i}`), addr: '127.0.0.1:0', pd: scheduler.addr, logger: silentLogger(),
      baseTickMs: 20, config: DEFAULT_RAFTSTORE_CONFIG, regionHeartbeatMs: 200, storeHeartbeatMs: 200,
    }));
  };
  // The first store bootstraps the cluster; the others join it.
  await start(0);
  await Promise.all([start(1), start(2)]);
  const pd = new PdClient({ addrs: scheduler.addr });
  try {
    await waitFor('three replicas of the first region', async () => ((await pd.getRegion(new Uint8Array()))?.region.peers.length ?? 0) === 3);
  } finally {
    pd.close();
  }
  return {
    root, scheduler, stores,
    async stop(): Promise<void> {
      await Promise.all(stores.map((s) => s.stop()));
      await scheduler.stop();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
}
