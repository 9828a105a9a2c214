/**
 * The async driver: runs async code (the production txn handlers on the
 * stores, a `TxnClient` over `SimTxnRpc`) on the simulator's virtual time,
 * deterministically.
 *
 * The simulator is synchronous: clock events run one after another in a
 * loop. Async code continues in promise continuations, which are microtasks
 * and run only when the JavaScript stack is empty. So the driver steps the
 * clock one event at a time (`clock.runNext()`) and, whenever the event
 * settled a promise (the bridges that settle promises from clock events say
 * so with `cluster.noteAsync()`: a store's raft storage, a client's rpc),
 * awaits a full drain of the microtask queue before the next event. Every
 * continuation therefore runs at the virtual time of the event that caused
 * it, and before anything later happens.
 *
 * Why this is deterministic: `new Promise((r) => setImmediate(r))` resolves
 * in Node's check phase, which comes only after the current macrotask and
 * the whole microtask queue (process.nextTick callbacks and promise jobs,
 * including those queued while draining) have run. The order of the
 * continuations is the order of the resolutions, which the clock loop fixes.
 * Other macrotasks may run before the setImmediate callback (the test
 * runner's I/O, timers), but none of them holds a reference into the
 * simulator, so they cannot change its state; no simulator code waits on
 * real time. Hence a seed settles the same promises in the same order at the
 * same virtual times on every run. (setImmediate is forbidden by the lint
 * rule only in the deterministic layers, src/raft, src/raftstore,
 * src/scheduler and src/txn; the simulator is the shell that owns time.)
 *
 * A bridge that forgets `noteAsync()` cannot break determinism either: its
 * continuations then run at the next drain, at a deterministic point, only
 * later in virtual time than they should.
 */
import type { RunFailure, RunResult, RunOptions } from '../runner.js';
import { toFailure } from '../runner.js';
import { SimulationError } from '../errors.js';
import { assert } from '../../util/assert.js';
import type { Cluster } from './cluster.js';
import { ClusterScenarioWorld, helperEventsMax } from './harness.js';
import type { ClusterScenarioSetup } from './harness.js';

/** Resolves once every pending microtask has run (see the file comment for why this is deterministic). */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Runs the continuations of settled promises, then rethrows the first
 * error async work on a store threw.
 */
async function settle(cluster: Cluster): Promise<void> {
  // A continuation may settle further promises without a clock event (a
  // cached answer): those run in the same drain, as microtasks of microtasks.
  cluster.takeAsyncWork();
  await drainMicrotasks();
  const failure = cluster.takeAsyncFailure();
  if (failure !== undefined) throw failure.error;
}

/** Runs the next clock event, then its continuations if it settled a promise. */
async function step(cluster: Cluster): Promise<void> {
  cluster.clock.runNext();
  if (cluster.takeAsyncWork()) await settle(cluster);
}

/**
 * Runs the clock, with the continuations of every event, until `done()`
 * holds (the async twin of harness.ts `runUntilTrue`, same bound).
 * Continuations already pending when it is called run first.
 * @throws {SimulationError} liveness when `done()` does not hold after
 *   `timeoutMs` of virtual time; an error async work on a store threw.
 * @throws {AssertionError} after more than `helperEventsMax` events.
 */
export async function runUntilTrueAsync(cluster: Cluster, done: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = cluster.clock.nowMs + timeoutMs;
  let events = 0;
  await settle(cluster);
  while (!done()) {
    const next = cluster.clock.peekTimeMs();
    if (next === undefined || next > deadline) {
      cluster.runUntil(deadline);
      if (done()) return;
      throw new SimulationError('liveness', `${what}: not done after ${timeoutMs} ms`);
    }
    await step(cluster);
    if (++events > helperEventsMax) assert(false, `${what}: more than ${helperEventsMax} events`);
  }
}

/**
 * Runs every event (and its continuations) for `durationMs` of virtual time.
 * @throws {AssertionError} after more than `helperEventsMax` events; an error async work on a store threw.
 */
export async function runForAsync(cluster: Cluster, durationMs: number): Promise<void> {
  assert(Number.isSafeInteger(durationMs) && durationMs >= 0, `runForAsync: bad duration ${durationMs}`);
  const until = cluster.clock.nowMs + durationMs;
  let events = 0;
  await settle(cluster);
  for (;;) {
    const next = cluster.clock.peekTimeMs();
    if (next === undefined || next > until) break;
    await step(cluster);
    if (++events > helperEventsMax) assert(false, `runForAsync(${durationMs}): more than ${helperEventsMax} events`);
  }
  cluster.runUntil(until);
}

/**
 * Runs the clock until `promise` settles and returns what it resolved with.
 * @throws what the promise rejected with; {@link SimulationError} liveness
 *   when it is still pending after `timeoutMs` of virtual time.
 */
export async function runUntilSettled<T>(cluster: Cluster, promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let outcome: { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown } | undefined;
  promise.then((value) => {
    outcome = { ok: true, value };
  }, (error: unknown) => {
    outcome = { ok: false, error };
  });
  await runUntilTrueAsync(cluster, () => outcome !== undefined, timeoutMs, what);
  const settled = outcome as NonNullable<typeof outcome>;
  if (!settled.ok) throw settled.error;
  return settled.value;
}

export interface AsyncClusterScenarioRun extends ClusterScenarioSetup {
  /**
   * The scenario's steps, driving the clock with this module's helpers;
   * rejects with SimulationError (or AssertionError) on failure. It must
   * await its async work: continuations still pending when it returns run
   * only after the liveness phase, which drives the clock synchronously.
   */
  readonly body: (cluster: Cluster) => Promise<void>;
}

/**
 * The async flavour of harness.ts `runClusterScenario`: the same cluster
 * from the seed, liveness phase and checks, around an awaited body.
 * Never rejects for a failing seed.
 */
export async function runClusterScenarioAsync(name: string, seed: number, run: AsyncClusterScenarioRun, options: RunOptions): Promise<RunResult> {
  const world = new ClusterScenarioWorld(name, seed, run, options);
  let failure: RunFailure | undefined;
  try {
    world.start();
    await run.body(world.cluster);
    await settle(world.cluster);
    world.finish();
  } catch (error: unknown) {
    failure = toFailure(error);
  }
  return world.result(failure);
}
