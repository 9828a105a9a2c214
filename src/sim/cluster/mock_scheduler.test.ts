// Goal: the mock scheduler keeps TinyKV MockSchedulerClient's semantics that
// the 3B scenarios rely on: sequential ids, a range index that a higher
// version replaces and a stale report cannot touch, one conf change per
// conf_ver (an assertion, since breaking it is a raftstore bug), operators
// re-sent on every heartbeat until finished, AskSplit's epoch check, and our
// term rule for the leader. Method: drive MockScheduler directly with
// hand-built heartbeats of a 3-store cluster (region 1 = peers 1, 2, 3 on
// stores 1, 2, 3; first allocated id 4, as TinyKV's baseID = count + 1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChangeType } from '../../pb/eraftpb.js';
import type { Peer, Region } from '../../pb/metapb.js';
import { ErrorType } from '../../pb/schedulerpb.js';
import type { RegionHeartbeatRequest, RegionHeartbeatResponse } from '../../pb/schedulerpb.js';
import { AssertionError } from '../../util/assert.js';
import { expectMark } from '../../util/marks.js';
import { Prng } from '../prng.js';
import { MockScheduler } from './mock_scheduler.js';

const STORE_COUNT = 3;

function key(s: string): Buffer {
  return Buffer.from(s);
}

function peer(id: number, storeId = id): Peer {
  return { id, storeId };
}

function region(id: number, range: [string, string], epoch: [confVer: number, version: number], peerIds: readonly (number | Peer)[]): Region {
  return {
    id, startKey: key(range[0]), endKey: key(range[1]), regionEpoch: { confVer: epoch[0], version: epoch[1] },
    peers: peerIds.map((p) => (typeof p === 'number' ? peer(p) : p)),
  };
}

function hb(r: Region, leader: Peer, pendingPeers: Peer[] = []): RegionHeartbeatRequest {
  return { header: { clusterId: 0 }, region: r, leader, pendingPeers, approximateSize: 0 };
}

/** A scheduler bootstrapped with region 1 = ["", ""), epoch {1, 1}, peers 1..3. */
function bootstrapped(): MockScheduler {
  const s = new MockScheduler(STORE_COUNT + 1);
  s.bootstrap(region(1, ['', ''], [1, 1], [1, 2, 3]));
  return s;
}

function ids(regions: readonly Region[]): number[] {
  return regions.map((r) => r.id);
}

function mustRespond(resp: RegionHeartbeatResponse | undefined): RegionHeartbeatResponse {
  assert.ok(resp !== undefined, 'expected the heartbeat to be accepted');
  return resp;
}

test('allocId() counts up from the first id; bootstrap() rejects ids allocId would reuse', () => {
  const s = new MockScheduler(4);
  assert.deepEqual([s.allocId(), s.allocId(), s.allocId()], [4, 5, 6]);
  assert.throws(() => new MockScheduler(4).bootstrap(region(1, ['', ''], [1, 1], [1, 2, 3, 4])), AssertionError);
  assert.throws(() => new MockScheduler(0), AssertionError);
  const b = bootstrapped();
  assert.throws(() => b.bootstrap(region(1, ['', ''], [1, 1], [1, 2, 3])), AssertionError, 'bootstraps once');
  assert.equal(b.allocId(), 4);
});

test('regionHeartbeat() with a split: the higher version replaces the overlapping region, then regionByKey finds both halves', () => {
  const s = bootstrapped();
  const replaced = expectMark('mock scheduler: heartbeat replaced overlapping regions');
  // Region 2 = [m, "") is split off region 1 and reports first: region 1 ["", "") v1 goes.
  mustRespond(s.regionHeartbeat(hb(region(2, ['m', ''], [1, 2], [peer(4, 1), peer(5, 2), peer(6, 3)]), peer(4, 1)), 5));
  replaced.assertHit();
  assert.deepEqual(ids(s.allRegions()), [2]);
  assert.equal(s.regionById(1), undefined, 'region 1 left the range index');
  assert.equal(s.regionByKey(key('a')), undefined, 'the left half is unknown until region 1 reports');
  assert.equal(s.regionByKey(key('z'))?.id, 2);
  // Region 1 = ["", m) v2 fills the gap.
  mustRespond(s.regionHeartbeat(hb(region(1, ['', 'm'], [1, 2], [1, 2, 3]), peer(1)), 5));
  assert.deepEqual(ids(s.allRegions()), [1, 2]);
  assert.equal(s.regionByKey(key('a'))?.id, 1);
  assert.equal(s.regionByKey(key('m'))?.id, 2, 'the split key belongs to the right half');
  assert.equal(s.regionByKey(Buffer.alloc(0))?.id, 1);
  assert.deepEqual(s.regionById(1)?.endKey, key('m'));
});

test('regionHeartbeat() ignores stale reports: a lower version, or the same version overlapping another region', () => {
  const s = bootstrapped();
  s.regionHeartbeat(hb(region(1, ['', 'm'], [1, 2], [1, 2, 3]), peer(1)), 5);
  s.regionHeartbeat(hb(region(2, ['m', ''], [1, 2], [peer(4, 1), peer(5, 2), peer(6, 3)]), peer(4, 1)), 5);
  const before = s.allRegions();
  const stale = expectMark('mock scheduler: stale heartbeat ignored');
  // A lagging peer of region 1 still reports the unsplit range.
  assert.equal(s.regionHeartbeat(hb(region(1, ['', ''], [1, 1], [1, 2, 3]), peer(2)), 6), undefined);
  // An unknown region with the same version as the one it overlaps.
  assert.equal(s.regionHeartbeat(hb(region(9, ['k', 'p'], [1, 2], [peer(7, 1), peer(8, 2), peer(9, 3)]), peer(7, 1)), 5), undefined);
  assert.equal(stale.hits(), 2);
  stale.assertHit();
  assert.deepEqual(s.allRegions(), before);
  // Region 1, once removed from the index by region 2, is still remembered: its old epoch stays stale.
  const t = bootstrapped();
  t.regionHeartbeat(hb(region(2, ['m', ''], [1, 2], [peer(4, 1), peer(5, 2), peer(6, 3)]), peer(4, 1)), 5);
  assert.equal(t.regionHeartbeat(hb(region(1, ['', ''], [1, 1], [1, 2, 3]), peer(1)), 5), undefined);
  assert.deepEqual(ids(t.allRegions()), [2]);
});

test('regionHeartbeat() with a higher version removes every region it overlaps', () => {
  const s = bootstrapped();
  s.regionHeartbeat(hb(region(1, ['', 'd'], [1, 2], [1, 2, 3]), peer(1)), 5);
  s.regionHeartbeat(hb(region(2, ['d', 'm'], [1, 3], [peer(4, 1), peer(5, 2), peer(6, 3)]), peer(4, 1)), 5);
  s.regionHeartbeat(hb(region(3, ['m', ''], [1, 3], [peer(7, 1), peer(8, 2), peer(9, 3)]), peer(7, 1)), 5);
  assert.deepEqual(ids(s.allRegions()), [1, 2, 3]);
  mustRespond(s.regionHeartbeat(hb(region(5, ['e', 'p'], [1, 4], [peer(10, 1), peer(11, 2), peer(12, 3)]), peer(10, 1)), 5));
  assert.deepEqual(ids(s.allRegions()), [1, 5]);
  assert.equal(s.regionByKey(key('z')), undefined);
  assert.equal(s.regionByKey(key('o'))?.id, 5);
});

test('regionHeartbeat() asserts one conf change per conf_ver step', () => {
  const s = bootstrapped();
  // Two peers added for one conf_ver bump.
  assert.throws(() => s.regionHeartbeat(hb(region(1, ['', ''], [2, 1], [1, 2, 3, 4, 5]), peer(1)), 5), /one conf change per conf_ver/);
  // A bump that changes nothing (a duplicate AddNode applied as a change).
  assert.throws(() => s.regionHeartbeat(hb(region(1, ['', ''], [2, 1], [1, 2, 3]), peer(1)), 5), AssertionError);
  // Peers changed with no bump.
  assert.throws(() => s.regionHeartbeat(hb(region(1, ['', ''], [1, 1], [1, 2, 4]), peer(1)), 5), /without a conf_ver bump/);
  // Epochs of one raft group never go backwards in one part while going forwards in the other.
  assert.throws(() => s.regionHeartbeat(hb(region(1, ['', 'm'], [0, 2], [1, 2, 3]), peer(1)), 5), /neither older nor newer/);
  // The range changes only with the version.
  assert.throws(() => s.regionHeartbeat(hb(region(1, ['', 'm'], [1, 1], [1, 2, 3]), peer(1)), 5), /range changed without a version bump/);
  // Two peers of one region on one store.
  assert.throws(() => s.regionHeartbeat(hb(region(1, ['', ''], [2, 1], [1, 2, 3, peer(4, 3)]), peer(1)), 5), /two peers on one store/);
  // None of the rejected reports changed anything.
  assert.deepEqual(s.regionById(1), region(1, ['', ''], [1, 1], [1, 2, 3]));
  // Accepted: one removal per step, and a jump of two steps (add 4, remove 4) with the same peers.
  mustRespond(s.regionHeartbeat(hb(region(1, ['', ''], [2, 1], [1, 2]), peer(1)), 5));
  mustRespond(s.regionHeartbeat(hb(region(1, ['', ''], [4, 1], [1, 2]), peer(1)), 5));
  mustRespond(s.regionHeartbeat(hb(region(1, ['', ''], [5, 1], [1, 2, 4]), peer(1)), 5));
  assert.deepEqual(s.regionById(1)?.peers, [peer(1), peer(2), peer(4)]);
});

test('addPeer(): AddNode is re-sent on every heartbeat until the peer is in the region, then the operator waits out pending and clears', () => {
  const s = bootstrapped();
  const p4: Peer = { id: s.allocId(), storeId: 4 };
  s.addPeer(1, p4);
  const r1 = region(1, ['', ''], [1, 1], [1, 2, 3]);
  for (let i = 0; i < 3; i++) {
    const resp = mustRespond(s.regionHeartbeat(hb(r1, peer(1)), 5));
    assert.deepEqual(resp.changePeer, { changeType: ConfChangeType.AddNode, peer: p4 });
    assert.equal(resp.transferLeader, undefined);
    assert.deepEqual(resp.targetPeer, peer(1));
    assert.deepEqual(resp.regionEpoch, { confVer: 1, version: 1 });
    assert.equal(resp.regionId, 1);
  }
  // The peer joined but has not caught up: nothing to send, the operator stays.
  const r2 = region(1, ['', ''], [2, 1], [1, 2, 3, p4]);
  assert.equal(mustRespond(s.regionHeartbeat(hb(r2, peer(1), [p4]), 5)).changePeer, undefined);
  assert.ok(s.hasPeer(1, p4));
  assert.deepEqual(s.pendingPeers(1), [p4]);
  assert.equal(s.operatorOf(1)?.kind, 'addPeer');
  // Caught up: finished and deleted.
  const finished = expectMark('mock scheduler: operator finished');
  assert.equal(mustRespond(s.regionHeartbeat(hb(r2, peer(1)), 5)).changePeer, undefined);
  finished.assertHit();
  assert.equal(s.operatorOf(1), undefined);
  assert.deepEqual(s.pendingPeers(1), []);
  assert.equal(mustRespond(s.regionHeartbeat(hb(r2, peer(1)), 5)).changePeer, undefined);
});

test('removePeer(): RemoveNode is re-sent until the peer is gone, then the operator clears', () => {
  const s = bootstrapped();
  s.removePeer(1, peer(3));
  const r1 = region(1, ['', ''], [1, 1], [1, 2, 3]);
  for (let i = 0; i < 2; i++) {
    assert.deepEqual(mustRespond(s.regionHeartbeat(hb(r1, peer(1)), 5)).changePeer, { changeType: ConfChangeType.RemoveNode, peer: peer(3) });
  }
  assert.ok(s.hasPeer(1, peer(3)));
  const resp = mustRespond(s.regionHeartbeat(hb(region(1, ['', ''], [2, 1], [1, 2]), peer(1)), 5));
  assert.equal(resp.changePeer, undefined);
  assert.equal(s.operatorOf(1), undefined);
  assert.equal(s.hasPeer(1, peer(3)), false, 'TinyKV MustNonePeer');
});

test('transferLeader(): TransferLeader is re-sent until the reported leader is the target, then the operator clears', () => {
  const s = bootstrapped();
  s.transferLeader(1, peer(2));
  const r1 = region(1, ['', ''], [1, 1], [1, 2, 3]);
  for (let i = 0; i < 2; i++) {
    const resp = mustRespond(s.regionHeartbeat(hb(r1, peer(1)), 5));
    assert.deepEqual(resp.transferLeader, { peer: peer(2) });
    assert.equal(resp.changePeer, undefined);
  }
  const resp = mustRespond(s.regionHeartbeat(hb(r1, peer(2)), 6));
  assert.equal(resp.transferLeader, undefined);
  assert.equal(s.operatorOf(1), undefined);
  assert.deepEqual(s.leaderOf(1), peer(2));
});

test('a new operator replaces the pending one; a deposed leader gets none', () => {
  const s = bootstrapped();
  const r1 = region(1, ['', ''], [1, 1], [1, 2, 3]);
  s.regionHeartbeat(hb(r1, peer(1)), 6);
  s.removePeer(1, peer(3));
  s.transferLeader(1, peer(3));
  assert.deepEqual(s.operatorOf(1), { kind: 'transferLeader', peer: peer(3) });
  const resp = mustRespond(s.regionHeartbeat(hb(r1, peer(2)), 5));
  assert.equal(resp.transferLeader, undefined, 'the heartbeat of term 5 is from a deposed leader');
  assert.deepEqual(resp.targetPeer, peer(2));
  assert.deepEqual(mustRespond(s.regionHeartbeat(hb(r1, peer(1)), 6)).transferLeader, { peer: peer(3) });
});

test('askSplit(): errors for an unknown region or a stale epoch, else a region id and one peer id per peer of the request', () => {
  const s = bootstrapped();
  const unknown = s.askSplit({ header: { clusterId: 0 }, region: region(7, ['', ''], [1, 1], [1, 2, 3]) });
  assert.equal(unknown.header?.error?.type, ErrorType.REGION_NOT_FOUND);
  assert.match(unknown.header?.error?.message ?? '', /region 7/);
  s.regionHeartbeat(hb(region(1, ['', ''], [2, 2], [1, 2]), peer(1)), 5);
  for (const stale of [region(1, ['', ''], [2, 1], [1, 2]), region(1, ['', ''], [1, 2], [1, 2, 3])]) {
    const resp = s.askSplit({ header: { clusterId: 0 }, region: stale });
    assert.match(resp.header?.error?.message ?? '', /epoch is stale/);
    assert.deepEqual([resp.newRegionId, resp.newPeerIds], [0, []]);
  }
  assert.equal(s.allocId(), 4, 'failed requests allocate nothing');
  const ok = s.askSplit({ header: { clusterId: 0 }, region: region(1, ['', ''], [2, 2], [1, 2]) });
  assert.equal(ok.header?.error, undefined);
  assert.equal(ok.newRegionId, 5);
  assert.deepEqual(ok.newPeerIds, [6, 7]);
  assert.equal(s.allocId(), 8);
  // A region that left the range index (its right half reported first) is still known.
  s.regionHeartbeat(hb(region(2, ['m', ''], [2, 3], [peer(6, 1), peer(7, 2)]), peer(6, 1)), 5);
  assert.equal(s.regionById(1), undefined);
  assert.equal(s.askSplit({ header: { clusterId: 0 }, region: region(1, ['', 'm'], [2, 3], [1, 2]) }).newRegionId, 9);
});

test('leader term rule: a lower term keeps the recorded leader and pending peers; a higher one replaces them even when its epoch is stale', () => {
  const s = bootstrapped();
  const r1 = region(1, ['', ''], [1, 1], [1, 2, 3]);
  s.regionHeartbeat(hb(r1, peer(1), [peer(3)]), 7);
  const kept = expectMark('mock scheduler: heartbeat from a lower term keeps the leader');
  s.regionHeartbeat(hb(r1, peer(2)), 6);
  kept.assertHit();
  assert.deepEqual(s.leaderOf(1), peer(1));
  assert.deepEqual(s.pendingPeers(1), [peer(3)]);
  s.regionHeartbeat(hb(r1, peer(2)), 7);
  assert.deepEqual(s.leaderOf(1), peer(2), 'the same term replaces');
  s.regionHeartbeat(hb(region(1, ['', 'm'], [1, 2], [1, 2, 3]), peer(1)), 8);
  // Peer 3 became leader at term 9 but has not applied the split yet: stale region, newer leader.
  assert.equal(s.regionHeartbeat(hb(r1, peer(3)), 9), undefined);
  assert.deepEqual(s.leaderOf(1), peer(3));
  assert.deepEqual(s.regionById(1)?.endKey, key('m'));
  // Without a term the leader is recorded unconditionally (TinyKV), and the term is forgotten.
  s.regionHeartbeat(hb(region(1, ['', 'm'], [1, 2], [1, 2, 3]), peer(2)));
  assert.deepEqual(s.leaderOf(1), peer(2));
  s.regionHeartbeat(hb(region(1, ['', 'm'], [1, 2], [1, 2, 3]), peer(1)), 3);
  assert.deepEqual(s.leaderOf(1), peer(1));
});

test('randomRegion() picks deterministically among indexed regions; results are copies', () => {
  const s = bootstrapped();
  assert.equal(new MockScheduler(4).randomRegion(new Prng(1)), undefined);
  s.regionHeartbeat(hb(region(1, ['', 'm'], [1, 2], [1, 2, 3]), peer(1)), 5);
  s.regionHeartbeat(hb(region(2, ['m', ''], [1, 2], [peer(4, 1), peer(5, 2), peer(6, 3)]), peer(4, 1)), 5);
  const draw = (seed: number): number[] => {
    const prng = new Prng(seed);
    return Array.from({ length: 20 }, () => s.randomRegion(prng)?.id ?? 0);
  };
  assert.deepEqual(draw(42), draw(42));
  assert.deepEqual([...new Set(draw(42))].sort(), [1, 2]);
  const copy = s.regionById(1);
  assert.ok(copy !== undefined);
  copy.peers.push(peer(9));
  copy.endKey = key('z');
  const leader = s.leaderOf(1);
  assert.ok(leader !== undefined);
  leader.id = 99;
  assert.deepEqual(s.regionById(1), region(1, ['', 'm'], [1, 2], [1, 2, 3]));
  assert.deepEqual(s.leaderOf(1), peer(1));
});
