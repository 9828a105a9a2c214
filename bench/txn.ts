/**
 * Transaction benchmark: `npm run bench:txn [-- flags]`.
 *
 * Starts a real TinyKV.ts cluster the way `bench:cluster` does
 * (`_playground.ts`: one `tinykv scheduler` and `--stores` `tinykv server
 * --pd` processes on loopback, LMDB, every write fsynced) and drives
 * Percolator transactions (`TxnClient` over `GrpcTxnRpc`) at it from this
 * process, `--concurrency` transactions in flight (each worker runs one
 * transaction at a time, back to back), over a key space of `--keys` 16-byte
 * keys pre-loaded with 100-byte values:
 *
 * - `txn-write-1key`: put 1 random key, commit (prewrite + commit of one key);
 * - `txn-write-10key`: put 10 distinct random keys, commit (one primary, nine
 *   secondaries committed in the background);
 * - `txn-read-only`: get 10 random keys from one snapshot (the gets in
 *   parallel, as a BatchGet would send them), commit (which sends nothing:
 *   a read-only transaction costs a TSO call and its reads); a missing key
 *   is a wrong answer (an error).
 *
 * A transaction refused with WRITE_CONFLICT or TXN_ABORTED (another one won
 * a key) is run again from `begin()`, as an application would, at most
 * `conflictRetriesMax` times: each retry counts as a conflict, and the
 * transaction counts once, when it commits, with its latency from its first
 * begin. Anything else is an error. Each scenario runs a warm-up (excluded),
 * then the measured window (`_drive.ts`: only transactions begun in the
 * window count); background commits are flushed between scenarios.
 *
 * Clients: `--rpcs` TxnClients, each on its own GrpcTxnRpc (its own
 * scheduler client, TSO stream and region cache), the workers spread over
 * them round-robin. The default, one shared client, is what measured best on
 * the 2-core machine (docs/BENCHMARKS.md): the TSO stream batches the
 * timestamp requests of all in-flight transactions.
 *
 * Output, one JSON line per scenario (field names as bench:cluster's):
 *   {"bench":"txn","scenario":"txn-write-1key","concurrency":64,"txns":…,
 *    "txnsPerSec":…,"p50Ms":…,"p99Ms":…,"conflicts":…,"errors":…,
 *    "durationMs":10000,"keys":1000,"rpcs":1,"load1":…,"node":…,"cpus":…,"at":…}
 * Progress goes to stderr. The data dirs live under one temp dir, removed
 * afterwards; every process is stopped on every exit path (`BenchSession`).
 *
 * Flags: --seconds (10), --warmup-seconds (2), --concurrency (64),
 * --keys (1000), --stores (3), --rpcs (1), --scenarios (all three,
 * comma-separated).
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { TxnClient } from '../src/client/txn_client.js';
import type { Transaction } from '../src/client/txn_client.js';
import { TxnError } from '../src/client/txn_errors.js';
import { GrpcTxnRpc } from '../src/client/txn_rpc_grpc.js';
import { assertNever } from '../src/util/assert.js';
import { drive } from './_drive.js';
import type { DriveOp } from './_drive.js';
import { BenchSession, startPlayground } from './_playground.js';
import { argNumber, nowMs, round, xorshift32 } from './_report.js';

const SCENARIOS = ['txn-write-1key', 'txn-write-10key', 'txn-read-only'] as const;
type Scenario = (typeof SCENARIOS)[number];

interface Options {
  readonly durationMs: number;
  readonly warmupMs: number;
  readonly concurrency: number;
  readonly keys: number;
  readonly stores: number;
  readonly rpcs: number;
  readonly scenarios: readonly Scenario[];
}

const KEY_BYTES = 16;
const VALUE_BYTES = 100;
/** Keys of a multi-key transaction (10-key writes, read-only reads). */
const KEYS_PER_TXN = 10;
/** Runs of one transaction after conflicts before it counts as an error: bounded, so a livelock shows as errors. */
const conflictRetriesMax = 100;
/** Keys per pre-loading transaction, and such transactions in flight. */
const LOAD_BATCH_KEYS = 100;
const LOAD_CONCURRENCY = 8;

/** `bench-0000000042`: 16 bytes for every index below 10^10 (bench:cluster's keys). */
const key = (i: number): Uint8Array => Buffer.from(`bench-${String(i).padStart(KEY_BYTES - 6, '0')}`);

const session = new BenchSession('txn');

function argString(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function parseOptions(): Options {
  const keys = argNumber('keys', 1_000);
  if (keys >= 10 ** (KEY_BYTES - 6)) throw new RangeError(`--keys must be below ${10 ** (KEY_BYTES - 6)}`);
  if (keys < KEYS_PER_TXN) throw new RangeError(`--keys must be at least ${KEYS_PER_TXN}`);
  const scenarios = (argString('scenarios') ?? SCENARIOS.join(',')).split(',').map((name) => {
    const found = SCENARIOS.find((s) => s === name);
    if (found === undefined) throw new RangeError(`--scenarios: unknown scenario "${name}" (expected ${SCENARIOS.join(', ')})`);
    return found;
  });
  return {
    durationMs: argNumber('seconds', 10) * 1_000,
    warmupMs: argNumber('warmup-seconds', 2) * 1_000,
    concurrency: argNumber('concurrency', 64),
    keys,
    stores: argNumber('stores', 3),
    rpcs: argNumber('rpcs', 1),
    scenarios,
  };
}

/** `count` distinct key indexes below `keys`, drawn from a generator seeded with `r`. */
function distinctKeys(r: number, count: number, keys: number): number[] {
  const rand = xorshift32(r);
  const picked = new Set<number>();
  // Bounded: keys >= count (checked by parseOptions), so each draw has a fair chance of being new.
  while (picked.size < count) picked.add(rand() % keys);
  return [...picked];
}

/**
 * Runs `body` in a transaction and commits it, again from begin() after a
 * retryable refusal (WRITE_CONFLICT, TXN_ABORTED), calling `retried` each time.
 * @returns false when `body` saw a wrong answer
 * @throws any other error, or the refusal after conflictRetriesMax retries
 */
async function inTxn(client: TxnClient, body: (t: Transaction) => Promise<boolean>, retried: () => void): Promise<boolean> {
  for (let retries = 0; ; retries++) {
    const t = await client.begin();
    try {
      if (!(await body(t))) {
        await t.rollback();
        return false;
      }
      await t.commit();
      return true;
    } catch (err: unknown) {
      if (!(err instanceof TxnError && err.retryable) || retries >= conflictRetriesMax) throw err;
      retried();
    }
  }
}

/** The transaction of one scenario, on the client of the worker. */
function scenarioOp(scenario: Scenario, clients: readonly TxnClient[], o: Options, value: Uint8Array): DriveOp {
  const clientOf = (worker: number): TxnClient => clients[worker % clients.length] as TxnClient;
  switch (scenario) {
    case 'txn-write-1key':
      return (r, retried, worker) => inTxn(clientOf(worker), async (t) => {
        t.put(key(r % o.keys), value);
        return true;
      }, retried);
    case 'txn-write-10key':
      return (r, retried, worker) => inTxn(clientOf(worker), async (t) => {
        for (const k of distinctKeys(r, KEYS_PER_TXN, o.keys)) t.put(key(k), value);
        return true;
      }, retried);
    case 'txn-read-only':
      return (r, retried, worker) => inTxn(clientOf(worker), async (t) => {
        const values = await Promise.all(distinctKeys(r, KEYS_PER_TXN, o.keys).map((k) => t.get(key(k))));
        return values.every((v) => v !== undefined);
      }, retried);
    default:
      return assertNever(scenario);
  }
}

/** Writes every key once, LOAD_BATCH_KEYS per transaction (not measured). @throws on the first failed one */
async function preload(client: TxnClient, keys: number, value: Uint8Array): Promise<void> {
  const started = nowMs();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keys && !session.interrupted) {
      const from = next;
      const to = Math.min(keys, from + LOAD_BATCH_KEYS);
      next = to;
      const t = await client.begin();
      for (let i = from; i < to; i++) t.put(key(i), value);
      await t.commit();
    }
  };
  await Promise.all(Array.from({ length: LOAD_CONCURRENCY }, worker));
  await client.flush();
  session.progress(`pre-loaded ${keys} keys in ${round(nowMs() - started, 0)} ms`);
}

async function main(): Promise<void> {
  const o = parseOptions();
  const rand = xorshift32(11);
  const value = new Uint8Array(VALUE_BYTES).map(() => rand() & 0xff);
  try {
    const playground = await startPlayground(session, path.join(session.root, 'tinykv'), o.stores);
    const clients = Array.from({ length: o.rpcs }, () => new TxnClient({ rpc: new GrpcTxnRpc({ pd: playground.pdAddr }) }));
    const stop = session.track(async () => {
      await Promise.allSettled(clients.map((c) => c.close()));
      await playground.stop();
    });
    await preload(clients[0] as TxnClient, o.keys, value);
    for (const [seed, scenario] of o.scenarios.entries()) {
      if (session.interrupted) break;
      session.progress(`${scenario} with ${o.concurrency} in flight, ${o.warmupMs} ms warm-up + ${o.durationMs} ms`);
      const load1 = round(os.loadavg()[0] ?? 0, 2);
      const res = await drive(
        { concurrency: o.concurrency, warmupMs: o.warmupMs, durationMs: o.durationMs, seed, stopped: () => session.interrupted },
        scenarioOp(scenario, clients, o, value),
      );
      // The next scenario starts without this one's background commits in flight.
      await Promise.all(clients.map((c) => c.flush()));
      session.line({
        scenario, concurrency: o.concurrency, txns: res.ops, txnsPerSec: res.opsPerSec, p50Ms: res.p50Ms, p99Ms: res.p99Ms,
        conflicts: res.retries, errors: res.errors, ...(res.firstError === undefined ? {} : { firstError: res.firstError }),
        durationMs: o.durationMs, keys: o.keys, rpcs: o.rpcs, load1,
      });
    }
    await stop();
  } finally {
    await session.cleanup();
  }
}

await main();
