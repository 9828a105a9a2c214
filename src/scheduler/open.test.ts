// Goal: openScheduler restores everything a restart needs from storage:
// bootstrap state and cluster id, stores, regions, and allocators that never
// repeat an id or a timestamp. Method: open, use, open again over the same
// MemorySchedulerStorage (a crash loses only memory), with a clock that jumps back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreState } from '../pb/metapb.js';
import { Prng } from '../util/prng.js';
import { openScheduler } from './open.js';
import { MemorySchedulerStorage } from './storage.js';
import { composeTs } from './tso.js';

test('openScheduler: a restart keeps the cluster and never repeats ids or timestamps', async () => {
  const storage = new MemorySchedulerStorage();
  let now = 5_000_000;
  const first = await openScheduler(storage, { nowMs: () => now, rng: new Prng(1), clusterId: 77, idStep: 10 });
  assert.equal(first.cluster.isBootstrapped(), false);
  const [storeId, regionId, peerId] = await first.ids.allocMany(3);
  await first.cluster.bootstrap({ id: storeId as number, address: 'a', state: StoreState.Up },
    { id: regionId as number, startKey: Buffer.alloc(0), endKey: Buffer.alloc(0), regionEpoch: { confVer: 1, version: 1 }, peers: [{ id: peerId as number, storeId: storeId as number }] }, now);
  const lastId = await first.ids.alloc();
  const lastTs = composeTs(await first.tso.getTimestamp(5));

  now -= 60_000; // the wall clock went backwards across the restart
  const second = await openScheduler(storage, { nowMs: () => now, rng: new Prng(1), clusterId: 99 });
  assert.equal(second.cluster.isBootstrapped(), true);
  assert.equal(second.cluster.clusterId, 77, 'the saved cluster id wins');
  assert.deepEqual(second.cluster.getAllStores().map((s) => s.id), [storeId]);
  assert.equal(second.cluster.getRegionByKey(Buffer.from('k'))?.meta.id, regionId);
  assert.ok((await second.ids.alloc()) > lastId);
  assert.ok(composeTs(await second.tso.getTimestamp()) > lastTs);
  const report = await second.coordinator.tick(now);
  assert.equal(report.created.length, 0, 'no scheduling for a region whose leader has not reported yet');
});
