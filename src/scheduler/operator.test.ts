// Goal: operators advance only on what the region's own heartbeats show,
// re-send the current step on every heartbeat until it is done, wait (send
// nothing) while an added peer catches up, end on success, timeout or when
// the region changed under them, and respect one-operator-per-region and the
// per-store limit. Method: a RaftCluster with 4 stores and region 1 on stores
// 1-3; heartbeats are hand-built RegionHeartbeatRequests at chosen times.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChangeType } from '../pb/eraftpb.js';
import { StoreState } from '../pb/metapb.js';
import type { Peer, Region } from '../pb/metapb.js';
import { OperatorStatus as PbOperatorStatus } from '../pb/schedulerpb.js';
import type { RegionHeartbeatRequest, StoreStats } from '../pb/schedulerpb.js';
import { RaftCluster } from './cluster.js';
import { makeScheduleConfig } from './config.js';
import type { ScheduleConfig } from './config.js';
import { IdAllocator } from './id_allocator.js';
import { Operator, toPbOperatorStatus } from './operator.js';
import { createMovePeerOperator } from './operator_builder.js';
import type { OperatorDispatch } from './operator_controller.js';
import type { RegionInfo } from './region_info.js';
import { MemorySchedulerStorage } from './storage.js';

const P = (id: number, storeId: number): Peer => ({ id, storeId });

function regionPb(id: number, confVer: number, version: number, peers: Peer[], range: [string, string] = ['', '']): Region {
  return { id, startKey: Buffer.from(range[0]), endKey: Buffer.from(range[1]), regionEpoch: { confVer, version }, peers };
}

function hb(region: Region, leader: Peer, pendingPeers: Peer[] = []): RegionHeartbeatRequest {
  return { header: { clusterId: 7 }, region, leader, pendingPeers, approximateSize: 0 };
}

async function setUp(config: Partial<ScheduleConfig> = {}): Promise<{ cluster: RaftCluster; pushed: OperatorDispatch[]; region: RegionInfo }> {
  const storage = new MemorySchedulerStorage();
  const pushed: OperatorDispatch[] = [];
  const cluster = new RaftCluster({
    storage, ids: new IdAllocator({ savedBound: 0, persist: (b) => storage.saveIdBound(b) }), nowMs: 0, clusterId: 7,
    config: makeScheduleConfig(config), onOperatorStep: (d) => pushed.push(d),
  });
  for (const id of [1, 2, 3, 4]) {
    await cluster.putStore({ id, address: `s${id}`, state: StoreState.Up }, 0);
    cluster.handleStoreHeartbeat({ storeId: id } as StoreStats, 0);
  }
  cluster.handleRegionHeartbeat(hb(regionPb(1, 1, 1, [P(11, 1), P(12, 2), P(13, 3)], ['', 'm']), P(11, 1)), 0);
  cluster.handleRegionHeartbeat(hb(regionPb(2, 1, 1, [P(21, 1), P(22, 2), P(23, 4)], ['m', '']), P(22, 2)), 0);
  return { cluster, pushed, region: cluster.getRegion(1) as RegionInfo };
}

function moveOp(cluster: RaftCluster, region: RegionInfo, nowMs = 0): Operator {
  const op = createMovePeerOperator(cluster, region, { desc: 'balance-region', kind: 'balance', nowMs }, 1, 4, 14);
  assert.ok(op !== undefined);
  return op;
}

test('a move runs step by step from heartbeats and re-sends each step until done', async () => {
  const { cluster, pushed, region } = await setUp();
  const op = moveOp(cluster, region);
  assert.deepEqual(op.steps, [
    { type: 'addPeer', storeId: 4, peerId: 14 }, { type: 'transferLeader', fromStoreId: 1, toStoreId: 3 }, { type: 'removePeer', storeId: 1 },
  ]);
  const added = cluster.operators.addOperator(op, region, 0);
  assert.ok(added.ok);
  const first = {
    regionId: 1, storeId: 1,
    response: {
      header: { clusterId: 7, error: undefined }, regionId: 1, regionEpoch: { confVer: 1, version: 1 }, targetPeer: P(11, 1),
      changePeer: { changeType: ConfChangeType.AddNode, peer: P(14, 4) }, transferLeader: undefined,
    },
  };
  assert.deepEqual(added.dispatch, first);
  assert.deepEqual(pushed, [first], 'the first step is pushed at once');
  // Re-sent on every heartbeat until the peer shows up.
  for (let t = 1; t <= 3; t++) assert.deepEqual(cluster.handleRegionHeartbeat(hb(region.meta, P(11, 1)), t), first.response);
  // In the region but pending: nothing to send, keep waiting.
  const withNew = regionPb(1, 2, 1, [P(11, 1), P(12, 2), P(13, 3), P(14, 4)], ['', 'm']);
  assert.equal(cluster.handleRegionHeartbeat(hb(withNew, P(11, 1), [P(14, 4)]), 4), undefined);
  assert.equal(op.currentStepIndex, 0);
  // Caught up: transfer leadership to the follower with the fewest leaders (store 3; store 2 leads region 2).
  const transfer = cluster.handleRegionHeartbeat(hb(withNew, P(11, 1)), 5);
  assert.deepEqual(transfer?.transferLeader, { peer: P(13, 3) });
  assert.equal(transfer?.changePeer, undefined);
  assert.deepEqual(cluster.handleRegionHeartbeat(hb(withNew, P(11, 1)), 6)?.transferLeader, { peer: P(13, 3) });
  // New leader on store 3: remove the old leader's peer; the new leader is the target.
  const remove = cluster.handleRegionHeartbeat(hb(withNew, P(13, 3)), 7);
  assert.deepEqual(remove?.changePeer, { changeType: ConfChangeType.RemoveNode, peer: P(11, 1) });
  assert.deepEqual(remove?.targetPeer, P(13, 3));
  const done = regionPb(1, 3, 1, [P(12, 2), P(13, 3), P(14, 4)], ['', 'm']);
  assert.equal(cluster.handleRegionHeartbeat(hb(done, P(13, 3)), 8), undefined);
  assert.equal(op.status, 'success');
  assert.equal(cluster.operators.hasOperator(1), false);
  assert.equal(cluster.operators.getOperatorRecord(1)?.status, 'success');
  assert.equal(pushed.length, 1, 'only the first step is pushed; the rest ride on heartbeats');
});

test('an operator times out on a heartbeat or, for a silent region, on sweep', async () => {
  const { cluster, region } = await setUp({ operatorTimeoutMs: 1000 });
  const op = moveOp(cluster, region);
  assert.ok(cluster.operators.addOperator(op, region, 0).ok);
  assert.notEqual(cluster.handleRegionHeartbeat(hb(region.meta, P(11, 1)), 1000), undefined);
  assert.equal(cluster.handleRegionHeartbeat(hb(region.meta, P(11, 1)), 1001), undefined);
  assert.equal(op.status, 'timeout');
  const op2 = moveOp(cluster, region, 2000);
  assert.ok(cluster.operators.addOperator(op2, region, 2000).ok);
  assert.deepEqual(cluster.operators.sweep(2500), []);
  assert.deepEqual(cluster.operators.sweep(3001), [op2]);
  assert.equal(cluster.operators.getOperatorRecord(1)?.status, 'timeout');
});

test('an operator is cancelled when the region splits or someone else changes its membership', async () => {
  const { cluster, region } = await setUp();
  const op = moveOp(cluster, region);
  assert.ok(cluster.operators.addOperator(op, region, 0).ok);
  const split = regionPb(1, 1, 2, [P(11, 1), P(12, 2), P(13, 3)], ['', 'g']);
  assert.equal(cluster.handleRegionHeartbeat(hb(split, P(11, 1)), 1), undefined);
  assert.equal(op.status, 'cancel');

  const r = cluster.getRegion(1) as RegionInfo;
  const op2 = moveOp(cluster, r);
  assert.ok(cluster.operators.addOperator(op2, r, 1).ok);
  // conf_ver +1 but the peer it explains is not ours: a foreign removal of store 3's peer.
  const foreign = regionPb(1, 2, 2, [P(11, 1), P(12, 2)], ['', 'g']);
  assert.equal(cluster.handleRegionHeartbeat(hb(foreign, P(11, 1)), 2), undefined);
  assert.equal(op2.status, 'cancel');
});

test('a region removed by an overlapping heartbeat loses its operator', async () => {
  const { cluster, region } = await setUp();
  const op = moveOp(cluster, region);
  assert.ok(cluster.operators.addOperator(op, region, 0).ok);
  // Region 2 merged region 1 in: [ "", "" ) at a higher version.
  cluster.handleRegionHeartbeat(hb(regionPb(2, 1, 5, [P(21, 1), P(22, 2), P(23, 4)]), P(22, 2)), 1);
  assert.equal(cluster.getRegion(1), undefined);
  assert.equal(op.status, 'cancel');
  assert.equal(toPbOperatorStatus(cluster.operators.getOperatorRecord(1)?.status ?? 'running'), PbOperatorStatus.CANCEL);
});

test('an operator built against an older epoch is refused', async () => {
  const { cluster, region } = await setUp();
  const op = moveOp(cluster, region);
  cluster.handleRegionHeartbeat(hb(regionPb(1, 2, 1, [P(11, 1), P(12, 2)], ['', 'm']), P(11, 1)), 1);
  const res = cluster.operators.addOperator(op, cluster.getRegion(1) as RegionInfo, 1);
  assert.equal(res.ok, false);
});

test('one operator per region; per-store limit; admin operators replace others and skip the limit', async () => {
  const { cluster, region } = await setUp({ storeOperatorLimit: 1 });
  const op = moveOp(cluster, region);
  assert.ok(cluster.operators.addOperator(op, region, 0).ok);
  assert.equal(cluster.operators.addOperator(moveOp(cluster, region), region, 0).ok, false, 'region busy');
  const r2 = cluster.getRegion(2) as RegionInfo;
  const leaderMove = Operator.forRegion(r2, { desc: 'balance-leader', kind: 'balance', createdAtMs: 0, steps: [{ type: 'transferLeader', fromStoreId: 2, toStoreId: 4 }] });
  const refused = cluster.operators.addOperator(leaderMove, r2, 0);
  assert.ok(!refused.ok && /store 4/.test(refused.reason), 'store 4 is at its limit');
  const admin2 = Operator.forRegion(r2, { desc: 'admin-transfer-leader', kind: 'admin', createdAtMs: 0, steps: [{ type: 'transferLeader', fromStoreId: 2, toStoreId: 4 }] });
  assert.ok(cluster.operators.addOperator(admin2, r2, 0).ok, 'admin operators are exempt from store limits');
  const admin1 = Operator.forRegion(region, { desc: 'admin-transfer-leader', kind: 'admin', createdAtMs: 0, steps: [{ type: 'transferLeader', fromStoreId: 1, toStoreId: 3 }] });
  assert.ok(cluster.operators.addOperator(admin1, region, 0).ok);
  assert.equal(op.status, 'replace');
  const again = Operator.forRegion(region, { desc: 'admin-transfer-leader', kind: 'admin', createdAtMs: 0, steps: [{ type: 'transferLeader', fromStoreId: 1, toStoreId: 2 }] });
  assert.equal(cluster.operators.addOperator(again, region, 0).ok, false, 'an admin operator is not replaced');
  assert.equal(cluster.operators.storeOperatorCount(4), 0, 'admin operators do not count');
});

test('an operator already satisfied by the region succeeds at once and sends nothing', async () => {
  const { cluster, pushed, region } = await setUp();
  const op = Operator.forRegion(region, { desc: 'admin-transfer-leader', kind: 'admin', createdAtMs: 0, steps: [{ type: 'transferLeader', fromStoreId: 2, toStoreId: 1 }] });
  const res = cluster.operators.addOperator(op, region, 0);
  assert.ok(res.ok && res.dispatch === undefined);
  assert.equal(op.status, 'success');
  assert.equal(pushed.length, 0);
});
