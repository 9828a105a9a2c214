/**
 * Helpers for the simulator's own tests: a small fixed configuration and a
 * way to run one client operation to completion on virtual time.
 */
import { assert } from '../util/assert.js';
import type { SimClient } from './client.js';
import { NO_FAULTS } from './faults.js';
import type { KvInput, KvOperation } from './history.js';
import { RELIABLE_FAULTS } from './network.js';
import type { SimOptions } from './scenario.js';
import type { Simulation } from './simulation.js';

/** Three nodes, one client, a reliable network and no faults: a deterministic baseline. */
export function testOptions(overrides: Partial<SimOptions> = {}): SimOptions {
  const base: SimOptions = {
    nodeCount: 3,
    clientCount: 1,
    raft: {
      tickMs: 10, electionTick: 10, heartbeatTick: 1, preVote: true, checkQuorum: true,
      maxSizePerMsgBytes: 4096, maxInflightMsgs: 16, compactLogEntriesMin: 1000, requestTimeoutMs: 300, buggyFollowerReads: false,
    },
    network: RELIABLE_FAULTS,
    disk: { writeLatencyMsMin: 0, writeLatencyMsMax: 2 },
    faults: NO_FAULTS,
    workload: { keyCount: 4, mix: { get: 1, put: 1, delete: 0, scan: 0 }, thinkTimeMsMin: 0, thinkTimeMsMax: 10, scanLimitMax: 4 },
    client: { opTimeoutMs: 400, readAttemptTimeoutMs: 200, retryBackoffMs: 20, attemptsMax: 8, readsAtRandomNode: false },
    safetyDurationMs: 1000,
    ticksMaxConvergence: 500,
  };
  return { ...base, ...overrides };
}

/** Invokes `input` on `client` and runs the simulation until it is recorded (or the budget runs out). */
export function runOperation(sim: Simulation, client: SimClient, input: KvInput, budgetMs = 5000): KvOperation {
  let done: KvOperation | undefined;
  client.invoke(input, (op) => (done = op));
  const deadline = sim.clock.nowMs + budgetMs;
  while (done === undefined && sim.clock.nowMs < deadline) sim.runUntil(sim.clock.nowMs + 10);
  assert(done !== undefined, `operation ${JSON.stringify(input)} did not finish in ${budgetMs} ms`);
  return done;
}

/** Retries `input` as new operations until one ends `ok`; returns it. */
export function runUntilOk(sim: Simulation, client: SimClient, input: KvInput, attempts = 20): KvOperation {
  for (let i = 0; i < attempts; i++) {
    const op = runOperation(sim, client, input);
    if (op.status === 'ok') return op;
  }
  assert(false, `operation ${JSON.stringify(input)} never succeeded`);
}

/** Runs until some node leads (or fails after `budgetMs`). */
export function awaitLeader(sim: Simulation, budgetMs = 5000): number {
  const deadline = sim.clock.nowMs + budgetMs;
  for (;;) {
    const leader = sim.leaderId();
    if (leader !== undefined) return leader;
    assert(sim.clock.nowMs < deadline, `no leader within ${budgetMs} ms`);
    sim.runUntil(sim.clock.nowMs + 10);
  }
}
