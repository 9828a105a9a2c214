// Goal: balance-region makes exactly the moves TinyKV Project 3C expects
// (scheduler/server/schedulers/balance_test.go, suite
// testBalanceRegionSchedulerSuite) and none that would break a region's live
// majority. Method: TinyKV's mockcluster fixtures (store n → n regions of
// size n × 10; regions of size 10) and its operator checks, one to one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../util/prng.js';
import { BalanceRegionScheduler } from './balance_region.js';
import { withRegion } from './region_info.js';
import { MockCluster } from './_mock_cluster.js';
import { checkTransferPeer, checkTransferPeerWithLeaderTransfer } from './_testing.js';

test('TestReplicas13C: single replica moves 4→1 with a leader transfer; offline stores and short regions are skipped', () => {
  const tc = new MockCluster();
  const sb = new BalanceRegionScheduler(new Prng(1));
  tc.setMaxReplicas(1);
  tc.addRegionStore(1, 6);
  tc.addRegionStore(2, 8);
  tc.addRegionStore(3, 8);
  tc.addRegionStore(4, 16);
  tc.addLeaderRegion(1, 4);
  checkTransferPeerWithLeaderTransfer(sb.schedule(tc, tc.nowMs), 'balance', 4, 1);
  // Test stateFilter: when store 1 is offline it is filtered out, store 2 has the fewest.
  tc.setStoreOffline(1);
  tc.updateRegionCount(2, 6);
  checkTransferPeerWithLeaderTransfer(sb.schedule(tc, tc.nowMs), 'balance', 4, 2);
  tc.setMaxReplicas(3);
  assert.equal(sb.schedule(tc, tc.nowMs), undefined);
  tc.setMaxReplicas(1);
  assert.notEqual(sb.schedule(tc, tc.nowMs), undefined);
});

test('TestReplicas33C: three replicas move off the largest store to the smallest suitable one', () => {
  const tc = new MockCluster({ maxReplicas: 3 });
  const sb = new BalanceRegionScheduler(new Prng(2));
  // Store 1 has the largest region score, so the balancer tries to replace its peer.
  tc.addRegionStore(1, 16);
  tc.addRegionStore(2, 15);
  tc.addRegionStore(3, 14);
  tc.addLeaderRegion(1, 1, 2, 3);
  // No other store to move to.
  assert.equal(sb.schedule(tc, tc.nowMs), undefined);
  tc.addRegionStore(4, 2);
  checkTransferPeer(sb.schedule(tc, tc.nowMs), 'balance', 1, 4);
  tc.addRegionStore(5, 1);
  checkTransferPeer(sb.schedule(tc, tc.nowMs), 'balance', 1, 5);
  tc.addRegionStore(6, 0);
  checkTransferPeer(sb.schedule(tc, tc.nowMs), 'balance', 1, 6);
  // If store 6 is not available, choose store 5.
  tc.setStoreDown(6);
  checkTransferPeer(sb.schedule(tc, tc.nowMs), 'balance', 1, 5);
  tc.setStoreDown(4);
  tc.setStoreDown(5);
  tc.setStoreDown(6);
  // Store 7 is larger than store 1: nothing to gain.
  tc.addRegionStore(7, 20);
  assert.equal(sb.schedule(tc, tc.nowMs), undefined);
});

test('TestReplicas53C: five replicas, source = largest holder, target = smallest non-holder', () => {
  const tc = new MockCluster({ maxReplicas: 5 });
  const sb = new BalanceRegionScheduler(new Prng(3));
  tc.addRegionStore(1, 4);
  tc.addRegionStore(2, 5);
  tc.addRegionStore(3, 6);
  tc.addRegionStore(4, 7);
  tc.addRegionStore(5, 28);
  tc.addLeaderRegion(1, 1, 2, 3, 4, 5);
  tc.addRegionStore(6, 1);
  checkTransferPeer(sb.schedule(tc, tc.nowMs), 'balance', 5, 6);
  tc.addRegionStore(7, 5);
  checkTransferPeer(sb.schedule(tc, tc.nowMs), 'balance', 5, 6);
  tc.addLeaderRegion(1, 2, 3, 4, 5, 6);
  checkTransferPeer(sb.schedule(tc, tc.nowMs), 'balance', 5, 1);
  tc.addRegionStore(11, 29);
  tc.addRegionStore(12, 8);
  tc.addRegionStore(13, 7);
  tc.addLeaderRegion(1, 2, 3, 11, 12, 13);
  checkTransferPeer(sb.schedule(tc, tc.nowMs), 'balance', 11, 6);
});

test('TestReplacePendingRegion3C: a region with a pending peer on the source is chosen first', () => {
  const tc = new MockCluster({ maxReplicas: 3 });
  const sb = new BalanceRegionScheduler(new Prng(4));
  tc.addRegionStore(1, 16);
  tc.addRegionStore(2, 7);
  tc.addRegionStore(3, 15);
  tc.addRegionStore(4, 10);
  tc.addLeaderRegion(1, 1, 2, 3);
  tc.addLeaderRegion(2, 1, 2, 3);
  const r3 = tc.addLeaderRegion(3, 2, 1, 3);
  tc.putRegion(withRegion(r3, { pendingPeers: [r3.meta.peers.find((p) => p.storeId === 1) as { id: number; storeId: number }] }));
  for (let i = 0; i < 10; i++) assert.equal(sb.schedule(tc, tc.nowMs)?.regionId, 3);
  checkTransferPeer(sb.schedule(tc, tc.nowMs), 'balance', 1, 4);
});

test('balance-region skips regions the filter rejects and moves only when worth 2 × region size', () => {
  const tc = new MockCluster({ maxReplicas: 1 });
  const sb = new BalanceRegionScheduler(new Prng(5));
  tc.addRegionStore(1, 3); // 30
  tc.addRegionStore(2, 1); // 10
  tc.addLeaderRegion(1, 1);
  assert.equal(sb.schedule(tc, tc.nowMs), undefined, '30 - 10 = 20 is not > 2 × 10');
  tc.addRegionStore(1, 4);
  assert.notEqual(sb.schedule(tc, tc.nowMs), undefined);
  assert.equal(sb.schedule(tc, tc.nowMs, () => false), undefined);
});

test('balance-region does not move a healthy peer of a region that has a down peer (quorum safety)', () => {
  const tc = new MockCluster({ maxReplicas: 3 });
  const sb = new BalanceRegionScheduler(new Prng(6));
  tc.addRegionStore(1, 30);
  tc.addRegionStore(2, 5);
  tc.addRegionStore(3, 5);
  tc.addRegionStore(4, 0);
  tc.addLeaderRegion(1, 2, 1, 3);
  checkTransferPeer(sb.schedule(tc, tc.nowMs), 'balance', 1, 4);
  tc.setStoreDown(3); // now 2 live of 3: adding a 4th peer first would leave 2 live of 4
  assert.equal(sb.schedule(tc, tc.nowMs), undefined);
});
