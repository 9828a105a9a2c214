// Goal: RaftCluster keeps TinyKV Project 3C's region heartbeat semantics
// (scheduler/server/cluster_test.go, suite testClusterInfoSuite): staleness
// by epoch, updates on any change, overlapped regions removed, per-store
// aggregates kept equal to the region index, plus the store, bootstrap and
// AskSplit rules the service relies on. Method: TinyKV's fixtures and checks
// (setUpTestCluster, checkRegions, heartbeatRegions) ported one to one; its
// math/rand draws come from a seeded Prng.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreState } from '../pb/metapb.js';
import type { StoreStats } from '../pb/schedulerpb.js';
import { ErrorType } from '../pb/schedulerpb.js';
import { Prng } from '../util/prng.js';
import type { RaftCluster } from './cluster.js';
import { SchedulerError, toErrorType } from './errors.js';
import { newRegionInfo, withRegion } from './region_info.js';
import type { RegionInfo } from './region_info.js';
import type { RegionsInfo } from './regions_info.js';
import { MemorySchedulerStorage } from './storage.js';
import {
  EMPTY, incConfVer, incVersion, key, mergeRegions, newTestCluster, newTestRegions, regionMeta, setPeers, splitRegions,
} from './_testing.js';

function checkRegion(a: RegionInfo | undefined, b: RegionInfo): void {
  assert.ok(a !== undefined, `region ${b.meta.id} missing`);
  assert.deepEqual(a, b);
}

/** TinyKV `checkRegions`. */
function checkRegions(cache: RegionsInfo, regions: readonly RegionInfo[]): void {
  const regionCount = new Map<number, number>();
  const leaderCount = new Map<number, number>();
  const followerCount = new Map<number, number>();
  const inc = (m: Map<number, number>, k: number): void => { m.set(k, (m.get(k) ?? 0) + 1); };
  for (const r of regions) {
    for (const p of r.meta.peers) {
      inc(regionCount, p.storeId);
      if (p.id === r.leader?.id) {
        inc(leaderCount, p.storeId);
        assert.ok(cache.isLeaderOn(p.storeId, r.meta.id));
      } else {
        inc(followerCount, p.storeId);
        assert.ok(cache.isFollowerOn(p.storeId, r.meta.id));
      }
      checkRegion(cache.getRegion(r.meta.id), r);
    }
  }
  assert.equal(cache.getRegionCount(), regions.length);
  for (const [id, n] of regionCount) assert.equal(cache.getStoreRegionCount(id), n);
  for (const [id, n] of leaderCount) assert.equal(cache.getStoreLeaderCount(id), n);
  for (const [id, n] of followerCount) assert.equal(cache.getStoreFollowerCount(id), n);
  const byId = new Map(regions.map((r) => [r.meta.id, r]));
  for (const r of cache.getRegions()) checkRegion(r, byId.get(r.meta.id) as RegionInfo);
  cache.checkInvariants();
}

/** TinyKV `setUpTestCluster`: 3 stores, 3 regions heartbeated one by one. */
async function setUpTestCluster(): Promise<{ cluster: RaftCluster; regions: RegionInfo[] }> {
  const { cluster } = newTestCluster();
  for (let id = 1; id <= 3; id++) await cluster.putStore({ id, address: '', state: StoreState.Up }, 0);
  const regions = newTestRegions(3, 3);
  for (let i = 0; i < regions.length; i++) {
    cluster.processRegionHeartbeat(regions[i] as RegionInfo);
    checkRegions(cluster.regions, regions.slice(0, i + 1));
  }
  return { cluster, regions };
}

function assertStale(fn: () => void): void {
  assert.throws(fn, (e: unknown) => e instanceof SchedulerError && e.code === 'STALE_REGION' && toErrorType(e) === ErrorType.UNKNOWN);
}

test('TestRegionNotUpdate3C: re-heartbeating identical regions changes nothing', async () => {
  const { cluster, regions } = await setUpTestCluster();
  for (const r of regions) {
    cluster.processRegionHeartbeat(r);
    checkRegions(cluster.regions, regions);
  }
});

test('TestRegionUpdateVersion3C: a higher version replaces the region', async () => {
  const { cluster, regions } = await setUpTestCluster();
  for (let i = 0; i < regions.length; i++) {
    regions[i] = incVersion(regions[i] as RegionInfo);
    cluster.processRegionHeartbeat(regions[i] as RegionInfo);
    checkRegions(cluster.regions, regions);
  }
});

test('TestRegionWithStaleVersion3C: an older version is rejected even with a higher conf_ver', async () => {
  const { cluster, regions } = await setUpTestCluster();
  for (let i = 0; i < regions.length; i++) {
    const origin = regions[i] as RegionInfo;
    regions[i] = incVersion(origin);
    cluster.processRegionHeartbeat(regions[i] as RegionInfo);
    checkRegions(cluster.regions, regions);
    assertStale(() => cluster.processRegionHeartbeat(incConfVer(origin)));
    checkRegions(cluster.regions, regions);
  }
});

test('TestRegionUpdateVersionAndConfver3C: version and conf_ver both +1 are accepted', async () => {
  const { cluster, regions } = await setUpTestCluster();
  for (let i = 0; i < regions.length; i++) {
    regions[i] = incConfVer(incVersion(regions[i] as RegionInfo));
    cluster.processRegionHeartbeat(regions[i] as RegionInfo);
    checkRegions(cluster.regions, regions);
  }
});

test('TestRegionWithStaleConfVer3C: an older conf_ver is rejected', async () => {
  const { cluster, regions } = await setUpTestCluster();
  for (let i = 0; i < regions.length; i++) {
    const origin = regions[i] as RegionInfo;
    regions[i] = incConfVer(origin);
    cluster.processRegionHeartbeat(regions[i] as RegionInfo);
    checkRegions(cluster.regions, regions);
    assertStale(() => cluster.processRegionHeartbeat(origin));
    checkRegions(cluster.regions, regions);
  }
});

test('TestRegionAddPendingPeer3C: pending peers are recorded', async () => {
  const { cluster, regions } = await setUpTestCluster();
  const rng = new Prng(7);
  const pendingCounts = [0, 0, 0];
  for (let i = 0; i < regions.length; i++) {
    const r = regions[i] as RegionInfo;
    const pending = r.meta.peers[rng.intInclusive(0, r.meta.peers.length - 1)];
    assert.ok(pending !== undefined);
    pendingCounts[pending.storeId] = (pendingCounts[pending.storeId] ?? 0) + 1;
    regions[i] = withRegion(r, { pendingPeers: [pending] });
    cluster.processRegionHeartbeat(regions[i] as RegionInfo);
    checkRegions(cluster.regions, regions);
  }
  for (let s = 0; s < 3; s++) assert.equal(cluster.regions.getStorePendingPeerCount(s), pendingCounts[s]);
  for (let s = 1; s <= 2; s++) assert.equal(cluster.getStore(s)?.pendingPeerCount, pendingCounts[s]);
});

test('TestRegionRemovePendingPeer3C: pending peers added then removed leave every store at 0', async () => {
  const { cluster, regions } = await setUpTestCluster();
  const rng = new Prng(8);
  for (let i = 0; i < regions.length; i++) {
    const r = regions[i] as RegionInfo;
    regions[i] = withRegion(r, { pendingPeers: [r.meta.peers[rng.intInclusive(0, r.meta.peers.length - 1)] as RegionInfo['meta']['peers'][number]] });
    cluster.processRegionHeartbeat(regions[i] as RegionInfo);
    checkRegions(cluster.regions, regions);
    regions[i] = withRegion(regions[i] as RegionInfo, { pendingPeers: [] });
    cluster.processRegionHeartbeat(regions[i] as RegionInfo);
    checkRegions(cluster.regions, regions);
  }
  for (let s = 1; s <= 3; s++) assert.equal(cluster.getStore(s)?.pendingPeerCount, 0);
});

test('TestRegionRemovePeers3C: peers shrinking at the same epoch are accepted', async () => {
  const { cluster, regions } = await setUpTestCluster();
  for (let i = 0; i < regions.length; i++) {
    const r = regions[i] as RegionInfo;
    regions[i] = setPeers(r, r.meta.peers.slice(0, 1));
    cluster.processRegionHeartbeat(regions[i] as RegionInfo);
    checkRegions(cluster.regions, regions);
  }
});

test('TestRegionAddBackPeers3C: shrink, then restore the original peers', async () => {
  const { cluster, regions } = await setUpTestCluster();
  for (let i = 0; i < regions.length; i++) {
    const origin = regions[i] as RegionInfo;
    regions[i] = setPeers(origin, origin.meta.peers.slice(0, 1));
    cluster.processRegionHeartbeat(regions[i] as RegionInfo);
    checkRegions(cluster.regions, regions);
    regions[i] = origin;
    cluster.processRegionHeartbeat(origin);
    checkRegions(cluster.regions, regions);
  }
});

test('TestRegionChangeLeader3C: a leader change moves leader counts', async () => {
  const { cluster, regions } = await setUpTestCluster();
  for (let i = 0; i < regions.length; i++) {
    const r = regions[i] as RegionInfo;
    regions[i] = withRegion(r, { leader: r.meta.peers[1] });
    cluster.processRegionHeartbeat(regions[i] as RegionInfo);
    checkRegions(cluster.regions, regions);
  }
});

test('TestRegionChangeApproximateSize3C: a size change is accepted', async () => {
  const { cluster, regions } = await setUpTestCluster();
  for (let i = 0; i < regions.length; i++) {
    regions[i] = withRegion(regions[i] as RegionInfo, { approximateSize: 144 });
    cluster.processRegionHeartbeat(regions[i] as RegionInfo);
    checkRegions(cluster.regions, regions);
  }
  assert.equal(cluster.getStore(1)?.regionSize, 3 * 144);
});

test('TestRegionCounts3C: GetStoreRegionCount matches the peer distribution', async () => {
  const { cluster, regions } = await setUpTestCluster();
  const counts = new Map<number, number>();
  for (const r of regions) for (const p of r.meta.peers) counts.set(p.storeId, (counts.get(p.storeId) ?? 0) + 1);
  for (const [id, n] of counts) assert.equal(cluster.getStoreRegionCount(id), n);
});

test('TestRegionGetRegions3C: GetRegions / GetMetaRegions equal the inputs', async () => {
  const { cluster, regions } = await setUpTestCluster();
  for (const r of cluster.getRegions()) checkRegion(r, regions[r.meta.id] as RegionInfo);
  for (const m of cluster.getMetaRegions()) assert.deepEqual(m, (regions[m.id] as RegionInfo).meta);
});

test('TestRegionGetStores3C: region stores hold a peer; follower stores hold a non-leader peer', async () => {
  const { cluster, regions } = await setUpTestCluster();
  for (const r of regions) {
    for (const s of cluster.getRegionStores(r)) assert.ok(r.meta.peers.some((p) => p.storeId === s.id));
    for (const s of cluster.getFollowerStores(r)) {
      const peer = r.meta.peers.find((p) => p.storeId === s.id);
      assert.ok(peer !== undefined);
      assert.notEqual(peer.id, r.leader?.id);
    }
  }
});

test('TestRegionGetStoresInfo3C: each StoreInfo equals the RegionsInfo aggregates', async () => {
  const { cluster } = await setUpTestCluster();
  for (const s of cluster.getStores()) {
    assert.equal(s.leaderCount, cluster.regions.getStoreLeaderCount(s.id));
    assert.equal(s.regionCount, cluster.regions.getStoreRegionCount(s.id));
    assert.equal(s.leaderSize, cluster.regions.getStoreLeaderRegionSize(s.id));
    assert.equal(s.regionSize, cluster.regions.getStoreRegionSize(s.id));
  }
});

test('TestHeartbeatSplit3C: split halves reported in either order', () => {
  const { cluster } = newTestCluster();
  // 1: [nil, nil)
  let region1 = newRegionInfo(regionMeta(1, EMPTY, EMPTY, { confVer: 1, version: 1 }), undefined);
  cluster.processRegionHeartbeat(region1);
  checkRegion(cluster.getRegionByKey(Buffer.from('foo')), region1);

  // split 1 to 2: [nil, m) 1: [m, nil), sync 2 first.
  region1 = incVersion(withRegion(region1, { meta: { ...region1.meta, startKey: Buffer.from('m') } }));
  const region2 = newRegionInfo(regionMeta(2, EMPTY, Buffer.from('m'), { confVer: 1, version: 1 }), undefined);
  cluster.processRegionHeartbeat(region2);
  checkRegion(cluster.getRegionByKey(Buffer.from('a')), region2);
  // [m, nil) is missing before r1's heartbeat.
  assert.equal(cluster.getRegionByKey(Buffer.from('z')), undefined);
  cluster.processRegionHeartbeat(region1);
  checkRegion(cluster.getRegionByKey(Buffer.from('z')), region1);

  // split 1 to 3: [m, q) 1: [q, nil), sync 1 first.
  region1 = incVersion(withRegion(region1, { meta: { ...region1.meta, startKey: Buffer.from('q') } }));
  const region3 = newRegionInfo(regionMeta(3, Buffer.from('m'), Buffer.from('q'), { confVer: 1, version: 1 }), undefined);
  cluster.processRegionHeartbeat(region1);
  checkRegion(cluster.getRegionByKey(Buffer.from('z')), region1);
  checkRegion(cluster.getRegionByKey(Buffer.from('a')), region2);
  // [m, q) is missing before r3's heartbeat.
  assert.equal(cluster.getRegionByKey(Buffer.from('n')), undefined);
  cluster.processRegionHeartbeat(region3);
  checkRegion(cluster.getRegionByKey(Buffer.from('n')), region3);
  cluster.regions.checkInvariants();
});

/** TinyKV `heartbeatRegions`. */
function heartbeatRegions(cluster: RaftCluster, regions: readonly RegionInfo[]): void {
  const check = (r: RegionInfo): void => {
    checkRegion(cluster.getRegion(r.meta.id), r);
    checkRegion(cluster.getRegionByKey(r.meta.startKey), r);
    if (r.meta.endKey.length > 0) checkRegion(cluster.getRegionByKey(key(((r.meta.endKey[0] as number) - 1) & 0xff)), r);
  };
  for (const r of regions) {
    cluster.processRegionHeartbeat(r);
    check(r);
  }
  for (const r of regions) {
    check(r);
    if (r.meta.endKey.length > 0) {
      const next = cluster.getRegionByKey(key(((r.meta.endKey[0] as number) + 1) & 0xff));
      assert.notEqual(next?.meta.id, r.meta.id);
    }
  }
  cluster.regions.checkInvariants();
}

test('TestRegionSplitAndMerge3C: 7 splits, 7 merges, then 14 mixed rounds', () => {
  const { cluster } = newTestCluster();
  let regions = [newRegionInfo(regionMeta(0, EMPTY, EMPTY, { confVer: 0, version: 0 }), undefined)];
  const n = 7; // a byte underflows / overflows beyond 7
  for (let i = 0; i < n; i++) {
    regions = splitRegions(regions);
    heartbeatRegions(cluster, regions);
  }
  for (let i = 0; i < n; i++) {
    regions = mergeRegions(regions);
    heartbeatRegions(cluster, regions);
  }
  for (let i = 0; i < n * 2; i++) {
    regions = (i + 1) % 3 === 0 ? mergeRegions(regions) : splitRegions(regions);
    heartbeatRegions(cluster, regions);
  }
});

test('a heartbeat older than an overlapping region is stale; an equal version replaces it', () => {
  const { cluster } = newTestCluster();
  const a = newRegionInfo(regionMeta(1, EMPTY, Buffer.from('m'), { confVer: 1, version: 3 }), undefined);
  cluster.processRegionHeartbeat(a);
  assertStale(() => cluster.processRegionHeartbeat(newRegionInfo(regionMeta(2, Buffer.from('k'), EMPTY, { confVer: 1, version: 2 }), undefined)));
  assert.equal(cluster.getRegion(2), undefined);
  const b = newRegionInfo(regionMeta(2, Buffer.from('k'), EMPTY, { confVer: 1, version: 3 }), undefined);
  cluster.processRegionHeartbeat(b);
  assert.equal(cluster.getRegion(1), undefined);
  checkRegion(cluster.getRegionByKey(Buffer.from('z')), b);
});

test('regions are saved when their metadata changes and deleted when overlapped', () => {
  const { cluster, storage } = newTestCluster();
  const [r0] = newTestRegions(1, 1);
  assert.ok(r0 !== undefined);
  cluster.processRegionHeartbeat(r0);
  cluster.processRegionHeartbeat(withRegion(r0, { approximateSize: 9 }));
  assert.equal(storage.saveCounts.region, 1, 'a size change alone is not persisted');
  cluster.processRegionHeartbeat(incVersion(r0));
  assert.equal(storage.saveCounts.region, 2);
});

test('getPrevRegion and scanRegions follow PD', async () => {
  const { cluster, regions } = await setUpTestCluster();
  assert.equal(cluster.getPrevRegion(key(0)), undefined);
  checkRegion(cluster.getPrevRegion(key(1)), regions[0] as RegionInfo);
  checkRegion(cluster.getPrevRegion(key(2, 5)), regions[1] as RegionInfo);
  assert.equal(cluster.getPrevRegion(key(9)), undefined, 'no region holds the key');
  assert.deepEqual(cluster.scanRegions(EMPTY, EMPTY, 0).map((r) => r.meta.id), [0, 1, 2]);
  assert.deepEqual(cluster.scanRegions(key(1, 7), EMPTY, 0).map((r) => r.meta.id), [1, 2]);
  assert.deepEqual(cluster.scanRegions(key(0), key(2), 0).map((r) => r.meta.id), [0, 1]);
  assert.deepEqual(cluster.scanRegions(key(0), EMPTY, 2).map((r) => r.meta.id), [0, 1]);
  assert.deepEqual(cluster.regions.getOverlaps(key(0, 5), key(1, 5)).map((r) => r.meta.id), [0, 1]);
});

test('random region selection is per store, filtered and deterministic', async () => {
  const { cluster, regions } = await setUpTestCluster();
  for (let s = 0; s < 3; s++) {
    const leader = cluster.randLeaderRegion(s, new Prng(1));
    assert.equal(leader?.leader?.storeId, s);
    const follower = cluster.randFollowerRegion(s, new Prng(1));
    assert.ok(follower !== undefined && follower.leader?.storeId !== s && follower.meta.peers.some((p) => p.storeId === s));
  }
  assert.equal(cluster.randLeaderRegion(0, new Prng(1), () => false), undefined);
  assert.equal(cluster.randPendingRegion(0, new Prng(1)), undefined);
  const r = withRegion(regions[0] as RegionInfo, { pendingPeers: [(regions[0] as RegionInfo).meta.peers[2] as { id: number; storeId: number }] });
  cluster.processRegionHeartbeat(r);
  assert.equal(cluster.randPendingRegion(2, new Prng(1))?.meta.id, 0);
  const picks = (seed: number): number[] => { const rng = new Prng(seed); return Array.from({ length: 8 }, () => cluster.randFollowerRegion(1, rng)?.meta.id ?? -1); };
  assert.deepEqual(picks(3), picks(3));
});

test('TestStoreHeartbeat: unknown store errors, a known one records stats and time', async () => {
  const { cluster } = newTestCluster();
  for (let id = 1; id <= 3; id++) {
    const stats = { storeId: id, capacity: 100, available: 50, regionCount: 1 } as StoreStats;
    assert.throws(() => cluster.handleStoreHeartbeat(stats, 5), (e: unknown) => e instanceof SchedulerError && e.code === 'STORE_NOT_FOUND');
    await cluster.putStore({ id, address: `127.0.0.1:${id}`, state: StoreState.Up }, 0);
    assert.equal(cluster.getStore(id)?.lastHeartbeatMs, undefined);
    cluster.handleStoreHeartbeat(stats, 5);
    assert.equal(cluster.getStore(id)?.lastHeartbeatMs, 5);
    assert.deepEqual(cluster.getStore(id)?.stats, stats);
  }
  assert.equal(cluster.getStores().length, 3);
});

test('putStore: duplicate address refused, tombstone refused, address update keeps state; stores persist', async () => {
  const { cluster, storage } = newTestCluster();
  await cluster.putStore({ id: 1, address: 'a:1', state: StoreState.Up }, 0);
  await assert.rejects(cluster.putStore({ id: 2, address: 'a:1', state: StoreState.Up }, 0), (e: unknown) => e instanceof SchedulerError && e.code === 'INVALID_ARGUMENT');
  await cluster.removeStore(1);
  await cluster.putStore({ id: 1, address: 'a:2', state: StoreState.Up }, 0);
  assert.equal(cluster.getStore(1)?.meta.state, StoreState.Offline);
  assert.equal(cluster.getStore(1)?.meta.address, 'a:2');
  await cluster.buryStore(1, false);
  await assert.rejects(cluster.putStore({ id: 1, address: 'a:2', state: StoreState.Up }, 0), (e: unknown) => e instanceof SchedulerError && e.code === 'STORE_TOMBSTONE');
  assert.throws(() => cluster.handleStoreHeartbeat({ storeId: 1 } as StoreStats, 1), (e: unknown) => e instanceof SchedulerError && toErrorType(e) === ErrorType.STORE_TOMBSTONE);
  await cluster.putStore({ id: 2, address: 'a:2', state: StoreState.Up }, 0); // a tombstone's address is free again
  assert.deepEqual(cluster.getAllStores(true).map((s) => s.id), [2]);
  assert.deepEqual((await storage.load()).stores.map((s) => [s.id, s.state]), [[1, StoreState.Tombstone], [2, StoreState.Up]]);
  storage.failNext('store');
  await assert.rejects(cluster.putStore({ id: 3, address: 'a:3', state: StoreState.Up }, 0), (e: unknown) => e instanceof SchedulerError && e.code === 'STORAGE');
  assert.equal(cluster.getStore(3), undefined, 'nothing is served before it is durable');
});

test('bootstrap: once, atomically, and survives a reload', async () => {
  const storage = new MemorySchedulerStorage();
  const { cluster } = newTestCluster({ storage });
  assert.equal(cluster.isBootstrapped(), false);
  assert.throws(() => cluster.checkBootstrapped(), (e: unknown) => e instanceof SchedulerError && toErrorType(e) === ErrorType.NOT_BOOTSTRAPPED);
  const store = { id: 1, address: 's1', state: StoreState.Up };
  const region = regionMeta(2, EMPTY, EMPTY, { confVer: 1, version: 1 }, [{ id: 3, storeId: 1 }]);
  await assert.rejects(cluster.bootstrap(store, { ...region, peers: [{ id: 3, storeId: 9 }] }, 0), (e: unknown) => e instanceof SchedulerError && e.code === 'INVALID_ARGUMENT');
  const first = cluster.bootstrap(store, region, 0);
  await assert.rejects(cluster.bootstrap(store, region, 0), (e: unknown) => e instanceof SchedulerError && toErrorType(e) === ErrorType.ALREADY_BOOTSTRAPPED);
  await first;
  assert.equal(cluster.isBootstrapped(), true);
  assert.equal(cluster.getRegionByKey(Buffer.from('x'))?.meta.id, 2);
  assert.equal(cluster.getStore(1)?.regionCount, 1);
  const reloaded = newTestCluster({ storage }).cluster;
  assert.equal(reloaded.isBootstrapped(), false, 'a cluster built without `loaded` starts empty');
  const { RaftCluster } = await import('./cluster.js');
  const { IdAllocator } = await import('./id_allocator.js');
  const loaded = await storage.load();
  const again = new RaftCluster({ storage, ids: new IdAllocator({ savedBound: loaded.idBound, persist: (b) => storage.saveIdBound(b) }), loaded, nowMs: 100 });
  assert.equal(again.isBootstrapped(), true);
  assert.equal(again.getRegion(2)?.leader, undefined, 'a loaded region has no leader until it heartbeats');
  assert.equal(again.getStore(1)?.regionCount, 1);
  assert.equal(again.getStore(1)?.downTimeMs(150), 50, 'silence counts from the load');
});

test('askSplit: unknown region, stale epoch, then 1 + one id per peer', async () => {
  const { cluster } = await setUpTestCluster();
  const r = (cluster.getRegion(1) as RegionInfo).meta;
  await assert.rejects(cluster.askSplit({ ...r, id: 77 }), (e: unknown) => e instanceof SchedulerError && toErrorType(e) === ErrorType.REGION_NOT_FOUND);
  await assert.rejects(cluster.askSplit({ ...r, regionEpoch: { confVer: 2, version: 1 } }), (e: unknown) => e instanceof SchedulerError && e.code === 'STALE_REGION');
  const a = await cluster.askSplit({ ...r, peers: [...r.peers] });
  const b = await cluster.askSplit({ ...r, peers: [...r.peers] });
  assert.equal(a.newPeerIds.length, 3);
  const all = [a.newRegionId, ...a.newPeerIds, b.newRegionId, ...b.newPeerIds];
  assert.equal(new Set(all).size, all.length);
  assert.ok(all.every((id) => id >= 1000));
});
