// Goal: TinyKV's TestConcurrentHandleRegion3C (scheduler/server/cluster_test.go,
// PEER-SUITE.md §2.4): a real scheduler server with 3 stores and their
// heartbeat streams handles 2000 concurrent region heartbeats for adjacent
// regions without an error.
// Method: the server in-process on 127.0.0.1:0 with its checkers on; one
// PdClient per store (as each store process has one). As in TinyKV, the
// first store's stream must first receive an answer (here: the replica
// checker's add-peer step for the bootstrap region, pushed on its stream).
// Then 2000 regions [%5d(i), %5d(i+1)) (the first starting at "", the last
// ending at "") are reported at once, spread over the three streams by
// leader store; every one must be accepted and no answer may carry an error.
// Deviations: TinyKV calls HandleRegionHeartbeat in-process from goroutines;
// we send over the gRPC streams, which is what "concurrent" means for a
// single-threaded server. TinyKV's streams report epoch-less regions; ours
// carry epoch {1, 1}, since an epoch-less region is stale next to the
// bootstrap region (which TinyKV's bootstrap does not have).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PdClient } from '../../client/scheduler_client.js';
import { StoreStats } from '../../pb/schedulerpb.js';
import type { RegionHeartbeatResponse } from '../../pb/schedulerpb.js';
import type { Region } from '../../pb/metapb.js';
import { eventually, store, TestScheduler } from './_testing.js';

const CONCURRENT = 2000;
const key = (i: number): Buffer => Buffer.from(String(i).padStart(5, ' ')); // Go's fmt.Sprintf("%5d", i)

test('TestConcurrentHandleRegion3C: 2000 concurrent region heartbeats over 3 store streams, no error', async () => {
  const t = new TestScheduler();
  // Checkers on (TinyKV's test server runs its coordinator); balancers off to keep the run short.
  await t.start({ balanceLeaderEnabled: false, balanceRegionEnabled: false }, 20);
  const clients = [0, 1, 2].map(() => new PdClient({ addrs: t.addr }));
  const errors: unknown[] = [];
  const answers: RegionHeartbeatResponse[][] = [[], [], []];
  try {
    const [c0, c1, c2] = clients as [PdClient, PdClient, PdClient];
    const storeIds = [await c0.allocId(), await c0.allocId(), await c0.allocId()];
    const first: Region = {
      id: await c0.allocId(), startKey: Buffer.alloc(0), endKey: Buffer.alloc(0), regionEpoch: { confVer: 1, version: 1 },
      peers: [{ id: await c0.allocId(), storeId: storeIds[0] as number }],
    };
    await c0.bootstrap(store(storeIds[0] as number), first);
    for (const [i, client] of [c0, c1, c2].entries()) {
      const storeId = storeIds[i] as number;
      if (i > 0) await client.putStore(store(storeId));
      await client.storeHeartbeat(StoreStats.fromPartial({ storeId, capacity: 1000 * 2 ** 20, available: 1000 * 2 ** 20 }));
    }
    const streams = clients.map((c, i) => c.regionHeartbeats({
      onResponse: (res) => answers[i]?.push(res),
      onError: (err) => errors.push(err),
    }));
    await new Promise((r) => setTimeout(r, 20));
    const [s0] = streams;
    assert.ok(s0 !== undefined);
    s0.send({ region: first, leader: first.peers[0], pendingPeers: [], approximateSize: 0 });
    // Make sure the first store can receive one answer (TinyKV waits for it too).
    const step = await eventually('an answer on the first store\'s stream', () => answers[0]?.[0]);
    assert.equal(step.regionId, first.id);

    // Ids from a local allocator, as TinyKV's test uses a mock one: far above the scheduler's.
    let nextId = 1_000_000;
    const heartbeats = Array.from({ length: CONCURRENT }, (_, i) => {
      const peer = { id: nextId++, storeId: storeIds[i % 3] as number };
      const region: Region = {
        id: nextId++, startKey: i === 0 ? Buffer.alloc(0) : key(i), endKey: i === CONCURRENT - 1 ? Buffer.alloc(0) : key(i + 1),
        regionEpoch: { confVer: 1, version: 1 }, peers: [peer],
      };
      return { stream: i % 3, heartbeat: { region, leader: peer, pendingPeers: [], approximateSize: 0 } };
    });
    const started = Date.now();
    // All at once, in one turn of the event loop.
    for (const { stream, heartbeat } of heartbeats) streams[stream]?.send(heartbeat);
    const regionIds = heartbeats.map((h) => h.heartbeat.region.id);
    // Poll the in-process core (cheap); then check through the RPC once.
    const core = t.server?.core;
    assert.ok(core !== undefined);
    await eventually('every region known', () => (core.cluster.getRegions().length === CONCURRENT ? true : undefined), 8_000);
    const all = await c0.scanRegions(Buffer.alloc(0), Buffer.alloc(0), 0);
    assert.ok(all.every((r) => r.leader !== undefined));
    assert.deepEqual(all.map((r) => r.region.id), regionIds, 'the adjacent regions, in key order');
    assert.deepEqual(errors, [], 'no heartbeat was refused');
    for (const a of answers.flat()) assert.equal(a.header?.error, undefined);
    assert.equal(streams.reduce((n, s) => n + s.dropped, 0), 0, 'no heartbeat was dropped by the client');
    assert.ok(Date.now() - started < 8_000);
  } finally {
    for (const c of clients) c.close();
    await t.dispose();
  }
});
