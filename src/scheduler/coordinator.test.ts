// Goal: the coordinator, driven by tick(now) and region heartbeats, repairs
// and balances a cluster to convergence without ever dropping a region below
// a live majority, pushes each new operator's first step through the hook,
// respects its intervals, and validates admin commands. Method: a tiny fake
// raftstore (FakeStores) holds the "true" regions, applies every response
// (one conf change at a time; an added peer is pending until the next round)
// and heartbeats every region back; invariants are checked after each change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChangeType } from '../pb/eraftpb.js';
import { StoreState } from '../pb/metapb.js';
import type { Peer, Region } from '../pb/metapb.js';
import type { RegionHeartbeatResponse, StoreStats } from '../pb/schedulerpb.js';
import { expectMark } from '../util/marks.js';
import { Prng } from '../util/prng.js';
import { RaftCluster } from './cluster.js';
import { makeScheduleConfig } from './config.js';
import type { ScheduleConfig } from './config.js';
import { Coordinator } from './coordinator.js';
import { SchedulerError } from './errors.js';
import { IdAllocator } from './id_allocator.js';
import { majority } from './placement.js';
import { MemorySchedulerStorage } from './storage.js';

interface TrueRegion { region: Region; leader: Peer; pending: Set<number> }

class FakeStores {
  readonly regions = new Map<number, TrueRegion>();
  readonly dead = new Set<number>();
  applied = 0;

  constructor(readonly cluster: RaftCluster, readonly coordinator: Coordinator) {}

  addRegion(id: number, storeIds: number[]): void {
    const peers = storeIds.map((s, i) => ({ id: id * 100 + i, storeId: s }));
    const region: Region = {
      id, startKey: Buffer.from([id]), endKey: Buffer.from([id + 1]), regionEpoch: { confVer: 1, version: 1 }, peers,
    };
    this.regions.set(id, { region, leader: peers[0] as Peer, pending: new Set() });
  }

  apply(resp: RegionHeartbeatResponse): void {
    const t = this.regions.get(resp.regionId);
    assert.ok(t !== undefined);
    assert.deepEqual(resp.regionEpoch, t.region.regionEpoch, 'responses carry the epoch of the heartbeat they answer');
    const epoch = t.region.regionEpoch as { confVer: number; version: number };
    if (resp.changePeer?.peer !== undefined) {
      const peer = resp.changePeer.peer;
      if (resp.changePeer.changeType === ConfChangeType.AddNode) {
        if (t.region.peers.some((p) => p.id === peer.id)) return; // duplicate: raftstore ignores it
        t.region.peers.push({ ...peer });
        t.pending.add(peer.id);
      } else {
        assert.notEqual(peer.id, t.leader.id, 'never asked to remove the leader');
        if (!t.region.peers.some((p) => p.id === peer.id)) return;
        t.region.peers = t.region.peers.filter((p) => p.id !== peer.id);
      }
      epoch.confVer++;
      this.applied++;
      this.checkMajority(t);
    }
    if (resp.transferLeader?.peer !== undefined) {
      const to = t.region.peers.find((p) => p.id === resp.transferLeader?.peer?.id);
      assert.ok(to !== undefined && !this.dead.has(to.storeId), 'leadership goes to a live member');
      t.leader = to;
    }
  }

  /** Invariant: live (not dead, not catching up) peers are a majority. */
  checkMajority(t: TrueRegion): void {
    const live = t.region.peers.filter((p) => !this.dead.has(p.storeId) && !t.pending.has(p.id)).length;
    const deadBefore = t.region.peers.some((p) => this.dead.has(p.storeId));
    if (deadBefore) assert.ok(live >= majority(t.region.peers.length), `region ${t.region.id}: ${live} live of ${t.region.peers.length}`);
  }

  /** One round: stores heartbeat, pending peers catch up, every region heartbeats, the coordinator ticks. */
  async round(nowMs: number): Promise<void> {
    for (const s of this.cluster.getStores()) if (!this.dead.has(s.id)) this.cluster.handleStoreHeartbeat({ storeId: s.id } as StoreStats, nowMs);
    for (const t of this.regions.values()) {
      for (const id of [...t.pending]) {
        const p = t.region.peers.find((q) => q.id === id);
        if (p === undefined || !this.dead.has(p.storeId)) t.pending.delete(id);
      }
      const resp = this.cluster.handleRegionHeartbeat({
        header: undefined, region: structuredClone(t.region), leader: { ...t.leader },
        pendingPeers: t.region.peers.filter((p) => t.pending.has(p.id)), approximateSize: 0,
      }, nowMs);
      if (resp !== undefined) this.apply(resp);
    }
    const report = await this.coordinator.tick(nowMs);
    for (const d of report.dispatches) {
      assert.equal(d.storeId, this.regions.get(d.regionId)?.leader.storeId, 'pushed to the leader store');
      this.apply(d.response);
    }
  }

  storeCounts(): Map<number, number> {
    const m = new Map<number, number>();
    for (const t of this.regions.values()) for (const p of t.region.peers) m.set(p.storeId, (m.get(p.storeId) ?? 0) + 1);
    return m;
  }
}

async function setUp(stores: number, config: Partial<ScheduleConfig> = {}): Promise<{ cluster: RaftCluster; coordinator: Coordinator; fake: FakeStores; pushed: unknown[] }> {
  const storage = new MemorySchedulerStorage();
  const pushed: unknown[] = [];
  const cluster = new RaftCluster({
    storage, ids: new IdAllocator({ savedBound: 10_000, persist: (b) => storage.saveIdBound(b) }), nowMs: 0,
    config: makeScheduleConfig({ maxStoreDownTimeMs: 60_000, storeDisconnectTimeMs: 10_000, ...config }), onOperatorStep: (d) => pushed.push(d),
  });
  for (let id = 1; id <= stores; id++) await cluster.putStore({ id, address: `s${id}`, state: StoreState.Up }, 0);
  const coordinator = new Coordinator(cluster, { rng: new Prng(42) });
  return { cluster, coordinator, fake: new FakeStores(cluster, coordinator), pushed };
}

test('under-replicated regions grow to max replicas; the first step of each operator is pushed', async () => {
  const { cluster, fake, pushed } = await setUp(4, { balanceRegionEnabled: false, balanceLeaderEnabled: false });
  for (let id = 1; id <= 8; id++) fake.addRegion(id, [1]);
  for (let round = 0; round < 40; round++) await fake.round(round * 100);
  for (const t of fake.regions.values()) assert.equal(t.region.peers.length, 3, `region ${t.region.id}`);
  assert.ok(pushed.length > 0);
  assert.equal(cluster.operators.getOperators().length, 0);
});

test('a down store: its peers are replaced remove-first and no region loses its live majority', async () => {
  const { cluster, fake } = await setUp(4, { balanceRegionEnabled: false, balanceLeaderEnabled: false });
  for (let id = 1; id <= 6; id++) fake.addRegion(id, id % 2 === 0 ? [1, 2, 3] : [3, 1, 2]);
  let now = 0;
  for (let round = 0; round < 5; round++) await fake.round((now += 100));
  // Store 3 dies; leaders there move (raft elects someone else).
  fake.dead.add(3);
  for (const t of fake.regions.values()) if (t.leader.storeId === 3) t.leader = t.region.peers.find((p) => p.storeId !== 3) as Peer;
  now += 60_000; // past maxStoreDownTimeMs
  const replaced = expectMark('replica checker: replace lost peer');
  const finished = expectMark('operator controller: operator finished');
  for (let round = 0; round < 60; round++) await fake.round((now += 100));
  replaced.assertHit();
  finished.assertHit();
  for (const t of fake.regions.values()) {
    assert.deepEqual(t.region.peers.map((p) => p.storeId).sort(), [1, 2, 4], `region ${t.region.id}`);
  }
  assert.equal(cluster.getStore(4)?.regionCount, 6);
});

test('balance-region and balance-leader spread an empty store in, keeping 3 replicas', async () => {
  const { cluster, fake } = await setUp(4, { regionScheduleLimit: 2, leaderBalanceTolerance: 1 });
  for (let id = 1; id <= 12; id++) fake.addRegion(id, [1, 2, 3]);
  for (let round = 0; round < 300; round++) await fake.round(round * 200);
  const counts = fake.storeCounts();
  for (const t of fake.regions.values()) assert.equal(t.region.peers.length, 3);
  assert.ok((counts.get(4) ?? 0) >= 8, `store 4 got ${counts.get(4) ?? 0} regions`);
  const leaders = [1, 2, 3, 4].map((s) => cluster.getStore(s)?.leaderCount ?? 0);
  assert.ok(Math.max(...leaders) - Math.min(...leaders) <= 2, `leaders ${leaders.join(',')}`);
  cluster.regions.checkInvariants();
});

test('schedulers run at their intervals and a region never gets two operators', async () => {
  const { cluster, coordinator } = await setUp(4, { balanceRegionEnabled: false, balanceLeaderEnabled: false, patrolRegionIntervalMs: 1000 });
  cluster.handleRegionHeartbeat({ header: undefined, region: { id: 1, startKey: Buffer.alloc(0), endKey: Buffer.alloc(0), regionEpoch: { confVer: 1, version: 1 }, peers: [{ id: 5, storeId: 1 }] }, leader: { id: 5, storeId: 1 }, pendingPeers: [], approximateSize: 0 }, 0);
  for (const id of [1, 2, 3, 4]) cluster.handleStoreHeartbeat({ storeId: id } as StoreStats, 0);
  const a = await coordinator.tick(0);
  assert.equal(a.created.length, 1);
  assert.equal(a.dispatches[0]?.response.changePeer?.changeType, ConfChangeType.AddNode);
  assert.equal((await coordinator.tick(500)).created.length, 0, 'not due yet');
  assert.equal((await coordinator.tick(1000)).created.length, 0, 'the region already has an operator');
});

test('admin commands validate and produce operators; errors are typed', async () => {
  const { cluster, coordinator, pushed } = await setUp(4);
  for (const id of [1, 2, 3, 4]) cluster.handleStoreHeartbeat({ storeId: id } as StoreStats, 0);
  cluster.handleRegionHeartbeat({ header: undefined, region: { id: 1, startKey: Buffer.alloc(0), endKey: Buffer.alloc(0), regionEpoch: { confVer: 3, version: 1 }, peers: [{ id: 5, storeId: 1 }, { id: 6, storeId: 2 }, { id: 7, storeId: 3 }] }, leader: { id: 5, storeId: 1 }, pendingPeers: [], approximateSize: 0 }, 0);
  const code = (c: string) => (e: unknown): boolean => e instanceof SchedulerError && e.code === c;
  await assert.rejects(coordinator.addPeer(9, 4, 0), code('REGION_NOT_FOUND'));
  await assert.rejects(coordinator.addPeer(1, 9, 0), code('STORE_NOT_FOUND'));
  await assert.rejects(coordinator.addPeer(1, 2, 0), code('INVALID_ARGUMENT'));
  assert.throws(() => coordinator.transferLeader(1, 1, 0), code('INVALID_ARGUMENT'));
  assert.throws(() => coordinator.removePeer(1, 4, 0), code('INVALID_ARGUMENT'));
  const d = await coordinator.addPeer(1, 4, 0);
  assert.equal(d?.response.changePeer?.peer?.storeId, 4);
  assert.equal(pushed.length, 1);
  assert.throws(() => coordinator.transferLeader(1, 2, 0), code('OPERATOR_EXISTS'));
  assert.ok(coordinator.cancelOperator(1));
  assert.equal(cluster.operators.getOperatorRecord(1)?.status, 'cancel');
  const r = coordinator.removePeer(1, 1, 0);
  assert.equal(r?.response.transferLeader?.peer?.storeId !== undefined, true, 'removing the leader transfers leadership first');
  assert.equal(cluster.operators.getOperator(1)?.steps.length, 2);
  coordinator.cancelOperator(1);
  assert.equal(coordinator.transferLeader(1, 3, 0)?.response.transferLeader?.peer?.id, 7);
});

test('an operator whose target store stops reporting is cancelled, and the region is repaired', async () => {
  const { cluster, coordinator, fake } = await setUp(4, { balanceRegionEnabled: false, balanceLeaderEnabled: false });
  fake.addRegion(1, [1, 2, 3]);
  let now = 0;
  for (let round = 0; round < 3; round++) await fake.round((now += 100));
  // A leader transfer to store 3 (e.g. balance-leader's choice), then store 3 dies before it happens.
  coordinator.transferLeader(1, 3, now);
  fake.dead.add(3);
  const cancelled = expectMark('coordinator: operator to an unreachable store cancelled');
  now += 10_000; // past storeDisconnectTimeMs: store 3 is no longer a target
  await coordinator.tick(now);
  cancelled.assertHit();
  assert.equal(cluster.operators.getOperator(1), undefined);
  now += 60_000; // past maxStoreDownTimeMs: the peer on store 3 is lost and gets replaced
  for (let round = 0; round < 40; round++) await fake.round((now += 100));
  assert.deepEqual(fake.regions.get(1)?.region.peers.map((p) => p.storeId).sort(), [1, 2, 4]);
  assert.equal(cluster.operators.getOperators().length, 0);
});

test('a repair replaces a balance operator of the same region; a balance operator does not replace a repair', async () => {
  const { cluster } = await setUp(4);
  for (const id of [1, 2, 3, 4]) cluster.handleStoreHeartbeat({ storeId: id } as StoreStats, 0);
  cluster.handleRegionHeartbeat({ header: undefined, region: { id: 1, startKey: Buffer.alloc(0), endKey: Buffer.alloc(0), regionEpoch: { confVer: 3, version: 1 }, peers: [{ id: 5, storeId: 1 }, { id: 6, storeId: 2 }, { id: 7, storeId: 3 }] }, leader: { id: 5, storeId: 1 }, pendingPeers: [], approximateSize: 0 }, 0);
  const region = cluster.getRegion(1);
  assert.ok(region !== undefined);
  const { Operator } = await import('./operator.js');
  const balance = Operator.forRegion(region, { desc: 'balance-leader', kind: 'balance', steps: [{ type: 'transferLeader', fromStoreId: 1, toStoreId: 2 }], createdAtMs: 0 });
  const repair = Operator.forRegion(region, { desc: 'replace-down-peer', kind: 'replica', steps: [{ type: 'removePeer', storeId: 3 }], createdAtMs: 0 });
  assert.ok(cluster.operators.addOperator(balance, region, 0).ok);
  assert.ok(cluster.operators.addOperator(repair, region, 0).ok, 'repair replaces balance');
  assert.equal(balance.status, 'replace');
  const again = Operator.forRegion(region, { desc: 'balance-leader', kind: 'balance', steps: [{ type: 'transferLeader', fromStoreId: 1, toStoreId: 2 }], createdAtMs: 0 });
  assert.equal(cluster.operators.addOperator(again, region, 0).ok, false);
});
