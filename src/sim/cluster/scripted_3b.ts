/**
 * TinyKV's non-generic 3B raftstore tests (PEER-SUITE.md §2.3,
 * kv/test_raftstore/test_test.go) step for step on virtual time, with TinyKV's
 * timeouts: TestTransferLeader3B, TestBasicConfChange3B,
 * TestConfChangeRemoveLeader3B and TestOneSplit3B. On top of TinyKV's checks,
 * runClusterScenario adds raft safety at every apply, region invariants every
 * 100 ms, per-region convergence after healing, and linearizability of the
 * recorded operations. Where a test exists to make one raftstore rule run,
 * the scenario arms that rule's coverage mark and fails if it was not hit.
 *
 * Peers are written as TinyKV writes them, (store, peer id): region 1 starts
 * with peer i on store i. The tests reuse ids 1..5 (and put id 4 on store 2);
 * the mock scheduler allocates from store count + 1 = 6 (TinyKV's baseID), so
 * no id it hands out (split regions and their peers) can collide with them.
 */
import type { Peer } from '../../pb/metapb.js';
import { equalBytes } from '../../util/bytes.js';
import { expectMark } from '../../util/marks.js';
import { SimulationError } from '../errors.js';
import type { CustomScenario } from '../scenario.js';
import type { RunOptions, RunResult } from '../runner.js';
import type { Cluster, ClusterOptions } from './cluster.js';
import { FIRST_REGION_ID } from './cluster.js';
import { ClusterClient } from './cluster_client.js';
import type { RequestOutcome } from './cluster_client.js';
import type { GenericParams } from './generic_test.js';
import { describeClusterOptions, drawClusterOptions, seedStream } from './generic_test.js';
import {
  getRequest, mustAddPeer, mustGet, mustGetEngineEqual, mustGetEngineNone, mustPut, mustRegionByKey, mustRemovePeer,
  mustTransferLeader, runClusterScenario, runUntilTrue, text,
} from './harness.js';

/** TinyKV `NewTestConfig` with nothing overridden: no faults are drawn, only delays and latencies. */
const PLAIN: GenericParams = { nclients: 1, unreliable: false, crash: false, partitions: false, maxraftlog: -1 };
const storeCount = 5;
/** Virtual time the final convergence may take. */
const convergenceMs = 60_000;

/** TinyKV `NewPeer(storeID, peerID)`. */
function newPeer(storeId: number, id: number): Peer {
  return { id, storeId };
}

/**
 * A peer on `storeId` for a re-add. TinyKV's tests re-add a removed peer
 * with the same id; here it gets a fresh id from the scheduler, as PD does.
 * Reusing an id is unsafe with delayed messages: an acknowledgement sent by
 * the removed incarnation, arriving after the re-add, is indistinguishable
 * from one of the new, empty incarnation, so the leader would believe the
 * new peer holds entries it does not (the simulator's network delays and
 * reorders; TinyKV's delivers at once, which hides this).
 */
function freshPeer(cluster: Cluster, storeId: number): Peer {
  return { id: cluster.scheduler.allocId(), storeId };
}

/** Arms every mark for the body and turns "not hit" into a failure of the seed (as hard_cases.ts `withMark`). */
function withMarks(names: readonly string[], body: (cluster: Cluster) => void): (cluster: Cluster) => void {
  return (cluster) => {
    const checks = names.map((name) => expectMark(name));
    const missed: string[] = [];
    try {
      body(cluster);
    } finally {
      // Disarm either way; a miss is reported below as the seed's failure.
      for (const m of checks) {
        if (m.hits() > 0) m.assertHit();
        else {
          m.assertNotHit();
          missed.push(m.name);
        }
      }
    }
    if (missed.length > 0) throw new SimulationError('liveness', `the scripted steps did not exercise the rule (mark "${missed.join('", "')}" not hit)`);
  };
}

/** TinyKV `MustGet(key, value)`: the read goes through raft and must return `value`. */
function mustGetEqual(cluster: Cluster, client: ClusterClient, key: string, value: string): void {
  const got = mustGet(cluster, client, key);
  if (got !== value) throw new SimulationError('safety', `MustGet(${key}) returned ${JSON.stringify(got)}, want ${JSON.stringify(value)}`);
}

function runScripted(name: string, seed: number, options: RunOptions, drawn: ClusterOptions, body: (cluster: Cluster) => void): RunResult {
  return runClusterScenario(name, seed, { optionsLine: describeClusterOptions(drawn), options: drawn, convergenceMs, body }, options);
}

/** TestTransferLeader3B: leadership moves to (1,1), (2,2), …, (5,5) in turn, each by TransferLeader admin commands. */
export function runTransferLeader3B(seed: number, options: RunOptions): RunResult {
  const drawn = drawClusterOptions(seedStream(seed), PLAIN, storeCount);
  return runScripted('TestTransferLeader3B', seed, options, drawn, (cluster) => {
    const client = new ClusterClient(cluster, cluster.random.stream('client'));
    const regionId = mustRegionByKey(cluster, '').id;
    let commands = 0;
    for (const id of [1, 2, 3, 4, 5]) commands += mustTransferLeader(cluster, client, regionId, newPeer(id, id));
    // Only the first target can already lead: every later one needs a command.
    if (commands < 4) throw new SimulationError('liveness', `only ${commands} TransferLeader commands for 5 transfers in turn`);
  });
}

/**
 * TestBasicConfChange3B: shrink region 1 to (1,1), grow it back one peer at a
 * time (new peers catch up by snapshot), re-add a removed peer id, and put a
 * new peer id (4) on a store whose old peer was removed. A removed peer's
 * data must be gone from its store.
 */
export function runBasicConfChange3B(seed: number, options: RunOptions): RunResult {
  const drawn = drawClusterOptions(seedStream(seed), PLAIN, storeCount);
  return runScripted('TestBasicConfChange3B', seed, options, drawn, withMarks(['raftstore: peer destroyed'], (cluster) => {
    const client = new ClusterClient(cluster, cluster.random.stream('client'));
    const r = FIRST_REGION_ID;
    mustTransferLeader(cluster, client, r, newPeer(1, 1));
    for (const id of [2, 3, 4, 5]) mustRemovePeer(cluster, r, newPeer(id, id));
    // Now region 1 only has peer (1, 1).
    mustPut(cluster, client, 'k1', 'v1');
    mustGetEngineNone(cluster, 2, 'k1');

    let p2 = freshPeer(cluster, 2);
    mustAddPeer(cluster, r, p2);
    mustPut(cluster, client, 'k2', 'v2');
    mustGetEqual(cluster, client, 'k2', 'v2');
    mustGetEngineEqual(cluster, 2, 'k1', 'v1');
    mustGetEngineEqual(cluster, 2, 'k2', 'v2');
    const confVer = mustRegionByKey(cluster, 'k1').regionEpoch?.confVer ?? 0;
    if (confVer <= 1) throw new SimulationError('safety', `region of k1 has conf_ver ${confVer} after 5 conf changes, want > 1`);
    // Peer 5 must not exist.
    mustGetEngineNone(cluster, 5, 'k1');

    const p3 = freshPeer(cluster, 3);
    mustAddPeer(cluster, r, p3);
    mustRemovePeer(cluster, r, p2);
    mustPut(cluster, client, 'k3', 'v3');
    mustGetEqual(cluster, client, 'k3', 'v3');
    for (const [k, v] of [['k1', 'v1'], ['k2', 'v2'], ['k3', 'v3']] as const) mustGetEngineEqual(cluster, 3, k, v);
    // Peer 2 was removed: its data is destroyed.
    mustGetEngineNone(cluster, 2, 'k1');
    mustGetEngineNone(cluster, 2, 'k2');

    p2 = freshPeer(cluster, 2);
    mustAddPeer(cluster, r, p2);
    for (const [k, v] of [['k1', 'v1'], ['k2', 'v2'], ['k3', 'v3']] as const) mustGetEngineEqual(cluster, 2, k, v);

    mustRemovePeer(cluster, r, p2);
    mustAddPeer(cluster, r, freshPeer(cluster, 2));
    mustRemovePeer(cluster, r, p3);
    mustPut(cluster, client, 'k4', 'v4');
    mustGetEngineEqual(cluster, 2, 'k1', 'v1');
    mustGetEngineEqual(cluster, 2, 'k4', 'v4');
    mustGetEngineNone(cluster, 3, 'k1');
    mustGetEngineNone(cluster, 3, 'k4');
  }));
}

/**
 * TestConfChangeRemoveLeader3B: the scheduler removes the region's leader,
 * first in a 5-peer group, then in a 2-peer group; the removed leader's store
 * gets no later writes until the peer is added back with the same id.
 * HARD-CASES C4: the leader never proposes its own removal; it hands
 * leadership over first (the mark).
 */
export function runConfChangeRemoveLeader3B(seed: number, options: RunOptions): RunResult {
  const drawn = drawClusterOptions(seedStream(seed), PLAIN, storeCount);
  const marks = ['raftstore: leader removal refused, transferring leadership first', 'raftstore: peer destroyed'];
  return runScripted('TestConfChangeRemoveLeader3B', seed, options, drawn, withMarks(marks, (cluster) => {
    const client = new ClusterClient(cluster, cluster.random.stream('client'));
    const r = FIRST_REGION_ID;
    mustTransferLeader(cluster, client, r, newPeer(1, 1));
    // Remove the leader itself.
    mustRemovePeer(cluster, r, newPeer(1, 1));
    mustPut(cluster, client, 'k0', 'v0');
    mustGetEngineNone(cluster, 1, 'k0');

    // Add it back (a fresh id, see freshPeer) and make it the leader again.
    let p1 = freshPeer(cluster, 1);
    mustAddPeer(cluster, r, p1);
    mustTransferLeader(cluster, client, r, p1);
    mustPut(cluster, client, 'k1', 'v1');
    mustGetEngineEqual(cluster, 1, 'k0', 'v0');
    mustGetEngineEqual(cluster, 1, 'k1', 'v1');

    for (const id of [2, 3, 4]) mustRemovePeer(cluster, r, newPeer(id, id));
    // Peers are now p1 on store 1 and (5,5): remove the leader of a 2-peer group.
    mustRemovePeer(cluster, r, p1);
    mustPut(cluster, client, 'k2', 'v2');
    mustGetEngineNone(cluster, 1, 'k2');

    p1 = freshPeer(cluster, 1);
    mustAddPeer(cluster, r, p1);
    mustPut(cluster, client, 'k3', 'v3');
    mustGetEngineNone(cluster, 3, 'k3');
    mustGetEngineEqual(cluster, 1, 'k3', 'v3');
  }));
}

/** TinyKV's TestOneSplit3B sizes: RegionMaxSize 800, RegionSplitSize 500. */
const ONE_SPLIT_MAX_BYTES = 800;
const ONE_SPLIT_SPLIT_BYTES = 500;

/** TinyKV `CallCommandOnLeader(req, 1s)`: one second in all, at least one attempt. */
const CALL_ON_LEADER_1S = { requestTimeoutMs: 1_000, attemptsMin: 1, attemptTimeoutMs: 1_000, retryPauseMs: 100 } as const;

/**
 * TestOneSplit3B: 100 puts split region 1 while store 5 is cut off; the two
 * halves share the boundary, a command for the left region with a key of the
 * right one is refused with KeyNotInRegion, and store 5 catches up.
 */
export function runOneSplit3B(seed: number, options: RunOptions): RunResult {
  const base = drawClusterOptions(seedStream(seed), PLAIN, storeCount);
  const drawn: ClusterOptions = {
    ...base,
    store: { ...base.store, raftstore: { ...base.store.raftstore, regionMaxSizeBytes: ONE_SPLIT_MAX_BYTES, regionSplitSizeBytes: ONE_SPLIT_SPLIT_BYTES } },
  };
  return runClusterScenario('TestOneSplit3B', seed, {
    optionsLine: `${describeClusterOptions(drawn)} regionMaxSize=${ONE_SPLIT_MAX_BYTES} regionSplitSize=${ONE_SPLIT_SPLIT_BYTES}`,
    options: drawn,
    convergenceMs,
    body: withMarks(['raftstore: split applied'], (cluster) => oneSplitBody(cluster)),
  }, options);
}

function oneSplitBody(cluster: Cluster): void {
  const client = new ClusterClient(cluster, cluster.random.stream('client'));
  mustPut(cluster, client, 'k1', 'v1');
  mustPut(cluster, client, 'k2', 'v2');
  const region = mustRegionByKey(cluster, 'k1');
  const region1 = mustRegionByKey(cluster, 'k2');
  if (region.id !== region1.id) throw new SimulationError('safety', `k1 and k2 are in regions ${region.id} and ${region1.id} before any split`);

  cluster.addPartition([1, 2, 3, 4], [5]);
  // Write some data to trigger a split.
  for (let i = 100; i < 200; i++) mustPut(cluster, client, `k${i}`, `v${i}`);
  cluster.runFor(200);
  cluster.clearFilters();

  const left = mustRegionByKey(cluster, 'k1');
  const right = mustRegionByKey(cluster, 'k2');
  if (left.id === right.id) throw new SimulationError('liveness', `region ${left.id} is not split 200 ms after the last put`);
  if (!equalBytes(region.startKey, left.startKey)) throw new SimulationError('safety', `left region ${left.id} starts at ${JSON.stringify(text(left.startKey))}, not at the old region's start`);
  if (!equalBytes(left.endKey, right.startKey)) throw new SimulationError('safety', `left region ${left.id} ends at ${JSON.stringify(text(left.endKey))}, right region ${right.id} starts at ${JSON.stringify(text(right.startKey))}`);
  if (!equalBytes(right.endKey, region.endKey)) throw new SimulationError('safety', `right region ${right.id} ends at ${JSON.stringify(text(right.endKey))}, not at the old region's end`);

  // A Get of k2 addressed to the left region must be refused with KeyNotInRegion.
  const caller = new ClusterClient(cluster, cluster.random.stream('call on leader'), CALL_ON_LEADER_1S);
  let outcome: RequestOutcome | undefined;
  caller.requestRegion(left.id, [getRequest('k2')], (o) => {
    outcome = o;
  });
  runUntilTrue(cluster, () => outcome !== undefined, 60_000, `Get(k2) on region ${left.id}`);
  const got = outcome as RequestOutcome;
  if (got.ok) throw new SimulationError('safety', `Get(k2) on left region ${left.id} succeeded, want KeyNotInRegion`);
  if (got.kind === 'timeout') throw new SimulationError('liveness', `Get(k2) on left region ${left.id}: no response in 1 s (${got.attempts} attempts)`);
  const err = got.response.header?.error;
  if (err?.keyNotInRegion === undefined) throw new SimulationError('safety', `Get(k2) on left region ${left.id}: error ${JSON.stringify(err?.message)}, want KeyNotInRegion`);

  // The store cut off during the split catches up.
  mustGetEngineEqual(cluster, 5, 'k100', 'v100');
}

/** The four scenarios under TinyKV's test names (registered in scenarios.ts). */
export const SCRIPTED_3B_SCENARIOS: readonly CustomScenario[] = [
  {
    name: 'TestTransferLeader3B',
    description: 'TinyKV: TransferLeader admin commands move region 1\'s leadership to stores 1, 2, 3, 4, 5 in turn',
    run: (seed, options) => runTransferLeader3B(seed, options),
  },
  {
    name: 'TestBasicConfChange3B',
    description: 'TinyKV: shrink region 1 to one peer, add peers back (snapshots), re-add a removed peer id, new peer id on an old store; removed peers lose their data',
    run: (seed, options) => runBasicConfChange3B(seed, options),
  },
  {
    name: 'TestConfChangeRemoveLeader3B',
    description: 'TinyKV: remove the leader (in 5- and 2-peer groups); it hands leadership over first, then comes back with the same id',
    run: (seed, options) => runConfChangeRemoveLeader3B(seed, options),
  },
  {
    name: 'TestOneSplit3B',
    description: 'TinyKV: 100 puts split region 1 (800/500 bytes) with store 5 cut off; KeyNotInRegion for a stale key; store 5 catches up',
    run: (seed, options) => runOneSplit3B(seed, options),
  },
];
