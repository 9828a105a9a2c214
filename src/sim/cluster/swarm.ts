/**
 * swarm3B: swarm testing of the multi-raft store (issue 6). Each seed draws
 * a different world: 3 to 7 stores, message loss and duplication, whether
 * stores are partitioned and crashed, whether membership changes, the split
 * size, the log GC limit, the number of clients, the key space and the mix of
 * operations. A safety phase runs the workload with every drawn fault on;
 * then everything heals and the liveness phase requires every region to
 * converge (runClusterScenario).
 *
 * Unlike TinyKV's GenericTest, clients share keys and a timed-out write is
 * not retried: it is recorded as indeterminate and the client moves on, with
 * a value never written before (a retried write could apply twice around
 * another client's write of the same key, which a history cannot express).
 * Timeouts in the safety phase are not failures; wrong answers are.
 */
import { CmdType } from '../../pb/raft_cmdpb.js';
import type { Request } from '../../pb/raft_cmdpb.js';
import { WORLD } from '../clock.js';
import { pick, ratio } from '../prng.js';
import type { Prng } from '../prng.js';
import type { RunOptions, RunResult } from '../runner.js';
import type { Cluster, ClusterOptions } from './cluster.js';
import { ClusterClient, TINYKV_CLIENT_TIMINGS } from './cluster_client.js';
import type { RequestOutcome } from './cluster_client.js';
import { describeClusterOptions, drawClusterOptions, electionTimeoutMs, seedStream } from './generic_test.js';
import { bytes, deleteRequest, getRequest, putRequest, runClusterScenario, runUntilTrue, SCAN_UNLIMITED, snapRequest, text } from './harness.js';

interface SwarmParams {
  readonly clients: number;
  readonly keys: number;
  readonly safetyMs: number;
  readonly partitions: boolean;
  readonly crashes: boolean;
  readonly confchange: boolean;
  /** Percentages of the operation mix; the rest are puts. */
  readonly getPct: number;
  readonly scanPct: number;
  readonly deletePct: number;
}

function drawSwarm(rnd: Prng): { params: SwarmParams; options: ClusterOptions } {
  const storeCount = rnd.intInclusive(3, 7);
  const maxraftlog = pick(rnd, [-1, 20, 100]);
  const base = drawClusterOptions(rnd, { nclients: 1, unreliable: false, crash: false, partitions: false, maxraftlog }, storeCount);
  const splitSize = rnd.intInclusive(150, 2_000);
  const options: ClusterOptions = {
    ...base,
    network: {
      ...base.network,
      dropRatio: ratio(rnd.intInclusive(0, 100), 1_000),
      duplicateRatio: ratio(rnd.intInclusive(0, 20), 1_000),
    },
    store: { ...base.store, raftstore: { ...base.store.raftstore, regionSplitSizeBytes: splitSize, regionMaxSizeBytes: splitSize + rnd.intInclusive(50, splitSize) } },
  };
  const getPct = rnd.intInclusive(10, 40);
  const scanPct = rnd.intInclusive(0, 20);
  const params: SwarmParams = {
    clients: rnd.intInclusive(1, 6),
    keys: rnd.intInclusive(4, 40),
    safetyMs: rnd.intInclusive(3_000, 8_000),
    partitions: rnd.chance(ratio(1, 2)),
    crashes: rnd.chance(ratio(1, 2)),
    confchange: rnd.chance(ratio(2, 3)),
    getPct,
    scanPct,
    deletePct: rnd.intInclusive(0, 100 - getPct - scanPct - 30),
  };
  return { params, options };
}

function describeSwarm(p: SwarmParams, o: ClusterOptions): string {
  return [
    `clients=${p.clients}`, `keys=${p.keys}`, `safetyMs=${p.safetyMs}`, `partitions=${String(p.partitions)}`, `crashes=${String(p.crashes)}`,
    `confchange=${String(p.confchange)}`, `mix=get${p.getPct}/scan${p.scanPct}/delete${p.deletePct}`,
    `drop=${o.network.dropRatio.numerator}/${o.network.dropRatio.denominator}`, `dup=${o.network.duplicateRatio.numerator}/${o.network.duplicateRatio.denominator}`,
    `split=${o.store.raftstore.regionSplitSizeBytes}/${o.store.raftstore.regionMaxSizeBytes}`, describeClusterOptions(o),
  ].join(' ');
}

export function runSwarm3B(seed: number, options: RunOptions): RunResult {
  const { params, options: drawn } = drawSwarm(seedStream(seed));
  return runClusterScenario('swarm3B', seed, {
    optionsLine: describeSwarm(params, drawn),
    options: drawn,
    body: (cluster) => swarmBody(cluster, params),
    convergenceMs: 120_000,
  }, options);
}

/** Key `i` of the key space, padded so keys sort like their numbers and spread over regions. */
function keyOf(i: number): string {
  return `k${String(i).padStart(4, '0')}`;
}

function swarmBody(cluster: Cluster, p: SwarmParams): void {
  const rnd = cluster.random.stream('swarm');
  cluster.runFor(2 * electionTimeoutMs);
  let done = false;
  let running = 0;
  for (let c = 0; c < p.clients; c++) {
    running++;
    clientLoop(cluster, p, c, () => done, () => running--);
  }
  let chaosRunning = p.partitions || p.crashes;
  if (chaosRunning) chaos(cluster, rnd, p, () => done, () => { chaosRunning = false; });
  let changerRunning = p.confchange;
  if (changerRunning) confchanger(cluster, rnd, () => done, () => { changerRunning = false; });
  cluster.runFor(p.safetyMs);
  done = true;
  runUntilTrue(cluster, () => !chaosRunning && !changerRunning, 30_000, 'swarm fault loops stop');
  cluster.clearFilters();
  for (const id of cluster.storeIds) if (!cluster.store(id).alive) cluster.startServer(id);
  runUntilTrue(cluster, () => running === 0, 120_000, 'swarm clients stop');
}

/** Partitions (random sides) and crashes with restarts, re-drawn every election timeout + rand(0..199) ms. */
function chaos(cluster: Cluster, rnd: Prng, p: SwarmParams, isDone: () => boolean, onStop: () => void): void {
  const step = (): void => {
    if (isDone()) return onStop();
    cluster.clearFilters();
    if (p.partitions && rnd.chance(ratio(2, 3))) {
      const sides = cluster.storeIds.map(() => rnd.intInclusive(0, 1));
      cluster.addPartition(cluster.storeIds.filter((_, i) => sides[i] === 0), cluster.storeIds.filter((_, i) => sides[i] === 1));
    }
    if (p.crashes && rnd.chance(ratio(1, 3))) {
      const id = pick(rnd, cluster.storeIds);
      if (cluster.store(id).alive) {
        cluster.stopServer(id);
        cluster.clock.schedule(rnd.intInclusive(100, 1_500), WORLD, 'swarm restart', () => {
          if (!cluster.store(id).alive) cluster.startServer(id);
        });
      }
    }
    cluster.clock.schedule(electionTimeoutMs + rnd.intInclusive(0, 199), WORLD, 'swarm chaos', step);
  };
  step();
}

/** Adds or removes a peer of a random region on a random store, waits up to 3 s for the scheduler to see it, repeats. */
function confchanger(cluster: Cluster, rnd: Prng, isDone: () => boolean, onStop: () => void): void {
  const step = (): void => {
    if (isDone()) return onStop();
    const region = cluster.scheduler.randomRegion(rnd);
    const storeId = pick(rnd, cluster.storeIds);
    let finished: () => boolean = () => true;
    if (region !== undefined) {
      const there = region.peers.find((x) => x.storeId === storeId);
      if (there !== undefined && region.peers.length > 1) {
        cluster.scheduler.removePeer(region.id, there);
        finished = () => !cluster.scheduler.hasPeer(region.id, there);
      } else if (there === undefined) {
        const peer = { id: cluster.scheduler.allocId(), storeId };
        cluster.scheduler.addPeer(region.id, peer);
        finished = () => cluster.scheduler.hasPeer(region.id, peer);
      }
    }
    const deadline = cluster.clock.nowMs + 3_000;
    const wait = (): void => {
      if (finished() || cluster.clock.nowMs >= deadline || isDone()) {
        cluster.clock.schedule(rnd.intInclusive(0, 300), WORLD, 'swarm confchanger pause', step);
        return;
      }
      cluster.clock.schedule(10, WORLD, 'swarm confchanger wait', wait);
    };
    wait();
  };
  step();
}

/** A client's operations until done: each recorded; a timeout is indeterminate and never retried. */
function clientLoop(cluster: Cluster, p: SwarmParams, id: number, isDone: () => boolean, onStop: () => void): void {
  const rnd = cluster.random.stream(`swarm client${id}`);
  // A timed-out write must not be re-proposed: the client gives up after one attempt's silence.
  const client = new ClusterClient(cluster, cluster.random.stream(`swarm client${id} net`), { ...TINYKV_CLIENT_TIMINGS, retryAmbiguous: false });
  let n = 0;
  const next = (): void => {
    if (isDone()) return onStop();
    const roll = rnd.intInclusive(0, 99);
    const key = keyOf(rnd.intInclusive(0, p.keys - 1));
    if (roll < p.getPct) {
      const op = cluster.history.begin(client.endpoint, { kind: 'get', key });
      return client.request(bytes(key), [getRequest(key)], (o) => {
        const ok = settle(cluster, op, o);
        if (ok !== undefined) {
          const raw = ok.response.responses[0]?.get?.value;
          cluster.history.complete(op, 'ok', { kind: 'get', value: raw === undefined || raw.length === 0 ? undefined : text(raw) });
        }
        next();
      });
    }
    if (roll < p.getPct + p.scanPct) {
      const end = keyOf(Math.min(p.keys, rnd.intInclusive(0, p.keys - 1) + rnd.intInclusive(1, 8)));
      return scanPart(cluster, client, key < end ? key : end, key < end ? end : key, next);
    }
    const write: Request = roll < p.getPct + p.scanPct + p.deletePct
      ? deleteRequest(key)
      : putRequest(key, `v${id}.${n++}`);
    const input = write.cmdType === CmdType.Delete ? { kind: 'delete' as const, key } : { kind: 'put' as const, key, value: text(write.put?.value ?? Buffer.alloc(0)) };
    const op = cluster.history.begin(client.endpoint, input);
    client.request(bytes(key), [write], (o) => {
      if (settle(cluster, op, o) !== undefined) cluster.history.complete(op, 'ok', input.kind === 'delete' ? { kind: 'delete' } : { kind: 'put' });
      next();
    });
  };
  next();
}

/** Records a failed outcome (a definite error is `fail`, a timeout `indeterminate`); returns the success to record. */
function settle(cluster: Cluster, op: number, o: RequestOutcome): Extract<RequestOutcome, { ok: true }> | undefined {
  if (o.ok) return o;
  cluster.history.complete(op, o.kind === 'timeout' ? 'indeterminate' : 'fail');
  return undefined;
}

/** One scan, region by region; each region's part is its own operation (a part that times out ends the scan). */
function scanPart(cluster: Cluster, client: ClusterClient, start: string, end: string, then: () => void): void {
  if (start >= end) return then();
  const op = cluster.history.begin(client.endpoint, { kind: 'scan', start, end, limit: SCAN_UNLIMITED });
  client.request(bytes(start), [snapRequest()], (o) => {
    const ok = settle(cluster, op, o);
    if (ok === undefined) return then();
    const region = ok.response.responses[0]?.snap?.region;
    const regionEnd = region === undefined ? '' : text(region.endKey);
    const more = regionEnd !== '' && regionEnd < end;
    if (more) cluster.history.narrowScan(op, regionEnd);
    cluster.history.complete(op, 'ok', { kind: 'scan', entries: ok.entries ?? [] });
    if (more) return scanPart(cluster, client, regionEnd, end, then);
    then();
  }, { start: bytes(start), end: bytes(end) });
}
