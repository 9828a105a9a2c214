/**
 * The raftstore scenarios under TinyKV's test names (PEER-SUITE.md §2.3),
 * so `tinykv sim run TestPersistPartitionUnreliable2B --seeds 1..50` runs
 * TinyKV's test on virtual time with the simulator's extra checks.
 */
import type { CustomScenario } from '../scenario.js';
import { runGenericTest } from './generic_test.js';
import type { GenericParams } from './generic_test.js';
import { runS1, runS2 } from './hard_cases.js';
import { HARD_CASE_3B_SCENARIOS } from './hard_cases_3b.js';
import { SCRIPTED_3B_SCENARIOS } from './scripted_3b.js';
import { runOnePartition2B, runOneSnapshot2C } from './scripted_tests.js';
import { runSwarm3B } from './swarm.js';

const F = false;
const T = true;

/** TinyKV's GenericTest rows of parts 2B and 2C: name, nclients, unreliable, crash, partitions, maxraftlog. */
const GENERIC_2B_2C: readonly [string, number, boolean, boolean, boolean, number][] = [
  ['TestBasic2B', 1, F, F, F, -1],
  ['TestConcurrent2B', 5, F, F, F, -1],
  ['TestUnreliable2B', 5, T, F, F, -1],
  ['TestManyPartitionsOneClient2B', 1, F, F, T, -1],
  ['TestManyPartitionsManyClients2B', 5, F, F, T, -1],
  ['TestPersistOneClient2B', 1, F, T, F, -1],
  ['TestPersistConcurrent2B', 5, F, T, F, -1],
  ['TestPersistConcurrentUnreliable2B', 5, T, T, F, -1],
  ['TestPersistPartition2B', 5, F, T, T, -1],
  ['TestPersistPartitionUnreliable2B', 5, T, T, T, -1],
  ['TestSnapshotRecover2C', 1, F, T, F, 100],
  ['TestSnapshotRecoverManyClients2C', 20, F, T, F, 100],
  ['TestSnapshotUnreliable2C', 5, T, F, F, 100],
  ['TestSnapshotUnreliableRecover2C', 5, T, T, F, 100],
  ['TestSnapshotUnreliableRecoverConcurrentPartition2C', 5, T, T, T, 100],
];

function describe(p: GenericParams): string {
  const faults = [
    p.unreliable ? 'unreliable' : '', p.partitions ? 'partitions' : '', p.crash ? 'crash+restart' : '',
    p.confchange === true ? 'conf changes' : '', p.split === true ? 'splits' : '',
  ].filter((x) => x !== '');
  const log = p.maxraftlog > 0 ? `, log GC at ${p.maxraftlog}` : '';
  return `TinyKV GenericTest: 5 stores, ${p.nclients} client${p.nclients === 1 ? '' : 's'}${faults.length > 0 ? `, ${faults.join(', ')}` : ''}${log}`;
}

/** TinyKV's GenericTest rows of part 3B: as above, then confchange and split. */
const GENERIC_3B: readonly [string, number, boolean, boolean, boolean, number, boolean, boolean][] = [
  ['TestConfChangeRecover3B', 1, F, T, F, -1, T, F],
  ['TestConfChangeRecoverManyClients3B', 20, F, T, F, -1, T, F],
  ['TestConfChangeUnreliable3B', 5, T, F, F, -1, T, F],
  ['TestConfChangeUnreliableRecover3B', 5, T, T, F, -1, T, F],
  ['TestConfChangeSnapshotUnreliableRecover3B', 5, T, T, F, 100, T, F],
  ['TestConfChangeSnapshotUnreliableRecoverConcurrentPartition3B', 5, T, T, T, 100, T, F],
  ['TestSplitRecover3B', 1, F, T, F, -1, F, T],
  ['TestSplitRecoverManyClients3B', 20, F, T, F, -1, F, T],
  ['TestSplitUnreliable3B', 5, T, F, F, -1, F, T],
  ['TestSplitUnreliableRecover3B', 5, T, T, F, -1, F, T],
  ['TestSplitConfChangeSnapshotUnreliableRecover3B', 5, T, T, F, 100, T, T],
  ['TestSplitConfChangeSnapshotUnreliableRecoverConcurrentPartition3B', 5, T, T, T, 100, T, T],
];

function genericScenario(name: string, params: GenericParams): CustomScenario {
  return { name, description: describe(params), run: (seed, options) => runGenericTest(name, params, seed, options) };
}

const generic: CustomScenario[] = GENERIC_2B_2C.map(([name, nclients, unreliable, crash, partitions, maxraftlog]) =>
  genericScenario(name, { nclients, unreliable, crash, partitions, maxraftlog }));

const generic3B: CustomScenario[] = GENERIC_3B.map(([name, nclients, unreliable, crash, partitions, maxraftlog, confchange, split]) =>
  genericScenario(name, { nclients, unreliable, crash, partitions, maxraftlog, confchange, split }));

export const CLUSTER_SCENARIOS: readonly CustomScenario[] = [
  ...generic.slice(0, 10),
  {
    name: 'TestOnePartition2B',
    description: 'TinyKV: partition the leader into a minority; the majority serves, the minority keeps old data, then catches up',
    run: (seed, options) => runOnePartition2B(seed, options),
  },
  {
    name: 'TestOneSnapshot2C',
    description: 'TinyKV: a partitioned store catches up by snapshot (lock CF), drops data deleted meanwhile, survives restart',
    run: (seed, options) => runOneSnapshot2C(seed, options),
  },
  ...generic.slice(10),
  {
    name: 'S1',
    description: 'HARD-CASES S1 at the store level: a snapshot arrives while an earlier one is still being applied (slow disk)',
    run: (seed, options) => runS1(seed, options),
  },
  {
    name: 'S2',
    description: 'HARD-CASES S2 at the store level: 2 stores, old appends arrive after the follower compacted past their prevLogIndex',
    run: (seed, options) => runS2(seed, options),
  },
  ...HARD_CASE_3B_SCENARIOS,
  ...generic3B,
  ...SCRIPTED_3B_SCENARIOS,
  {
    name: 'swarm3B',
    description: 'swarm: 3-7 stores, drawn loss, duplication, partitions, crashes, conf changes, split size and workload; safety phase, then heal and converge',
    run: (seed, options) => runSwarm3B(seed, options),
  },
];
