/**
 * The HARD-CASES 3B rows about membership and leadership, as scripted
 * scenario bodies: S3 (an uninitialized new member), T1 and T2 (leader
 * transfer), C1-C4 (conf changes) and P6 (a peer removed and re-added with
 * a new id). Assembled into scenarios by hard_cases_3b.ts; the helpers are
 * in hard_cases_support.ts.
 */
import { ConfChangeType } from '../../pb/eraftpb.js';
import type { Peer } from '../../pb/metapb.js';
import { AdminCmdType } from '../../pb/raft_cmdpb.js';
import { MessageType } from '../../raft/types.js';
import { SERVER_IS_BUSY_PREFIX } from '../../raftstore/region_errors.js';
import type { Cluster } from './cluster.js';
import { FIRST_REGION_ID } from './cluster.js';
import { electionTimeoutMs } from './generic_test.js';
import { mustAddPeer, mustGetEngineEqual, mustPut, mustRemovePeer, runUntilTrue } from './harness.js';
import {
  AdminLink, adminCommand, adminOf, changePeer, describePeers, errorOf, fail, keys, localLeader, localPeer, mustAdmin, mustLocalLeader, peerOn, putAll,
  raftMessageOf, resetDelay, sameEpoch, setDelay, startWriter, waitUntilFine, warmUp,
} from './hard_cases_support.js';
import type { ClusterEnvelope } from './payload.js';
import { clonePayload } from './payload.js';

// ---- S3 ------------------------------------------------------------------

/**
 * S3: a snapshot for an uninitialized peer. Schedule: 3 stores; remove the
 * peer of a follower store N, put more (GC at 5 entries), add a new peer on
 * N while every MsgSnapshot to N is dropped (the new member stays
 * uninitialized and gets only heartbeats and appends), then drop the filter
 * and isolate the third store M: every write now needs N, which must take
 * the leader's snapshot. Marks: "raftstore: uninitialized peer created"
 * (the leader's heartbeat/append created it). Checks: writes commit with
 * M cut off; N's peer is initialized and holds them; an uninitialized peer
 * never sends a vote request (it does not start elections).
 */
export function s3Body(cluster: Cluster): void {
  const client = warmUp(cluster);
  putAll(cluster, client, keys('a', 10));
  const leader = mustLocalLeader(cluster, FIRST_REGION_ID);
  const n = Math.max(...cluster.storeIds.filter((id) => id !== leader.storeId));
  mustRemovePeer(cluster, FIRST_REGION_ID, peerOn(leader.peer.region, n));
  runUntilTrue(cluster, () => localPeer(cluster, n, FIRST_REGION_ID) === undefined, 10_000, `store ${n} destroys its removed peer`);
  putAll(cluster, client, keys('b', 10));
  cluster.tap = (e) => {
    const m = raftMessageOf(e);
    if (e.from !== n || e.regionId !== FIRST_REGION_ID || m === undefined) return;
    if (m.msgType !== MessageType.MsgRequestVote && m.msgType !== MessageType.MsgPreVote) return;
    const self = localPeer(cluster, n, FIRST_REGION_ID);
    if (self !== undefined && !self.storage.isInitialized()) fail('safety', `S3: uninitialized peer ${self.peerId} on store ${n} started an election`);
  };
  cluster.addMessageFilter(`no snapshot to ${n}`, (e) => e.to === n && e.type === 'MsgSnapshot');
  const newcomer: Peer = { id: cluster.scheduler.allocId(), storeId: n };
  mustAddPeer(cluster, FIRST_REGION_ID, newcomer, 10_000);
  runUntilTrue(cluster, () => localPeer(cluster, n, FIRST_REGION_ID) !== undefined, 5_000, `S3: the leader's messages create peer ${newcomer.id}`);
  if (localPeer(cluster, n, FIRST_REGION_ID)?.storage.isInitialized() === true) fail('safety', `S3: store ${n} got a snapshot through the filter`);
  const l2 = mustLocalLeader(cluster, FIRST_REGION_ID).storeId;
  const m = cluster.storeIds.find((id) => id !== n && id !== l2) as number;
  cluster.clearFilters();
  cluster.addPartition([m], cluster.storeIds.filter((id) => id !== m));
  // Quorum is {leader, N}: these commit only once the new member caught up.
  putAll(cluster, client, keys('c', 5));
  const self = localPeer(cluster, n, FIRST_REGION_ID);
  if (self === undefined || self.peerId !== newcomer.id || !self.storage.isInitialized()) fail('liveness', `S3: store ${n} has no initialized peer ${newcomer.id}`);
  mustGetEngineEqual(cluster, n, 'c04', 'v-c04');
  cluster.tap = undefined;
  cluster.clearFilters();
}

// ---- T1 ------------------------------------------------------------------

/**
 * T1: the leader keeps accepting proposals after TimeoutNow. Schedule: 3
 * stores; a writer puts without pause; the leader's link to follower T is
 * slow (40..120 ms), so T lags; the scheduler transfers leadership to T.
 * Mark: "raft: proposal refused, leader transfer in progress". Checks: T
 * becomes leader; no put times out; after the old leader sends TimeoutNow
 * (at its last index I, term t) it appends nothing past I at term t, and
 * T's vote request of term t+1 carries a last index >= I (T was up to date).
 */
export function t1Body(cluster: Cluster): void {
  const client = warmUp(cluster);
  putAll(cluster, client, keys('a', 5));
  const leader = mustLocalLeader(cluster, FIRST_REGION_ID);
  const l = leader.storeId;
  const t = cluster.storeIds.find((id) => id !== l) as number;
  const target = peerOn(leader.peer.region, t);
  let sent: { term: number; lastIndex: number; atMs: number } | undefined;
  cluster.tap = (e) => {
    const m = raftMessageOf(e);
    if (m === undefined || e.regionId !== FIRST_REGION_ID) return;
    if (e.from === l && m.msgType === MessageType.MsgTimeoutNow) {
      const p = localPeer(cluster, l, FIRST_REGION_ID);
      if (p !== undefined) sent = { term: m.term, lastIndex: p.storage.lastIndex(), atMs: cluster.clock.nowMs };
    }
    const at = sent;
    if (at === undefined) return;
    if (e.from === l && m.msgType === MessageType.MsgAppend && m.term === at.term && cluster.clock.nowMs - at.atMs < electionTimeoutMs) {
      const past = m.entries.find((x) => x.index > at.lastIndex);
      if (past !== undefined) fail('safety', `T1: leader on store ${l} appended index ${past.index} after TimeoutNow at last index ${at.lastIndex}`);
    }
    if (e.from === t && m.msgType === MessageType.MsgRequestVote && m.term > at.term && m.index < at.lastIndex) {
      fail('safety', `T1: TimeoutNow sent before the transferee was up to date (its last index ${m.index} < ${at.lastIndex})`);
    }
  };
  setDelay(cluster, l, t, { minMs: 40, maxMs: 120 });
  const writer = startWriter(cluster, 'w');
  cluster.runFor(300);
  cluster.scheduler.transferLeader(FIRST_REGION_ID, target);
  runUntilTrue(cluster, () => cluster.scheduler.leaderOf(FIRST_REGION_ID)?.id === target.id, 10_000, `TransferLeader to ${target.id}@${t}`);
  cluster.runFor(300);
  writer.stop();
  runUntilTrue(cluster, writer.idle, 30_000, 'writer stops');
  resetDelay(cluster, l, t);
  cluster.tap = undefined;
  if (sent === undefined) fail('liveness', 'T1: no TimeoutNow was sent');
  if (writer.count() === 0) fail('liveness', 'T1: the writer wrote nothing');
}

// ---- T2 ------------------------------------------------------------------

/**
 * T2: the transfer target is unreachable. Schedule: 3 stores; isolate
 * follower T; send TransferLeader(T) to the leader; put at once. Marks:
 * "raft: leader transfer timed out, aborted" and "raft: proposal refused,
 * leader transfer in progress". Checks: the put succeeds within two
 * election timeouts of the transfer, at the same leader; five more puts
 * succeed (the leader is not stuck transferring).
 */
export function t2Body(cluster: Cluster): void {
  const client = warmUp(cluster);
  const link = new AdminLink(cluster);
  putAll(cluster, client, keys('a', 5));
  const leader = mustLocalLeader(cluster, FIRST_REGION_ID);
  const t = cluster.storeIds.find((id) => id !== leader.storeId) as number;
  cluster.addPartition([t], cluster.storeIds.filter((id) => id !== t));
  const self: Peer = { id: leader.peer.peerId, storeId: leader.storeId };
  const transfer = adminCommand(leader.peer.region, self, adminOf(AdminCmdType.TransferLeader, { transferLeader: { peer: peerOn(leader.peer.region, t) } }));
  const started = link.mustAnswer(link.send(leader.storeId, transfer), 'TransferLeader');
  if (errorOf(started) !== undefined) fail('liveness', `T2: TransferLeader refused: ${errorOf(started) ?? ''}`);
  const t0 = cluster.clock.nowMs;
  mustPut(cluster, client, 'after', 'transfer');
  const waited = cluster.clock.nowMs - t0;
  if (waited > 2 * electionTimeoutMs) fail('liveness', `T2: the leader served again only after ${waited} ms (> 2 election timeouts)`);
  const now = localLeader(cluster, FIRST_REGION_ID);
  if (now?.storeId !== leader.storeId) fail('liveness', `T2: leadership left store ${leader.storeId} for store ${now?.storeId ?? 'none'}`);
  putAll(cluster, client, keys('b', 5));
  cluster.clearFilters();
}

// ---- C1 ------------------------------------------------------------------

/**
 * C1: a conf change entry with the wrong payload. Schedule: 3 stores;
 * ChangePeer commands sent to the leader that pass the propose checks but
 * do not fit the region: AddNode of a new peer id on a store that already
 * holds a peer, RemoveNode of an existing peer id named with another store;
 * then a remove and re-add through the scheduler with a 10% drop filter
 * (operators re-sent, duplicates). Mark: "raftstore: conf change refused
 * at apply". Checks: both bad changes get an error answer and change no
 * store's region (peers, conf_ver); after the real changes every store's
 * region has exactly the scheduler's peers (id and store).
 */
export function c1Body(cluster: Cluster): void {
  const client = warmUp(cluster);
  const link = new AdminLink(cluster);
  putAll(cluster, client, keys('a', 5));
  const before = mustLocalLeader(cluster, FIRST_REGION_ID).peer.region;
  const followers = before.peers.filter((p) => p.id !== mustLocalLeader(cluster, FIRST_REGION_ID).peer.peerId).sort((a, b) => a.id - b.id);
  const [f1, f2] = followers as [Peer, Peer];
  const bad: [string, Peer, ConfChangeType][] = [
    ['AddNode of a second peer on a store', { id: cluster.scheduler.allocId(), storeId: f1.storeId }, ConfChangeType.AddNode],
    ['RemoveNode naming the wrong store', { id: f1.id, storeId: f2.storeId }, ConfChangeType.RemoveNode],
  ];
  for (const [what, peer, type] of bad) {
    const resp = mustAdmin(cluster, link, FIRST_REGION_ID, `C1 ${what}`, (region, leader) => adminCommand(region, leader, changePeer(type, peer)));
    if (errorOf(resp) === undefined) fail('safety', `C1: ${what} (${peer.id}@${peer.storeId}) was applied`);
    cluster.runFor(100);
    for (const id of cluster.storeIds) {
      const r = localPeer(cluster, id, FIRST_REGION_ID)?.region;
      if (r === undefined || !sameEpoch(r.regionEpoch, before.regionEpoch) || describePeers(r.peers) !== describePeers(before.peers)) {
        fail('safety', `C1: after ${what}, store ${id} has region peers ${describePeers(r?.peers ?? [])}, want ${describePeers(before.peers)}`);
      }
    }
  }
  cluster.addDropFilter(cluster.random.stream('c1 drop'));
  mustRemovePeer(cluster, FIRST_REGION_ID, f1, 20_000);
  const readded: Peer = { id: cluster.scheduler.allocId(), storeId: f1.storeId };
  mustAddPeer(cluster, FIRST_REGION_ID, readded, 20_000);
  cluster.clearFilters();
  mustPut(cluster, client, 'c1', 'done');
  mustGetEngineEqual(cluster, f1.storeId, 'c1', 'done');
  const want = cluster.scheduler.regionById(FIRST_REGION_ID);
  const differs = (): string | undefined => {
    for (const id of cluster.storeIds) {
      const r = localPeer(cluster, id, FIRST_REGION_ID)?.region;
      if (want === undefined || r === undefined || describePeers(r.peers) !== describePeers(want.peers)) {
        return `store ${id} has region peers ${describePeers(r?.peers ?? [])}, the scheduler ${describePeers(want?.peers ?? [])}`;
      }
    }
    return undefined;
  };
  // The new peer's snapshot is visible on the engine once written, its region once the write is durable.
  waitUntilFine(cluster, differs, 5_000, "C1: every store has the scheduler's peers");
}

// ---- C2 ------------------------------------------------------------------

function mustBeGone(cluster: Cluster, storeId: number, regionId: number, what: string): void {
  runUntilTrue(cluster, () => localPeer(cluster, storeId, regionId) === undefined, 10_000, `${what}: store ${storeId} destroys its peer of region ${regionId}`);
  // The peer leaves the router when its destroy is staged; the round's sync write follows.
  cluster.runFor(100);
  const ranges = cluster.store(storeId).store?.ranges() ?? [];
  if (ranges.some((r) => r.regionId === regionId)) fail('safety', `C2: ${what}: store ${storeId} still maps a range to region ${regionId}`);
}

/**
 * C2: removing a peer edits region metadata once. Schedule: 3 stores;
 * remove follower S's peer (S applies its own removal); crash and restart
 * S; re-add S with a new peer id; then isolate S, remove that peer on the
 * majority, heal (S's peer campaigns and gets a gc message).
 * Marks: "raftstore: follower applied its own removal, destroyed",
 * "raftstore: stale peer destroyed on a gc message" (the two ways S learns
 * of its removal) and "raftstore: peer destroyed" (the one place that
 * edits store metadata).
 * Checks: after each removal S has neither the peer nor a range for the
 * region, also after a restart; no assertion ("meta corruption") fires.
 */
export function c2Body(cluster: Cluster): void {
  const client = warmUp(cluster);
  putAll(cluster, client, keys('a', 5));
  const leader = mustLocalLeader(cluster, FIRST_REGION_ID);
  const s = cluster.storeIds.find((id) => id !== leader.storeId) as number;
  mustRemovePeer(cluster, FIRST_REGION_ID, peerOn(leader.peer.region, s));
  mustBeGone(cluster, s, FIRST_REGION_ID, 'removal applied');
  restartStaysGone(cluster, s, 'its destroyed peer');
  const second: Peer = { id: cluster.scheduler.allocId(), storeId: s };
  mustAddPeer(cluster, FIRST_REGION_ID, second, 10_000);
  mustPut(cluster, client, 'b', 'readded');
  mustGetEngineEqual(cluster, s, 'b', 'readded');
  cluster.addPartition([s], cluster.storeIds.filter((id) => id !== s));
  mustRemovePeer(cluster, FIRST_REGION_ID, second, 10_000);
  putAll(cluster, client, keys('c', 5));
  cluster.clearFilters();
  mustBeGone(cluster, s, FIRST_REGION_ID, 'removal learnt after the partition');
  restartStaysGone(cluster, s, 'its stale peer');
}

/** C2: a crash and restart of store `s` must not load the destroyed peer of region 1 back. */
function restartStaysGone(cluster: Cluster, s: number, what: string): void {
  cluster.stopServer(s);
  cluster.runFor(100);
  cluster.startServer(s);
  cluster.runFor(100);
  if (localPeer(cluster, s, FIRST_REGION_ID) !== undefined) fail('safety', `C2: store ${s} loaded ${what} at restart`);
}

// ---- C3 ------------------------------------------------------------------

/**
 * C3: a second conf change while one is pending. Schedule: 3 stores; the
 * leader's links to both followers are slow (60..120 ms); RemoveNode of
 * follower S's peer is sent, then 10 ms later (appended, not applied)
 * AddNode of a new peer on S at the same epoch. Mark: "raftstore: conf
 * change refused, another is pending". Checks: the second gets an error
 * answer (ServerIsBusy), never silence; the first succeeds; a third change
 * sent after the first applied (AddNode on S at the new epoch) is accepted
 * and applied (the pending index was cleared).
 */
export function c3Body(cluster: Cluster): void {
  const client = warmUp(cluster);
  const link = new AdminLink(cluster);
  putAll(cluster, client, keys('a', 5));
  const leader = mustLocalLeader(cluster, FIRST_REGION_ID);
  const l = leader.storeId;
  const region = leader.peer.region;
  const self: Peer = { id: leader.peer.peerId, storeId: l };
  const s = cluster.storeIds.find((id) => id !== l) as number;
  const others = cluster.storeIds.filter((id) => id !== l);
  for (const id of others) setDelay(cluster, l, id, { minMs: 60, maxMs: 120 });
  const first = link.send(l, adminCommand(region, self, changePeer(ConfChangeType.RemoveNode, peerOn(region, s))));
  cluster.runFor(10);
  const second = link.send(l, adminCommand(region, self, changePeer(ConfChangeType.AddNode, { id: cluster.scheduler.allocId(), storeId: s })));
  const r2 = link.mustAnswer(second, 'C3 second conf change');
  const r1 = link.mustAnswer(first, 'C3 first conf change');
  for (const id of others) resetDelay(cluster, l, id);
  if (errorOf(r1) !== undefined) fail('liveness', `C3: the first conf change failed: ${errorOf(r1) ?? ''}`);
  if (!(errorOf(r2) ?? '').startsWith(SERVER_IS_BUSY_PREFIX)) fail('safety', `C3: the second conf change got ${JSON.stringify(errorOf(r2) ?? 'success')}, want ServerIsBusy`);
  const after = r1.adminResponse?.changePeer?.region;
  if (after === undefined || after.peers.some((p) => p.storeId === s)) fail('safety', `C3: the first conf change did not remove store ${s}'s peer`);
  const third: Peer = { id: cluster.scheduler.allocId(), storeId: s };
  const r3 = mustAdmin(cluster, link, FIRST_REGION_ID, 'C3 third conf change', (r, ldr) => adminCommand(r, ldr, changePeer(ConfChangeType.AddNode, third)));
  if (errorOf(r3) !== undefined) fail('liveness', `C3: a conf change after the first applied was refused: ${errorOf(r3) ?? ''}`);
  runUntilTrue(cluster, () => cluster.scheduler.hasPeer(FIRST_REGION_ID, third), 10_000, `the scheduler sees peer ${third.id}`);
  mustPut(cluster, client, 'c3', 'done');
  mustGetEngineEqual(cluster, s, 'c3', 'done');
}

// ---- C4 ------------------------------------------------------------------

/**
 * C4: removing the leader of a 2-member group on a lossy network. Schedule:
 * 2 stores; two 10% drop filters on raft links (about 19% loss); the
 * scheduler removes the leader's peer. Mark: "raftstore: leader removal
 * refused, transferring leadership first". Checks: the removal completes;
 * the old leader's store destroys its peer; puts succeed on the lossy
 * network (the remaining member leads alone), and its region has one peer.
 */
export function c4Body(cluster: Cluster): void {
  const client = warmUp(cluster);
  putAll(cluster, client, keys('a', 5));
  const leader = mustLocalLeader(cluster, FIRST_REGION_ID);
  const old: Peer = { id: leader.peer.peerId, storeId: leader.storeId };
  const other = cluster.storeIds.find((id) => id !== old.storeId) as number;
  cluster.addDropFilter(cluster.random.stream('c4 drop a'));
  cluster.addDropFilter(cluster.random.stream('c4 drop b'));
  mustRemovePeer(cluster, FIRST_REGION_ID, old, 30_000);
  runUntilTrue(cluster, () => localPeer(cluster, old.storeId, FIRST_REGION_ID) === undefined, 20_000, `store ${old.storeId} destroys its removed peer`);
  putAll(cluster, client, keys('b', 5));
  const remaining = localPeer(cluster, other, FIRST_REGION_ID);
  if (remaining === undefined || !remaining.isLeader || remaining.region.peers.length !== 1) {
    fail('liveness', `C4: store ${other} does not lead a 1-member region (${describePeers(remaining?.region.peers ?? [])})`);
  }
  cluster.clearFilters();
}

// ---- P6 ------------------------------------------------------------------

/**
 * P6: a peer removed and re-added with a new id. Schedule: 3 stores; record
 * region 1's raft messages to follower S; remove S's peer (S destroys it);
 * replay the recorded messages to S; re-add S with a new peer id; replay
 * again; then isolate S, remove the new peer and add a third on S on the
 * majority, and heal, dropping gc messages to S (S still holds the second
 * and learns of the third from its messages only). Marks: "raftstore:
 * message for a destroyed peer dropped (P6)" and "raftstore: local peer
 * superseded by a newer peer id". Checks: the replays create no peer (no
 * resurrection) and leave the re-added peer alone; each re-added peer is
 * created, initialized and gets new writes (not refused).
 */
export function p6Body(cluster: Cluster): void {
  const client = warmUp(cluster);
  const leader = mustLocalLeader(cluster, FIRST_REGION_ID);
  const s = cluster.storeIds.find((id) => id !== leader.storeId) as number;
  const recorded: ClusterEnvelope[] = [];
  cluster.tap = (e) => {
    if (e.to === s && e.regionId === FIRST_REGION_ID && e.payload.kind === 'raft' && recorded.length < 32) recorded.push(e);
  };
  putAll(cluster, client, keys('a', 10));
  cluster.tap = undefined;
  const replay = (): void => {
    for (const e of recorded) cluster.network.send({ ...e, payload: clonePayload(e.payload) });
    cluster.runFor(200);
  };
  mustRemovePeer(cluster, FIRST_REGION_ID, peerOn(leader.peer.region, s));
  runUntilTrue(cluster, () => localPeer(cluster, s, FIRST_REGION_ID) === undefined, 10_000, `P6: store ${s} destroys its removed peer`);
  // The peer is unrouted when its destroy round starts; its tombstone is set when that round's batch
  // is durable (messages in between are dropped unseen). Replay once the round is surely done.
  cluster.runFor(100);
  replay();
  if (localPeer(cluster, s, FIRST_REGION_ID) !== undefined) fail('safety', `P6: old messages resurrected a peer of region 1 on store ${s}`);
  const second: Peer = { id: cluster.scheduler.allocId(), storeId: s };
  mustAddPeer(cluster, FIRST_REGION_ID, second, 10_000);
  mustPut(cluster, client, 'b', 'second');
  mustGetEngineEqual(cluster, s, 'b', 'second');
  replay();
  if (localPeer(cluster, s, FIRST_REGION_ID)?.peerId !== second.id) fail('safety', `P6: old messages replaced peer ${second.id} on store ${s}`);
  cluster.addPartition([s], cluster.storeIds.filter((id) => id !== s));
  mustRemovePeer(cluster, FIRST_REGION_ID, second, 10_000);
  const third: Peer = { id: cluster.scheduler.allocId(), storeId: s };
  mustAddPeer(cluster, FIRST_REGION_ID, third, 10_000);
  // Healed, but gc messages to S stay dropped: S learns of its new peer only from the new peer's messages.
  cluster.clearFilters();
  cluster.addMessageFilter(`gc messages to ${s}`, (e) => e.to === s && e.payload.kind === 'raft' && e.payload.message.isTombstone);
  mustPut(cluster, client, 'c', 'third');
  mustGetEngineEqual(cluster, s, 'c', 'third');
  const isThird = (): boolean => localPeer(cluster, s, FIRST_REGION_ID)?.peerId === third.id && localPeer(cluster, s, FIRST_REGION_ID)?.storage.isInitialized() === true;
  runUntilTrue(cluster, isThird, 5_000, `P6: store ${s} has an initialized peer ${third.id}`);
  cluster.clearFilters();
}
