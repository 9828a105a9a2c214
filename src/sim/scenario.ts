/**
 * Declarative scenarios: a name, a one-line description, how to draw every
 * option of a run from the seed (nodes, raft config, fault distribution,
 * workload, virtual duration), and optionally a scripted fault schedule.
 * The runner does the rest (see runner.ts).
 */
import { assert } from '../util/assert.js';
import type { ClientConfig } from './client.js';
import type { DiskOptions } from './disk.js';
import type { FaultOptions } from './faults.js';
import { clientsMax, nodesMax } from './limits.js';
import type { NetworkFaults } from './network.js';
import type { Prng, Ratio } from './prng.js';
import type { RaftKvConfig } from './raft_kv.js';
import type { RunOptions, RunResult } from './runner.js';
import type { Simulation } from './simulation.js';
import type { WorkloadConfig } from './workload.js';

/** Everything a seed determines about a run. */
export interface SimOptions {
  readonly nodeCount: number;
  readonly clientCount: number;
  readonly raft: Omit<RaftKvConfig, 'nodeIds'>;
  readonly network: NetworkFaults;
  readonly disk: DiskOptions;
  readonly faults: FaultOptions;
  readonly workload: WorkloadConfig;
  readonly client: ClientConfig;
  /** Virtual duration of the safety phase (faults on). */
  readonly safetyDurationMs: number;
  /** Ticks the liveness phase may take to finish a write and a read and converge. */
  readonly ticksMaxConvergence: number;
}

/** One step of a scripted fault schedule, at a virtual time of the safety phase. */
export interface ScriptedFault {
  readonly atMs: number;
  readonly label: string;
  readonly apply: (sim: Simulation) => void;
}

export interface Scenario {
  readonly name: string;
  /** One line, for `tinykv sim list`. */
  readonly description: string;
  /** Draws every option from the seed's option stream (and nothing else). */
  readonly draw: (prng: Prng) => SimOptions;
  /** A fixed fault schedule, in addition to the drawn fault distribution. */
  readonly script?: (options: SimOptions, prng: Prng) => readonly ScriptedFault[];
}

/**
 * A scenario that builds and runs its own world (the raftstore cluster
 * scenarios, src/sim/cluster): it draws its options from the seed itself and
 * returns the same result shape as the raft KV scenarios.
 */
export interface CustomScenario {
  readonly name: string;
  readonly description: string;
  readonly run: (seed: number, options: RunOptions) => RunResult;
}

/**
 * A custom scenario whose world runs async code (the txn handlers on the
 * stores, a TxnClient over SimTxnRpc) on virtual time, through the async
 * driver (src/sim/cluster/async_driver.ts). Run it with `runSeedAsync`.
 */
export interface AsyncCustomScenario {
  readonly name: string;
  readonly description: string;
  readonly runAsync: (seed: number, options: RunOptions) => Promise<RunResult>;
}

/** Any scenario `tinykv sim run` knows. */
export type AnyScenario = Scenario | CustomScenario | AsyncCustomScenario;

export function isCustomScenario(s: AnyScenario): s is CustomScenario {
  return 'run' in s;
}

export function isAsyncScenario(s: AnyScenario): s is AsyncCustomScenario {
  return 'runAsync' in s;
}

/** Checks the relationships between options that the simulation relies on. */
export function validateOptions(o: SimOptions): void {
  assert(o.nodeCount >= 1 && o.nodeCount <= nodesMax, `nodeCount ${o.nodeCount} out of range`);
  assert(o.clientCount >= 1 && o.clientCount <= clientsMax, `clientCount ${o.clientCount} out of range`);
  assert(o.raft.electionTick > o.raft.heartbeatTick, 'electionTick must exceed heartbeatTick');
  assert(o.raft.compactLogEntriesMin >= 1, 'compactLogEntriesMin must be positive');
  assert(o.client.opTimeoutMs > o.network.clientDelay.maxMs * 2, 'a client must wait at least one round trip');
  assert(o.safetyDurationMs > 0 && o.ticksMaxConvergence > 0, 'durations must be positive');
  assert(o.faults.crashedMax <= o.nodeCount, 'crashedMax exceeds the node count');
}

/**
 * Renders options as `key=value` pairs, nested keys joined by dots, ratios
 * as `n/d`: the rest of the `SEED=` line.
 */
export function describeOptions(options: SimOptions): string {
  const parts: string[] = [];
  flatten('', options, parts);
  return parts.join(' ');
}

function isRatio(value: object): value is Ratio {
  return 'numerator' in value && 'denominator' in value && Object.keys(value).length === 2;
}

function flatten(prefix: string, value: unknown, out: string[]): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    if (isRatio(value)) {
      out.push(`${prefix}=${value.numerator}/${value.denominator}`);
      return;
    }
    for (const [k, v] of Object.entries(value)) flatten(prefix === '' ? k : `${prefix}.${k}`, v, out);
    return;
  }
  out.push(`${prefix}=${Array.isArray(value) ? value.join(',') : String(value)}`);
}
