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
import type { Peer } from '../../pb/metapb.js';
import { CmdType } from '../../pb/raft_cmdpb.js';
import type { Request } from '../../pb/raft_cmdpb.js';
import { RaftApplyState } from '../../pb/raft_serverpb.js';
import { applyStateKey } from '../../raftstore/meta/keys.js';
import { CF_DEFAULT, CF_META, DATA_CFS } from '../../storage/engine.js';
import type { CfName } from '../../storage/engine.js';
import { assert } from '../../util/assert.js';
import { compareReplicas } from '../checkers/convergence.js';
import type { ReplicaState } from '../checkers/convergence.js';
import { SimulationError } from '../errors.js';
import { checkHistory, toFailure } from '../runner.js';
import type { RunFailure, RunOptions, RunResult } from '../runner.js';
import { Cluster } from './cluster.js';
import type { ClusterOptions } from './cluster.js';
import { ClusterClient } from './cluster_client.js';
import type { RequestOutcome } from './cluster_client.js';

/** Most clock events one blocking helper may run (a stuck helper is a bug, not a slow run). */
const helperEventsMax = 20_000_000;

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

/** TinyKV `Scan(start, end)`: region by region (a Snap, then the region's range), recorded as one scan. */
export function mustScan(cluster: Cluster, client: ClusterClient, start: string, end: string): [string, string][] {
  const id = cluster.history.begin(client.endpoint, { kind: 'scan', start, end, limit: SCAN_UNLIMITED });
  const entries = scanRegions(cluster, client, start, end);
  cluster.history.complete(id, 'ok', { kind: 'scan', entries });
  return entries;
}

/** A scan "limit" no scan reaches: the history's scans here are unlimited. */
export const SCAN_UNLIMITED = 1_000_000_000;

function scanRegions(cluster: Cluster, client: ClusterClient, start: string, end: string): [string, string][] {
  const out: [string, string][] = [];
  let key = start;
  for (;;) {
    const outcome = mustSucceed(blockingRequest(cluster, client, key, [snapRequest()], { start: key, end }), `Scan(${key})`);
    for (const [k, v] of outcome.entries ?? []) out.push([k, v]);
    const region = outcome.response.responses[0]?.snap?.region;
    assert(region !== undefined, 'Snap response without region');
    const regionEnd = text(region.endKey);
    if (regionEnd === '' || (end !== '' && regionEnd >= end)) return out;
    key = regionEnd;
  }
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

/** Every store's data (all data CFs), for the convergence check. */
function replicaStates(cluster: Cluster): ReplicaState[] | undefined {
  const out: ReplicaState[] = [];
  for (const id of cluster.storeIds) {
    const store = cluster.store(id).store;
    if (store === undefined) return undefined;
    const peer = store.peer(1);
    if (peer === undefined) return undefined;
    const contents: [string, string][] = [];
    for (const cf of DATA_CFS) for (const { key, value } of cluster.disk(id).scan(cf)) contents.push([`${cf}:${text(key)}`, text(value)]);
    out.push({ nodeId: id, appliedIndex: peer.appliedIndex, contents });
  }
  return out;
}

export interface ClusterScenarioRun {
  /** Every option the seed determined, `key=value` pairs (the rest of the SEED= line). */
  readonly optionsLine: string;
  readonly options: ClusterOptions;
  /** The scenario's steps; throws SimulationError (or AssertionError) on failure. */
  readonly body: (cluster: Cluster) => void;
  /** Virtual time the final convergence may take. */
  readonly convergenceMs: number;
}

/**
 * Runs one seed of a cluster scenario: body, then heal everything and wait
 * until every store has applied the same index and holds the same data, then
 * check the history's linearizability. Never throws for a failing seed.
 */
export function runClusterScenario(name: string, seed: number, run: ClusterScenarioRun, options: RunOptions): RunResult {
  const cluster = new Cluster(seed, run.options, {
    ...(options.traceEnabled === undefined ? {} : { traceEnabled: options.traceEnabled }),
    ...(options.traceSink === undefined ? {} : { traceSink: options.traceSink }),
  });
  const optionsLine = `SEED=${seed} scenario=${name} ${run.optionsLine}`;
  options.log?.(optionsLine);
  let failure: RunFailure | undefined;
  try {
    cluster.start();
    run.body(cluster);
    converge(cluster, run.convergenceMs);
  } catch (error: unknown) {
    failure = toFailure(error);
  }
  const history = cluster.history.finish();
  if (failure === undefined && options.checkHistory !== false) failure = checkHistory(history);
  const net = cluster.network.stats;
  return {
    scenario: name, seed, passed: failure === undefined, ...(failure === undefined ? {} : { failure }),
    optionsLine, traceDigest: cluster.trace.digest(), traceTail: cluster.trace.tail(), history, virtualMs: cluster.clock.nowMs,
    stats: {
      operations: history.length, events: cluster.clock.executed, messagesSent: net.sent, messagesDelivered: net.delivered,
      messagesDropped: net.droppedLoss + net.droppedFilter + net.droppedPartition + net.droppedOverflow,
      appliedEntries: cluster.safety.appliedEntries,
      crashes: cluster.storeIds.reduce((n, id) => n + cluster.disk(id).stats.crashes, 0),
      lostWrites: cluster.storeIds.reduce((n, id) => n + cluster.disk(id).stats.lostWrites, 0),
    },
  };
}

/** Heals every fault, restarts every store, and waits for identical replicas. */
function converge(cluster: Cluster, timeoutMs: number): void {
  cluster.clearFilters();
  cluster.network.healAll();
  for (const id of cluster.storeIds) if (!cluster.store(id).alive) cluster.startServer(id);
  // A final write through raft makes every replica apply up to one common, newest index.
  const client = new ClusterClient(cluster, cluster.random.stream('final client'));
  mustPut(cluster, client, FINAL_KEY, `final ${cluster.seed}`);
  let report = 'a store is down';
  const converged = (): boolean => {
    const states = replicaStates(cluster);
    if (states === undefined) return false;
    const verdict = compareReplicas(states);
    if (verdict.verdict === 'converged') return true;
    report = verdict.report;
    return false;
  };
  try {
    runUntilTrue(cluster, converged, timeoutMs, 'convergence');
  } catch (error) {
    if (error instanceof SimulationError) throw new SimulationError('convergence', `replicas did not converge in ${timeoutMs} ms: ${report}`);
    throw error;
  }
}

/** The liveness phase's key (outside every workload's key space). */
export const FINAL_KEY = '~final';
