// Goal: what the scheduler persists on LMDB comes back after a restart: the
// cluster id created at the first start (before bootstrap), the bootstrap
// meta (rewritten by PutClusterConfig), the GC safe point, stores, regions
// (batched saves and deletes, flushed by close), and the id and TSO bounds,
// which never go backwards.
// Method: a real LMDB data dir in a temp directory, closed and reopened.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Region } from '../../pb/metapb.js';
import { StoreState } from '../../pb/metapb.js';
import { silentLogger } from '../../util/log.js';
import { LmdbSchedulerStorage } from './lmdb_storage.js';

const region = (id: number, start: string, end: string): Region => ({
  id, startKey: Buffer.from(start), endKey: Buffer.from(end), regionEpoch: { confVer: 1, version: id }, peers: [{ id: id + 100, storeId: 1 }],
});

describe('LmdbSchedulerStorage', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinykv-sched-store-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('everything saved comes back after a reopen', async () => {
    const s = new LmdbSchedulerStorage(dir, silentLogger());
    assert.equal(await s.clusterId(() => 77), 77);
    assert.equal(await s.clusterId(() => 99), 77, 'the id is created once');
    const empty = await s.load();
    assert.equal(empty.meta, undefined);
    assert.equal(empty.idBound, 0);
    await s.saveBootstrap({ clusterId: 77, maxPeerCount: 3 }, { id: 1, address: 'a:1', state: StoreState.Up }, region(2, '', ''));
    await s.saveStore({ id: 5, address: 'a:5', state: StoreState.Offline });
    s.saveRegion(region(10, 'a', 'b'));
    s.saveRegion(region(11, 'b', 'c'));
    s.deleteRegion(2);
    await s.saveIdBound(1000);
    await s.saveTsoBound(123_456);
    await s.close();

    const again = new LmdbSchedulerStorage(dir, silentLogger());
    try {
      assert.equal(await again.clusterId(() => 1), 77);
      const loaded = await again.load();
      assert.deepEqual(loaded.meta, { clusterId: 77, maxPeerCount: 3 });
      assert.deepEqual(loaded.stores.map((st) => [st.id, st.address, st.state]), [[1, 'a:1', StoreState.Up], [5, 'a:5', StoreState.Offline]]);
      assert.deepEqual(loaded.regions.map((r) => r.id), [10, 11]);
      assert.equal(Buffer.from(loaded.regions[1]?.startKey ?? []).toString(), 'b');
      assert.equal(loaded.idBound, 1000);
      assert.equal(loaded.tsoBoundMs, 123_456);
      await assert.rejects(again.saveIdBound(999), /backwards/);
    } finally {
      await again.close();
    }
  });

  test('region saves of one turn become one write, the last save of a region wins', async () => {
    const s = new LmdbSchedulerStorage(dir, silentLogger());
    s.saveRegion(region(3, 'a', 'b'));
    s.saveRegion({ ...region(3, 'a', 'c'), regionEpoch: { confVer: 2, version: 9 } });
    await new Promise((r) => setImmediate(r));
    await s.close();
    const again = new LmdbSchedulerStorage(dir, silentLogger());
    try {
      const loaded = await again.load();
      assert.equal(loaded.regions.length, 1);
      assert.equal(loaded.regions[0]?.regionEpoch?.version, 9);
    } finally {
      await again.close();
    }
  });

  test('the cluster config and the GC safe point come back after a reopen', async () => {
    const s = new LmdbSchedulerStorage(dir, silentLogger());
    assert.equal(await s.loadGcSafePoint(), 0n);
    await s.saveBootstrap({ clusterId: 77, maxPeerCount: 3 }, { id: 1, address: 'a:1', state: StoreState.Up }, region(2, '', ''));
    await s.saveClusterConfig({ clusterId: 77, maxPeerCount: 5 });
    const beyond53Bits = (1n << 60n) + 7n;
    await s.saveGcSafePoint(beyond53Bits);
    await s.close();
    const again = new LmdbSchedulerStorage(dir, silentLogger());
    try {
      assert.deepEqual((await again.load()).meta, { clusterId: 77, maxPeerCount: 5 });
      assert.equal(await again.loadGcSafePoint(), beyond53Bits);
    } finally {
      await again.close();
    }
  });
});
