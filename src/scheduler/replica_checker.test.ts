// Goal: the replica checker repairs regions without ever leaving a region
// with fewer live peers than a majority: missing replicas are added, extra
// ones removed (down / offline first), peers on offline stores moved, and a
// peer on a down store replaced by removing it BEFORE adding its successor.
// Method: TinyKV's testReplicaCheckerSuite (untagged) on the mock cluster,
// plus scenarios for down stores that walk each plan with isQuorumSafe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isQuorumSafe } from './placement.js';
import type { OpStep } from './operator.js';
import { withRegion } from './region_info.js';
import type { RegionInfo } from './region_info.js';
import { ReplicaChecker } from './replica_checker.js';
import { MockCluster } from './_mock_cluster.js';
import { checkAddPeer, checkRemovePeer, checkTransferPeer, setPeers } from './_testing.js';

function addPeer(r: RegionInfo, id: number, storeId: number): RegionInfo {
  return withRegion(r, { meta: { ...r.meta, peers: [...r.meta.peers, { id, storeId }] } });
}

function removeStorePeer(r: RegionInfo, storeId: number): RegionInfo {
  const peers = r.meta.peers.filter((p) => p.storeId !== storeId);
  const out = setPeers(r, peers);
  return out.leader === undefined ? withRegion(out, { leader: peers[0] }) : out;
}

test('TestBasic (replica checker): add the missing replica, remove the extra, move off offline', () => {
  const tc = new MockCluster();
  const rc = new ReplicaChecker();
  tc.addRegionStore(1, 4);
  tc.addRegionStore(2, 3);
  tc.addRegionStore(3, 2);
  tc.addRegionStore(4, 1);
  let region = tc.addLeaderRegion(1, 1, 2);
  checkAddPeer(rc.check(tc, region, tc.nowMs), 'replica', 4);
  tc.setStoreDown(4);
  checkAddPeer(rc.check(tc, region, tc.nowMs), 'replica', 3);
  tc.setStoreUp(4);
  checkAddPeer(rc.check(tc, region, tc.nowMs), 'replica', 4);
  region = addPeer(region, 2001, 4);
  assert.equal(rc.check(tc, region, tc.nowMs), undefined);
  region = addPeer(region, 2002, 3);
  checkRemovePeer(rc.check(tc, region, tc.nowMs), 1);
  region = removeStorePeer(region, 1);
  tc.setStoreOffline(3);
  checkTransferPeer(rc.check(tc, region, tc.nowMs), 'replica', 3, 1);
});

test('TestLostStore: a peer on a store the scheduler does not know is left alone', () => {
  const tc = new MockCluster();
  tc.addRegionStore(1, 1);
  tc.addRegionStore(2, 1);
  const region = tc.addLeaderRegion(1, 1, 2, 3);
  assert.equal(new ReplicaChecker().check(tc, region, tc.nowMs), undefined);
});

test('TestOffline (replica checker): grow to 3, trim the fullest, prefer offline, then move off offline', () => {
  const tc = new MockCluster({ maxReplicas: 3 });
  const rc = new ReplicaChecker();
  for (const id of [1, 2, 3, 4]) tc.addRegionStore(id, id);
  let region = tc.addLeaderRegion(1, 1);
  checkAddPeer(rc.check(tc, region, tc.nowMs), 'replica', 2);
  region = addPeer(region, 2001, 2);
  checkAddPeer(rc.check(tc, region, tc.nowMs), 'replica', 3);
  region = addPeer(region, 2002, 3);
  region = addPeer(region, 2003, 4);
  checkRemovePeer(rc.check(tc, region, tc.nowMs), 4);
  tc.setStoreOffline(3);
  checkRemovePeer(rc.check(tc, region, tc.nowMs), 3);
  region = removeStorePeer(region, 4);
  checkTransferPeer(rc.check(tc, region, tc.nowMs), 'replica', 3, 4);
  tc.addRegionStore(5, 3);
  checkTransferPeer(rc.check(tc, region, tc.nowMs), 'replica', 3, 5);
});

test('a peer on a down store is replaced remove-first, and each step keeps a live majority', () => {
  const tc = new MockCluster({ maxReplicas: 3 });
  const rc = new ReplicaChecker();
  for (const id of [1, 2, 3, 4]) tc.addRegionStore(id, 5);
  const region = tc.addLeaderRegion(1, 1, 2, 3);
  assert.equal(rc.check(tc, region, tc.nowMs), undefined);
  tc.setStoreDown(3);
  const op = rc.check(tc, region, tc.nowMs);
  assert.ok(op !== undefined);
  assert.equal(op.desc, 'replace-down-peer');
  assert.deepEqual(op.steps.map((s) => [s.type, 'storeId' in s ? s.storeId : -1]), [['removePeer', 3], ['addPeer', 4]]);
  assert.ok(isQuorumSafe(tc, region, op.steps, tc.nowMs));
  // The other order would pass through 4 peers with only 2 live.
  const addFirst: OpStep[] = [op.steps[1] as OpStep, op.steps[0] as OpStep];
  assert.equal(isQuorumSafe(tc, region, addFirst, tc.nowMs), false);
});

test('five replicas with two down: replaced one at a time, never below a live majority', () => {
  const tc = new MockCluster({ maxReplicas: 5 });
  const rc = new ReplicaChecker();
  for (const id of [1, 2, 3, 4, 5, 6, 7]) tc.addRegionStore(id, id);
  let region = tc.addLeaderRegion(1, 1, 2, 3, 4, 5);
  tc.setStoreDown(4);
  tc.setStoreDown(5);
  let op = rc.check(tc, region, tc.nowMs);
  assert.deepEqual(op?.steps.map((s) => s.type), ['removePeer', 'addPeer']);
  assert.ok(op?.steps[0]?.type === 'removePeer' && op.steps[0].storeId === 4);
  assert.ok(op?.steps[1]?.type === 'addPeer' && op.steps[1].storeId === 6);
  // Apply it: the new peer on 6 is still catching up (pending).
  region = removeStorePeer(region, 4);
  region = addPeer(region, 3001, 6);
  region = withRegion(region, { pendingPeers: [{ id: 3001, storeId: 6 }] });
  op = rc.check(tc, region, tc.nowMs);
  assert.ok(op?.steps[0]?.type === 'removePeer' && op.steps[0].storeId === 5, op?.describe());
  assert.ok(op?.steps[1]?.type === 'addPeer' && op.steps[1].storeId === 7, op?.describe());
  assert.ok(isQuorumSafe(tc, region, op.steps, tc.nowMs));
});

test('no plan for a region that lost its majority; extra replicas drop the down peer first', () => {
  const tc = new MockCluster({ maxReplicas: 3 });
  const rc = new ReplicaChecker();
  for (const id of [1, 2, 3, 4, 5]) tc.addRegionStore(id, 1);
  const region = tc.addLeaderRegion(1, 1, 2, 3);
  tc.setStoreDown(2);
  tc.setStoreDown(3);
  assert.equal(rc.check(tc, region, tc.nowMs), undefined);
  const four = tc.addLeaderRegion(2, 1, 4, 5, 2);
  const op = rc.check(tc, four, tc.nowMs);
  assert.equal(op?.desc, 'remove-down-peer');
  checkRemovePeer(op, 2);
});

test('a lone down peer is removed when no store can take its replacement', () => {
  const tc = new MockCluster({ maxReplicas: 3 });
  for (const id of [1, 2, 3]) tc.addRegionStore(id, 1);
  const region = tc.addLeaderRegion(1, 1, 2, 3);
  tc.setStoreDown(3);
  const op = new ReplicaChecker().check(tc, region, tc.nowMs);
  assert.equal(op?.desc, 'remove-down-peer');
  checkRemovePeer(op, 3);
});

test('isQuorumSafe: growth from one replica is allowed, removing below a live majority is not', () => {
  const tc = new MockCluster({ maxReplicas: 3 });
  for (const id of [1, 2, 3, 4]) tc.addRegionStore(id, 1);
  const one = tc.addLeaderRegion(1, 1);
  assert.ok(isQuorumSafe(tc, one, [{ type: 'addPeer', storeId: 2, peerId: 9 }], tc.nowMs));
  const three = tc.addLeaderRegion(2, 1, 2, 3);
  tc.setStoreDown(3);
  assert.equal(isQuorumSafe(tc, three, [{ type: 'removePeer', storeId: 2 }], tc.nowMs), false, '1 live of 2');
  assert.ok(isQuorumSafe(tc, three, [{ type: 'removePeer', storeId: 3 }], tc.nowMs));
});
