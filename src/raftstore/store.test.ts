// Goal: a store core (store.ts) bootstraps and reloads its regions from its
// engine, routes raft messages and commands by region (RegionNotFound for an
// unknown one, nothing delivered across stores), runs one round at a time,
// brings a store that missed compacted log entries up to date with a
// snapshot (generated on request, sent in chunks) that survives a restart,
// and recovers a whole cluster from its engines alone; a request from before
// splits learns every region split off since; a round looks only at peers
// that were handed something. Method: StoreCore
// directly over MemEngine for the unit cases, and the synchronous in-process
// cluster of _testing.ts (seeded election jitter, message filters, restart =
// StoreCore.load again from the same engine) for the scenarios.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType } from '../pb/eraftpb.js';
import { AdminCmdType } from '../pb/raft_cmdpb.js';
import type { RaftCmdRequest } from '../pb/raft_cmdpb.js';
import { newMessage } from '../raft/types.js';
import { CF_DEFAULT, CF_RAFT } from '../storage/engine.js';
import { MemEngine } from '../storage/mem_engine.js';
import { WriteBatch } from '../storage/write_batch.js';
import { AssertionError } from '../util/assert.js';
import { Prng } from '../util/prng.js';
import { cmd, firstRegion, getReq, putReq, TEST_CONFIG, TEST_REGION_ID, TestCluster } from './_testing.js';
import type { ReplyToken, TestCluster as Cluster } from './_testing.js';
import { raftLogIndex, raftLogKeyRange } from './meta/keys.js';
import { RAFT_INIT_LOG_INDEX } from './peer_storage.js';
import { RegionPeer } from './peer.js';
import { StoreCore } from './store.js';
import type { StoreRound } from './store.js';

function bootstrapped(storeId: number, storeCount = 3): MemEngine {
  const engine = new MemEngine();
  const batch = new WriteBatch();
  StoreCore.stageBootstrap(batch, engine, 1, storeId, firstRegion(storeCount));
  void engine.write(batch, { sync: true });
  return engine;
}

function load(engine: MemEngine, storeId: number): StoreCore<ReplyToken> {
  const prng = new Prng(storeId);
  return StoreCore.load<ReplyToken>({ storeId, engine, rng: () => prng.split(), config: TEST_CONFIG });
}

/** Stored log indexes and truncated index of region 1 on store `id`. */
function logOf(c: Cluster, id: number): { truncated: number; stored: number[] } {
  const range = raftLogKeyRange(TEST_REGION_ID);
  const stored = [...c.engine(id).scan(CF_RAFT, { start: range.start, end: range.end })].map((e) => raftLogIndex(e.key));
  return { truncated: c.peer(id).storage.truncatedState.index, stored };
}

test('StoreCore.load() rebuilds a bootstrapped store; bootstrap and load assert on misuse', () => {
  const engine = bootstrapped(2);
  const store = load(engine, 2);
  assert.deepEqual(store.regionIds(), [TEST_REGION_ID]);
  const peer = store.peer(TEST_REGION_ID);
  assert.ok(peer !== undefined);
  assert.equal(peer.peerId, 2);
  assert.equal(peer.appliedIndex, RAFT_INIT_LOG_INDEX);
  assert.deepEqual(peer.region, firstRegion(3));
  assert.equal(store.peer(9), undefined);

  assert.throws(() => StoreCore.stageBootstrap(new WriteBatch(), engine, 1, 2, firstRegion(3)), AssertionError);
  assert.throws(() => StoreCore.stageBootstrap(new WriteBatch(), new MemEngine(), 1, 4, firstRegion(3)), AssertionError);
  assert.throws(() => load(new MemEngine(), 1), AssertionError);
  assert.throws(() => load(engine, 1), AssertionError);
});

test('StoreCore answers RegionNotFound for an unknown region and drops raft messages not for it', () => {
  const store = load(bootstrapped(1), 1);
  const effects = store.handleCommand(cmd(1, [putReq('k', 'v')], { regionId: 7 }), 42);
  assert.ok(effects !== undefined && effects.length === 1);
  const [e] = effects;
  assert.ok(e?.kind === 'respond');
  assert.equal(e.replyTo, 42);
  assert.deepEqual(e.response.header?.error?.regionNotFound, { regionId: 7 });

  // A vote request of a higher term would move the peer's term: unless it is misrouted.
  const vote = (regionId: number, toStore: number) => ({
    regionId, fromPeer: { id: 2, storeId: 2 }, toPeer: { id: 1, storeId: toStore },
    message: newMessage({ msgType: MessageType.MsgRequestVote, from: 2, to: 1, term: 50, logTerm: 50, index: 100 }),
    regionEpoch: { confVer: 1, version: 1 }, isTombstone: false, startKey: Buffer.alloc(0), endKey: Buffer.alloc(0),
  });
  const peer = store.peer(TEST_REGION_ID);
  assert.ok(peer !== undefined);
  const term = peer.term;
  store.onRaftMessage(vote(TEST_REGION_ID, 2));
  store.onRaftMessage(vote(7, 1));
  assert.equal(peer.term, term);
  store.onRaftMessage(vote(TEST_REGION_ID, 1));
  assert.equal(peer.term, 50);
});

test('StoreCore runs one round at a time', () => {
  const engine = bootstrapped(1, 1);
  const store = load(engine, 1);
  // A single-store group elects itself within two election timeouts.
  let round: StoreRound<ReplyToken> | undefined;
  for (let t = 0; t < 2 * TEST_CONFIG.electionTick && round === undefined; t++) {
    store.tick();
    round = store.prepareRound();
  }
  assert.ok(round !== undefined);
  assert.throws(() => store.prepareRound(), AssertionError);
  void engine.write(round.batch, { sync: round.sync });
  store.finishRound(round);
  assert.throws(() => store.finishRound(round), AssertionError);
});

test('a store cut off while the log is compacted catches up by a chunked snapshot and keeps it across a restart', () => {
  const c = TestCluster.bootstrap({ seed: 8, config: { raftLogGcCountLimit: 10, raftLogGcTickTicks: 1 } });
  const victim = 3;
  const leader = c.awaitLeader();
  assert.notEqual(leader, victim, 'the seed must not elect the victim');
  c.put('early', 'x');
  c.isolate(victim);
  const victimLast = c.peer(victim).storage.lastIndex();
  for (let i = 0; i < 50; i++) {
    c.put(`k${String(i).padStart(2, '0')}`, `value-${i}-`.padEnd(64, '.'));
    c.tick();
  }
  assert.ok(logOf(c, leader).truncated > victimLast, 'the entries the victim lacks are compacted');
  assert.equal(c.data(victim).length, 1);

  c.heal();
  c.tickUntil(() => c.peer(victim).appliedIndex === c.peer(leader).appliedIndex, 'the victim catching up', 100);
  assert.deepEqual(c.data(victim), c.data(leader));
  assert.equal(c.data(victim).length, 51);
  // The leader asked for a snapshot first, then sent it to the victim in several chunks.
  const generated = c.events.findIndex((e) => e.kind === 'generateSnapshot' && e.storeId === leader);
  const delivered = c.events.findIndex((e) => e.kind === 'snapshotDelivered' && e.to === victim);
  assert.ok(generated >= 0 && delivered > generated, JSON.stringify(c.events));
  const event = c.events[delivered];
  assert.ok(event?.kind === 'snapshotDelivered' && event.chunks > 2);
  // The snapshot replaced the victim's log: nothing at or below its truncated index is stored.
  const log = logOf(c, victim);
  assert.ok(log.truncated >= event.index && log.truncated > victimLast);
  assert.ok(log.stored.every((i) => i > log.truncated), JSON.stringify(log));

  const applied = c.peer(victim).appliedIndex;
  c.restart(victim);
  assert.equal(c.peer(victim).appliedIndex, applied);
  assert.deepEqual(c.data(victim), c.data(leader));
  c.put('after', 'restart');
  c.tickUntil(() => c.engine(victim).get(CF_DEFAULT, Buffer.from('after')) !== undefined, 'the victim applying a new write');
  assert.deepEqual(c.data(victim), c.data(leader));
});

test('after every store restarts, a new leader is elected and the data is still readable', () => {
  const c = TestCluster.bootstrap({ seed: 8 });
  c.awaitLeader();
  for (let i = 0; i < 10; i++) c.put(`k${i}`, `v${i}`);
  const before = c.storeIds.map((id) => ({ applied: c.peer(id).appliedIndex, term: c.peer(id).term, data: c.data(id) }));

  for (const id of c.storeIds) c.restart(id);
  for (const [i, id] of c.storeIds.entries()) {
    const p = c.peer(id);
    assert.equal(p.isLeader, false);
    assert.equal(p.term, before[i]?.term);
    assert.equal(p.appliedIndex, before[i]?.applied);
    assert.deepEqual(c.data(id), before[i]?.data);
  }

  const leader = c.awaitLeader();
  assert.ok(c.peer(leader).term > (before[0]?.term ?? 0));
  const get = c.command(leader, cmd(leader, [getReq('k3'), getReq('k9')]));
  c.runUntilQuiet();
  const { response } = c.answer(get);
  assert.equal(response.header?.error, undefined);
  assert.deepEqual(response.responses.map((r) => r.get?.value.toString()), ['v3', 'v9']);
  c.put('after', 'restart');
  for (const id of c.storeIds) assert.equal(c.data(id).length, 11);
});

/** A Split admin command for region 1 (at `version`) at `key`, making region `newId` with peers newId+1.. . */
function splitCmd(leader: number, key: string, newId: number, version: number, storeCount = 3): RaftCmdRequest {
  const newPeerIds = Array.from({ length: storeCount }, (_, i) => newId + 1 + i);
  return {
    header: { regionId: TEST_REGION_ID, peer: { id: leader, storeId: leader }, regionEpoch: { confVer: 1, version }, term: 0 },
    requests: [],
    adminRequest: { cmdType: AdminCmdType.Split, split: { splitKey: Buffer.from(key), newRegionId: newId, newPeerIds }, changePeer: undefined, compactLog: undefined, transferLeader: undefined },
  };
}

test('EpochNotMatch for a request from before two splits carries the region and both regions split off since', () => {
  const c = TestCluster.bootstrap({ seed: 21 });
  const leader = c.awaitLeader();
  c.put('a', '1');
  const first = c.command(leader, splitCmd(leader, 'm', 100, 1));
  c.runUntilQuiet();
  assert.equal(c.answer(first).response.header?.error, undefined);
  // Region 1 is now [, m) at version 2; split it again at g: [, g) and [g, m).
  const again = c.leader(TEST_REGION_ID) ?? c.awaitLeader();
  const second = c.command(again, splitCmd(again, 'g', 200, 2));
  c.runUntilQuiet();
  assert.equal(c.answer(second).response.header?.error, undefined);

  const stale = c.command(again, cmd(again, [getReq('a')], { regionEpoch: { confVer: 1, version: 1 } }));
  c.runUntilQuiet();
  const err = c.answer(stale).response.header?.error;
  const regions = err?.epochNotMatch?.currentRegions ?? [];
  assert.deepEqual(regions.map((r) => [r.id, r.startKey.toString(), r.endKey.toString(), r.regionEpoch?.version]), [
    [1, '', 'g', 3], [200, 'g', 'm', 3], [100, 'm', '', 2],
  ]);

  // A request from a version region 1 has not reached (a client ahead of this store) learns region 1 only.
  const current = c.command(again, cmd(again, [getReq('a')], { regionEpoch: { confVer: 1, version: 9 } }));
  c.runUntilQuiet();
  assert.deepEqual(c.answer(current).response.header?.error?.epochNotMatch?.currentRegions.map((r) => r.id), [1]);
});

test('a round visits only the peers handed a message, command, tick or report since their last round', () => {
  const c = TestCluster.bootstrap({ seed: 22 });
  const leader = c.awaitLeader();
  for (let i = 0; i < 4; i++) {
    const id = 100 + 10 * i;
    const at = c.leader(TEST_REGION_ID) ?? c.awaitLeader();
    const r = c.command(at, splitCmd(at, `k${9 - i}`, id, 1 + i));
    c.runUntilQuiet();
    assert.equal(c.answer(r).response.header?.error, undefined, `split ${i}`);
  }
  c.tick(40);
  c.runUntilQuiet();
  assert.equal(c.store(leader).regionIds().length, 5);
  const visited: number[] = [];
  const original = RegionPeer.prototype.prepareRound;
  RegionPeer.prototype.prepareRound = function (this: RegionPeer<ReplyToken>, ...args: Parameters<typeof original>) {
    visited.push(this.regionId);
    return original.apply(this, args);
  };
  try {
    const at = c.leader(TEST_REGION_ID) ?? c.awaitLeader();
    const put = c.command(at, cmd(at, [putReq('a', '2')], { regionEpoch: { confVer: 1, version: 5 } }));
    c.runUntilQuiet();
    assert.equal(c.answer(put).response.header?.error, undefined);
    assert.ok(visited.length > 0);
    assert.deepEqual([...new Set(visited)], [TEST_REGION_ID], 'only region 1 had work');
  } finally {
    RegionPeer.prototype.prepareRound = original;
  }
});

test('a peer destroyed by the stale check refuses its old id and lets a later peer the scheduler placed here be created', () => {
  const engine = bootstrapped(1);
  const store = load(engine, 1);
  // The scheduler's region: peer 1 removed, a later peer 6 added on this store (conf_ver 3).
  const scheduler = { ...firstRegion(3), regionEpoch: { confVer: 3, version: 1 }, peers: [{ id: 2, storeId: 2 }, { id: 3, storeId: 3 }, { id: 6, storeId: 1 }] };
  store.onStaleCheck(TEST_REGION_ID, scheduler);
  const round = store.prepareRound();
  assert.ok(round !== undefined && round.destroyed.length === 1);
  void engine.write(round.batch, { sync: round.sync });
  store.finishRound(round);
  assert.equal(store.peer(TEST_REGION_ID), undefined);

  const heartbeat = (toId: number, confVer: number) => ({
    regionId: TEST_REGION_ID, fromPeer: { id: 2, storeId: 2 }, toPeer: { id: toId, storeId: 1 },
    message: newMessage({ msgType: MessageType.MsgHeartbeat, from: 2, to: toId, term: 7 }),
    regionEpoch: { confVer, version: 1 }, isTombstone: false, startKey: Buffer.alloc(0), endKey: Buffer.alloc(0),
  });
  // The destroyed peer's own id stays dead; the later peer's first message (at the scheduler's epoch) creates it.
  store.onRaftMessage(heartbeat(1, 1));
  assert.equal(store.peer(TEST_REGION_ID), undefined);
  store.onRaftMessage(heartbeat(6, 3));
  assert.equal(store.peer(TEST_REGION_ID)?.peerId, 6);
});
