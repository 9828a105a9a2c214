/**
 * HARD-CASES rows S1 and S2 (../shared/docs/HARD-CASES.md) as scripted
 * scenarios at the store level: the whole raftstore (peers, rounds on a
 * simulated disk, chunked snapshot streams, log GC) rather than the raft
 * core alone (src/raft/hard_cases.test.ts). Each scenario arms the coverage
 * mark of its rule and fails if the fault did not make the rule's code run,
 * besides the usual checks (raft safety, linearizability, convergence).
 */
import { expectMark } from '../../util/marks.js';
import type { MarkCheck } from '../../util/marks.js';
import { SimulationError } from '../errors.js';
import { ratio } from '../prng.js';
import type { RunOptions, RunResult } from '../runner.js';
import type { Cluster, ClusterOptions } from './cluster.js';
import type { ClusterEnvelope } from './payload.js';
import { FIRST_REGION_ID } from './cluster.js';
import { ClusterClient } from './cluster_client.js';
import { describeClusterOptions, drawClusterOptions, electionTimeoutMs, seedStream } from './generic_test.js';
import { mustGet, mustLeaderOf, mustPut, runClusterScenario, runUntilTrue } from './harness.js';

/** Arms `name` for the body and turns "not hit" into a failure of the seed. */
function withMark(name: string, body: (cluster: Cluster) => void): (cluster: Cluster) => void {
  return (cluster) => {
    const m: MarkCheck = expectMark(name);
    let hits: number;
    try {
      body(cluster);
    } finally {
      hits = m.hits();
      // Disarm either way; the miss is reported below as the seed's failure.
      if (hits > 0) m.assertHit();
      else m.assertNotHit();
    }
    if (hits === 0) throw new SimulationError('liveness', `the scripted fault did not exercise the rule (mark "${name}" not hit)`);
  };
}

/**
 * S1: a snapshot arrives while an earlier one is still being applied. Store
 * `lagging` misses many entries behind a partition while the log is
 * compacted; its disk then turns slow, so applying the snapshot it receives
 * after the heal takes hundreds of ms. While that snapshot's round is in
 * flight the network delivers the stream again (a duplicate delivery), and
 * appends keep coming. The rule: a peer with a pending snapshot ignores
 * further snapshots and appends until it is applied; the leader retries.
 */
export function runS1(seed: number, options: RunOptions): RunResult {
  const drawn: ClusterOptions = drawClusterOptions(seedStream(seed), { nclients: 1, unreliable: false, crash: false, partitions: true, maxraftlog: 5 }, 3);
  return runClusterScenario('S1', seed, {
    optionsLine: describeClusterOptions(drawn),
    options: drawn,
    convergenceMs: 60_000,
    body: withMark('raft: ignore append/snapshot, pending snapshot not applied', (cluster) => {
      const client = new ClusterClient(cluster, cluster.random.stream('client'));
      cluster.runFor(2 * electionTimeoutMs);
      const leader = mustLeaderOf(cluster, FIRST_REGION_ID, 10_000).storeId;
      const lagging = cluster.storeIds.find((id) => id !== leader) as number;
      // Record the last snapshot stream sent to the lagging store, to deliver it again.
      let stream: ClusterEnvelope[] = [];
      cluster.tap = (e) => {
        if (e.to !== lagging || e.payload.kind !== 'snapChunk') return;
        if (e.payload.chunk.message !== undefined) stream = [];
        stream.push(e);
      };
      cluster.addPartition([lagging], cluster.storeIds.filter((id) => id !== lagging));
      for (let i = 0; i < 30; i++) mustPut(cluster, client, `a${i}`, `v${i}`);
      cluster.disk(lagging).setLatency(300, 500);
      cluster.clearFilters();
      const applying = (): boolean => cluster.store(lagging).store?.peer(FIRST_REGION_ID)?.applyingSnapshot === true;
      runUntilTrue(cluster, applying, 10_000, 'the lagging store applies a snapshot');
      // Replayed as a stream: each chunk once the previous one arrived.
      const replay = (i: number): void => {
        const e = stream[i];
        if (e === undefined || e.payload.kind !== 'snapChunk') return;
        const payload = { ...e.payload, streamId: e.payload.streamId + REPLAY_STREAM_OFFSET };
        cluster.network.send({ ...e, payload }, (delivered) => (delivered ? replay(i + 1) : undefined));
      };
      replay(0);
      cluster.tap = undefined;
      for (let i = 0; i < 30; i++) mustPut(cluster, client, `b${i}`, `v${i}`);
      cluster.disk(lagging).setLatency(0, 5);
      if (mustGet(cluster, client, 'a0') !== 'v0') throw new SimulationError('safety', 'a0 lost');
    }),
  }, options);
}

/** Replayed streams get ids no sender uses. */
const REPLAY_STREAM_OFFSET = 1_000_000;

/**
 * S2: a follower has compacted the entry at the leader's prevLogIndex. Two
 * stores (a quorum needs both: if the follower's match stopped advancing,
 * nothing would commit), an aggressive log GC limit, and a link from the
 * leader that delays messages by up to 400 ms and duplicates some, so old
 * appends arrive after the follower applied and compacted past their
 * prevLogIndex. The rule: the follower answers with its committed index (a
 * real field, no magic), and the leader's match keeps advancing.
 */
export function runS2(seed: number, options: RunOptions): RunResult {
  const base = drawClusterOptions(seedStream(seed), { nclients: 1, unreliable: false, crash: false, partitions: false, maxraftlog: 3 }, 2);
  const drawn: ClusterOptions = { ...base, network: { ...base.network, duplicateRatio: ratio(1, 10) } };
  return runClusterScenario('S2', seed, {
    optionsLine: `${describeClusterOptions(drawn)} duplicate=1/10`,
    options: drawn,
    convergenceMs: 60_000,
    body: withMark('raft: append below committed, answer with committed index', (cluster) => {
      const client = new ClusterClient(cluster, cluster.random.stream('client'));
      cluster.runFor(2 * electionTimeoutMs);
      const leader = mustLeaderOf(cluster, FIRST_REGION_ID, 10_000).storeId;
      const follower = cluster.storeIds.find((id) => id !== leader) as number;
      cluster.network.setLinkDelay(leader, follower, { minMs: 1, maxMs: 400 });
      for (let i = 0; i < 80; i++) mustPut(cluster, client, `k${i}`, `v${i}`);
      cluster.network.setLinkDelay(leader, follower, drawn.network.delay);
      for (let i = 0; i < 80; i += 20) if (mustGet(cluster, client, `k${i}`) !== `v${i}`) throw new SimulationError('safety', `k${i} lost`);
    }),
  }, options);
}
