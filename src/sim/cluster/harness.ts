/**
 * The test-side helpers of TinyKV's raftstore harness (cluster.go:
 * MustPut/MustGet/MustDelete/Scan, MustGetEqual/MustGetNone on an engine)
 * for scripted scenarios on virtual time, and the run wrapper that turns a
 * scenario body into a RunResult: it builds the cluster from the seed, runs
 * the body, then the liveness phase (heal, converge) and the checkers
 * (linearizability over the whole history, convergence of every replica).
 *
 * "Must" helpers drive the clock until their operation completes; each one
 * is recorded in the history. A helper that runs out of time throws a
 * liveness failure, as TinyKV's panics fail the test.
 */
import type { Peer, Region } from '../../pb/metapb.js';
import { AdminCmdType, CmdType } from '../../pb/raft_cmdpb.js';
import type { AdminRequest, Request } from '../../pb/raft_cmdpb.js';
import { RaftApplyState } from '../../pb/raft_serverpb.js';
import { applyStateKey } from '../../raftstore/meta/keys.js';
import { CF_DEFAULT, CF_META, DATA_CFS } from '../../storage/engine.js';
import type { CfName } from '../../storage/engine.js';
import { assert } from '../../util/assert.js';
import { keyInRegion } from '../../raftstore/cmd_check.js';
import { compareReplicas } from '../checkers/convergence.js';
import { checkCoverage, RegionInvariants } from '../checkers/regions.js';
import { WORLD } from '../clock.js';
import type { ReplicaState } from '../checkers/convergence.js';
import { SimulationError } from '../errors.js';
import { checkHistory, toFailure } from '../runner.js';
import type { RunFailure, RunOptions, RunResult } from '../runner.js';
import { Cluster } from './cluster.js';
import type { ClusterOptions } from './cluster.js';
import { ClusterClient } from './cluster_client.js';
import type { RequestOutcome } from './cluster_client.js';

/** Most clock events one blocking helper may run (a stuck helper is a bug, not a slow run). */
export const helperEventsMax = 20_000_000;

/** Runs the clock until `done()` holds; throws a liveness failure after `timeoutMs` of virtual time. */
export function runUntilTrue(cluster: Cluster, done: () => boolean, timeoutMs: number, what: string): void {
  const deadline = cluster.clock.nowMs + timeoutMs;
  let events = 0;
  while (!done()) {
    const next = cluster.clock.peekTimeMs();
    if (next === undefined || next > deadline) {
      cluster.runUntil(deadline);
      if (done()) return;
      throw new SimulationError('liveness', `${what}: not done after ${timeoutMs} ms`);
    }
    cluster.clock.runNext();
    if (++events > helperEventsMax) assert(false, `${what}: more than ${helperEventsMax} events`);
  }
}

export function putRequest(key: string, value: string, cf: CfName = CF_DEFAULT): Request {
  return { cmdType: CmdType.Put, put: { cf, key: bytes(key), value: bytes(value) }, get: undefined, delete: undefined, snap: undefined };
}

export function deleteRequest(key: string, cf: CfName = CF_DEFAULT): Request {
  return { cmdType: CmdType.Delete, delete: { cf, key: bytes(key) }, get: undefined, put: undefined, snap: undefined };
}

export function getRequest(key: string, cf: CfName = CF_DEFAULT): Request {
  return { cmdType: CmdType.Get, get: { cf, key: bytes(key) }, put: undefined, delete: undefined, snap: undefined };
}

export function snapRequest(): Request {
  return { cmdType: CmdType.Snap, snap: {}, get: undefined, put: undefined, delete: undefined };
}

export function bytes(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

export function text(b: Uint8Array): string {
  return Buffer.from(b).toString('latin1');
}

/** Sends one request through `client` and runs the clock until it completes. */
function blockingRequest(cluster: Cluster, client: ClusterClient, key: string, reqs: Request[], scan?: { start: string; end: string }): RequestOutcome {
  let outcome: RequestOutcome | undefined;
  client.request(bytes(key), reqs, (o) => { outcome = o; }, scan === undefined ? undefined : { start: bytes(scan.start), end: bytes(scan.end) });
  runUntilTrue(cluster, () => outcome !== undefined, 60_000, `request for ${JSON.stringify(key)}`);
  return outcome as RequestOutcome;
}

function mustSucceed(outcome: RequestOutcome, what: string): Extract<RequestOutcome, { ok: true }> {
  if (outcome.ok) return outcome;
  if (outcome.kind === 'timeout') throw new SimulationError('liveness', `${what}: request timeout after ${outcome.attempts} attempts`);
  throw new SimulationError('liveness', `${what}: error ${outcome.response.header?.error?.message ?? '?'}`);
}

/** TinyKV `MustPutCF`, recorded in the history (default CF only: the history models one map). */
export function mustPut(cluster: Cluster, client: ClusterClient, key: string, value: string, cf: CfName = CF_DEFAULT): void {
  const id = cf === CF_DEFAULT ? cluster.history.begin(client.endpoint, { kind: 'put', key, value }) : undefined;
  mustSucceed(blockingRequest(cluster, client, key, [putRequest(key, value, cf)]), `MustPut(${key})`);
  if (id !== undefined) cluster.history.complete(id, 'ok', { kind: 'put' });
}

export function mustDelete(cluster: Cluster, client: ClusterClient, key: string, cf: CfName = CF_DEFAULT): void {
  const id = cf === CF_DEFAULT ? cluster.history.begin(client.endpoint, { kind: 'delete', key }) : undefined;
  mustSucceed(blockingRequest(cluster, client, key, [deleteRequest(key, cf)]), `MustDelete(${key})`);
  if (id !== undefined) cluster.history.complete(id, 'ok', { kind: 'delete' });
}

/** TinyKV `MustGet`/`Get`: the value, or undefined when absent (TinyKV's empty value). */
export function mustGet(cluster: Cluster, client: ClusterClient, key: string, cf: CfName = CF_DEFAULT): string | undefined {
  const id = cf === CF_DEFAULT ? cluster.history.begin(client.endpoint, { kind: 'get', key }) : undefined;
  const outcome = mustSucceed(blockingRequest(cluster, client, key, [getRequest(key, cf)]), `MustGet(${key})`);
  const raw = outcome.response.responses[0]?.get?.value;
  const value = raw === undefined || raw.length === 0 ? undefined : text(raw);
  if (id !== undefined) cluster.history.complete(id, 'ok', { kind: 'get', value });
  return value;
}

/** TinyKV `Scan(start, end)` (`end` non-empty), blocking: see {@link scanAcross}. */
export function mustScan(cluster: Cluster, client: ClusterClient, start: string, end: string): [string, string][] {
  let out: [string, string][] | undefined;
  scanAcross(cluster, client, start, end, (entries) => {
    out = entries;
  });
  runUntilTrue(cluster, () => out !== undefined, 120_000, `Scan(${start}, ${end})`);
  return out as [string, string][];
}

/** A scan "limit" no scan reaches: the history's scans here are unlimited. */
export const SCAN_UNLIMITED = 1_000_000_000;

/**
 * TinyKV `Scan(start, end)`: region by region, a Snap of the region holding
 * the next key, then its part of the range. Each region's part is recorded
 * as its own scan of the range it read (a scan across regions is not one
 * atomic read); a failed part throws the liveness failure, except a
 * timeout of a part sent while `mayTimeOut()` held (faults that may block
 * progress were on): that part is sent again, its recorded operation still
 * open.
 */
export function scanAcross(
  cluster: Cluster, client: ClusterClient, start: string, end: string, onDone: (entries: [string, string][]) => void,
  mayTimeOut: () => boolean = () => false,
): void {
  assert(end !== '', 'scanAcross: the end key must be set');
  const out: [string, string][] = [];
  const part = (key: string): void => {
    const id = cluster.history.begin(client.endpoint, { kind: 'scan', start: key, end, limit: SCAN_UNLIMITED });
    const send = (): void => {
      const tolerated = mayTimeOut();
      client.request(bytes(key), [snapRequest()], (outcome) => {
        if (!outcome.ok && outcome.kind === 'timeout' && tolerated) return send();
        onPart(id, key, outcome);
      }, { start: bytes(key), end: bytes(end) });
    };
    send();
  };
  const onPart = (id: ReturnType<typeof cluster.history.begin>, key: string, outcome: RequestOutcome): void => {
    const ok = mustSucceed(outcome, `Scan(${key}, ${end})`);
    const region = ok.response.responses[0]?.snap?.region;
    assert(region !== undefined, 'Snap response without region');
    const regionEnd = text(region.endKey);
    const more = regionEnd !== '' && regionEnd < end;
    if (more) cluster.history.narrowScan(id, regionEnd);
    const entries = ok.entries ?? [];
    cluster.history.complete(id, 'ok', { kind: 'scan', entries });
    for (const [k, v] of entries) out.push([k, v]);
    if (more) part(regionEnd);
    else onDone(out);
  };
  part(start);
}

/** Runs a scheduler operator and waits until the scheduler's view shows it done (TinyKV MustAddPeer/MustRemovePeer, 500 × 10 ms). */
export function mustAddPeer(cluster: Cluster, regionId: number, peer: Peer, timeoutMs = 5_000): void {
  cluster.scheduler.addPeer(regionId, peer);
  runUntilTrue(cluster, () => cluster.scheduler.hasPeer(regionId, peer), timeoutMs, `MustAddPeer(${regionId}, ${peer.id}@${peer.storeId})`);
}

export function mustRemovePeer(cluster: Cluster, regionId: number, peer: Peer, timeoutMs = 5_000): void {
  cluster.scheduler.removePeer(regionId, peer);
  runUntilTrue(cluster, () => !cluster.scheduler.hasPeer(regionId, peer), timeoutMs, `MustRemovePeer(${regionId}, ${peer.id}@${peer.storeId})`);
}

/** Most TransferLeader commands one MustTransferLeader sends (each takes at least a client round trip). */
const transferCommandsMax = 100_000;

/**
 * TinyKV `MustTransferLeader`: until `timeoutMs` has passed, if the
 * scheduler's leader of the region (LeaderOfRegion, waited for up to 5 s) is
 * `peer`, done; otherwise send TransferLeader to the region's leader and
 * require an AdminResponse of type TransferLeader (TinyKV `TransferLeader`),
 * then look again. No pause between rounds, as in TinyKV.
 * @returns how many TransferLeader commands were answered.
 * @throws {SimulationError} liveness when the leader is not `peer` in time or
 *   a command got no TransferLeader answer (TinyKV panics).
 */
export function mustTransferLeader(cluster: Cluster, client: ClusterClient, regionId: number, peer: Peer, timeoutMs = 5_000): number {
  const what = `MustTransferLeader(${regionId}, ${peer.id}@${peer.storeId})`;
  const startMs = cluster.clock.nowMs;
  for (let sent = 0; ; sent++) {
    const leader = mustLeaderOf(cluster, regionId, 5_000);
    if (leader.id === peer.id && leader.storeId === peer.storeId) return sent;
    if (cluster.clock.nowMs - startMs > timeoutMs) {
      throw new SimulationError('liveness', `${what}: the leader is still ${leader.id}@${leader.storeId} after ${timeoutMs} ms (${sent} TransferLeader commands)`);
    }
    assert(sent < transferCommandsMax, `${what}: more than ${transferCommandsMax} TransferLeader commands`);
    transferLeader(cluster, client, regionId, peer);
  }
}

/** TinyKV `TransferLeader`: one TransferLeader admin command through the region's leader. */
function transferLeader(cluster: Cluster, client: ClusterClient, regionId: number, peer: Peer): void {
  const what = `TransferLeader(${regionId}, ${peer.id}@${peer.storeId})`;
  const admin: AdminRequest = {
    cmdType: AdminCmdType.TransferLeader, transferLeader: { peer: { ...peer } }, changePeer: undefined, compactLog: undefined, split: undefined,
  };
  let outcome: RequestOutcome | undefined;
  client.requestRegion(regionId, admin, (o) => {
    outcome = o;
  });
  runUntilTrue(cluster, () => outcome !== undefined, 60_000, what);
  const ok = mustSucceed(outcome as RequestOutcome, what);
  const type = ok.response.adminResponse?.cmdType;
  if (type !== AdminCmdType.TransferLeader) {
    throw new SimulationError('liveness', `${what}: answered with admin response ${type === undefined ? 'none' : (AdminCmdType[type] ?? type)}, want TransferLeader`);
  }
}

/** TinyKV `GetRegion(key)`: the scheduler's region holding `key`, polled 100 × 20 ms, else "find no region". */
export function mustRegionByKey(cluster: Cluster, key: string): Region {
  let region: Region | undefined;
  runUntilTrue(cluster, () => (region = cluster.scheduler.regionByKey(bytes(key))) !== undefined, 2_000, `GetRegion(${JSON.stringify(key)}): find no region`);
  return region as Region;
}

/** TinyKV `LeaderOfRegion`: the region's leader as the scheduler reports it, waiting up to `timeoutMs`. */
export function mustLeaderOf(cluster: Cluster, regionId: number, timeoutMs: number): Peer {
  let leader: Peer | undefined;
  runUntilTrue(cluster, () => (leader = cluster.scheduler.leaderOf(regionId)) !== undefined, timeoutMs, `LeaderOfRegion(${regionId})`);
  return leader as Peer;
}

/** TinyKV `MustGetCfEqual(engine, ...)`: polls the store's engine (300 × 20 ms). */
export function mustGetEngineEqual(cluster: Cluster, storeId: number, key: string, value: string, cf: CfName = CF_DEFAULT): void {
  const read = (): string | undefined => engineGet(cluster, storeId, key, cf);
  runUntilTrue(cluster, () => read() === value, 6_000, `MustGetEqual(store ${storeId}, ${key}) (has ${JSON.stringify(read())}, want ${JSON.stringify(value)})`);
}

/** TinyKV `MustGetCfNone(engine, ...)`. */
export function mustGetEngineNone(cluster: Cluster, storeId: number, key: string, cf: CfName = CF_DEFAULT): void {
  const read = (): string | undefined => engineGet(cluster, storeId, key, cf);
  runUntilTrue(cluster, () => read() === undefined, 6_000, `MustGetNone(store ${storeId}, ${key}) (has ${JSON.stringify(read())})`);
}

export function engineGet(cluster: Cluster, storeId: number, key: string, cf: CfName = CF_DEFAULT): string | undefined {
  const raw = cluster.disk(storeId).get(cf, bytes(key));
  return raw === undefined ? undefined : text(raw);
}

export function applyState(cluster: Cluster, storeId: number, regionId: number): RaftApplyState | undefined {
  const raw = cluster.disk(storeId).get(CF_META, applyStateKey(regionId));
  return raw === undefined ? undefined : RaftApplyState.decode(raw);
}

/**
 * Whether the cluster converged, region by region, or what still differs:
 * the scheduler's regions cover the key space once; every peer of each
 * region is live, initialized, at the region's epoch, and all of them have
 * applied the same index and hold the same data in the region's range; no
 * store holds a region the scheduler does not place there (a removed peer
 * not yet destroyed) or data outside its regions.
 */
function convergenceReport(cluster: Cluster): string | undefined {
  const regions = cluster.scheduler.allRegions();
  const coverage = checkCoverage(regions);
  if (coverage !== undefined) return `scheduler: ${coverage}`;
  for (const id of cluster.storeIds) if (cluster.store(id).store === undefined) return `store ${id} is down`;
  for (const r of regions) {
    const states: ReplicaState[] = [];
    for (const p of r.peers) {
      const peer = cluster.store(p.storeId).store?.peer(r.id);
      if (peer === undefined || peer.peerId !== p.id || !peer.storage.isInitialized()) return `region ${r.id}: no initialized peer ${p.id} on store ${p.storeId}`;
      const e = peer.region.regionEpoch;
      if (e?.confVer !== r.regionEpoch?.confVer || e?.version !== r.regionEpoch?.version) return `region ${r.id}: store ${p.storeId} is at another epoch`;
      states.push({ nodeId: p.storeId, appliedIndex: peer.appliedIndex, contents: dataIn(cluster, p.storeId, r.startKey, r.endKey) });
    }
    const verdict = compareReplicas(states);
    if (verdict.verdict === 'diverged') return `region ${r.id}: ${verdict.report}`;
  }
  for (const id of cluster.storeIds) {
    const local = cluster.store(id).store?.regions() ?? [];
    for (const l of local) {
      if (!regions.some((r) => r.id === l.id && r.peers.some((p) => p.storeId === id))) return `store ${id}: holds region ${l.id}, which the scheduler does not place there`;
    }
    const owned = (key: Uint8Array): boolean => local.some((l) => keyInRegion(key, l));
    for (const cf of DATA_CFS) {
      for (const { key } of cluster.disk(id).scan(cf)) if (!owned(key)) return `store ${id}: ${cf} key ${JSON.stringify(text(key))} lies outside its regions`;
    }
  }
  return undefined;
}

function dataIn(cluster: Cluster, storeId: number, start: Uint8Array, end: Uint8Array): [string, string][] {
  const contents: [string, string][] = [];
  for (const cf of DATA_CFS) for (const { key, value } of cluster.disk(storeId).scan(cf, { start, end })) contents.push([`${cf}:${text(key)}`, text(value)]);
  contents.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return contents;
}

/** Runs the clock in `pollMs` steps until `done()` holds; throws a liveness failure after `timeoutMs`. */
function pollUntilTrue(cluster: Cluster, done: () => boolean, pollMs: number, timeoutMs: number, what: string): void {
  const deadline = cluster.clock.nowMs + timeoutMs;
  while (!done()) {
    if (cluster.clock.nowMs >= deadline) throw new SimulationError('liveness', `${what}: not done after ${timeoutMs} ms`);
    cluster.runUntil(Math.min(deadline, cluster.clock.nowMs + pollMs));
  }
}

/** Checks the region invariants of every live store every `everyMs` of virtual time (a safety failure stops the run). */
function watchRegions(cluster: Cluster, everyMs: number): { failure: () => string | undefined } {
  const inv = new RegionInvariants();
  let failure: string | undefined;
  const check = (): void => {
    for (const id of cluster.storeIds) {
      const store = cluster.store(id).store;
      if (store === undefined || failure !== undefined) continue;
      failure = inv.observe(id, store.regions());
    }
    if (failure === undefined) cluster.clock.schedule(everyMs, WORLD, 'region invariants', check);
  };
  cluster.clock.schedule(everyMs, WORLD, 'region invariants', check);
  return { failure: () => failure };
}

/** What a cluster scenario's seed determined, apart from its body. */
export interface ClusterScenarioSetup {
  /** Every option the seed determined, `key=value` pairs (the rest of the SEED= line). */
  readonly optionsLine: string;
  readonly options: ClusterOptions;
  /** Virtual time the final convergence may take. */
  readonly convergenceMs: number;
}

export interface ClusterScenarioRun extends ClusterScenarioSetup {
  /** The scenario's steps; throws SimulationError (or AssertionError) on failure. */
  readonly body: (cluster: Cluster) => void;
}

/**
 * One seed's run of a cluster scenario, in the three steps both flavours
 * share (sync here, async in async_driver.ts): the constructor builds the
 * cluster from the seed and logs the SEED= line; `start` starts it and watches the
 * region invariants; after the body, `finish` heals, converges and checks
 * the invariants, and `result` checks the history and builds the result.
 */
export class ClusterScenarioWorld {
  readonly cluster: Cluster;
  readonly optionsLine: string;
  private regions: { failure: () => string | undefined } | undefined;

  constructor(private readonly name: string, private readonly seed: number, private readonly setup: ClusterScenarioSetup, private readonly options: RunOptions) {
    this.cluster = new Cluster(seed, setup.options, {
      ...(options.traceEnabled === undefined ? {} : { traceEnabled: options.traceEnabled }),
      ...(options.traceSink === undefined ? {} : { traceSink: options.traceSink }),
    });
    this.optionsLine = `SEED=${seed} scenario=${name} ${setup.optionsLine}`;
    options.log?.(this.optionsLine);
  }

  start(): void {
    this.cluster.start();
    this.regions = watchRegions(this.cluster, 100);
  }

  /**
   * The liveness phase and the checks after the body.
   * @throws {SimulationError} convergence or safety; an error async work on a store threw.
   */
  finish(): void {
    converge(this.cluster, this.setup.convergenceMs);
    const asyncFailure = this.cluster.takeAsyncFailure();
    if (asyncFailure !== undefined) throw asyncFailure.error;
    const broken = this.regions?.failure();
    if (broken !== undefined) throw new SimulationError('safety', broken);
  }

  /** The run's result; the history is checked unless the run already failed. */
  result(failure: RunFailure | undefined): RunResult {
    const cluster = this.cluster;
    const history = cluster.history.finish();
    if (failure === undefined && this.options.checkHistory !== false) failure = checkHistory(history);
    const net = cluster.network.stats;
    return {
      scenario: this.name, seed: this.seed, passed: failure === undefined, ...(failure === undefined ? {} : { failure }),
      optionsLine: this.optionsLine, traceDigest: cluster.trace.digest(), traceTail: cluster.trace.tail(), history, virtualMs: cluster.clock.nowMs,
      stats: {
        operations: history.length, events: cluster.clock.executed, messagesSent: net.sent, messagesDelivered: net.delivered,
        messagesDropped: net.droppedLoss + net.droppedFilter + net.droppedPartition + net.droppedOverflow,
        appliedEntries: cluster.safety.appliedEntries,
        crashes: cluster.storeIds.reduce((n, id) => n + cluster.disk(id).stats.crashes, 0),
        lostWrites: cluster.storeIds.reduce((n, id) => n + cluster.disk(id).stats.lostWrites, 0),
      },
    };
  }
}

/**
 * Runs one seed of a cluster scenario: body, then heal everything and wait
 * until every store has applied the same index and holds the same data, then
 * check the history's linearizability. Never throws for a failing seed.
 */
export function runClusterScenario(name: string, seed: number, run: ClusterScenarioRun, options: RunOptions): RunResult {
  const world = new ClusterScenarioWorld(name, seed, run, options);
  let failure: RunFailure | undefined;
  try {
    world.start();
    run.body(world.cluster);
    world.finish();
  } catch (error: unknown) {
    failure = toFailure(error);
  }
  return world.result(failure);
}

/** Heals every fault, restarts every store, and waits for identical replicas. */
function converge(cluster: Cluster, timeoutMs: number): void {
  cluster.clearFilters();
  cluster.network.healAll();
  for (const id of cluster.storeIds) if (!cluster.store(id).alive) cluster.startServer(id);
  // A final write through raft makes every replica apply up to one common, newest index.
  const client = new ClusterClient(cluster, cluster.random.stream('final client'));
  mustPut(cluster, client, FINAL_KEY, `final ${cluster.seed}`);
  let report = 'not checked';
  const converged = (): boolean => {
    const r = convergenceReport(cluster);
    if (r === undefined) return true;
    report = r;
    return false;
  };
  try {
    pollUntilTrue(cluster, converged, 10, timeoutMs, 'convergence');
  } catch (error) {
    if (error instanceof SimulationError) throw new SimulationError('convergence', `replicas did not converge in ${timeoutMs} ms: ${report}`);
    throw error;
  }
}

/** The liveness phase's key (outside every workload's key space). */
export const FINAL_KEY = '~final';
