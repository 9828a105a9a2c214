/**
 * Raw API benchmark through gRPC: `npm run bench:raw [-- --ops N]`.
 *
 * Starts `tinykv server --standalone` as a separate process (so client and
 * server do not share a CPU thread), then measures RawPut and RawGet with 1
 * and 64 requests in flight: ops/s and p50/p99 latency in ms, one JSON line
 * per scenario. Keys are 16 bytes, values 100 bytes; every put is durable.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RawClient } from '../src/client/raw_client.js';
import { spawnServer } from '../src/testing/child_server.js';
import { argNumber, nowMs, quantile, report, round, xorshift32 } from './_report.js';

const key = (i: number): Uint8Array => new TextEncoder().encode(`bench-${String(i).padStart(10, '0')}`);

async function run(concurrency: number, ops: number, op: (i: number) => Promise<unknown>): Promise<{ opsPerSec: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  let next = 0;
  const start = nowMs();
  const worker = async (): Promise<void> => {
    while (next < ops) {
      const i = next++;
      const t = nowMs();
      await op(i);
      latencies.push(nowMs() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = nowMs() - start;
  latencies.sort((a, b) => a - b);
  return { opsPerSec: round((ops / elapsed) * 1000, 0), p50: round(quantile(latencies, 0.5), 3), p99: round(quantile(latencies, 0.99), 3) };
}

async function main(): Promise<void> {
  const ops = argNumber('ops', 5_000);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinykv-bench-raw-'));
  const server = await spawnServer(dataDir);
  const client = new RawClient({ addr: server.addr });
  const rand = xorshift32(11);
  const value = new Uint8Array(100).map(() => rand() & 0xff);
  try {
    await run(8, 500, (i) => client.put(key(i), value)); // warm-up: connection, JIT, page cache
    for (const concurrency of [1, 64]) {
      const n = concurrency === 1 ? Math.min(ops, 2_000) : ops;
      const put = await run(concurrency, n, (i) => client.put(key(i), value));
      report('raw', 'raw_put', { concurrency, ops: n, ops_per_sec: put.opsPerSec, p50_ms: put.p50, p99_ms: put.p99 });
      const get = await run(concurrency, n, () => client.get(key(rand() % n)));
      report('raw', 'raw_get', { concurrency, ops: n, ops_per_sec: get.opsPerSec, p50_ms: get.p50, p99_ms: get.p99 });
    }
  } finally {
    client.close();
    server.child.kill('SIGTERM');
    await server.exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
