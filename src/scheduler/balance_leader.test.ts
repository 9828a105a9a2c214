// Goal: balance-leader moves leadership from crowded stores to empty ones,
// only when the gap exceeds the tolerance, never to a store that cannot take
// load, and tries targets when no source has a worthwhile move. Method:
// TinyKV's (untagged) testBalanceLeaderSchedulerSuite scenarios on the mock
// cluster. Its default tolerance (ratio 5, both sides) amounts to a gap of
// more than 10 leaders, so these tests set leaderBalanceTolerance = 10.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../util/prng.js';
import { BalanceLeaderScheduler } from './balance_leader.js';
import { MockCluster } from './_mock_cluster.js';
import { checkTransferLeader } from './_testing.js';

function setUp(): { tc: MockCluster; schedule: () => ReturnType<BalanceLeaderScheduler['schedule']> } {
  const tc = new MockCluster({ leaderBalanceTolerance: 10 });
  const lb = new BalanceLeaderScheduler(new Prng(9));
  return { tc, schedule: () => lb.schedule(tc, tc.nowMs) };
}

test('TestBalanceLimit: a move needs a gap above the tolerance', () => {
  const { tc, schedule } = setUp();
  for (const [id, n] of [[1, 1], [2, 0], [3, 0], [4, 0]] as const) tc.addLeaderStore(id, n);
  tc.addLeaderRegion(1, 1, 2, 3, 4);
  assert.equal(schedule(), undefined);
  tc.updateLeaderCount(1, 16);
  assert.notEqual(schedule(), undefined);
  for (const [id, n] of [[1, 7], [2, 8], [3, 9], [4, 10]] as const) tc.updateLeaderCount(id, n);
  tc.addLeaderRegion(1, 4, 1, 2, 3);
  assert.equal(schedule(), undefined);
  tc.updateLeaderCount(4, 18);
  assert.notEqual(schedule(), undefined);
});

test('TestBalanceLeaderScheduleStrategy: equal counts are balanced whatever the sizes', () => {
  const { tc, schedule } = setUp();
  tc.addLeaderStore(1, 10, 10000);
  for (const id of [2, 3, 4]) tc.addLeaderStore(id, 10, 100);
  tc.addLeaderRegion(1, 1, 2, 3, 4);
  assert.equal(schedule(), undefined);
});

test('TestBalanceLeaderTolerantRatio: 14 vs 10 stays, 21 vs 10 moves', () => {
  const { tc, schedule } = setUp();
  tc.addLeaderStore(1, 14, 100);
  for (const id of [2, 3, 4]) tc.addLeaderStore(id, 10, 100);
  tc.addLeaderRegion(1, 1, 2, 3, 4);
  assert.equal(schedule(), undefined);
  tc.addLeaderStore(1, 21, 100);
  assert.notEqual(schedule(), undefined);
});

test('TestBalanceFilter: offline sources still count; down, busy and disconnected targets do not', () => {
  const { tc, schedule } = setUp();
  for (const [id, n] of [[1, 1], [2, 2], [3, 3], [4, 16]] as const) tc.addLeaderStore(id, n);
  tc.addLeaderRegion(1, 4, 1, 2, 3);
  checkTransferLeader(schedule(), 'balance', 4, 1);
  tc.setStoreOffline(4);
  checkTransferLeader(schedule(), 'balance', 4, 1);
  tc.setStoreDown(1);
  checkTransferLeader(schedule(), 'balance', 4, 2);
  tc.setStoreBusy(2, true);
  checkTransferLeader(schedule(), 'balance', 4, 3);
  tc.setStoreDisconnect(3);
  assert.equal(schedule(), undefined);
});

test('TestBalanceSelector: sources by descending leaders, the follower with the fewest leaders wins', () => {
  const { tc, schedule } = setUp();
  for (const [id, n] of [[1, 1], [2, 2], [3, 3], [4, 16]] as const) tc.addLeaderStore(id, n);
  tc.addLeaderRegion(1, 4, 2, 3);
  tc.addLeaderRegion(2, 3, 1, 2);
  checkTransferLeader(schedule(), 'balance', 4, 2);
  tc.updateLeaderCount(2, 14);
  tc.updateLeaderCount(3, 15);
  // Cannot move a leader out of store 4 profitably; move one into store 1.
  checkTransferLeader(schedule(), 'balance', 3, 1);
  tc.addLeaderStore(2, 2);
  tc.addLeaderRegion(1, 3, 2, 4);
  tc.addLeaderRegion(2, 1, 2, 3);
  checkTransferLeader(schedule(), 'balance', 3, 2);
  for (const id of [1, 2, 3, 4]) tc.addLeaderStore(id, 10);
  tc.addLeaderRegion(1, 4, 2, 3);
  tc.addLeaderRegion(2, 1, 2, 3);
  assert.equal(schedule(), undefined);
  assert.equal(schedule(), undefined);
  for (const [id, n] of [[1, 11], [2, 13], [3, 0], [4, 16]] as const) tc.addLeaderStore(id, n);
  checkTransferLeader(schedule(), 'balance', 4, 3);
});

test('balance-leader falls back to pulling a leader into the emptiest target', () => {
  const { tc, schedule } = setUp();
  // Store 4 leads the most but its only region has no follower worth moving to;
  // store 1 can pull region 2's leadership from store 3 (15 - 1 > 10).
  for (const [id, n] of [[1, 1], [2, 14], [3, 15], [4, 16]] as const) tc.addLeaderStore(id, n);
  tc.addLeaderRegion(1, 4, 2, 3);
  tc.addLeaderRegion(2, 3, 1, 2);
  checkTransferLeader(schedule(), 'balance', 3, 1);
});
