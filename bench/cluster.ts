/**
 * Cluster benchmark against etcd: `npm run bench:cluster [-- flags]`.
 *
 * Starts a real TinyKV.ts cluster (`Playground`: one `tinykv scheduler` and
 * `--stores` `tinykv server --pd` processes on loopback, LMDB, every write
 * fsynced) and, when `etcd` is on PATH (Debian package `etcd-server`), a
 * 3-member etcd cluster on loopback with its defaults (fsync on). The two
 * never run at the same time. Each is driven from this process with the same
 * client stack (@grpc/grpc-js + the @bufbuild/protobuf wire codec) and the
 * same workload:
 *
 * - `put`: durable writes of 100-byte values to random keys of the key space
 *   (16-byte keys), TinyKV.ts RawPut / etcd KV.Put;
 * - `get`: linearizable reads of random pre-loaded keys, TinyKV.ts RawGet (a
 *   ReadIndex read) / etcd KV.Range with serializable=false (its default);
 *   a missing key counts as an error;
 *
 * each with 1 and 64 requests in flight (`--concurrency`). TinyKV.ts's client
 * routes by region (`RawClient({ pd })`: to the region's leader); the etcd
 * client talks to the etcd leader (its best case: no forwarding). Each
 * scenario runs `--warmup-ms` (excluded) and then `--duration-ms`; only
 * operations started in the measured window count, and the rate is their
 * number over the time from the window's start until the last of them ended.
 *
 * Output, one JSON line per system and scenario:
 *   {"bench":"cluster","system":"tinykv","scenario":"put","concurrency":64,
 *    "ops":…,"opsPerSec":…,"p50Ms":…,"p99Ms":…,"errors":…,…}
 * and, when both systems ran, one line per scenario with
 *   {"bench":"cluster","scenario":"put","concurrency":64,"ratio":tinykv/etcd}.
 * Progress goes to stderr. Data dirs live under one temp dir that is removed
 * afterwards; the processes are stopped on every exit path (Ctrl-C too; the
 * children also stop themselves when this process dies: stdin lifelines).
 *
 * Flags: --duration-ms (10000), --warmup-ms (2000), --keys (10000),
 * --stores (3), --concurrency (1,64), --only tinykv|etcd.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RawClient } from '../src/client/raw_client.js';
import { Playground } from '../src/cli/playground.js';
import { EtcdCluster, EtcdKvClient, findEtcd } from './_etcd.js';
import { argNumber, nowMs, quantile, round, xorshift32 } from './_report.js';

type System = 'tinykv' | 'etcd';
type Scenario = 'put' | 'get';

/** What the bench needs of a system under test. */
interface Target {
  readonly system: System;
  put(key: Uint8Array, value: Uint8Array): Promise<void>;
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  /** Closes the client and stops the processes. */
  stop(): Promise<void>;
}

interface Result {
  readonly ops: number;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly firstError?: string;
}

interface Options {
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly keys: number;
  readonly stores: number;
  readonly concurrency: readonly number[];
  readonly only: System | undefined;
}

const KEY_BYTES = 16;
const VALUE_BYTES = 100;
/** Pause of a worker after a failed request, so a dead cluster is not spun on. */
const ERROR_PAUSE_MS = 10;
/** Requests in flight while pre-loading the key space. */
const LOAD_CONCURRENCY = 64;

/** `bench-0000000042`: 16 bytes for every index below 10^10. */
const key = (i: number): Uint8Array => Buffer.from(`bench-${String(i).padStart(KEY_BYTES - 6, '0')}`);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Set by SIGINT/SIGTERM: workers stop and no more figures are printed (they would be the shutdown's). */
let interrupted = false;

function line(fields: Record<string, number | string | boolean>): void {
  if (interrupted) return;
  const out = { bench: 'cluster', ...fields, node: process.version, cpus: os.cpus().length, at: new Date().toISOString() };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function progress(message: string): void {
  process.stderr.write(`bench:cluster: ${message}\n`);
}

function argString(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function parseOptions(): Options {
  const only = argString('only');
  if (only !== undefined && only !== 'tinykv' && only !== 'etcd') throw new RangeError('--only must be tinykv or etcd');
  const concurrency = (argString('concurrency') ?? '1,64').split(',').map(Number);
  if (concurrency.some((c) => !Number.isSafeInteger(c) || c <= 0)) throw new RangeError('--concurrency must be positive integers, e.g. 1,64');
  const keys = argNumber('keys', 10_000);
  if (keys >= 10 ** (KEY_BYTES - 6)) throw new RangeError(`--keys must be below ${10 ** (KEY_BYTES - 6)}`);
  return {
    durationMs: argNumber('duration-ms', 10_000),
    warmupMs: argNumber('warmup-ms', 2_000),
    keys,
    stores: argNumber('stores', 3),
    concurrency,
    only,
  };
}

/**
 * Runs `op` from `concurrency` workers for a warm-up and then a measured window.
 * `op` resolves false for a wrong answer (counted as an error) and may throw.
 */
async function drive(concurrency: number, warmupMs: number, durationMs: number, seed: number, op: (i: number) => Promise<boolean>): Promise<Result> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const measureFrom = nowMs() + warmupMs;
  const measureUntil = measureFrom + durationMs;
  let lastEnd = measureFrom;
  const worker = async (w: number): Promise<void> => {
    const rand = xorshift32(seed * 1_000 + w + 1);
    for (let t = nowMs(); t < measureUntil && !interrupted; t = nowMs()) {
      const measured = t >= measureFrom;
      let ok: boolean;
      let error: unknown;
      try {
        ok = await op(rand());
      } catch (err: unknown) {
        ok = false;
        error = err;
      }
      const end = nowMs();
      if (measured) {
        lastEnd = Math.max(lastEnd, end);
        if (ok) latencies.push(end - t);
        else {
          errors++;
          firstError ??= error === undefined ? 'wrong answer (a pre-loaded key was missing)' : String(error);
        }
      }
      if (!ok) await sleep(ERROR_PAUSE_MS);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  latencies.sort((a, b) => a - b);
  const elapsedMs = Math.max(lastEnd - measureFrom, 1);
  return {
    ops: latencies.length,
    opsPerSec: round((latencies.length / elapsedMs) * 1000, 0),
    p50Ms: round(quantile(latencies, 0.5), 3),
    p99Ms: round(quantile(latencies, 0.99), 3),
    errors,
    ...(firstError === undefined ? {} : { firstError }),
  };
}

/** Writes every key of the key space once (not measured). @throws on the first failed put */
async function preload(target: Target, keys: number, value: Uint8Array): Promise<void> {
  const started = nowMs();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keys && !interrupted) await target.put(key(next++), value);
  };
  await Promise.all(Array.from({ length: LOAD_CONCURRENCY }, worker));
  progress(`${target.system}: pre-loaded ${keys} keys in ${round(nowMs() - started, 0)} ms`);
}

/** Pre-loads, then runs every scenario; returns ops/s by `scenario/concurrency`. */
async function runScenarios(target: Target, o: Options, value: Uint8Array): Promise<Map<string, number>> {
  const rates = new Map<string, number>();
  await preload(target, o.keys, value);
  const plan: [Scenario, number][] = [
    ...o.concurrency.map((c): [Scenario, number] => ['put', c]),
    ...o.concurrency.map((c): [Scenario, number] => ['get', c]),
  ];
  for (const [seed, [scenario, concurrency]] of plan.entries()) {
    if (interrupted) break;
    progress(`${target.system}: ${scenario} with ${concurrency} in flight, ${o.warmupMs} ms warm-up + ${o.durationMs} ms`);
    const load1 = round(os.loadavg()[0] ?? 0, 2);
    const op = scenario === 'put'
      ? async (r: number): Promise<boolean> => {
        await target.put(key(r % o.keys), value);
        return true;
      }
      : async (r: number): Promise<boolean> => (await target.get(key(r % o.keys))) !== undefined;
    const res = await drive(concurrency, o.warmupMs, o.durationMs, seed, op);
    line({ system: target.system, scenario, concurrency, ...res, durationMs: o.durationMs, keys: o.keys, load1 });
    rates.set(`${scenario}/${concurrency}`, res.opsPerSec);
  }
  return rates;
}

async function startTinykv(dataDir: string, stores: number, track: (stop: () => Promise<void>) => void): Promise<Target> {
  progress(`tinykv: starting a scheduler and ${stores} stores`);
  const started = nowMs();
  const playground = await Playground.start({
    dataDir, stores, pdPort: 0, storePort: 0,
    onExit: (name, status) => progress(`tinykv: ${name} exited (${status}) during the bench; see ${path.join(dataDir, 'logs')}`),
  });
  const client = new RawClient({ pd: playground.pdAddr });
  const stop = async (): Promise<void> => {
    client.close();
    await playground.stop();
  };
  track(stop);
  progress(`tinykv: serving in ${round(nowMs() - started, 0)} ms (scheduler ${playground.pdAddr}, stores ${playground.storeAddrs.join(' ')})`);
  return { system: 'tinykv', put: (k, v) => client.put(k, v), get: (k) => client.get(k), stop };
}

async function startEtcd(bin: string, dataDir: string, track: (stop: () => Promise<void>) => void): Promise<Target> {
  progress('etcd: starting 3 members');
  const started = nowMs();
  const cluster = await EtcdCluster.start({ bin, dataDir, members: 3 });
  process.once('exit', () => cluster.killNow());
  const leader = await cluster.leaderAddr();
  const client = new EtcdKvClient(leader);
  const stop = async (): Promise<void> => {
    client.close();
    await cluster.stop();
  };
  track(stop);
  progress(`etcd: healthy in ${round(nowMs() - started, 0)} ms (members ${cluster.clientAddrs.join(' ')}, leader ${leader})`);
  return { system: 'etcd', put: (k, v) => client.put(k, v), get: (k) => client.get(k), stop };
}

async function main(): Promise<void> {
  const o = parseOptions();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'tinykv-bench-cluster-'));
  const running = new Set<() => Promise<void>>();
  const track = (stop: () => Promise<void>): void => {
    running.add(stop);
  };
  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> => {
    cleaning ??= (async () => {
      await Promise.allSettled([...running].map((stop) => stop()));
      running.clear();
      fs.rmSync(root, { recursive: true, force: true });
    })();
    return cleaning;
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true;
      progress(`${signal}: stopping every process`);
      void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
  const rand = xorshift32(11);
  const value = new Uint8Array(VALUE_BYTES).map(() => rand() & 0xff);
  const rates = new Map<System, Map<string, number>>();
  try {
    const etcdBin = o.only === 'tinykv' ? undefined : findEtcd();
    if (o.only === 'etcd' && etcdBin === undefined) throw new Error('--only etcd: etcd not found on PATH (Debian package etcd-server)');
    if (o.only !== 'tinykv' && etcdBin === undefined) {
      line({ note: 'etcd not found on PATH: install the Debian package etcd-server for the comparison; running TinyKV.ts only' });
    }
    if (o.only !== 'etcd') {
      const target = await startTinykv(path.join(root, 'tinykv'), o.stores, track);
      rates.set('tinykv', await runScenarios(target, o, value));
      running.delete(target.stop);
      await target.stop();
    }
    if (etcdBin !== undefined && !interrupted) {
      const target = await startEtcd(etcdBin, path.join(root, 'etcd'), track);
      rates.set('etcd', await runScenarios(target, o, value));
      running.delete(target.stop);
      await target.stop();
    }
  } finally {
    await cleanup();
  }
  const tinykv = rates.get('tinykv');
  const etcd = rates.get('etcd');
  if (tinykv === undefined || etcd === undefined) return;
  for (const [name, rate] of tinykv) {
    const other = etcd.get(name);
    if (other === undefined || other === 0) continue;
    const [scenario = '', concurrency = '0'] = name.split('/');
    line({ scenario, concurrency: Number(concurrency), ratio: round(rate / other, 3) });
  }
}

await main();
