/**
 * The named scenarios of the first consumer (the raft KV). Each draws every
 * option from the seed; they differ in which faults are on. `raftkv_swarm`
 * draws every fault parameter too (TigerBeetle's options_swarm), so that
 * seeds explore combinations nobody thought to write down.
 */
import { assert } from '../util/assert.js';
import { NO_FAULTS } from './faults.js';
import type { FaultOptions } from './faults.js';
import { PARTITION_MODES } from './network.js';
import type { NetworkFaults } from './network.js';
import { drawRatio, pick, ratio, RATIO_NEVER } from './prng.js';
import type { Prng } from './prng.js';
import type { AnyScenario, Scenario, ScriptedFault, SimOptions } from './scenario.js';
import { CLUSTER_SCENARIOS } from './cluster/scenarios.js';
import { TXN_RPC_SCENARIOS } from './cluster/txn_rpc_scenario.js';
import { TXN_SCENARIOS } from './cluster/txn_scenarios.js';

/** The timing every scenario shares: tick, election timeout and the timeouts derived from it. */
function drawBase(prng: Prng, nodeCounts: readonly number[]): SimOptions {
  const tickMs = pick(prng, [10, 20, 50]);
  const electionTick = prng.intInclusive(10, 20);
  const heartbeatTick = prng.intInclusive(1, 3);
  const electionMs = electionTick * tickMs;
  const nodeCount = pick(prng, nodeCounts);
  const delayMinMs = prng.intInclusive(1, 5);
  // Message delays stay well under an election timeout, or no leader would last.
  const delayMaxMs = delayMinMs + prng.intInclusive(0, Math.floor(electionMs / 8));
  const clientDelayMinMs = prng.intInclusive(1, 5);
  return {
    nodeCount,
    clientCount: prng.intInclusive(1, 6),
    raft: {
      tickMs, electionTick, heartbeatTick, preVote: true, checkQuorum: true,
      maxSizePerMsgBytes: pick(prng, [256, 4096, 1 << 20]),
      maxInflightMsgs: pick(prng, [1, 4, 256]),
      compactLogEntriesMin: pick(prng, [5, 20, 100, 1000]),
      requestTimeoutMs: 3 * electionMs,
      buggyFollowerReads: false,
    },
    network: {
      delay: { minMs: delayMinMs, maxMs: delayMaxMs },
      dropRatio: RATIO_NEVER,
      duplicateRatio: RATIO_NEVER,
      clientDelay: { minMs: clientDelayMinMs, maxMs: clientDelayMinMs + prng.intInclusive(0, 10) },
      clientDropRatio: RATIO_NEVER,
    },
    disk: {
      writeLatencyMsMin: 0,
      writeLatencyMsMax: prng.intInclusive(0, 10),
      crashKeepsUnsyncedPrefix: prng.chance({ numerator: 1, denominator: 2 }),
    },
    faults: NO_FAULTS,
    workload: {
      keyCount: prng.intInclusive(2, 12),
      mix: { get: prng.intInclusive(1, 4), put: prng.intInclusive(1, 4), delete: prng.intInclusive(0, 1), scan: prng.intInclusive(0, 2) },
      thinkTimeMsMin: 0,
      thinkTimeMsMax: prng.intInclusive(1, 100),
      scanLimitMax: prng.intInclusive(1, 10),
    },
    client: {
      opTimeoutMs: 4 * electionMs,
      readAttemptTimeoutMs: 2 * electionMs,
      retryBackoffMs: 2 * tickMs,
      attemptsMax: prng.intInclusive(3, 8),
      readsAtRandomNode: false,
    },
    safetyDurationMs: prng.intInclusive(5, 15) * 1000,
    ticksMaxConvergence: 100 * electionTick,
  };
}

function drawLossyNetwork(prng: Prng, base: NetworkFaults): NetworkFaults {
  return {
    ...base,
    dropRatio: drawRatio(prng, 20, 100),
    duplicateRatio: drawRatio(prng, 10, 100),
    clientDropRatio: drawRatio(prng, 10, 100),
  };
}

function drawPartitions(prng: Prng, faults: FaultOptions, electionMs: number): FaultOptions {
  return {
    ...faults,
    partitionProbability: ratio(prng.intInclusive(1, 30), 100),
    unpartitionProbability: ratio(prng.intInclusive(5, 50), 100),
    partitionMode: pick(prng, PARTITION_MODES),
    partitionSymmetric: prng.chance({ numerator: 1, denominator: 2 }),
    partitionStabilityMs: prng.intInclusive(1, 10) * electionMs,
  };
}

function drawCrashes(prng: Prng, faults: FaultOptions, nodeCount: number, electionMs: number): FaultOptions {
  return {
    ...faults,
    crashProbability: ratio(prng.intInclusive(1, 5), 100),
    restartProbability: ratio(prng.intInclusive(10, 60), 100),
    downtimeMsMin: prng.intInclusive(0, 4) * electionMs,
    // Up to every node at once: a whole-cluster crash must lose no acknowledged write.
    crashedMax: prng.intInclusive(1, nodeCount),
  };
}

function drawClogs(prng: Prng, faults: FaultOptions, electionMs: number): FaultOptions {
  return {
    ...faults,
    clogProbability: ratio(prng.intInclusive(1, 20), 100),
    clogDurationMsMax: prng.intInclusive(1, 4) * electionMs,
    swizzleProbability: ratio(prng.intInclusive(2, 10), 100),
    swizzleStepMs: prng.intInclusive(1, electionMs),
    swizzleHoldMs: prng.intInclusive(1, 3) * electionMs,
  };
}

function electionMsOf(o: SimOptions): number {
  return o.raft.electionTick * o.raft.tickMs;
}

/** Every fault class on or off by a coin flip, each parameter drawn: swarm testing. */
function drawSwarm(prng: Prng): SimOptions {
  const base = drawBase(prng, [1, 2, 3, 4, 5, 7]);
  const e = electionMsOf(base);
  const coin = (): boolean => prng.chance({ numerator: 1, denominator: 2 });
  let faults: FaultOptions = { ...NO_FAULTS, intervalMs: prng.intInclusive(1, 4) * 50 };
  if (coin() && base.nodeCount >= 2) faults = drawPartitions(prng, faults, e);
  if (coin() && base.nodeCount >= 2) faults = drawCrashes(prng, faults, base.nodeCount, e);
  if (coin()) faults = drawClogs(prng, faults, e);
  const network = coin() ? drawLossyNetwork(prng, base.network) : base.network;
  return { ...base, network, faults, clientCount: prng.intInclusive(1, 10) };
}

/**
 * A scripted stale-leader schedule: a third into the run, cut the leader off
 * (both ways, or only its outbound links) for a few election timeouts, then
 * heal; two thirds in, cut one random link one way for a while.
 */
function leaderIsolationScript(options: SimOptions, prng: Prng): readonly ScriptedFault[] {
  const e = electionMsOf(options);
  const t1 = Math.floor(options.safetyDurationMs / 3);
  const t2 = Math.floor((2 * options.safetyDurationMs) / 3);
  const symmetric = prng.chance({ numerator: 1, denominator: 2 });
  // Each fault heals before the next one starts and before the safety phase ends.
  const holdMs = Math.min(prng.intInclusive(2, 6) * e, Math.floor(options.safetyDurationMs / 3) - 1);
  return [
    {
      atMs: t1,
      label: `isolate the leader (${symmetric ? 'both ways' : 'outbound only'})`,
      apply: (sim) => {
        const leader = sim.leaderId();
        if (leader !== undefined && sim.nodeIds.length > 1) sim.network.isolate(leader, symmetric);
      },
    },
    { atMs: t1 + holdMs, label: 'heal', apply: (sim) => sim.network.heal() },
    {
      atMs: t2,
      label: 'cut one link one way',
      apply: (sim) => {
        if (sim.nodeIds.length < 2) return;
        const from = pick(prng, sim.nodeIds);
        const to = pick(prng, sim.nodeIds.filter((id) => id !== from));
        sim.network.cutOneWay(from, to);
      },
    },
    { atMs: t2 + holdMs, label: 'heal', apply: (sim) => sim.network.heal() },
  ];
}

/** The raft KV scenarios (the simulator's first consumer). */
export const RAFTKV_SCENARIOS: readonly Scenario[] = [
  {
    name: 'raftkv_basic',
    description: 'raft KV, 3 or 5 nodes, reliable network, no faults',
    draw: (prng) => drawBase(prng, [3, 5]),
  },
  {
    name: 'raftkv_unreliable',
    description: 'raft KV over a network that loses, duplicates and reorders messages',
    draw: (prng) => {
      const base = drawBase(prng, [3, 5]);
      return { ...base, network: drawLossyNetwork(prng, base.network) };
    },
  },
  {
    name: 'raftkv_partitions',
    description: 'random partitions (split, isolate, asymmetric) plus a scripted leader isolation and one-way cut',
    draw: (prng) => {
      const base = drawBase(prng, [3, 5]);
      return { ...base, faults: drawPartitions(prng, { ...NO_FAULTS, intervalMs: 200 }, electionMsOf(base)) };
    },
    script: leaderIsolationScript,
  },
  {
    name: 'raftkv_crash_restart',
    description: 'nodes crash (losing unsynced writes) and restart from their disks; logs compact, snapshots flow',
    draw: (prng) => {
      const base = drawBase(prng, [3, 5]);
      const raft = { ...base.raft, compactLogEntriesMin: pick(prng, [5, 10, 50]) };
      return { ...base, raft, faults: drawCrashes(prng, { ...NO_FAULTS, intervalMs: 200 }, base.nodeCount, electionMsOf(base)) };
    },
  },
  {
    name: 'raftkv_swizzle_clog',
    description: "FDB's swizzle-clog and random link clogs over a slightly lossy network",
    draw: (prng) => {
      const base = drawBase(prng, [3, 5]);
      const network = { ...base.network, dropRatio: drawRatio(prng, 5, 100) };
      return { ...base, network, faults: drawClogs(prng, { ...NO_FAULTS, intervalMs: 200 }, electionMsOf(base)) };
    },
  },
  {
    name: 'raftkv_swarm',
    description: 'swarm: cluster size, clients and every fault parameter drawn from the seed',
    draw: drawSwarm,
  },
];

/** Every scenario: the raft KV ones, the raftstore cluster ones (TinyKV's test names), then the transactional ones (async). */
export const SCENARIOS: readonly AnyScenario[] = [...RAFTKV_SCENARIOS, ...CLUSTER_SCENARIOS, ...TXN_SCENARIOS, ...TXN_RPC_SCENARIOS];

export function findScenario(name: string): AnyScenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}

assert(new Set(SCENARIOS.map((s) => s.name)).size === SCENARIOS.length, 'scenario names must be unique');
