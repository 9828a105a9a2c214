/**
 * TinyKV's GenericTest (kv/test_raftstore/test_test.go, PEER-SUITE.md §2.3)
 * on virtual time, step for step: 5 stores; 3 iterations of a 5 s window in
 * which `nclients` clients put `"x <cli> <j> y"` under `"<cli> %08d"` or scan
 * their range and compare with what they wrote, while the chaos loop
 * re-partitions the stores and/or stacks 10.1%-drop filters every election
 * timeout + rand(0..199) ms; then heal, optionally crash and restart every
 * store, check every client's appends (each element exactly once, in order),
 * delete the client's keys, and check that logs were trimmed (applied −
 * truncated ≤ 2 × maxraftlog). On top of TinyKV's checks: raft safety at
 * every apply, linearizability of the whole history, and convergence.
 *
 * The 3B columns: with `confchange`, a conf changer adds or removes a peer of
 * a random region on a random store through the scheduler, waits until the
 * scheduler sees it done, pauses rand(0..199) ms and repeats, in every
 * iteration (TinyKV's harness stops it after the first by accident); with
 * `split`, regions split at 300 bytes (split size 200), scans go region by
 * region, and region "" must have split by the end of each iteration.
 */
import { checkClientAppends } from '../checkers/append_order.js';
import { WORLD } from '../clock.js';
import { SimulationError } from '../errors.js';
import type { DiskOptions } from '../disk.js';
import type { NetworkFaults } from '../network.js';
import { pick, RATIO_NEVER, SimRandom } from '../prng.js';
import type { Prng } from '../prng.js';
import type { RunOptions, RunResult } from '../runner.js';
import { DEFAULT_RAFTSTORE_CONFIG } from '../../raftstore/config.js';
import type { Cluster, ClusterOptions } from './cluster.js';
import { ClusterClient } from './cluster_client.js';
import type { RequestOutcome } from './cluster_client.js';
import { applyState, bytes, mustDelete, mustScan, putRequest, runClusterScenario, runUntilTrue, scanAcross } from './harness.js';

export interface GenericParams {
  readonly nclients: number;
  readonly unreliable: boolean;
  readonly crash: boolean;
  readonly partitions: boolean;
  /** RaftLogGcCountLimit override, -1 for TinyKV's default (128000). */
  readonly maxraftlog: number;
  readonly confchange?: boolean;
  readonly split?: boolean;
}

/** TinyKV's test config (NewTestConfig) in virtual time. */
export const TINYKV_TIMING = { tickMs: 50, heartbeatTick: 2, electionTick: 10, schedulerHeartbeatMs: 100 } as const;
/** TinyKV's `electionTimeout` (500 ms), which the tests sleep by. */
export const electionTimeoutMs = TINYKV_TIMING.tickMs * TINYKV_TIMING.electionTick;
const iterations = 3;
const windowMs = 5_000;
const storeCount = 5;
/** Bound on one client's appends per iteration (about 1,000 happen with the drawn latencies). */
const appendsPerIterationMax = 10_000;

/** Everything the seed decides beyond TinyKV's parameters: delays, disk latency, crash behaviour. */
export function drawClusterOptions(prng: Prng, params: GenericParams, count = storeCount): ClusterOptions {
  // Every hop takes at least 1 ms (a message, a client round trip, an fsync): with
  // zero-latency hops an operation would take no virtual time, and TinyKV's 5 s
  // windows would fill with an unbounded number of operations (its scans grow
  // quadratically with them).
  const delayMin = prng.intInclusive(1, 3);
  const clientDelayMin = prng.intInclusive(1, 2);
  const network: NetworkFaults = {
    delay: { minMs: delayMin, maxMs: delayMin + prng.intInclusive(0, 8) },
    dropRatio: RATIO_NEVER,
    duplicateRatio: RATIO_NEVER,
    clientDelay: { minMs: clientDelayMin, maxMs: clientDelayMin + prng.intInclusive(0, 3) },
    clientDropRatio: RATIO_NEVER,
  };
  const disk: DiskOptions = {
    writeLatencyMsMin: 1,
    writeLatencyMsMax: 1 + prng.intInclusive(0, 5),
    crashKeepsUnsyncedPrefix: prng.chance({ numerator: 1, denominator: 2 }),
  };
  return {
    storeCount: count,
    network,
    disk,
    store: {
      tickMs: TINYKV_TIMING.tickMs,
      heartbeatMs: TINYKV_TIMING.schedulerHeartbeatMs,
      snapshotGenMsMax: prng.intInclusive(1, 50),
      snapshotStreamsMax: 4,
      raftstore: {
        ...DEFAULT_RAFTSTORE_CONFIG,
        // TinyKV's tests hold raw data only, and TinyKV splits at any key (the transactional
        // scenarios turn txn-safe split keys back on: txn_scenarios.ts).
        txnSafeSplitKeys: false,
        electionTick: TINYKV_TIMING.electionTick,
        heartbeatTick: TINYKV_TIMING.heartbeatTick,
        raftLogGcTickTicks: 1,
        raftLogGcCountLimit: params.maxraftlog === -1 ? 128_000 : params.maxraftlog,
        ...(params.split === true ? { regionMaxSizeBytes: 300, regionSplitSizeBytes: 200 } : {}),
        maxSizePerMsgBytes: pick(prng, [4096, 1 << 20]),
        snapshotChunkBytes: pick(prng, [1024, 4096, 1 << 20]),
      },
    },
  };
}

export function describeClusterOptions(o: ClusterOptions): string {
  const r = o.store.raftstore;
  return [
    `stores=${o.storeCount}`, `delay=${o.network.delay.minMs}..${o.network.delay.maxMs}`, `clientDelay=${o.network.clientDelay.minMs}..${o.network.clientDelay.maxMs}`,
    `disk=${o.disk.writeLatencyMsMin}..${o.disk.writeLatencyMsMax}`, `crashKeepsPrefix=${String(o.disk.crashKeepsUnsyncedPrefix)}`,
    `snapGenMax=${o.store.snapshotGenMsMax}`, `gcLimit=${r.raftLogGcCountLimit}`, `maxMsg=${r.maxSizePerMsgBytes}`, `chunk=${r.snapshotChunkBytes}`,
  ].join(' ');
}

function describeParams(p: GenericParams): string {
  return `nclients=${p.nclients} unreliable=${String(p.unreliable)} crash=${String(p.crash)} partitions=${String(p.partitions)} maxraftlog=${p.maxraftlog} confchange=${String(p.confchange === true)} split=${String(p.split === true)}`;
}

export function runGenericTest(name: string, params: GenericParams, seed: number, options: RunOptions): RunResult {
  const drawn = drawClusterOptions(seedStream(seed), params);
  return runClusterScenario(name, seed, {
    optionsLine: `${describeParams(params)} ${describeClusterOptions(drawn)}`,
    options: drawn,
    body: (cluster) => genericBody(cluster, params),
    convergenceMs: 60_000,
  }, options);
}

/** The options stream of a seed (apart from the run's streams, so drawing never shifts them). */
export function seedStream(seed: number): Prng {
  return new SimRandom(seed).stream('options');
}

/** One client's loop state (TinyKV's per-goroutine `j` and `last`). */
interface ClientState {
  readonly id: number;
  readonly client: ClusterClient;
  j: number;
  last: string;
  running: boolean;
}

function genericBody(cluster: Cluster, params: GenericParams): void {
  const rnd = cluster.random.stream('generic');
  cluster.runFor(2 * electionTimeoutMs);
  const clients: ClientState[] = Array.from({ length: params.nclients }, (_, id) => ({
    id, client: new ClusterClient(cluster, cluster.random.stream(`client${id}`)), j: 0, last: '', running: false,
  }));
  // Progress is owed only while each region's members can reach a majority: under loss and
  // partitions redrawn every second, a region (say one the conf changer shrank to two members
  // on opposite sides) may have no leader for longer than a request's budget. A request or
  // conf change begun while the network faults are on may therefore time out; it is retried.
  // Once the network is healed, everything owes progress within its budget again.
  const network: NetworkState = { faulty: false, healedAtMs: 0 };
  const mayTimeOut = (): boolean => network.faulty;
  for (let iter = 0; iter < iterations; iter++) {
    if (cluster.trace.enabled) cluster.trace.record(`generic: iteration ${iter}`);
    let done = false;
    for (const c of clients) {
      c.j = 0;
      c.last = '';
      c.running = true;
      clientLoop(cluster, c, () => done, mayTimeOut);
    }
    const faults = startIterationFaults(cluster, rnd, params, () => done, network);
    cluster.runFor(windowMs);
    done = true;
    runUntilTrue(cluster, () => !faults.chaosRunning(), 2 * electionTimeoutMs, 'chaos loop stop');
    if (params.unreliable || params.partitions) {
      cluster.clearFilters();
      network.faulty = false;
      network.healedAtMs = cluster.clock.nowMs;
      cluster.runFor(electionTimeoutMs);
    }
    // Unlike TinyKV, the conf changer is joined (on the healed network): its operation finishes first.
    runUntilTrue(cluster, () => !faults.confchangerRunning(), 30_000, 'confchanger stop');
    runUntilTrue(cluster, () => clients.every((c) => !c.running), 60_000, 'clients stop');
    if (params.crash) {
      for (const id of cluster.storeIds) cluster.stopServer(id);
      cluster.runFor(electionTimeoutMs);
      for (const id of cluster.storeIds) cluster.startServer(id);
    }
    for (const c of clients) {
      const entries = mustScan(cluster, c.client, keyOf(c.id, 0), keyOf(c.id, c.j));
      const value = entries.map(([, v]) => v).join('');
      const problem = checkClientAppends(c.id, value, c.j);
      if (problem !== undefined) throw new SimulationError('safety', `iteration ${iter}: ${problem}`);
      for (let k = 0; k < c.j; k++) mustDelete(cluster, c.client, keyOf(c.id, k));
    }
    if (params.maxraftlog > 0) {
      cluster.runFor(1_000);
      for (const region of cluster.scheduler.allRegions()) {
        for (const id of cluster.storeIds) {
          const st = applyState(cluster, id, region.id);
          if (st === undefined) continue;
          const kept = st.appliedIndex - (st.truncatedState?.index ?? 0);
          if (kept > 2 * params.maxraftlog) {
            throw new SimulationError('liveness', `iteration ${iter}: logs of region ${region.id} were not trimmed on store ${id}: applied ${st.appliedIndex}, truncated ${st.truncatedState?.index ?? 0} (> 2 × ${params.maxraftlog})`);
          }
        }
      }
    }
    if (params.split === true) {
      const first = cluster.scheduler.regionByKey(Buffer.alloc(0));
      if (first === undefined || first.endKey.length === 0) throw new SimulationError('liveness', `iteration ${iter}: region is not split`);
    }
  }
}

/** Whether the network faults are on, and when they were last healed (a change's budget restarts then). */
export interface NetworkState {
  faulty: boolean;
  healedAtMs: number;
}

export interface IterationFaults {
  readonly chaosRunning: () => boolean;
  readonly confchangerRunning: () => boolean;
}

/**
 * Starts one iteration's faults as GenericTest does: the chaos loop (with
 * `partitions`, re-partition the stores at random; with `unreliable`, stack
 * a drop filter) every election timeout + rand(0..199) ms from 300 ms on,
 * and with `confchange` the conf changer from 100 ms on. Both stop once
 * `isDone()` holds; the caller heals the network (clearFilters) itself.
 */
export function startIterationFaults(cluster: Cluster, rnd: Prng, params: GenericParams, isDone: () => boolean, network: NetworkState): IterationFaults {
  let chaosRunning = false;
  if (params.unreliable || params.partitions) {
    chaosRunning = true;
    network.faulty = true;
    const chaos = (): void => {
      if (isDone()) {
        chaosRunning = false;
        return;
      }
      if (params.partitions) {
        const sides = cluster.storeIds.map(() => rnd.intInclusive(0, 1));
        const s1 = cluster.storeIds.filter((_, i) => sides[i] === 0);
        const s2 = cluster.storeIds.filter((_, i) => sides[i] === 1);
        cluster.clearFilters();
        cluster.addPartition(s1, s2);
      }
      if (params.unreliable) cluster.addDropFilter(rnd);
      cluster.clock.schedule(electionTimeoutMs + rnd.intInclusive(0, 199), WORLD, 'chaos', chaos);
    };
    cluster.clock.schedule(300, WORLD, 'chaos start', chaos);
  }
  let confchangerRunning = false;
  if (params.confchange === true) {
    confchangerRunning = true;
    cluster.clock.schedule(100, WORLD, 'confchanger start', () => confchanger(cluster, rnd, isDone, () => {
      confchangerRunning = false;
    }, network));
  }
  return { chaosRunning: () => chaosRunning, confchangerRunning: () => confchangerRunning };
}

/** How long the conf changer waits for the scheduler to see its change (TinyKV: 500 × 10 ms). */
const confChangeWaitMs = 5_000;

/**
 * TinyKV's confchanger: a random region and a random store; remove the
 * region's peer there if it has one and more than one peer, else add a peer
 * there; wait until the scheduler shows it; pause rand(0..199) ms; repeat
 * until done. One step at a time, on virtual time. While the network is
 * faulty a change may wait longer than its budget; once healed, it has its
 * budget again from the moment of healing.
 */
function confchanger(cluster: Cluster, rnd: Prng, isDone: () => boolean, onStop: () => void, network: Readonly<NetworkState>): void {
  const step = (): void => {
    if (isDone()) return onStop();
    const region = cluster.scheduler.randomRegion(rnd);
    const storeId = pick(rnd, cluster.storeIds);
    if (region === undefined) return pause();
    const there = region.peers.find((p) => p.storeId === storeId);
    let done: () => boolean;
    let what: string;
    if (there !== undefined) {
      if (region.peers.length <= 1) return pause();
      cluster.scheduler.removePeer(region.id, there);
      done = () => !cluster.scheduler.hasPeer(region.id, there);
      what = `MustRemovePeer(${region.id}, ${there.id}@${storeId})`;
    } else {
      const peer = { id: cluster.scheduler.allocId(), storeId };
      cluster.scheduler.addPeer(region.id, peer);
      done = () => cluster.scheduler.hasPeer(region.id, peer);
      what = `MustAddPeer(${region.id}, ${peer.id}@${storeId})`;
    }
    if (cluster.trace.enabled) cluster.trace.record(`confchanger: ${what}`);
    const startMs = cluster.clock.nowMs;
    const wait = (): void => {
      if (done()) return pause();
      const deadline = Math.max(startMs, network.healedAtMs) + confChangeWaitMs;
      if (!network.faulty && cluster.clock.nowMs >= deadline) throw new SimulationError('liveness', `${what}: not done ${confChangeWaitMs} ms after it began on a healthy network`);
      cluster.clock.schedule(10, WORLD, 'confchanger wait', wait);
    };
    wait();
  };
  const pause = (): void => {
    cluster.clock.schedule(rnd.intInclusive(0, 199), WORLD, 'confchanger pause', step);
  };
  step();
}

/** TinyKV's client goroutine: until done, put (50%) or scan-and-compare; one operation at a time. */
function clientLoop(cluster: Cluster, c: ClientState, isDone: () => boolean, mayTimeOut: () => boolean): void {
  const rnd = cluster.random.stream(`generic client${c.id}`);
  const next = (): void => {
    if (isDone()) {
      c.running = false;
      return;
    }
    // Scans return everything the client wrote, so work grows with the square of j: a
    // run with absurdly many operations is a broken timing model, stopped here
    // rather than by running out of memory.
    if (c.j >= appendsPerIterationMax) throw new SimulationError('assertion', `client ${c.id}: more than ${appendsPerIterationMax} appends in one iteration`);
    if (rnd.chance({ numerator: 1, denominator: 2 })) {
      const key = keyOf(c.id, c.j);
      const value = `x ${c.id} ${c.j} y`;
      const op = cluster.history.begin(c.client.endpoint, { kind: 'put', key, value });
      // A put that timed out under faults is sent again (same key and value: the client's
      // retries are sound for this workload, see cluster_client.ts); one operation records it.
      const send = (): void => {
        const tolerated = mayTimeOut();
        c.client.request(bytes(key), [putRequest(key, value)], (outcome) => {
          if (!outcome.ok && outcome.kind === 'timeout' && tolerated) return send();
          requireOk(outcome, `put ${key}`);
          cluster.history.complete(op, 'ok', { kind: 'put' });
          c.last += value;
          c.j++;
          next();
        });
      };
      send();
      return;
    }
    const start = keyOf(c.id, 0);
    const end = keyOf(c.id, c.j);
    scanAcross(cluster, c.client, start, end, (entries) => {
      const got = entries.map(([, v]) => v).join('');
      if (got !== c.last) throw new SimulationError('safety', `client ${c.id}: scan of [${start}, ${end}) got ${JSON.stringify(got.slice(0, 200))}, wrote ${JSON.stringify(c.last.slice(0, 200))}`);
      next();
    }, mayTimeOut);
  };
  next();
}

function requireOk(outcome: RequestOutcome, what: string): Extract<RequestOutcome, { ok: true }> {
  if (outcome.ok) return outcome;
  if (outcome.kind === 'timeout') throw new SimulationError('liveness', `${what}: request timeout after ${outcome.attempts} attempts`);
  throw new SimulationError('liveness', `${what}: error ${outcome.response.header?.error?.message ?? '?'}`);
}

/** TinyKV's key: `"<cli> %08d"`. */
export function keyOf(client: number, j: number): string {
  return `${client} ${String(j).padStart(8, '0')}`;
}
