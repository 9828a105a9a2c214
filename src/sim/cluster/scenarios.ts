/**
 * The raftstore scenarios under TinyKV's test names (PEER-SUITE.md §2.3),
 * so `tinykv sim run TestPersistPartitionUnreliable2B --seeds 1..50` runs
 * TinyKV's test on virtual time with the simulator's extra checks.
 */
import type { CustomScenario } from '../scenario.js';
import { runGenericTest } from './generic_test.js';
import type { GenericParams } from './generic_test.js';
import { runS1, runS2 } from './hard_cases.js';
import { runOnePartition2B, runOneSnapshot2C } from './scripted_tests.js';

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
  const faults = [p.unreliable ? 'unreliable' : '', p.partitions ? 'partitions' : '', p.crash ? 'crash+restart' : ''].filter((x) => x !== '');
  const log = p.maxraftlog > 0 ? `, log GC at ${p.maxraftlog}` : '';
  return `TinyKV GenericTest: 5 stores, ${p.nclients} client${p.nclients === 1 ? '' : 's'}${faults.length > 0 ? `, ${faults.join(', ')}` : ''}${log}`;
}

const generic: CustomScenario[] = GENERIC_2B_2C.map(([name, nclients, unreliable, crash, partitions, maxraftlog]) => {
  const params: GenericParams = { nclients, unreliable, crash, partitions, maxraftlog };
  return { name, description: describe(params), run: (seed, options) => runGenericTest(name, params, seed, options) };
});

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
];
