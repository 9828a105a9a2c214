/**
 * HARD-CASES rows S3, T1, T2, C1-C4 and P1-P7 (../shared/docs/HARD-CASES.md)
 * as named, deterministic, scripted scenarios at the store level, in the
 * manner of hard_cases.ts (S1, S2). Each scenario:
 *
 * - builds the row's situation with a fixed fault schedule (partitions,
 *   message-type filters, slow links, crashes, scheduler operators, admin
 *   commands sent straight to a leader, splits with small split sizes);
 * - arms the coverage marks of the row's rule and fails the seed if the
 *   fault did not make that code run (a passing seed alone proves nothing);
 * - checks explicitly that the row's "what goes wrong" did not happen;
 * - ends with the usual liveness phase of `runClusterScenario`: heal,
 *   converge (every replica equal, no stray region or key), linearizability
 *   of the recorded history, raft safety at every apply.
 *
 * Admin commands (ChangePeer, Split, TransferLeader) are sent by
 * {@link AdminLink} as a client would send them to the leader's store, so
 * each one's single answer is observed: an error answer is a value, silence
 * is a failure (STYLE.md 10, C3).
 */
import { ConfChangeType } from '../../pb/eraftpb.js';
import type { Peer, Region, RegionEpoch } from '../../pb/metapb.js';
import { AdminCmdType } from '../../pb/raft_cmdpb.js';
import type { AdminRequest, RaftCmdRequest, RaftCmdResponse } from '../../pb/raft_cmdpb.js';
import { MessageType } from '../../raft/types.js';
import type { RegionPeer } from '../../raftstore/peer.js';
import { SERVER_IS_BUSY_PREFIX } from '../../raftstore/region_errors.js';
import { DATA_CFS } from '../../storage/engine.js';
import { compareBytes } from '../../util/bytes.js';
import { expectMark } from '../../util/marks.js';
import type { MarkCheck } from '../../util/marks.js';
import { WORLD } from '../clock.js';
import type { DelayRange } from '../network.js';
import { SimulationError } from '../errors.js';
import type { RunOptions, RunResult } from '../runner.js';
import type { CustomScenario } from '../scenario.js';
import type { Cluster, ClusterOptions } from './cluster.js';
import { FIRST_REGION_ID } from './cluster.js';
import { ClusterClient } from './cluster_client.js';
import { describeClusterOptions, drawClusterOptions, electionTimeoutMs, seedStream } from './generic_test.js';
import {
  bytes, mustAddPeer, mustGet, mustGetEngineEqual, mustPut, mustRemovePeer, mustScan, putRequest, runClusterScenario, runUntilTrue, scanAcross, text,
} from './harness.js';
import type { ClusterEnvelope } from './payload.js';
import { clonePayload } from './payload.js';
import type { ReplyTo } from './sim_store.js';

// ---- scaffolding ---------------------------------------------------------

/** How many times each armed mark was hit so far (a body may wait for one). */
type MarkHits = (name: string) => number;
type Body = (cluster: Cluster, hits: MarkHits) => void;

interface CaseSetup {
  readonly stores: number;
  /** Raft log GC count limit, -1 for TinyKV's default. */
  readonly maxraftlog: number;
  /** Regions split at 300 bytes (split size 200), as in GenericTest's split column. */
  readonly smallRegions?: boolean;
}

/** Arms every mark in `names` for the body; a mark not hit fails the seed. */
function withMarks(names: readonly string[], body: Body): (cluster: Cluster) => void {
  return (cluster) => {
    const checks: MarkCheck[] = names.map((n) => expectMark(n));
    const hits: MarkHits = (name) => checks.find((m) => m.name === name)?.hits() ?? 0;
    const missed: string[] = [];
    try {
      body(cluster, hits);
    } finally {
      // Disarm either way; a miss is reported below as the seed's failure.
      for (const m of checks) {
        if (m.hits() > 0) m.assertHit();
        else {
          missed.push(m.name);
          m.assertNotHit();
        }
      }
    }
    if (missed.length > 0) throw new SimulationError('liveness', `the scripted fault did not exercise the rule (mark ${missed.map((n) => `"${n}"`).join(', ')} not hit)`);
  };
}

function hardCase(name: string, description: string, setup: CaseSetup, marks: readonly string[], body: Body): CustomScenario {
  const run = (seed: number, options: RunOptions): RunResult => {
    const drawn: ClusterOptions = drawClusterOptions(seedStream(seed), {
      nclients: 1, unreliable: false, crash: false, partitions: false, maxraftlog: setup.maxraftlog, split: setup.smallRegions === true,
    }, setup.stores);
    return runClusterScenario(name, seed, {
      optionsLine: `${describeClusterOptions(drawn)}${setup.smallRegions === true ? ' regionMax=300 regionSplit=200' : ''}`,
      options: drawn,
      convergenceMs: 60_000,
      body: withMarks(marks, body),
    }, options);
  };
  return { name, description, run };
}

function fail(kind: 'safety' | 'liveness', message: string): never {
  throw new SimulationError(kind, message);
}

/** A client, after two election timeouts (the first region has a leader). */
function warmUp(cluster: Cluster): ClusterClient {
  const client = new ClusterClient(cluster, cluster.random.stream('client'));
  cluster.runFor(2 * electionTimeoutMs);
  return client;
}

function putAll(cluster: Cluster, client: ClusterClient, ks: readonly string[]): void {
  for (const k of ks) mustPut(cluster, client, k, `v-${k}`);
}

function keys(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(2, '0')}`);
}

/** The live leader of a region with the highest term, as the stores themselves see it. */
function localLeader(cluster: Cluster, regionId: number): { readonly storeId: number; readonly peer: RegionPeer<ReplyTo> } | undefined {
  let best: { storeId: number; peer: RegionPeer<ReplyTo> } | undefined;
  for (const id of cluster.storeIds) {
    const p = cluster.store(id).store?.peer(regionId);
    if (p !== undefined && p.isLeader && !p.isRemovedLeader && (best === undefined || p.term > best.peer.term)) best = { storeId: id, peer: p };
  }
  return best;
}

function mustLocalLeader(cluster: Cluster, regionId: number): { readonly storeId: number; readonly peer: RegionPeer<ReplyTo> } {
  runUntilTrue(cluster, () => localLeader(cluster, regionId) !== undefined, 10_000, `a leader of region ${regionId}`);
  return localLeader(cluster, regionId) as { storeId: number; peer: RegionPeer<ReplyTo> };
}

function peerOn(region: Region, storeId: number): Peer {
  const p = region.peers.find((x) => x.storeId === storeId);
  if (p === undefined) return fail('safety', `region ${region.id} has no peer on store ${storeId}`);
  return { ...p };
}

function localPeer(cluster: Cluster, storeId: number, regionId: number): RegionPeer<ReplyTo> | undefined {
  return cluster.store(storeId).store?.peer(regionId);
}

function setDelay(cluster: Cluster, from: number, to: number, delay: DelayRange): void {
  cluster.network.setLinkDelay(from, to, delay);
}

/** Back to the drawn delay (the liveness phase heals filters and partitions, not link delays). */
function resetDelay(cluster: Cluster, from: number, to: number): void {
  const server = cluster.network.isServerLink(from, to);
  cluster.network.setLinkDelay(from, to, server ? cluster.options.network.delay : cluster.options.network.clientDelay);
}

function describePeers(peers: readonly Peer[]): string {
  return `[${[...peers].sort((a, b) => a.id - b.id).map((p) => `${p.id}@${p.storeId}`).join(' ')}]`;
}

function sameEpoch(a: RegionEpoch | undefined, b: RegionEpoch | undefined): boolean {
  return a?.confVer === b?.confVer && a?.version === b?.version;
}

// ---- admin commands sent straight to a leader ----------------------------

function adminOf(cmdType: AdminCmdType, body: Partial<Omit<AdminRequest, 'cmdType'>>): AdminRequest {
  return { cmdType, changePeer: undefined, compactLog: undefined, transferLeader: undefined, split: undefined, ...body };
}

function adminCommand(region: Region, leader: Peer, admin: AdminRequest, epoch: RegionEpoch | undefined = region.regionEpoch): RaftCmdRequest {
  return { header: { regionId: region.id, peer: { ...leader }, regionEpoch: epoch, term: 0 }, requests: [], adminRequest: admin };
}

function changePeer(changeType: ConfChangeType, peer: Peer): AdminRequest {
  return adminOf(AdminCmdType.ChangePeer, { changePeer: { changeType, peer: { ...peer } } });
}

function split(splitKey: string, newRegionId: number, newPeerIds: readonly number[]): AdminRequest {
  return adminOf(AdminCmdType.Split, { split: { splitKey: bytes(splitKey), newRegionId, newPeerIds: [...newPeerIds] } });
}

/** A client endpoint for admin commands: each command's one answer is kept by request id. */
class AdminLink {
  readonly endpoint: number;
  private readonly cluster: Cluster;
  private nextReqId = 1;
  private readonly answers = new Map<number, RaftCmdResponse>();

  constructor(cluster: Cluster) {
    this.cluster = cluster;
    this.endpoint = cluster.registerEndpoint((e) => this.receive(e));
  }

  send(storeId: number, request: RaftCmdRequest): number {
    const reqId = this.nextReqId++;
    this.cluster.network.send({ from: this.endpoint, to: storeId, type: 'request', regionId: 0, payload: { kind: 'cmd', reqId, request } });
    return reqId;
  }

  answer(reqId: number): RaftCmdResponse | undefined {
    return this.answers.get(reqId);
  }

  /** The answer, waiting up to `timeoutMs`; silence is a liveness failure (every command gets one answer). */
  mustAnswer(reqId: number, what: string, timeoutMs = 10_000): RaftCmdResponse {
    runUntilTrue(this.cluster, () => this.answers.has(reqId), timeoutMs, `${what}: an answer (silence)`);
    return this.answer(reqId) as RaftCmdResponse;
  }

  private receive(e: ClusterEnvelope): void {
    const p = e.payload;
    if (p.kind !== 'cmdResp') return fail('safety', `admin endpoint got a ${p.kind}`);
    if (this.answers.has(p.reqId)) fail('safety', `admin command #${p.reqId} answered twice`);
    this.answers.set(p.reqId, p.response);
  }
}

function errorOf(r: RaftCmdResponse): string | undefined {
  return r.header?.error?.message;
}

/**
 * Sends the admin command `build` makes for the region's current leader and
 * returns its answer; sends again (bounded) only after NotLeader, which is
 * definite (nothing happened).
 */
function mustAdmin(cluster: Cluster, link: AdminLink, regionId: number, what: string, build: (region: Region, leader: Peer) => RaftCmdRequest): RaftCmdResponse {
  for (let attempt = 0; attempt < 20; attempt++) {
    const l = mustLocalLeader(cluster, regionId);
    const resp = link.mustAnswer(link.send(l.storeId, build(l.peer.region, { id: l.peer.peerId, storeId: l.storeId })), what);
    if (resp.header?.error?.notLeader === undefined) return resp;
    cluster.runFor(100);
  }
  return fail('liveness', `${what}: NotLeader 20 times`);
}

/** Splits `regionId` at `key` with ids from the scheduler (AskSplit); returns the new region's id. */
function mustSplit(cluster: Cluster, link: AdminLink, regionId: number, key: string): number {
  let newRegionId = 0;
  const resp = mustAdmin(cluster, link, regionId, `split of region ${regionId} at ${key}`, (region, leader) => {
    const ids = cluster.scheduler.askSplit({ header: undefined, region });
    if (ids.header?.error !== undefined) fail('liveness', `AskSplit: ${ids.header.error.message}`);
    newRegionId = ids.newRegionId;
    return adminCommand(region, leader, split(key, ids.newRegionId, ids.newPeerIds));
  });
  const err = errorOf(resp);
  if (err !== undefined) fail('liveness', `split of region ${regionId} at ${key}: ${err}`);
  runUntilTrue(cluster, () => cluster.scheduler.regionById(newRegionId) !== undefined, 10_000, `the scheduler learns region ${newRegionId}`);
  return newRegionId;
}

/** A put loop on its own client (recorded in the history) until stopped; a failed put fails the seed. */
function startWriter(cluster: Cluster, prefix: string): { stop(): void; idle(): boolean; count(): number } {
  const client = new ClusterClient(cluster, cluster.random.stream(`writer ${prefix}`));
  let stopped = false;
  let busy = false;
  let n = 0;
  const next = (): void => {
    if (stopped) return;
    busy = true;
    const key = `${prefix}${String(n).padStart(4, '0')}`;
    const op = cluster.history.begin(client.endpoint, { kind: 'put', key, value: `w${n}` });
    client.request(bytes(key), [putRequest(key, `w${n}`)], (outcome) => {
      busy = false;
      if (!outcome.ok) fail('liveness', `writer put ${key}: ${outcome.kind === 'timeout' ? 'request timeout' : errorOf(outcome.response) ?? '?'}`);
      cluster.history.complete(op, 'ok', { kind: 'put' });
      n++;
      cluster.clock.schedule(2, WORLD, 'writer pause', next);
    });
  };
  next();
  return { stop: () => { stopped = true; }, idle: () => !busy, count: () => n };
}

function raftMessageOf(e: ClusterEnvelope): NonNullable<Extract<ClusterEnvelope['payload'], { kind: 'raft' }>['message']['message']> | undefined {
  return e.payload.kind === 'raft' ? e.payload.message.message : undefined;
}

/** Bytes of keys and values in `region`'s range on a store's engine (what the split checker counts). */
function regionBytes(cluster: Cluster, storeId: number, region: Region): number {
  let n = 0;
  for (const cf of DATA_CFS) for (const { key, value } of cluster.disk(storeId).scan(cf, { start: region.startKey, end: region.endKey })) n += key.length + value.length;
  return n;
}

/** Runs until `problem()` finds nothing; a liveness failure with the last problem after `timeoutMs`. */
function waitUntilFine(cluster: Cluster, problem: () => string | undefined, timeoutMs: number, what: string): void {
  let last: string | undefined;
  try {
    runUntilTrue(cluster, () => (last = problem()) === undefined, timeoutMs, what);
  } catch (error) {
    if (error instanceof SimulationError) fail('liveness', `${what}: not done after ${timeoutMs} ms: ${last ?? '?'}`);
    throw error;
  }
}

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
function s3Body(cluster: Cluster): void {
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
function t1Body(cluster: Cluster): void {
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
function t2Body(cluster: Cluster): void {
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
function c1Body(cluster: Cluster): void {
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
function c2Body(cluster: Cluster): void {
  const client = warmUp(cluster);
  putAll(cluster, client, keys('a', 5));
  const leader = mustLocalLeader(cluster, FIRST_REGION_ID);
  const s = cluster.storeIds.find((id) => id !== leader.storeId) as number;
  mustRemovePeer(cluster, FIRST_REGION_ID, peerOn(leader.peer.region, s));
  mustBeGone(cluster, s, FIRST_REGION_ID, 'removal applied');
  cluster.stopServer(s);
  cluster.runFor(100);
  cluster.startServer(s);
  cluster.runFor(100);
  if (localPeer(cluster, s, FIRST_REGION_ID) !== undefined) fail('safety', `C2: store ${s} loaded its destroyed peer at restart`);
  const second: Peer = { id: cluster.scheduler.allocId(), storeId: s };
  mustAddPeer(cluster, FIRST_REGION_ID, second, 10_000);
  mustPut(cluster, client, 'b', 'readded');
  mustGetEngineEqual(cluster, s, 'b', 'readded');
  cluster.addPartition([s], cluster.storeIds.filter((id) => id !== s));
  mustRemovePeer(cluster, FIRST_REGION_ID, second, 10_000);
  putAll(cluster, client, keys('c', 5));
  cluster.clearFilters();
  mustBeGone(cluster, s, FIRST_REGION_ID, 'removal learnt after the partition');
  cluster.stopServer(s);
  cluster.runFor(100);
  cluster.startServer(s);
  cluster.runFor(100);
  if (localPeer(cluster, s, FIRST_REGION_ID) !== undefined) fail('safety', `C2: store ${s} loaded its stale peer at restart`);
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
function c3Body(cluster: Cluster): void {
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
function c4Body(cluster: Cluster): void {
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

// ---- P1 ------------------------------------------------------------------

/**
 * P1: region checks on a request without a key. Schedule: 3 stores,
 * regions split at 300 bytes; put 40 keys (480 bytes) and wait for
 * the splits; then Snap (a scan's read view, no key) of every region,
 * region by region. Mark: "raftstore: split applied" (precondition: regions
 * with a non-empty start key exist). The key check itself has no mark:
 * checked explicitly: every Snap succeeds, including those of regions not
 * starting at "" (checking an absent key would answer KeyNotInRegion), and
 * the scan returns every key.
 */
function p1Body(cluster: Cluster): void {
  const client = warmUp(cluster);
  const ks = keys('k', 40);
  for (const k of ks) mustPut(cluster, client, k, `value-${k}`);
  runUntilTrue(cluster, () => cluster.scheduler.allRegions().length >= 2, 15_000, 'region "" splits');
  let snaps = 0;
  let keyless = 0;
  cluster.tap = (e) => {
    if (e.payload.kind !== 'cmdResp' || e.to !== client.endpoint) return;
    const region = e.payload.response.responses[0]?.snap?.region;
    if (region === undefined || e.payload.response.header?.error !== undefined) return;
    snaps++;
    if (region.startKey.length > 0) keyless++;
  };
  const got = mustScan(cluster, client, 'k', 'l');
  cluster.tap = undefined;
  if (keyless === 0) fail('liveness', `P1: no Snap of a region with a non-empty start key succeeded (${snaps} Snaps)`);
  const want = ks.map((k) => `${k}=value-${k}`).join(',');
  if (got.map(([k, v]) => `${k}=${v}`).join(',') !== want) fail('safety', `P1: scan returned ${got.length} of ${ks.length} keys`);
}

// ---- P2 ------------------------------------------------------------------

/**
 * P2: a read view holds its region. Schedule: 3 stores; the leader's
 * answers to the client take 300 ms; scan [a, c) (a Snap); as soon as the
 * leader has answered it, split the region at "b00" (applies within the
 * 300 ms). Mark: "raftstore: split applied". The read view's copy has no
 * mark: checked explicitly: the split applied before the answer arrived;
 * the answer's region, as delivered, is still the range and epoch at the
 * read (not the shrunk region); the scan returned the whole pre-split range.
 */
function p2Body(cluster: Cluster): void {
  const client = warmUp(cluster);
  const link = new AdminLink(cluster);
  const ks = [...keys('a', 10), ...keys('b', 10)];
  putAll(cluster, client, ks);
  const leader = mustLocalLeader(cluster, FIRST_REGION_ID);
  const atRead = describeRegion(leader.peer.region);
  let answer: { region: Region; copy: string } | undefined;
  cluster.tap = (e) => {
    const region = e.payload.kind === 'cmdResp' && e.to === client.endpoint ? e.payload.response.responses[0]?.snap?.region : undefined;
    if (region !== undefined) answer = { region, copy: describeRegion(region) };
  };
  setDelay(cluster, leader.storeId, client.endpoint, { minMs: 300, maxMs: 300 });
  let scanned: [string, string][] | undefined;
  let scannedAtMs = 0;
  scanAcross(cluster, client, 'a', 'c', (entries) => {
    scanned = entries;
    scannedAtMs = cluster.clock.nowMs;
  });
  runUntilTrue(cluster, () => answer !== undefined, 10_000, 'P2: the Snap is answered');
  cluster.tap = undefined;
  const newRegion = mustSplit(cluster, link, FIRST_REGION_ID, 'b00');
  const splitAtMs = cluster.clock.nowMs;
  runUntilTrue(cluster, () => scanned !== undefined, 20_000, 'P2: the scan completes');
  resetDelay(cluster, leader.storeId, client.endpoint);
  const a = answer as { region: Region; copy: string };
  if (!(splitAtMs < scannedAtMs)) fail('liveness', `P2: the split (${splitAtMs} ms) did not apply before the answer arrived (${scannedAtMs} ms)`);
  if (describeRegion(a.region) !== a.copy || a.copy !== atRead) {
    fail('safety', `P2: the read view's region changed after the read: ${describeRegion(a.region)}, was ${a.copy} (region at the read ${atRead})`);
  }
  if ((scanned ?? []).length !== ks.length) fail('safety', `P2: scan returned ${(scanned ?? []).length} of ${ks.length} keys`);
  if (mustGet(cluster, client, 'b05') !== 'v-b05') fail('safety', `P2: b05 lost after the split into region ${newRegion}`);
}

function describeRegion(r: Region): string {
  return `${r.id}[${text(r.startKey)},${text(r.endKey)}) v${r.regionEpoch?.version ?? '?'}/c${r.regionEpoch?.confVer ?? '?'} ${describePeers(r.peers)}`;
}

// ---- P3 ------------------------------------------------------------------

/**
 * P3: the split checker sees regions grow. Schedule: 3 stores, regions
 * split at 300 bytes (split size 200); only puts, no scan or get: 60 keys
 * of 24 bytes (1440 bytes). Mark: "raftstore: split key found" (the checker
 * ran on the size delta of applied puts), hit at least twice (estimates
 * reset after a split, the halves split again). Checks: within 15 s every
 * region is at most 300 bytes plus what the last delta may hold.
 */
function p3Body(cluster: Cluster, hits: MarkHits): void {
  const client = warmUp(cluster);
  for (let i = 0; i < 60; i++) mustPut(cluster, client, `p${String(i).padStart(3, '0')}`, 'x'.repeat(20));
  const c = cluster.raftstoreConfig;
  const slack = c.regionSplitSizeBytes / 8 + 24;
  const oversized = (): string | undefined => {
    for (const r of cluster.scheduler.allRegions()) {
      const l = cluster.scheduler.leaderOf(r.id);
      if (l === undefined) return `region ${r.id} has no leader`;
      const size = regionBytes(cluster, l.storeId, r);
      if (size > c.regionMaxSizeBytes + slack) return `region ${r.id} holds ${size} bytes`;
    }
    return undefined;
  };
  waitUntilFine(cluster, oversized, 15_000, `P3: regions split to at most ${c.regionMaxSizeBytes} + ${slack} bytes`);
  const n = cluster.scheduler.allRegions().length;
  if (n < 4) fail('liveness', `P3: 1440 bytes in ${n} regions`);
  if (hits('raftstore: split key found') < 2) fail('liveness', 'P3: the split checker found a key only once');
}

// ---- P4 ------------------------------------------------------------------

/**
 * P4: a split request that no longer fits the region is refused. Schedule:
 * 3 stores; (1) two Splits at one epoch (keys k03 and k06, ids from
 * AskSplit) reach the leader in the same millisecond; (2) RemoveNode of a
 * follower and a Split with AskSplit ids for the 3 peers, both at the
 * current epoch, reach the leader in the same millisecond: the split passes
 * the propose checks and the removal applies before it; (3) with those 3
 * ids, Splits at the old epoch, at the current epoch (3 ids for 2 peers)
 * and with a key outside the region. Mark: "raftstore: split refused at
 * apply" (2). The stale split of (1) is refused at apply by the epoch check
 * (no mark there: checked by its answer). Checks: exactly one split of (1)
 * succeeds; (2)'s split and every (3) answer an error and change no region
 * (no region with a peer per stale id appears); data stays readable.
 */
function p4Body(cluster: Cluster): void {
  const client = warmUp(cluster);
  const link = new AdminLink(cluster);
  putAll(cluster, client, keys('k', 10));
  const askIds = (r: Region): { newRegionId: number; newPeerIds: number[] } => {
    const a = cluster.scheduler.askSplit({ header: undefined, region: r });
    if (a.header?.error !== undefined) fail('liveness', `P4: AskSplit: ${a.header.error.message}`);
    return a;
  };
  /** Sends `build`'s commands so that they reach the leader in the same millisecond, in order. */
  const sameMs = (what: string, build: (region: Region, self: Peer) => RaftCmdRequest[]): RaftCmdResponse[] => {
    const l = mustLocalLeader(cluster, FIRST_REGION_ID);
    setDelay(cluster, link.endpoint, l.storeId, { minMs: 5, maxMs: 5 });
    const ids = build(l.peer.region, { id: l.peer.peerId, storeId: l.storeId }).map((req) => link.send(l.storeId, req));
    resetDelay(cluster, link.endpoint, l.storeId);
    return ids.map((id, i) => link.mustAnswer(id, `P4 ${what} #${i}`));
  };
  const pair = sameMs('two splits at one epoch', (region, self) => ['k03', 'k06'].map((key) => {
    const ids = askIds(region);
    return adminCommand(region, self, split(key, ids.newRegionId, ids.newPeerIds));
  }));
  const ok = pair.filter((r) => errorOf(r) === undefined).length;
  if (ok !== 1) fail('safety', `P4: ${ok} of two splits at one epoch succeeded (${pair.map((r) => errorOf(r) ?? 'ok').join('; ')})`);
  const left = mustLocalLeader(cluster, FIRST_REGION_ID).peer.region;
  const stale = askIds(left);
  const [removed, raced] = sameMs('removal racing a split', (region, self) => {
    const f = region.peers.find((p) => p.id !== self.id) as Peer;
    return [adminCommand(region, self, changePeer(ConfChangeType.RemoveNode, f)), adminCommand(region, self, split('k01', stale.newRegionId, stale.newPeerIds))];
  }) as [RaftCmdResponse, RaftCmdResponse];
  if (errorOf(removed) !== undefined) fail('liveness', `P4: the removal failed: ${errorOf(removed) ?? ''}`);
  if (errorOf(raced) === undefined) fail('safety', `P4: a split with ${stale.newPeerIds.length} new peer ids applied after a removal`);
  const cases: [string, (r: Region) => RegionEpoch | undefined, string][] = [
    ['the epoch before the removal', () => left.regionEpoch, 'k01'],
    ['3 peer ids for 2 peers', (r) => r.regionEpoch, 'k01'],
    ['a key outside the region', (r) => r.regionEpoch, 'zzz'],
  ];
  for (const [what, epoch, key] of cases) {
    const before = mustLocalLeader(cluster, FIRST_REGION_ID).peer.region;
    const resp = mustAdmin(cluster, link, FIRST_REGION_ID, `P4 split with ${what}`, (r, ldr) => adminCommand(r, ldr, split(key, stale.newRegionId, stale.newPeerIds), epoch(r)));
    if (errorOf(resp) === undefined) fail('safety', `P4: split with ${what} succeeded`);
    cluster.runFor(100);
    const now = mustLocalLeader(cluster, FIRST_REGION_ID).peer.region;
    if (describeRegion(now) !== describeRegion(before)) fail('safety', `P4: split with ${what} changed region ${describeRegion(before)} to ${describeRegion(now)}`);
  }
  if (cluster.scheduler.regionById(stale.newRegionId) !== undefined) fail('safety', `P4: region ${stale.newRegionId} of a stale split exists`);
  for (const k of ['k00', 'k05', 'k09']) if (mustGet(cluster, client, k) !== `v-${k}`) fail('safety', `P4: ${k} lost`);
}

// ---- P5, P7: a store lagging on region 1 while it splits -----------------

/** Drops every raft message of `regionId` to `storeId` (its other regions' traffic passes). */
function lagOn(cluster: Cluster, storeId: number, regionId: number): void {
  cluster.addMessageFilter(`region ${regionId} to store ${storeId}`, (e) => e.to === storeId && e.regionId === regionId && cluster.network.isServerLink(e.from, e.to));
}

/**
 * P5: a split applied on a store no longer in the new region. Schedule: 3
 * stores; region 1's messages to follower S are dropped; region 1 splits
 * at "m" (the new region R has a peer on S, by the parent's peers); R
 * removes S's peer through the scheduler; then the filter is lifted: S's
 * region 1 catches up and applies the split, which makes a stale peer of R
 * on S from the parent region as applied; R's members tell it to go. Marks:
 * "raftstore: peer not created, its range is owned by a region here" (R's
 * messages did not create a peer on S: only the split creates it) and
 * "raftstore: split applied". Checks: whenever S holds a peer of R, its
 * region has exactly the parent's stores and the split's ids; S's region 1
 * ends at "m"; S's peer of R is destroyed; no store holds R beyond the
 * scheduler's peers.
 */
function p5Body(cluster: Cluster): void {
  const client = warmUp(cluster);
  const link = new AdminLink(cluster);
  putAll(cluster, client, [...keys('a', 5), ...keys('n', 5)]);
  const leader = mustLocalLeader(cluster, FIRST_REGION_ID);
  const parentStores = leader.peer.region.peers.map((p) => p.storeId).sort((a, b) => a - b).join(',');
  const s = cluster.storeIds.find((id) => id !== leader.storeId) as number;
  lagOn(cluster, s, FIRST_REGION_ID);
  const r = mustSplit(cluster, link, FIRST_REGION_ID, 'm');
  const right = cluster.scheduler.regionById(r) as Region;
  let watching = true;
  const watch = (): void => {
    const p = localPeer(cluster, s, r);
    if (p !== undefined && p.storage.isInitialized()) {
      const stores = p.region.peers.map((x) => x.storeId).sort((a, b) => a - b).join(',');
      if (stores !== parentStores || describePeers(p.region.peers) !== describePeers(right.peers)) {
        fail('safety', `P5: store ${s} holds region ${r} with peers ${describePeers(p.region.peers)}, the split made ${describePeers(right.peers)}`);
      }
    }
    if (watching) cluster.clock.schedule(5, WORLD, 'P5 watch', watch);
  };
  watch();
  mustPut(cluster, client, 'n90', 'right');
  mustRemovePeer(cluster, r, peerOn(right, s), 10_000);
  mustPut(cluster, client, 'n91', 'right');
  cluster.clearFilters();
  runUntilTrue(cluster, () => text(localPeer(cluster, s, FIRST_REGION_ID)?.region.endKey ?? Buffer.alloc(0)) === 'm', 10_000, `P5: store ${s} applies the split`);
  runUntilTrue(cluster, () => localPeer(cluster, s, r) === undefined, 15_000, `P5: store ${s} destroys its stale peer of region ${r}`);
  watching = false;
  const now = cluster.scheduler.regionById(r);
  if (now === undefined || now.peers.some((p) => p.storeId === s)) fail('safety', `P5: region ${r} is ${now === undefined ? 'unknown' : describePeers(now.peers)}`);
  mustGetEngineEqual(cluster, s, 'a04', 'v-a04');
}

/** Replayed snapshot streams get stream ids no sender uses (as in S1). */
const REPLAY_STREAM_OFFSET = 1_000_000;

/** Sends a recorded snapshot stream again, each chunk once the previous one arrived (a stream delayed in the network). */
function replayStream(cluster: Cluster, stream: readonly ClusterEnvelope[], onDone: (delivered: boolean) => void): void {
  const send = (i: number): void => {
    const e = stream[i];
    if (e === undefined || e.payload.kind !== 'snapChunk') return onDone(true);
    const payload = { ...e.payload, streamId: e.payload.streamId + REPLAY_STREAM_OFFSET };
    cluster.network.send({ ...e, payload }, (delivered) => (delivered ? send(i + 1) : onDone(false)));
  };
  send(0);
}

/**
 * P7: a snapshot whose range overlaps a region on the store. Schedule: 3
 * stores; remove follower S's peer of region 1, then add a new one while
 * the last chunk of every region-1 snapshot stream to S is dropped (S's
 * peer stays uninitialized; the full stream of a snapshot of the unsplit
 * region is recorded); split region 1 at "m": the new region R has a peer
 * on S, which R's leader creates and initializes with a snapshot of
 * [m, ""); then the recorded stream of region 1's old snapshot [, "")
 * arrives at S (a stream delayed in the network). Mark: "raftstore:
 * snapshot refused, its range overlaps another region here (P7)". Checks:
 * S's region 1 stays uninitialized and R keeps its range and data on S
 * (ranges never overlap: also asserted by the store meta and the region
 * invariants); once the filter is lifted, S's region 1 gets a snapshot of
 * ["", m) from its leader and holds region 1's data.
 */
function p7Body(cluster: Cluster, hits: MarkHits): void {
  const client = warmUp(cluster);
  const link = new AdminLink(cluster);
  putAll(cluster, client, [...keys('a', 5), ...keys('n', 5)]);
  const leader = mustLocalLeader(cluster, FIRST_REGION_ID);
  const s = cluster.storeIds.find((id) => id !== leader.storeId) as number;
  mustRemovePeer(cluster, FIRST_REGION_ID, peerOn(leader.peer.region, s));
  runUntilTrue(cluster, () => localPeer(cluster, s, FIRST_REGION_ID) === undefined, 10_000, `P7: store ${s} destroys its removed peer`);
  const streams = new Map<number, ClusterEnvelope[]>();
  let complete: ClusterEnvelope[] | undefined;
  cluster.tap = (e) => {
    if (complete !== undefined || e.to !== s || e.regionId !== FIRST_REGION_ID || e.payload.kind !== 'snapChunk') return;
    const key = e.from * 2 ** 32 + e.payload.streamId;
    const stream = streams.get(key) ?? [];
    streams.set(key, stream);
    if (e.payload.chunk.message !== undefined) stream.length = 0;
    stream.push(e);
    if (e.payload.last) complete = stream;
  };
  cluster.addMessageFilter(`last snapshot chunk of region 1 to ${s}`, (e) => e.to === s && e.regionId === FIRST_REGION_ID && e.payload.kind === 'snapChunk' && e.payload.last && e.payload.streamId < REPLAY_STREAM_OFFSET);
  mustAddPeer(cluster, FIRST_REGION_ID, { id: cluster.scheduler.allocId(), storeId: s }, 10_000);
  runUntilTrue(cluster, () => complete !== undefined, 10_000, `P7: region 1 streams a snapshot to store ${s}`);
  cluster.tap = undefined;
  const r = mustSplit(cluster, link, FIRST_REGION_ID, 'm');
  const initialized = (regionId: number): boolean => localPeer(cluster, s, regionId)?.storage.isInitialized() === true;
  runUntilTrue(cluster, () => initialized(r), 10_000, `P7: store ${s} gets region ${r}`);
  const rangeOfR = describeRegion((localPeer(cluster, s, r) as RegionPeer<ReplyTo>).region);
  let replayed: boolean | undefined;
  replayStream(cluster, complete as ClusterEnvelope[], (delivered) => { replayed = delivered; });
  runUntilTrue(cluster, () => replayed !== undefined, 10_000, 'P7: the delayed stream arrives');
  cluster.runFor(50);
  const refused = 'raftstore: snapshot refused, its range overlaps another region here (P7)';
  if (hits(refused) === 0) fail('liveness', `P7: store ${s} got the old snapshot of region 1 (delivered: ${String(replayed)}) and did not refuse it`);
  if (initialized(FIRST_REGION_ID)) fail('safety', `P7: store ${s} initialized region 1 from a snapshot overlapping region ${r}`);
  const ranges = cluster.store(s).store?.ranges() ?? [];
  for (let i = 1; i < ranges.length; i++) {
    const a = ranges[i - 1] as (typeof ranges)[number];
    const b = ranges[i] as (typeof ranges)[number];
    if (a.endKey.length === 0 || compareBytes(a.endKey, b.startKey) > 0) fail('safety', `P7: store ${s}: regions ${a.regionId} and ${b.regionId} overlap`);
  }
  const nowR = localPeer(cluster, s, r);
  if (nowR === undefined || describeRegion(nowR.region) !== rangeOfR) fail('safety', `P7: region ${r} on store ${s} changed to ${nowR === undefined ? 'nothing' : describeRegion(nowR.region)}`);
  cluster.clearFilters();
  runUntilTrue(cluster, () => initialized(FIRST_REGION_ID), 15_000, `P7: store ${s} initializes region 1 once its snapshot fits`);
  mustGetEngineEqual(cluster, s, 'a04', 'v-a04');
  mustGetEngineEqual(cluster, s, 'n04', 'v-n04');
  const region1 = localPeer(cluster, s, FIRST_REGION_ID)?.region;
  if (region1 === undefined || text(region1.endKey) !== 'm') fail('safety', `P7: region 1 on store ${s} is ${region1 === undefined ? 'gone' : describeRegion(region1)}`);
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
function p6Body(cluster: Cluster): void {
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

// ---- the list ------------------------------------------------------------

const SMALL: CaseSetup = { stores: 3, maxraftlog: -1, smallRegions: true };
const PLAIN: CaseSetup = { stores: 3, maxraftlog: -1 };

export const HARD_CASE_3B_SCENARIOS: readonly CustomScenario[] = [
  hardCase('S3', 'HARD-CASES S3: a new member stays uninitialized (snapshots dropped), then the quorum needs it: it must take heartbeats and the snapshot',
    { stores: 3, maxraftlog: 5 }, ['raftstore: uninitialized peer created'], s3Body),
  hardCase('T1', 'HARD-CASES T1: leadership moves to a lagging follower under a steady writer: proposals are refused until the transferee is up to date',
    PLAIN, ['raft: proposal refused, leader transfer in progress'], t1Body),
  hardCase('T2', 'HARD-CASES T2: leadership transfer to an isolated follower aborts after one election timeout; the leader serves again',
    PLAIN, ['raft: leader transfer timed out, aborted', 'raft: proposal refused, leader transfer in progress'], t2Body),
  hardCase('C1', 'HARD-CASES C1: conf changes that do not fit the region (peer already on the store, wrong store) are refused at apply; re-sent operators apply once',
    PLAIN, ['raftstore: conf change refused at apply'], c1Body),
  hardCase('C2', 'HARD-CASES C2: a removed peer leaves store metadata once, on its destroy path (own removal, then a removal learnt after a partition; restarts)',
    PLAIN, ['raftstore: follower applied its own removal, destroyed', 'raftstore: stale peer destroyed on a gc message', 'raftstore: peer destroyed'], c2Body),
  hardCase('C3', 'HARD-CASES C3: a second conf change while one is pending answers ServerIsBusy; the next one after the apply is accepted',
    PLAIN, ['raftstore: conf change refused, another is pending'], c3Body),
  hardCase('C4', 'HARD-CASES C4: removing the leader of a 2-member group on a lossy network: leadership moves first, the survivor serves',
    { stores: 2, maxraftlog: -1 }, ['raftstore: leader removal refused, transferring leadership first'], c4Body),
  hardCase('P1', 'HARD-CASES P1: a scan (Snap, no key) of regions not starting at "" passes the region checks',
    SMALL, ['raftstore: split applied'], p1Body),
  hardCase('P2', 'HARD-CASES P2: a Snap answer keeps the region of its read view while a split applies before it is delivered',
    PLAIN, ['raftstore: split applied'], p2Body),
  hardCase('P3', 'HARD-CASES P3: put-only load splits regions repeatedly (size delta of applied puts drives the checker)',
    SMALL, ['raftstore: split key found'], p3Body),
  hardCase('P4', 'HARD-CASES P4: stale split requests (same epoch twice, racing a removal, old epoch, 3 ids for 2 peers, key outside) answer errors',
    PLAIN, ['raftstore: split refused at apply'], p4Body),
  hardCase('P5', 'HARD-CASES P5: a lagging store applies a split of a region whose new half removed it: only its own stale peer, then destroyed',
    PLAIN, ['raftstore: peer not created, its range is owned by a region here', 'raftstore: split applied'], p5Body),
  hardCase('P6', 'HARD-CASES P6: old messages for a removed peer are dropped; re-added peers (new ids) are created, also over a stale one',
    PLAIN, ['raftstore: message for a destroyed peer dropped (P6)', 'raftstore: local peer superseded by a newer peer id'], p6Body),
  hardCase('P7', 'HARD-CASES P7: a delayed snapshot of the unsplit region reaches a store that holds the split-off half: refused until a fitting one comes',
    PLAIN, ['raftstore: snapshot refused, its range overlaps another region here (P7)'], p7Body),
];
