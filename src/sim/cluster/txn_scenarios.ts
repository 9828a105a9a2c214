/**
 * The `txnBank` and `txnCycle` scenarios: the transactional workloads of
 * ../txn_workload.ts run through the production `TxnClient` against the
 * production transactional commands on the simulated multi-raft cluster,
 * under the 3B fault mix of TinyKV's hardest GenericTest row
 * (TestSplitConfChangeSnapshotUnreliableRecoverConcurrentPartition3B):
 * message loss, partitions re-drawn every election timeout, conf changes,
 * regions split at a few hundred bytes, raft logs compacted every 100
 * entries, and every store crashed and restarted between iterations.
 *
 * Beyond TinyKV's row, one store at a time also crashes (losing its unsynced
 * writes) and restarts during the window, so transactions meet crashed
 * leaders and lost locks mid-flight, not only between iterations.
 *
 * Each iteration runs the clients and the faults for a window, stops the
 * faults, heals the network, lets every transaction in flight finish or give
 * up, then crashes and restarts all stores. At the end, on the healed
 * cluster, unknown commits are resolved and a final read must succeed
 * (liveness) and hold the invariant; the history must be
 * snapshot-isolated; then the harness checks that every replica converged.
 */
import { TxnClient } from '../../client/txn_client.js';
import { WORLD } from '../clock.js';
import { SimulationError } from '../errors.js';
import { pick } from '../prng.js';
import type { Prng } from '../prng.js';
import type { RunOptions, RunResult } from '../runner.js';
import type { AsyncCustomScenario } from '../scenario.js';
import { TxnWorkload } from '../txn_workload.js';
import type { TxnWorkloadKind } from '../txn_workload.js';
import { runClusterScenarioAsync, runForAsync, runUntilTrueAsync } from './async_driver.js';
import type { Cluster } from './cluster.js';
import { describeClusterOptions, drawClusterOptions, electionTimeoutMs, seedStream, startIterationFaults } from './generic_test.js';
import type { GenericParams, NetworkState } from './generic_test.js';
import { SimTxnRpc } from './sim_txn_rpc.js';

const FAULTS: GenericParams = { nclients: 6, unreliable: true, crash: true, partitions: true, maxraftlog: 100, confchange: true, split: true };
const iterations = 3;
const windowMs = 5_000;
/** Mean pause between two steps of the crash loop (crash one store, or restart the crashed one). */
const crashStepMs = 1_000;
const keyCount = 8;
/** A transaction's operations may take this long (virtual) before its client gives up on it. */
const txnTimeoutMs = 10_000;
/** How long the setup, the resolution of unknown commits and the final read may take on the healed network. */
const settleMs = 60_000;

export function runTxnScenario(name: string, kind: TxnWorkloadKind, seed: number, options: RunOptions): Promise<RunResult> {
  const base = drawClusterOptions(seedStream(seed), FAULTS);
  // Percolator data needs split keys that keep each key's lock, writes and values together (split.ts).
  const drawn = { ...base, store: { ...base.store, raftstore: { ...base.store.raftstore, txnSafeSplitKeys: true } } };
  return runClusterScenarioAsync(name, seed, {
    optionsLine: `workload=${kind} clients=${FAULTS.nclients} keys=${keyCount} iterations=${iterations} window=${windowMs} ${describeClusterOptions(drawn)}`,
    options: drawn,
    body: (cluster) => txnBody(cluster, kind),
    convergenceMs: 60_000,
  }, options);
}

function newClient(cluster: Cluster, name: string): { readonly client: TxnClient; readonly rpc: SimTxnRpc } {
  const rpc = new SimTxnRpc(cluster, cluster.random.stream(name));
  return { client: new TxnClient({ rpc, timeoutMs: txnTimeoutMs }), rpc };
}

/** Runs `f` on the healed cluster; it must finish within settleMs (liveness). */
async function settle<T>(cluster: Cluster, what: string, f: () => Promise<T>): Promise<T> {
  let out: { readonly value: T } | undefined;
  let error: unknown;
  let finished = false;
  void f().then((value) => { out = { value }; }, (e: unknown) => { error = e; }).finally(() => { finished = true; });
  await runUntilTrueAsync(cluster, () => finished, settleMs, what);
  if (out !== undefined) return out.value;
  if (error instanceof SimulationError) throw error;
  throw new SimulationError('liveness', `${what} failed on the healed cluster: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

/**
 * Every crashStepMs/2..3·crashStepMs/2: restart the crashed store if there
 * is one, else crash a random store with even odds. One store down at most,
 * so a region of 3 or more peers keeps a majority unless the network splits
 * it; every store runs again when the loop stops.
 */
function startCrashLoop(cluster: Cluster, rnd: Prng, isDone: () => boolean): { readonly running: () => boolean } {
  let down: number | undefined;
  let running = true;
  const step = (): void => {
    if (down !== undefined) {
      cluster.startServer(down);
      down = undefined;
    } else if (!isDone() && rnd.chance({ numerator: 1, denominator: 2 })) {
      down = pick(rnd, cluster.storeIds);
      cluster.stopServer(down);
    }
    if (isDone() && down === undefined) {
      running = false;
      return;
    }
    cluster.clock.schedule(rnd.intInclusive(crashStepMs / 2, (3 * crashStepMs) / 2), WORLD, 'txn crash loop', step);
  };
  cluster.clock.schedule(rnd.intInclusive(crashStepMs / 2, (3 * crashStepMs) / 2), WORLD, 'txn crash loop', step);
  return { running: () => running };
}

async function txnBody(cluster: Cluster, kind: TxnWorkloadKind): Promise<void> {
  const rnd: Prng = cluster.random.stream('txn faults');
  const workload = new TxnWorkload({ kind, keyCount, keyPrefix: 'k' });
  await runForAsync(cluster, 2 * electionTimeoutMs);
  const setup = newClient(cluster, 'txn setup client');
  await settle(cluster, 'setup transaction', () => workload.setup(setup.client));
  const clients = Array.from({ length: FAULTS.nclients }, (_, i) => newClient(cluster, `txn client${i}`).client);
  const network: NetworkState = { faulty: false, healedAtMs: 0 };
  let failure: { readonly error: unknown } | undefined;
  for (let iter = 0; iter < iterations; iter++) {
    if (cluster.trace.enabled) cluster.trace.record(`txn ${kind}: iteration ${iter}`);
    let done = false;
    let running = clients.length;
    clients.forEach((client, i) => {
      const loopRnd = cluster.random.stream(`txn client${i} iteration${iter}`);
      const loop = async (): Promise<void> => {
        while (!done && failure === undefined) await workload.runOne(client, i, loopRnd);
      };
      loop().catch((error: unknown) => { failure ??= { error }; }).finally(() => { running--; });
    });
    const faults = startIterationFaults(cluster, rnd, FAULTS, () => done || failure !== undefined, network);
    const crashes = startCrashLoop(cluster, rnd, () => done);
    await runForAsync(cluster, windowMs);
    done = true;
    await runUntilTrueAsync(cluster, () => !crashes.running(), 2 * crashStepMs, 'crash loop stop');
    await runUntilTrueAsync(cluster, () => !faults.chaosRunning(), 2 * electionTimeoutMs, 'chaos loop stop');
    cluster.clearFilters();
    network.faulty = false;
    network.healedAtMs = cluster.clock.nowMs;
    await runUntilTrueAsync(cluster, () => !faults.confchangerRunning(), 30_000, 'confchanger stop');
    // A transaction in flight finishes or gives up within its timeout (plus its background work).
    await runUntilTrueAsync(cluster, () => running === 0, 3 * txnTimeoutMs, 'txn clients stop');
    if (failure !== undefined) throw failure.error;
    for (const id of cluster.storeIds) cluster.stopServer(id);
    await runForAsync(cluster, electionTimeoutMs);
    for (const id of cluster.storeIds) cluster.startServer(id);
  }
  const final = newClient(cluster, 'txn final client');
  const summary = await settle(cluster, 'final check', () => workload.finalCheck(final.client, final.rpc, cluster.clock.nowMs + settleMs));
  if (cluster.trace.enabled) {
    cluster.trace.record(`txn ${kind}: ${summary.txns} txns, ${summary.committed} committed, ${summary.aborted} aborted, ${summary.unknown} unknown (${summary.unknownCommitted} committed)`);
  }
  await settle(cluster, 'closing the clients', () => Promise.all([setup, final, ...clients.map((client) => ({ client }))].map((c) => c.client.close())));
}

/** The transactional scenarios (async: the client and the stores' commands are Promise-based). */
export const TXN_SCENARIOS: readonly AsyncCustomScenario[] = [
  {
    name: 'txnBank',
    description: 'transactions move money between 8 accounts under loss, partitions, crashes, conf changes and splits; every snapshot sums to the total; snapshot isolation checked',
    runAsync: (seed, options) => runTxnScenario('txnBank', 'bank', seed, options),
  },
  {
    name: 'txnCycle',
    description: 'transactions permute a ring of 8 keys under loss, partitions, crashes, conf changes and splits; every snapshot is one ring; snapshot isolation checked',
    runAsync: (seed, options) => runTxnScenario('txnCycle', 'cycle', seed, options),
  },
];
