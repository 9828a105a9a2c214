/**
 * The transport-level transactional scenario: the production txn handlers
 * (`Server` over the stores' raft storage) reached through `SimTxnRpc`
 * directly, without a TxnClient, on virtual time through the async driver
 * (async_driver.ts). The TxnClient workloads are in txn_scenarios.ts.
 *
 * `txn_rpc_basic`: 3 stores, lossy server and client links; one client
 * writes single-key transactions (prewrite, then commit, each timestamp from
 * the TSO) and reads each value back at a new timestamp, while the store of
 * the region's leader is crashed twice (and restarted a second later). Each
 * write and read is recorded in the history, so the linearizability checker
 * judges the reads (single-key Percolator reads at a TSO timestamp are
 * linearizable: a committed write has a smaller commit timestamp than any
 * later read's, and an uncommitted one shows as a lock). Then the usual
 * liveness phase and convergence checks.
 *
 * The helpers {@link txnPut} and {@link txnGet} (two-phase commit of one key,
 * and its read, straight over a TxnRpc) are what sim_txn.test.ts uses too.
 */
import { Op } from '../../pb/kvrpcpb.js';
import type { KeyError } from '../../pb/kvrpcpb.js';
import { REGION_CHANGED } from '../../client/txn_rpc.js';
import type { TxnMethod, TxnRequest, TxnResponse, TxnRpc } from '../../client/txn_rpc.js';
import { ClientError } from '../../client/errors.js';
import { WORLD } from '../clock.js';
import { SimulationError } from '../errors.js';
import { ratio } from '../prng.js';
import type { RunOptions, RunResult } from '../runner.js';
import type { AsyncCustomScenario } from '../scenario.js';
import { runClusterScenarioAsync, runForAsync, runUntilSettled } from './async_driver.js';
import type { Cluster, ClusterOptions } from './cluster.js';
import { describeClusterOptions, drawClusterOptions, electionTimeoutMs, seedStream } from './generic_test.js';
import { bytes, text } from './harness.js';
import { SimTxnRpc } from './sim_txn_rpc.js';

/** Lock TTL of the helpers' prewrites, ms (nothing resolves locks here; a TxnClient would). */
const lockTtlMs = 3_000;

/** Most REGION_CHANGED answers one helper call takes before it gives up (each costs a locate). */
const regionChangesMax = 100;

/**
 * Sends `request` for the region holding `key`, again after each
 * REGION_CHANGED (the region is located anew).
 * @throws {ClientError} from the rpc (DEADLINE_EXCEEDED, CLOSED, ...).
 * @throws {SimulationError} liveness after `regionChangesMax` region changes.
 */
export async function callOnKey<M extends TxnMethod>(rpc: TxnRpc, method: M, key: Uint8Array, request: TxnRequest<M>, deadlineMs: number): Promise<TxnResponse<M>> {
  for (let i = 0; i < regionChangesMax; i++) {
    const region = await rpc.locate(key, deadlineMs);
    const response = await rpc.call(method, region, request, deadlineMs);
    if (response !== REGION_CHANGED) return response;
  }
  throw new SimulationError('liveness', `${method} of ${JSON.stringify(text(key))}: the region changed ${regionChangesMax} times`);
}

function describeKeyError(e: KeyError): string {
  if (e.locked !== undefined) return `locked by txn ${e.locked.lockVersion}`;
  if (e.conflict !== undefined) return `write conflict with commit ${e.conflict.conflictTs}`;
  return e.abort !== '' ? `abort: ${e.abort}` : `retryable: ${e.retryable}`;
}

/**
 * A one-key transaction writing `value` (primary = the key): prewrite at a
 * TSO start timestamp, then commit at a later one.
 * @returns the commit timestamp.
 * @throws {SimulationError} safety when a store answers a KeyError (one
 *   writer per key never conflicts); the rpc's ClientErrors.
 */
export async function txnPut(rpc: TxnRpc, key: string, value: string, deadlineMs: number): Promise<bigint> {
  const k = bytes(key);
  const startVersion = await rpc.tso(deadlineMs);
  const prewrite = await callOnKey(rpc, 'KvPrewrite', k, {
    context: undefined, mutations: [{ op: Op.Put, key: k, value: bytes(value) }], primaryLock: k, startVersion, lockTtl: lockTtlMs,
  }, deadlineMs);
  const error = prewrite.errors[0];
  if (error !== undefined) throw new SimulationError('safety', `prewrite of ${key} at ${startVersion}: ${describeKeyError(error)}`);
  const commitVersion = await rpc.tso(deadlineMs);
  const commit = await callOnKey(rpc, 'KvCommit', k, { context: undefined, startVersion, keys: [k], commitVersion }, deadlineMs);
  if (commit.error !== undefined) throw new SimulationError('safety', `commit of ${key} at ${commitVersion}: ${describeKeyError(commit.error)}`);
  return commitVersion;
}

/**
 * Reads `key` at a new TSO timestamp.
 * @returns the value, or undefined when the key has none.
 * @throws {SimulationError} safety on a KeyError; the rpc's ClientErrors.
 */
export async function txnGet(rpc: TxnRpc, key: string, deadlineMs: number): Promise<string | undefined> {
  const version = await rpc.tso(deadlineMs);
  const got = await callOnKey(rpc, 'KvGet', bytes(key), { context: undefined, key: bytes(key), version }, deadlineMs);
  if (got.error !== undefined) throw new SimulationError('safety', `get of ${key} at ${version}: ${describeKeyError(got.error)}`);
  return got.notFound ? undefined : text(got.value);
}

/** Rounds of write-then-read in `txn_rpc_basic`. */
const basicRounds = 12;
/** Rounds before which the leader's store of the keys' region is crashed. */
const crashBeforeRounds: readonly number[] = [3, 8];
/** Virtual time one helper call may take. */
const opBudgetMs = 30_000;

/** The generic cluster draw with 3 stores and lossy links (5% on server links, 2% on client links). */
export function drawTxnClusterOptions(seed: number): ClusterOptions {
  const base = drawClusterOptions(seedStream(seed), { nclients: 1, unreliable: true, crash: true, partitions: false, maxraftlog: -1 }, 3);
  return { ...base, network: { ...base.network, dropRatio: ratio(5, 100), clientDropRatio: ratio(2, 100) } };
}

/** Turns the rpc's typed errors into the seed's failure (a deadline is a liveness failure). */
async function asLiveness<T>(what: string, body: Promise<T>): Promise<T> {
  try {
    return await body;
  } catch (error: unknown) {
    if (error instanceof ClientError) throw new SimulationError('liveness', `${what}: ${error.code}: ${error.message}`, { cause: error });
    throw error;
  }
}

/** Crashes the store of the region's leader (as the scheduler knows it) and restarts it `downMs` later. */
function crashLeaderStore(cluster: Cluster, key: string, downMs: number): void {
  const region = cluster.scheduler.regionByKey(bytes(key));
  const leader = region === undefined ? undefined : cluster.scheduler.leaderOf(region.id);
  if (leader === undefined || !cluster.store(leader.storeId).alive) return;
  cluster.stopServer(leader.storeId);
  cluster.clock.schedule(downMs, WORLD, 'restart crashed leader store', () => {
    if (!cluster.store(leader.storeId).alive) cluster.startServer(leader.storeId);
  });
}

async function basicBody(cluster: Cluster): Promise<void> {
  const rpc = new SimTxnRpc(cluster, cluster.random.stream('txn rpc'));
  await runForAsync(cluster, 2 * electionTimeoutMs);
  for (let round = 0; round < basicRounds; round++) {
    const key = `t${round % 3}`;
    const value = `v${round}`;
    if (crashBeforeRounds.includes(round)) crashLeaderStore(cluster, key, 1_000);
    const put = cluster.history.begin(rpc.endpoint, { kind: 'put', key, value });
    await asLiveness(`put ${key}`, runUntilSettled(cluster, txnPut(rpc, key, value, rpc.nowMs() + opBudgetMs), opBudgetMs + 1, `txn put ${key}`));
    cluster.history.complete(put, 'ok', { kind: 'put' });
    const get = cluster.history.begin(rpc.endpoint, { kind: 'get', key });
    const read = await asLiveness(`get ${key}`, runUntilSettled(cluster, txnGet(rpc, key, rpc.nowMs() + opBudgetMs), opBudgetMs + 1, `txn get ${key}`));
    cluster.history.complete(get, 'ok', { kind: 'get', value: read });
    if (read !== value) throw new SimulationError('safety', `txn get ${key} read ${JSON.stringify(read)} right after committing ${JSON.stringify(value)}`);
  }
  rpc.close();
}

function runTxnRpcBasic(seed: number, options: RunOptions): Promise<RunResult> {
  const drawn = drawTxnClusterOptions(seed);
  return runClusterScenarioAsync('txn_rpc_basic', seed, {
    optionsLine: `${describeClusterOptions(drawn)} drop=5/100 clientDrop=2/100 rounds=${basicRounds}`,
    options: drawn,
    convergenceMs: 60_000,
    body: basicBody,
  }, options);
}

export const TXN_RPC_SCENARIOS: readonly AsyncCustomScenario[] = [
  {
    name: 'txn_rpc_basic',
    description: 'txn commands (Server over raft storage) via SimTxnRpc: one-key 2PC writes and reads, lossy links, leader store crashed twice',
    runAsync: runTxnRpcBasic,
  },
];
