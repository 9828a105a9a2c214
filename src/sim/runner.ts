/**
 * Runs one seed of one scenario through the two phases of TigerBeetle's
 * VOPR:
 *
 * 1. Safety: the workload runs with the drawn faults (and any scripted
 *    ones) for `safetyDurationMs`; raft safety is checked at every apply and
 *    every election.
 * 2. Liveness: faults stop and heal (partitions, clogs, filters, loss,
 *    duplication; every down node restarts), the workload stops, and within
 *    `ticksMaxConvergence` ticks a final write and a read of it must succeed
 *    and every replica must reach the same applied state ("no liveness"
 *    otherwise).
 *
 * Then the linearizability checker runs over the whole client history and
 * the convergence result is recorded. The first log line is `SEED=<n>`
 * followed by every drawn option; a failure names the replay command.
 */
import { AssertionError, assert } from '../util/assert.js';
import { awaitConvergence } from './checkers/convergence.js';
import { checkLinearizable } from './checkers/linearizable.js';
import { WORLD } from './clock.js';
import { SimulationError } from './errors.js';
import type { SimFailureKind } from './errors.js';
import { FaultInjector } from './faults.js';
import type { KvOperation } from './history.js';
import { describeOptions, isAsyncScenario, isCustomScenario } from './scenario.js';
import type { AnyScenario, Scenario, SimOptions } from './scenario.js';
import { SimRandom } from './prng.js';
import { Simulation } from './simulation.js';
import { keyName } from './workload.js';

export interface RunOptions {
  /** Hash the event trace. @default true */
  readonly traceEnabled?: boolean;
  /** Receives every trace line (`--verbose`). */
  readonly traceSink?: (line: string) => void;
  /** Receives the run's log lines (the SEED= line first). */
  readonly log?: (line: string) => void;
  /** Adjusts the drawn options (tests turn on `buggyFollowerReads` this way). */
  readonly adjust?: (options: SimOptions) => SimOptions;
  /**
   * Check the history's linearizability (a failure fails the run). Only the
   * speed benchmark turns it off, to time the check apart from the
   * simulation; it then runs the check itself. @default true
   */
  readonly checkHistory?: boolean;
}

export interface RunFailure {
  readonly kind: SimFailureKind;
  readonly message: string;
}

export interface RunResult {
  readonly scenario: string;
  readonly seed: number;
  readonly passed: boolean;
  readonly failure?: RunFailure;
  /** `SEED=<n> key=value ...`: every drawn option. */
  readonly optionsLine: string;
  /** SHA-256 of the event trace (empty when the trace is off). */
  readonly traceDigest: string;
  readonly traceTail: readonly string[];
  readonly history: readonly KvOperation[];
  readonly virtualMs: number;
  readonly stats: Readonly<Record<string, number>>;
}

/** The command that replays one seed; `flags` are extra options the run used (e.g. a deliberate bug). */
export function replayCommand(scenario: string, seed: number, flags: readonly string[] = []): string {
  return [`npx tinykv sim run ${scenario} --seeds ${seed}..${seed}`, ...flags].join(' ');
}

/**
 * The deliberate bug of `buggyFollowerReads`, with clients reading from
 * random nodes so that followers get reads: tests (and the CLI's
 * `--buggy-follower-reads`) use it to show the checker catches stale reads.
 */
export function withBuggyFollowerReads(options: SimOptions): SimOptions {
  return {
    ...options,
    raft: { ...options.raft, buggyFollowerReads: true },
    client: { ...options.client, readsAtRandomNode: true },
  };
}

/**
 * Runs one seed. Never throws for a failing seed: the failure is in the result.
 * @throws {AssertionError} for an async scenario (use {@link runSeedAsync}).
 */
export function runSeed(scenario: AnyScenario, seed: number, options: RunOptions = {}): RunResult {
  if (isAsyncScenario(scenario)) assert(false, `scenario ${scenario.name} runs async code: use runSeedAsync`);
  if (isCustomScenario(scenario)) return scenario.run(seed, options);
  const sim = buildSimulation(scenario, seed, options);
  const optionsLine = `SEED=${seed} scenario=${scenario.name} ${describeOptions(sim.options)}`;
  options.log?.(optionsLine);
  let failure: RunFailure | undefined;
  try {
    runPhases(scenario, sim);
  } catch (error: unknown) {
    failure = toFailure(error);
  }
  const history = sim.history.finish();
  if (failure === undefined && options.checkHistory !== false) failure = checkHistory(history);
  return {
    scenario: scenario.name,
    seed,
    passed: failure === undefined,
    ...(failure === undefined ? {} : { failure }),
    optionsLine,
    traceDigest: sim.trace.digest(),
    traceTail: sim.trace.tail(),
    history,
    virtualMs: sim.clock.nowMs,
    stats: collectStats(sim, history),
  };
}

/**
 * Runs one seed of any scenario: an async one through its driver, the others
 * exactly as {@link runSeed} does. Never rejects for a failing seed.
 */
export async function runSeedAsync(scenario: AnyScenario, seed: number, options: RunOptions = {}): Promise<RunResult> {
  if (isAsyncScenario(scenario)) return scenario.runAsync(seed, options);
  return runSeed(scenario, seed, options);
}

function buildSimulation(scenario: Scenario, seed: number, options: RunOptions): Simulation {
  // Options come from their own stream so that drawing them never shifts the run's streams.
  const drawn = scenario.draw(new SimRandom(seed).stream('options'));
  const adjusted = options.adjust === undefined ? drawn : options.adjust(drawn);
  return new Simulation(seed, adjusted, {
    ...(options.traceEnabled === undefined ? {} : { traceEnabled: options.traceEnabled }),
    ...(options.traceSink === undefined ? {} : { traceSink: options.traceSink }),
  });
}

function runPhases(scenario: Scenario, sim: Simulation): void {
  const o = sim.options;
  sim.start();
  for (const fault of scenario.script?.(o, sim.random.stream('script')) ?? []) {
    assert(fault.atMs <= o.safetyDurationMs, `scripted fault "${fault.label}" after the safety phase`);
    sim.clock.scheduleAt(fault.atMs, WORLD, 'scripted fault', () => {
      if (sim.trace.enabled) sim.trace.record(`script ${fault.label}`);
      fault.apply(sim);
    });
  }
  const injector = new FaultInjector(sim, sim.random.stream('faults'), o.faults);
  injector.start();
  sim.runUntil(o.safetyDurationMs);
  // Liveness: heal everything and give the group a bounded time to finish work and converge.
  injector.stop();
  sim.workload.stop();
  sim.network.healAll();
  sim.restartAll();
  const deadlineMs = sim.clock.nowMs + o.ticksMaxConvergence * o.raft.tickMs;
  finalWriteAndRead(sim, deadlineMs);
  const converged = awaitConvergence({
    nowMs: () => sim.clock.nowMs,
    runUntil: (t) => sim.runUntil(t),
    replicas: () => {
      // In-flight workload operations still change the state: wait for them first.
      return sim.workload.idle() ? sim.replicaStates() : undefined;
    },
    deadlineMs,
    pollMs: o.raft.tickMs,
  });
  if (converged.verdict === 'no liveness') throw new SimulationError('convergence', converged.report);
  if (sim.trace.enabled) sim.trace.record(`converged at applied index ${converged.appliedIndex}`);
}

/**
 * The liveness phase's proof of progress: a put through the final client
 * must succeed, then a get of the same key must return it, before the
 * deadline. Refused or timed-out attempts are retried as new operations.
 */
function finalWriteAndRead(sim: Simulation, deadlineMs: number): void {
  const client = sim.finalClient;
  const key = keyName(0);
  let written: string | undefined;
  let readBack: string | undefined | null = null;
  const next = (): void => {
    if (sim.clock.nowMs >= deadlineMs) return;
    if (written === undefined) {
      const value = sim.workload.nextValue(client.clientId);
      client.invoke({ kind: 'put', key, value }, (op) => {
        if (op.status === 'ok') written = value;
        sim.clock.schedule(op.status === 'ok' ? 0 : sim.options.raft.tickMs, WORLD, 'final op', next);
      });
      return;
    }
    client.invoke({ kind: 'get', key }, (op) => {
      if (op.status === 'ok' && op.output?.kind === 'get') readBack = op.output.value;
      else sim.clock.schedule(sim.options.raft.tickMs, WORLD, 'final op', next);
    });
  };
  next();
  const stepMs = sim.options.raft.tickMs;
  while (readBack === null && sim.clock.nowMs < deadlineMs) sim.runUntil(Math.min(deadlineMs, sim.clock.nowMs + stepMs));
  if (readBack === null) {
    const what = written === undefined ? 'write' : 'read';
    throw new SimulationError('liveness', `no liveness: the final ${what} did not succeed by ${deadlineMs} ms after healing`);
  }
  // A different value is not necessarily wrong (an earlier indeterminate put may land
  // later); the linearizability checker judges the read with the rest of the history.
  if (sim.trace.enabled) sim.trace.record(`final read of ${key}: ${JSON.stringify(readBack)} (wrote ${JSON.stringify(written)})`);
}

/** The linearizability verdict of a run's history as a failure, or undefined when it is linearizable. */
export function checkHistory(history: readonly KvOperation[]): RunFailure | undefined {
  const verdict = checkLinearizable(history);
  if (verdict.verdict === 'ok') return undefined;
  if (verdict.verdict === 'unknown') return { kind: 'linearizability', message: `checker gave up (unknown): ${verdict.reason}` };
  return { kind: 'linearizability', message: `not linearizable at key ${verdict.key}:\n${verdict.report}` };
}

/** A run's thrown failure (simulation check or broken assertion); anything else is rethrown. */
export function toFailure(error: unknown): RunFailure {
  if (error instanceof SimulationError) return { kind: error.kind, message: error.message };
  if (error instanceof AssertionError) return { kind: 'assertion', message: error.stack ?? error.message };
  throw error;
}

function collectStats(sim: Simulation, history: readonly KvOperation[]): Record<string, number> {
  const count = (status: KvOperation['status']): number => history.filter((op) => op.status === status).length;
  const net = sim.network.stats;
  return {
    operations: history.length,
    ok: count('ok'),
    fail: count('fail'),
    indeterminate: count('indeterminate'),
    events: sim.clock.executed,
    messagesSent: net.sent,
    messagesDelivered: net.delivered,
    messagesDropped: net.droppedLoss + net.droppedFilter + net.droppedPartition + net.droppedOverflow,
    messagesDuplicated: net.duplicated,
    appliedEntries: sim.safety.appliedEntries,
    highestApplied: sim.safety.highestApplied(),
    crashes: sim.nodeIds.reduce((n, id) => n + sim.disk(id).stats.crashes, 0),
    lostWrites: sim.nodeIds.reduce((n, id) => n + sim.disk(id).stats.lostWrites, 0),
  };
}
