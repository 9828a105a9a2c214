/**
 * TinyKV's non-generic 2B/2C raftstore tests (PEER-SUITE.md §2.3), step for
 * step on virtual time, with the simulator's checks on top (raft safety,
 * linearizability of the recorded operations, convergence at the end).
 */
import { CF_LOCK } from '../../storage/engine.js';
import { SimulationError } from '../errors.js';
import type { RunOptions, RunResult } from '../runner.js';
import { FIRST_REGION_ID } from './cluster.js';
import { ClusterClient } from './cluster_client.js';
import { describeClusterOptions, drawClusterOptions, electionTimeoutMs, seedStream } from './generic_test.js';
import {
  applyState, mustDelete, mustGet, mustGetEngineEqual, mustGetEngineNone, mustLeaderOf, mustPut, runClusterScenario,
} from './harness.js';

export function runOnePartition2B(seed: number, options: RunOptions): RunResult {
  const drawn = drawClusterOptions(seedStream(seed), { nclients: 1, unreliable: false, crash: false, partitions: true, maxraftlog: -1 });
  return runClusterScenario('TestOnePartition2B', seed, {
    optionsLine: describeClusterOptions(drawn),
    options: drawn,
    convergenceMs: 60_000,
    body: (cluster) => {
      const client = new ClusterClient(cluster, cluster.random.stream('client'));
      cluster.runFor(2 * electionTimeoutMs);
      const region = cluster.scheduler.regionByKey(Buffer.alloc(0));
      if (region === undefined) throw new SimulationError('liveness', 'no region for ""');
      const leader = mustLeaderOf(cluster, FIRST_REGION_ID, 5_000);
      const s1 = [leader.storeId];
      const s2: number[] = [];
      for (const p of region.peers) {
        if (p.id === leader.id) continue;
        if (s1.length < 3) s1.push(p.storeId);
        else s2.push(p.storeId);
      }
      cluster.addPartition(s1, s2);
      mustPut(cluster, client, 'k1', 'v1');
      if (mustGet(cluster, client, 'k1') !== 'v1') throw new SimulationError('safety', 'MustGet(k1) is not v1');
      for (const id of s2) mustGetEngineNone(cluster, id, 'k1');
      cluster.clearFilters();
      // The old leader and one follower become the minority.
      s2.push(s1[2] as number);
      s1.length = 2;
      cluster.addPartition(s1, s2);
      if (mustGet(cluster, client, 'k1') !== 'v1') throw new SimulationError('safety', 'MustGet(k1) after the second partition is not v1');
      mustPut(cluster, client, 'k1', 'changed');
      for (const id of s1) mustGetEngineEqual(cluster, id, 'k1', 'v1');
      cluster.clearFilters();
      mustPut(cluster, client, 'k2', 'v2');
      for (const id of s1) {
        mustGetEngineEqual(cluster, id, 'k2', 'v2');
        mustGetEngineEqual(cluster, id, 'k1', 'changed');
      }
    },
  }, options);
}

export function runOneSnapshot2C(seed: number, options: RunOptions): RunResult {
  const base = drawClusterOptions(seedStream(seed), { nclients: 1, unreliable: false, crash: true, partitions: true, maxraftlog: 10 }, 3);
  return runClusterScenario('TestOneSnapshot2C', seed, {
    optionsLine: describeClusterOptions(base),
    options: base,
    convergenceMs: 60_000,
    body: (cluster) => {
      const client = new ClusterClient(cluster, cluster.random.stream('client'));
      cluster.runFor(2 * electionTimeoutMs);
      mustPut(cluster, client, 'k1', 'v1', CF_LOCK);
      mustPut(cluster, client, 'k2', 'v2', CF_LOCK);
      mustGetEngineEqual(cluster, 1, 'k1', 'v1', CF_LOCK);
      mustGetEngineEqual(cluster, 1, 'k2', 'v2', CF_LOCK);
      for (const id of cluster.storeIds) {
        const t = applyState(cluster, id, FIRST_REGION_ID)?.truncatedState;
        if (t?.index !== 5 || t.term !== 5) throw new SimulationError('safety', `store ${id}: truncated state ${JSON.stringify(t)} before any compaction, want (5, 5)`);
      }
      cluster.addPartition([1], [2, 3]);
      for (let i = 100; i < 115; i++) mustPut(cluster, client, `k${i}`, `v${i}`, CF_LOCK);
      mustDelete(cluster, client, 'k2', CF_LOCK);
      cluster.runFor(500);
      mustGetEngineNone(cluster, 1, 'k100', CF_LOCK);
      cluster.clearFilters();
      // Store 1 must catch up by snapshot: the entries it lacks were compacted.
      mustGetEngineEqual(cluster, 1, 'k1', 'v1', CF_LOCK);
      mustGetEngineEqual(cluster, 1, 'k100', 'v100', CF_LOCK);
      mustGetEngineNone(cluster, 1, 'k2', CF_LOCK);
      cluster.stopServer(1);
      cluster.startServer(1);
      mustGetEngineEqual(cluster, 1, 'k1', 'v1', CF_LOCK);
      for (const id of cluster.storeIds) {
        const st = applyState(cluster, id, FIRST_REGION_ID);
        if (st === undefined) continue;
        const kept = st.appliedIndex - (st.truncatedState?.index ?? 0);
        if (kept > 20) throw new SimulationError('liveness', `store ${id}: applied ${st.appliedIndex} - truncated ${st.truncatedState?.index ?? 0} > 20`);
      }
    },
  }, options);
}
