/**
 * The shared scaffolding of the HARD-CASES 3B scenarios (hard_cases_3b.ts,
 * hard_cases_membership.ts, hard_cases_ranges.ts): a scenario around a
 * scripted body with armed coverage marks, small cluster helpers (leaders,
 * peers, link delays, a writer, region sizes), and admin commands sent
 * straight to a leader.
 *
 * Admin commands (ChangePeer, Split, TransferLeader) are sent by
 * {@link AdminLink} as a client would send them to the leader's store, so
 * each one's single answer is observed: an error answer is a value, silence
 * is a failure (STYLE.md 10, C3).
 */
import type { ConfChangeType } from '../../pb/eraftpb.js';
import type { Peer, Region, RegionEpoch } from '../../pb/metapb.js';
import { AdminCmdType } from '../../pb/raft_cmdpb.js';
import type { AdminRequest, RaftCmdRequest, RaftCmdResponse } from '../../pb/raft_cmdpb.js';
import type { RegionPeer } from '../../raftstore/peer.js';
import { DATA_CFS } from '../../storage/engine.js';
import { expectMark } from '../../util/marks.js';
import type { MarkCheck } from '../../util/marks.js';
import { WORLD } from '../clock.js';
import type { DelayRange } from '../network.js';
import { SimulationError } from '../errors.js';
import type { RunOptions, RunResult } from '../runner.js';
import type { CustomScenario } from '../scenario.js';
import type { Cluster, ClusterOptions } from './cluster.js';
import { ClusterClient } from './cluster_client.js';
import { describeClusterOptions, drawClusterOptions, electionTimeoutMs, seedStream } from './generic_test.js';
import { bytes, mustPut, putRequest, runClusterScenario, runUntilTrue } from './harness.js';
import type { ClusterEnvelope } from './payload.js';
import type { ReplyTo } from './sim_store.js';

// ---- scaffolding ---------------------------------------------------------

/** How many times each armed mark was hit so far (a body may wait for one). */
export type MarkHits = (name: string) => number;
type Body = (cluster: Cluster, hits: MarkHits) => void;

export interface CaseSetup {
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

export function hardCase(name: string, description: string, setup: CaseSetup, marks: readonly string[], body: Body): CustomScenario {
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

export function fail(kind: 'safety' | 'liveness', message: string): never {
  throw new SimulationError(kind, message);
}

/** A client, after two election timeouts (the first region has a leader). */
export function warmUp(cluster: Cluster): ClusterClient {
  const client = new ClusterClient(cluster, cluster.random.stream('client'));
  cluster.runFor(2 * electionTimeoutMs);
  return client;
}

export function putAll(cluster: Cluster, client: ClusterClient, ks: readonly string[]): void {
  for (const k of ks) mustPut(cluster, client, k, `v-${k}`);
}

export function keys(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(2, '0')}`);
}

/** The live leader of a region with the highest term, as the stores themselves see it. */
export function localLeader(cluster: Cluster, regionId: number): { readonly storeId: number; readonly peer: RegionPeer<ReplyTo> } | undefined {
  let best: { storeId: number; peer: RegionPeer<ReplyTo> } | undefined;
  for (const id of cluster.storeIds) {
    const p = cluster.store(id).store?.peer(regionId);
    if (p !== undefined && p.isLeader && !p.isRemovedLeader && (best === undefined || p.term > best.peer.term)) best = { storeId: id, peer: p };
  }
  return best;
}

export function mustLocalLeader(cluster: Cluster, regionId: number): { readonly storeId: number; readonly peer: RegionPeer<ReplyTo> } {
  runUntilTrue(cluster, () => localLeader(cluster, regionId) !== undefined, 10_000, `a leader of region ${regionId}`);
  return localLeader(cluster, regionId) as { storeId: number; peer: RegionPeer<ReplyTo> };
}

export function peerOn(region: Region, storeId: number): Peer {
  const p = region.peers.find((x) => x.storeId === storeId);
  if (p === undefined) return fail('safety', `region ${region.id} has no peer on store ${storeId}`);
  return { ...p };
}

export function localPeer(cluster: Cluster, storeId: number, regionId: number): RegionPeer<ReplyTo> | undefined {
  return cluster.store(storeId).store?.peer(regionId);
}

export function setDelay(cluster: Cluster, from: number, to: number, delay: DelayRange): void {
  cluster.network.setLinkDelay(from, to, delay);
}

/** Back to the drawn delay (the liveness phase heals filters and partitions, not link delays). */
export function resetDelay(cluster: Cluster, from: number, to: number): void {
  const server = cluster.network.isServerLink(from, to);
  cluster.network.setLinkDelay(from, to, server ? cluster.options.network.delay : cluster.options.network.clientDelay);
}

export function describePeers(peers: readonly Peer[]): string {
  return `[${[...peers].sort((a, b) => a.id - b.id).map((p) => `${p.id}@${p.storeId}`).join(' ')}]`;
}

export function sameEpoch(a: RegionEpoch | undefined, b: RegionEpoch | undefined): boolean {
  return a?.confVer === b?.confVer && a?.version === b?.version;
}

// ---- admin commands sent straight to a leader ----------------------------

export function adminOf(cmdType: AdminCmdType, body: Partial<Omit<AdminRequest, 'cmdType'>>): AdminRequest {
  return { cmdType, changePeer: undefined, compactLog: undefined, transferLeader: undefined, split: undefined, ...body };
}

export function adminCommand(region: Region, leader: Peer, admin: AdminRequest, epoch: RegionEpoch | undefined = region.regionEpoch): RaftCmdRequest {
  return { header: { regionId: region.id, peer: { ...leader }, regionEpoch: epoch, term: 0 }, requests: [], adminRequest: admin };
}

export function changePeer(changeType: ConfChangeType, peer: Peer): AdminRequest {
  return adminOf(AdminCmdType.ChangePeer, { changePeer: { changeType, peer: { ...peer } } });
}

export function split(splitKey: string, newRegionId: number, newPeerIds: readonly number[]): AdminRequest {
  return adminOf(AdminCmdType.Split, { split: { splitKey: bytes(splitKey), newRegionId, newPeerIds: [...newPeerIds] } });
}

/** A client endpoint for admin commands: each command's one answer is kept by request id. */
export class AdminLink {
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

export function errorOf(r: RaftCmdResponse): string | undefined {
  return r.header?.error?.message;
}

/**
 * Sends the admin command `build` makes for the region's current leader and
 * returns its answer; sends again (bounded) only after NotLeader, which is
 * definite (nothing happened).
 */
export function mustAdmin(cluster: Cluster, link: AdminLink, regionId: number, what: string, build: (region: Region, leader: Peer) => RaftCmdRequest): RaftCmdResponse {
  for (let attempt = 0; attempt < 20; attempt++) {
    const l = mustLocalLeader(cluster, regionId);
    const resp = link.mustAnswer(link.send(l.storeId, build(l.peer.region, { id: l.peer.peerId, storeId: l.storeId })), what);
    if (resp.header?.error?.notLeader === undefined) return resp;
    cluster.runFor(100);
  }
  return fail('liveness', `${what}: NotLeader 20 times`);
}

/** Splits `regionId` at `key` with ids from the scheduler (AskSplit); returns the new region's id. */
export function mustSplit(cluster: Cluster, link: AdminLink, regionId: number, key: string): number {
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
export function startWriter(cluster: Cluster, prefix: string): { stop(): void; idle(): boolean; count(): number } {
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

export function raftMessageOf(e: ClusterEnvelope): NonNullable<Extract<ClusterEnvelope['payload'], { kind: 'raft' }>['message']['message']> | undefined {
  return e.payload.kind === 'raft' ? e.payload.message.message : undefined;
}

/** Bytes of keys and values in `region`'s range on a store's engine (what the split checker counts). */
export function regionBytes(cluster: Cluster, storeId: number, region: Region): number {
  let n = 0;
  for (const cf of DATA_CFS) for (const { key, value } of cluster.disk(storeId).scan(cf, { start: region.startKey, end: region.endKey })) n += key.length + value.length;
  return n;
}

/** Runs until `problem()` finds nothing; a liveness failure with the last problem after `timeoutMs`. */
export function waitUntilFine(cluster: Cluster, problem: () => string | undefined, timeoutMs: number, what: string): void {
  let last: string | undefined;
  try {
    runUntilTrue(cluster, () => (last = problem()) === undefined, timeoutMs, what);
  } catch (error) {
    if (error instanceof SimulationError) fail('liveness', `${what}: not done after ${timeoutMs} ms: ${last ?? '?'}`);
    throw error;
  }
}
