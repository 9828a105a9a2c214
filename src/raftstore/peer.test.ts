// Goal: a region peer (peer.ts) serves commands with exactly one answer each:
// writes by proposal, reads by ReadIndex, a read view for Snap; refusals are
// the right region error at once (NotLeader with the leader, EpochNotMatch
// with the current region, StoreNotMatch, InvalidRequest, ServerIsBusy past
// the proposal limit); a proposal overwritten by a new leader is answered
// StaleCommand once the old leader rejoins; CompactLog truncates the log and
// log GC deletes the entries below the truncated index on every store.
// Method: the synchronous in-process cluster of _testing.ts (3 MemEngine
// stores, seeded election jitter, filters to drop messages), asserting on the
// answers recorded per reply token and on the engines' contents.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RaftCmdResponse } from '../pb/raft_cmdpb.js';
import { MessageType } from '../raft/types.js';
import { expectMark } from '../util/marks.js';
import { CF_DEFAULT, CF_RAFT } from '../storage/engine.js';
import { cmd, getReq, putReq, snapReq, TEST_REGION_ID, TestCluster } from './_testing.js';
import type { TestCluster as Cluster } from './_testing.js';
import { raftLogIndex, raftLogKeyRange } from './meta/keys.js';
import { RAFT_INIT_LOG_INDEX } from './peer_storage.js';
import { OUTCOME_UNKNOWN_PREFIX, SERVER_IS_BUSY_PREFIX } from './region_errors.js';

function errorOf(r: RaftCmdResponse): NonNullable<NonNullable<RaftCmdResponse['header']>['error']> {
  const err = r.header?.error;
  assert.ok(err !== undefined, 'expected a region error');
  return err;
}

function assertOk(r: RaftCmdResponse): void {
  assert.equal(r.header?.error, undefined, r.header?.error?.message);
}

/** Store ids other than `id`, in order. */
function others(c: Cluster, id: number): number[] {
  return c.storeIds.filter((s) => s !== id);
}

test('a 3-store group elects a leader and answers Put, Get and Snap exactly once', () => {
  const c = TestCluster.bootstrap({ seed: 1 });
  const leader = c.awaitLeader();
  assert.equal(c.storeIds.filter((id) => c.peer(id).isLeader).length, 1);

  const put = c.command(leader, cmd(leader, [putReq('k1', 'v1')]));
  c.runUntilQuiet();
  const putResp = c.answer(put).response;
  assertOk(putResp);
  assert.equal(putResp.responses.length, 1);
  // Every store applies it (the leader broadcasts the commit index).
  for (const id of c.storeIds) assert.equal(Buffer.from(c.engine(id).get(CF_DEFAULT, Buffer.from('k1')) ?? []).toString(), 'v1');

  const get = c.command(leader, cmd(leader, [getReq('k1'), getReq('missing')]));
  c.runUntilQuiet();
  const getResp = c.answer(get).response;
  assertOk(getResp);
  assert.equal(getResp.responses[0]?.get?.value.toString(), 'v1');
  assert.equal(getResp.responses[1]?.get?.value.length, 0);
  assert.equal(c.answer(get).regionView, undefined);

  const snap = c.command(leader, cmd(leader, [snapReq()]));
  c.runUntilQuiet();
  const { response: snapResp, regionView } = c.answer(snap);
  assertOk(snapResp);
  assert.equal(snapResp.responses[0]?.snap?.region?.id, TEST_REGION_ID);
  assert.ok(regionView !== undefined);
  assert.equal(regionView.region.id, TEST_REGION_ID);
  assert.deepEqual(regionView.region.regionEpoch, { confVer: 1, version: 1 });
  // The view is a consistent read view: a later write does not show in it.
  c.put('k1', 'v2');
  assert.equal(Buffer.from(regionView.view.get(CF_DEFAULT, Buffer.from('k1')) ?? []).toString(), 'v1');
  regionView.view.close();
  assert.equal(c.engine(leader).openViewCount, 0);

  // Time passing adds no second answer to anything.
  c.tick(30);
  for (const [token, list] of c.answers) assert.equal(list.length, 1, `command ${token}`);
});

test('refused commands are answered at once with their region error', () => {
  const c = TestCluster.bootstrap({ seed: 2 });
  const leader = c.awaitLeader();
  const [follower, other] = others(c, leader) as [number, number];
  c.put('k', 'v');
  const applied = c.peer(leader).appliedIndex;
  const refusal = (storeId: number, request: Parameters<Cluster['command']>[1]): ReturnType<typeof errorOf> => {
    // Refusals do not wait for raft: the answer is there before any round runs.
    const token = c.command(storeId, request);
    return errorOf(c.answer(token).response);
  };

  const nl = refusal(follower, cmd(follower, [putReq('k', 'x')]));
  assert.deepEqual(nl.notLeader, { regionId: TEST_REGION_ID, leader: { id: leader, storeId: leader } });
  const nlRead = refusal(follower, cmd(follower, [getReq('k')]));
  assert.deepEqual(nlRead.notLeader?.leader, { id: leader, storeId: leader });

  const nf = refusal(leader, cmd(leader, [putReq('k', 'x')], { regionId: 2 }));
  assert.deepEqual(nf.regionNotFound, { regionId: 2 });

  const epoch = refusal(leader, cmd(leader, [putReq('k', 'x')], { regionEpoch: { confVer: 1, version: 2 } }));
  assert.ok(epoch.epochNotMatch !== undefined);
  assert.deepEqual(epoch.epochNotMatch.currentRegions.map((r) => [r.id, r.regionEpoch]), [[TEST_REGION_ID, { confVer: 1, version: 1 }]]);

  for (const bad of [
    cmd(leader, [putReq('', 'x')]),
    cmd(leader, [putReq('k', 'x', 'nope')]),
    cmd(leader, [getReq('k'), putReq('k', 'x')]),
    cmd(leader, []),
  ]) {
    assert.match(refusal(leader, bad).message, /^InvalidRequest/);
  }

  const snm = refusal(leader, cmd(leader, [putReq('k', 'x')], { peer: { id: leader, storeId: other } }));
  assert.deepEqual(snm.storeNotMatch, { requestStoreId: other, actualStoreId: leader });

  // Nothing was proposed: the log and the data did not move.
  c.tick(5);
  assert.equal(c.peer(leader).appliedIndex, applied);
  for (const id of c.storeIds) assert.deepEqual(c.data(id), ['default:k=v']);
  for (const [token, list] of c.answers) assert.equal(list.length, 1, `command ${token}`);
});

test('a proposal past proposalsMax is answered ServerIsBusy; the others still apply', () => {
  const c = TestCluster.bootstrap({ seed: 3, config: { proposalsMax: 2 } });
  const leader = c.awaitLeader();
  const tokens = ['a', 'b', 'c'].map((k) => c.command(leader, cmd(leader, [putReq(k, k)])));
  // The third is refused before any round runs; the others wait for apply.
  assert.deepEqual(tokens.map((t) => c.answers.get(t)?.length), [0, 0, 1]);
  c.runUntilQuiet();
  assertOk(c.answer(tokens[0] as number).response);
  assertOk(c.answer(tokens[1] as number).response);
  assert.ok(errorOf(c.answer(tokens[2] as number).response).message.startsWith(SERVER_IS_BUSY_PREFIX));
  assert.deepEqual(c.data(leader), ['default:a=a', 'default:b=b']);
  // Applied proposals free their slots.
  c.put('d', 'd');
});

test('a proposal overwritten by a new leader is answered StaleCommand exactly once when the old leader rejoins', () => {
  const c = TestCluster.bootstrap({ seed: 4 });
  const old = c.awaitLeader();
  c.put('before', '1');
  // The old leader appends the proposal but nobody hears of it.
  c.addFilter((rm) => rm.fromPeer?.storeId !== old);
  const lost = c.command(old, cmd(old, [putReq('lost', 'x')]));
  c.runUntilQuiet();
  const lostIndex = c.peer(old).storage.lastIndex();
  const lostTerm = c.peer(old).term;
  assert.equal(c.answers.get(lost)?.length, 0);

  // The others elect a new leader and commit writes over that index.
  c.isolate(old);
  const next = c.awaitLeader((id) => id !== old);
  for (const k of ['n1', 'n2', 'n3']) c.put(k, k);
  assert.ok(c.peer(next).term > lostTerm);
  assert.ok(c.peer(next).appliedIndex > lostIndex);
  assert.equal(c.answers.get(lost)?.length, 0, 'no answer while the old leader is cut off');

  // Rejoining, the old leader's entry is overwritten: the proposal can never apply.
  c.heal();
  c.tickUntil(() => c.peer(old).appliedIndex === c.peer(next).appliedIndex, 'the old leader catching up');
  const err = errorOf(c.answer(lost).response);
  assert.ok(err.staleCommand !== undefined, err.message);
  assert.ok(!err.message.startsWith(OUTCOME_UNKNOWN_PREFIX));
  const expected = ['default:before=1', 'default:n1=n1', 'default:n2=n2', 'default:n3=n3'];
  for (const id of c.storeIds) assert.deepEqual(c.data(id), expected, `store ${id}`);
  c.tick(20);
  for (const [token, list] of c.answers) assert.equal(list.length, 1, `command ${token}`);
});

/** Truncated index, applied index and the stored log indexes of region 1 on store `id`. */
function logOf(c: Cluster, id: number): { truncated: number; applied: number; last: number; stored: number[] } {
  const ps = c.peer(id).storage;
  const { appliedIndex, truncatedState } = ps.applyState;
  const range = raftLogKeyRange(TEST_REGION_ID);
  const stored = [...c.engine(id).scan(CF_RAFT, { start: range.start, end: range.end })].map((e) => raftLogIndex(e.key));
  return { truncated: truncatedState?.index ?? 0, applied: appliedIndex, last: ps.lastIndex(), stored };
}

test('CompactLog truncates every store\'s log and log GC deletes the entries below the truncated index', () => {
  const c = TestCluster.bootstrap({ seed: 5, config: { raftLogGcCountLimit: 10, raftLogGcTickTicks: 1 } });
  c.awaitLeader();
  for (let i = 0; i < 50; i++) {
    c.put(`k${String(i).padStart(2, '0')}`, `v${i}`);
    c.tick();
  }
  c.tick(3);
  for (const id of c.storeIds) {
    const log = logOf(c, id);
    assert.ok(log.truncated > RAFT_INIT_LOG_INDEX + 30, `store ${id}: truncated ${log.truncated}`);
    assert.ok(log.applied - log.truncated <= 20, `store ${id}: applied ${log.applied}, truncated ${log.truncated}`);
    // Exactly the entries after the truncated index are stored.
    const want = Array.from({ length: log.last - log.truncated }, (_, i) => log.truncated + 1 + i);
    assert.deepEqual(log.stored, want, `store ${id}`);
    assert.equal(c.data(id).length, 50);
  }
  // CompactLog is the peer's own proposal: it answers nobody.
  for (const [token, list] of c.answers) assert.equal(list.length, 1, `command ${token}`);
});

test('a CompactLog refused as ServerIsBusy is proposed again once there is room', () => {
  const c = TestCluster.bootstrap({ seed: 6, config: { raftLogGcCountLimit: 10, raftLogGcTickTicks: 1, proposalsMax: 2 } });
  const leader = c.awaitLeader();
  // Enough applied entries for a CompactLog, without a tick to propose it.
  for (let i = 0; i < 12; i++) c.put(`k${String(i).padStart(2, '0')}`, 'v');
  // Two proposals the followers do not hear of fill the queue; the GC tick's CompactLog is refused.
  c.addFilter((rm) => rm.fromPeer?.storeId !== leader);
  const held = ['h1', 'h2'].map((k) => c.command(leader, cmd(leader, [putReq(k, 'v')])));
  c.tick();
  assert.equal(logOf(c, leader).truncated, RAFT_INIT_LOG_INDEX);
  c.heal();
  c.tickUntil(() => held.every((t) => c.answers.get(t)?.length === 1), 'the held proposals applying');
  for (const t of held) assertOk(c.answer(t).response);
  assert.equal(c.leader(), leader);
  c.tickUntil(() => c.storeIds.every((id) => logOf(c, id).truncated > RAFT_INIT_LOG_INDEX), 'the log being truncated', 20);
});

test('reads arriving before the next round share one ReadIndex request; a read after a write sees it', () => {
  const c = TestCluster.bootstrap({ seed: 3 });
  const leader = c.awaitLeader();
  c.put('k', 'v1');
  c.runUntilQuiet();
  // Count the leader's heartbeats (ReadIndex confirmations ride on them) while three reads come in at once.
  let heartbeats = 0;
  c.addFilter((rm) => {
    if (rm.message?.msgType === MessageType.MsgHeartbeat && rm.fromPeer?.storeId === leader) heartbeats++;
    return true;
  });
  const joined = expectMark('raftstore: read joined a ReadIndex batch');
  const reads = [1, 2, 3].map(() => c.command(leader, cmd(leader, [getReq('k')])));
  c.runUntilQuiet();
  joined.assertHit();
  assert.equal(heartbeats, 2, 'one heartbeat per follower for the three reads');
  for (const r of reads) {
    const resp = c.answer(r).response;
    assertOk(resp);
    assert.equal(Buffer.from(resp.responses[0]?.get?.value ?? []).toString(), 'v1');
  }
  // A write acknowledged before a read arrives is seen by it (the batch closed at the write's round).
  c.put('k', 'v2');
  const after = c.command(leader, cmd(leader, [getReq('k')]));
  c.runUntilQuiet();
  assert.equal(Buffer.from(c.answer(after).response.responses[0]?.get?.value ?? []).toString(), 'v2');
});
