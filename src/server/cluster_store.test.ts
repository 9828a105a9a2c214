// Goal: the real cluster works end to end in one process: a scheduler and
// three stores over gRPC on loopback, each store on LMDB. The first store
// bootstraps, the scheduler's replica checker gives every region three
// replicas, regions split under load, a routed client reads back every
// acknowledged write across regions, a store restarted on a new port is
// found again through the scheduler, writes keep succeeding while one
// store is down, and a store down for good has its replicas re-created on a
// spare store.
// Method: startSchedulerServer + startClusterStore in temp dirs with a 20 ms
// tick, 200 ms heartbeats and a 4 KiB split size; RawClient({ pd }).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RawClient } from '../client/raw_client.js';
import { PdClient } from '../client/scheduler_client.js';
import { DEFAULT_RAFTSTORE_CONFIG } from '../raftstore/config.js';
import { startSchedulerServer } from '../scheduler/server/scheduler_server.js';
import type { RunningSchedulerServer } from '../scheduler/server/scheduler_server.js';
import { silentLogger } from '../util/log.js';
import { startClusterStore } from './cluster_store.js';
import type { RunningClusterStore } from './cluster_store.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));
const key = (i: number): string => `key-${String(i).padStart(4, '0')}`;

async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 30_000, state?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}${state === undefined ? '' : `:\n${state()}`}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('a cluster of a scheduler and three stores', () => {
  let root: string;
  let scheduler: RunningSchedulerServer;
  const stores: (RunningClusterStore | undefined)[] = [];
  let client: RawClient;
  let pd: PdClient;
  const config = { ...DEFAULT_RAFTSTORE_CONFIG, regionSplitSizeBytes: 4096, regionMaxSizeBytes: 6144, splitCheckTickTicks: 5 };

  const startStore = async (i: number): Promise<RunningClusterStore> => {
    const s = await startClusterStore({
      dataDir: path.join(root, `store-${i}`), addr: '127.0.0.1:0', pd: scheduler.addr, logger: silentLogger(),
      baseTickMs: 20, config, regionHeartbeatMs: 200, storeHeartbeatMs: 200,
    });
    stores[i] = s;
    return s;
  };

  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'tinykv-cluster-'));
    scheduler = await startSchedulerServer({
      dataDir: path.join(root, 'scheduler'), addr: '127.0.0.1:0', logger: silentLogger(), tickMs: 50,
      // Short enough for the repair test below; longer than any restart in the other tests.
      config: { maxStoreDownTimeMs: 4_000, storeDisconnectTimeMs: 1_000 },
    });
    await startStore(0);
    await Promise.all([startStore(1), startStore(2)]);
    client = new RawClient({ pd: scheduler.addr, deadlineMs: 20_000 });
    pd = new PdClient({ addrs: scheduler.addr });
  });

  after(async () => {
    client.close();
    pd.close();
    await Promise.all(stores.map((s) => s?.stop()));
    await scheduler.stop();
    fs.rmSync(root, { recursive: true, force: true });
  });

  test('the first store bootstraps and the first region gets three replicas', async () => {
    assert.equal(new Set(stores.map((s) => s?.storeId)).size, 3);
    await waitFor('three replicas of the first region', async () => ((await pd.getRegion(enc('')))?.region.peers.length ?? 0) === 3);
    const stored = await pd.getAllStores();
    assert.equal(stored.length, 3);
  });

  test('regions split under load and every write reads back, also by scan', async () => {
    const value = 'v'.repeat(100);
    const n = 300;
    for (let i = 0; i < n; i += 30) {
      await Promise.all(Array.from({ length: 30 }, (_, j) => client.put(enc(key(i + j)), enc(`${value}-${i + j}`))));
    }
    await waitFor('splits', async () => (await pd.scanRegions(enc(''), enc(''), 100)).length >= 3);
    for (let i = 0; i < n; i += 37) assert.equal(dec(await client.get(enc(key(i)))), `${value}-${i}`);
    const all = await client.scan(enc(''), 1000);
    assert.equal(all.length, n);
    assert.equal(dec(all[n - 1]?.key), key(n - 1));
  });

  test('writes go on while a store is down; the store comes back on a new port and catches up', async () => {
    const victim = stores[2];
    assert.ok(victim !== undefined);
    const oldAddr = victim.addr;
    await victim.stop();
    stores[2] = undefined;
    for (let i = 0; i < 20; i++) await client.put(enc(`down-${i}`), enc(`d${i}`));
    const back = await startStore(2);
    assert.equal(back.storeId, victim.storeId);
    assert.notEqual(back.addr, oldAddr);
    await waitFor('the new address at the scheduler', async () => (await pd.getStore(back.storeId))?.address === back.addr);
    for (let i = 0; i < 20; i++) assert.equal(dec(await client.get(enc(`down-${i}`))), `d${i}`);
    // Its peers catch up: every region it holds reaches the leader's applied index eventually.
    await waitFor('the restarted store to catch up', async () => {
      for (const id of back.node.regionIds()) {
        const leaderStore = stores.find((s) => s?.node.isLeader(id));
        if (leaderStore !== undefined && leaderStore.node.appliedIndex(id) > back.node.appliedIndex(id)) return false;
      }
      return true;
    });
  });

  test('a store down longer than the max down time has its replicas re-created elsewhere', async () => {
    const spare = await startStore(3);
    const dead = stores[0];
    assert.ok(dead !== undefined);
    await dead.stop();
    stores[0] = undefined;
    const describe = (): string => {
      const c = scheduler.core.cluster;
      const regions = c.getRegions().map((r) => `region ${r.meta.id} peers ${r.meta.peers.map((p) => `${p.id}@${p.storeId}`).join(',')} leader ${r.leader?.storeId ?? '-'}`);
      const ops = c.operators.getOperators().map((op) => `op region ${op.regionId} ${op.kind} ${JSON.stringify(op.steps)}`);
      const st = c.getStores().map((st) => `store ${st.meta.id} ${st.meta.state} silent ${Date.now() - (st.lastHeartbeatMs ?? 0)} ms`);
      return [...regions, ...ops, ...st].join('\n');
    };
    await waitFor('every region back to 3 replicas, none on the dead store', async () => {
      const regions = await pd.scanRegions(enc(''), enc(''), 100);
      return regions.every((r) => r.region.peers.length === 3 && r.region.peers.every((p) => p.storeId !== dead.storeId));
    }, 60_000, describe);
    assert.ok(spare.node.regionIds().length > 0);
    for (let i = 0; i < 20; i++) assert.equal(dec(await client.get(enc(`down-${i}`))), `d${i}`);
  });
});
