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
 *
 * The session (temp dir, cleanup, signals), the playground and the load
 * loop are shared with `txn.ts` (`_playground.ts`, `_drive.ts`).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { RawClient } from '../src/client/raw_client.js';
import { drive } from './_drive.js';
import { EtcdCluster, EtcdKvClient, findEtcd } from './_etcd.js';
import { BenchSession, startPlayground } from './_playground.js';
import { argNumber, nowMs, round, xorshift32 } from './_report.js';

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
/** Requests in flight while pre-loading the key space. */
const LOAD_CONCURRENCY = 64;

/** `bench-0000000042`: 16 bytes for every index below 10^10. */
const key = (i: number): Uint8Array => Buffer.from(`bench-${String(i).padStart(KEY_BYTES - 6, '0')}`);

const session = new BenchSession('cluster');

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

/** Writes every key of the key space once (not measured). @throws on the first failed put */
async function preload(target: Target, keys: number, value: Uint8Array): Promise<void> {
  const started = nowMs();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keys && !session.interrupted) await target.put(key(next++), value);
  };
  await Promise.all(Array.from({ length: LOAD_CONCURRENCY }, worker));
  session.progress(`${target.system}: pre-loaded ${keys} keys in ${round(nowMs() - started, 0)} ms`);
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
    if (session.interrupted) break;
    session.progress(`${target.system}: ${scenario} with ${concurrency} in flight, ${o.warmupMs} ms warm-up + ${o.durationMs} ms`);
    const load1 = round(os.loadavg()[0] ?? 0, 2);
    const op = scenario === 'put'
      ? async (r: number): Promise<boolean> => {
        await target.put(key(r % o.keys), value);
        return true;
      }
      : async (r: number): Promise<boolean> => (await target.get(key(r % o.keys))) !== undefined;
    // No operation here retries: `retries` is always 0 and is left out of the line.
    const { retries: _retries, ...res } = await drive({ concurrency, warmupMs: o.warmupMs, durationMs: o.durationMs, seed, stopped: () => session.interrupted }, op);
    session.line({ system: target.system, scenario, concurrency, ...res, durationMs: o.durationMs, keys: o.keys, load1 });
    rates.set(`${scenario}/${concurrency}`, res.opsPerSec);
  }
  return rates;
}

async function startTinykv(dataDir: string, stores: number): Promise<Target> {
  const playground = await startPlayground(session, dataDir, stores);
  const client = new RawClient({ pd: playground.pdAddr });
  const stop = session.track(async () => {
    client.close();
    await playground.stop();
  });
  return { system: 'tinykv', put: (k, v) => client.put(k, v), get: (k) => client.get(k), stop };
}

async function startEtcd(bin: string, dataDir: string): Promise<Target> {
  session.progress('etcd: starting 3 members');
  const started = nowMs();
  const cluster = await EtcdCluster.start({ bin, dataDir, members: 3 });
  process.once('exit', () => cluster.killNow());
  const leader = await cluster.leaderAddr();
  const client = new EtcdKvClient(leader);
  const stop = session.track(async () => {
    client.close();
    await cluster.stop();
  });
  session.progress(`etcd: healthy in ${round(nowMs() - started, 0)} ms (members ${cluster.clientAddrs.join(' ')}, leader ${leader})`);
  return { system: 'etcd', put: (k, v) => client.put(k, v), get: (k) => client.get(k), stop };
}

async function main(): Promise<void> {
  const o = parseOptions();
  const root = session.root;
  const rand = xorshift32(11);
  const value = new Uint8Array(VALUE_BYTES).map(() => rand() & 0xff);
  const rates = new Map<System, Map<string, number>>();
  try {
    const etcdBin = o.only === 'tinykv' ? undefined : findEtcd();
    if (o.only === 'etcd' && etcdBin === undefined) throw new Error('--only etcd: etcd not found on PATH (Debian package etcd-server)');
    if (o.only !== 'tinykv' && etcdBin === undefined) {
      session.line({ note: 'etcd not found on PATH: install the Debian package etcd-server for the comparison; running TinyKV.ts only' });
    }
    if (o.only !== 'etcd') {
      const target = await startTinykv(path.join(root, 'tinykv'), o.stores);
      rates.set('tinykv', await runScenarios(target, o, value));
      await target.stop();
    }
    if (etcdBin !== undefined && !session.interrupted) {
      const target = await startEtcd(etcdBin, path.join(root, 'etcd'));
      rates.set('etcd', await runScenarios(target, o, value));
      await target.stop();
    }
  } finally {
    await session.cleanup();
  }
  const tinykv = rates.get('tinykv');
  const etcd = rates.get('etcd');
  if (tinykv === undefined || etcd === undefined) return;
  for (const [name, rate] of tinykv) {
    const other = etcd.get(name);
    if (other === undefined || other === 0) continue;
    const [scenario = '', concurrency = '0'] = name.split('/');
    session.line({ scenario, concurrency: Number(concurrency), ratio: round(rate / other, 3) });
  }
}

await main();
