/**
 * Replicated raw API benchmark, one process: `npm run bench:cluster-sim
 * [-- --seconds N]`.
 *
 * A 3-store cluster in this process (StoreNodes on the real LMDB engine in
 * temp dirs, real timers with the default 100 ms tick, LocalTransport: no
 * network, but every message goes through the protobuf codec). The raw API
 * handlers are called directly on RaftStorage over the leader's store, so
 * each RawPut is a raft proposal committed on a majority (durable) and
 * applied, and each RawGet is a ReadIndex read (a heartbeat round to a
 * majority) served from a read view.
 *
 * Scenarios, each for `--seconds` (default 5): RawPut with 1 and 64 commands
 * in flight, RawGet with 64 in flight; ops/s and p50/p99 latency in ms, plus
 * the leader's engine writes and fsyncs per operation (group commit). One
 * JSON line per scenario. Keys are 16 bytes, values 100 bytes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LocalCluster } from '../src/server/local_cluster.js';
import { RaftStorage } from '../src/server/raft_storage.js';
import { Server } from '../src/server/server.js';
import type { StoreNode } from '../src/server/store_node.js';
import { CF_DEFAULT } from '../src/storage/engine.js';
import { argNumber, nowMs, quantile, report, round, xorshift32 } from './_report.js';

const key = (i: number): Buffer => Buffer.from(`bench-${String(i).padStart(10, '0')}`);

interface Result {
  readonly ops: number;
  readonly opsPerSec: number;
  readonly p50: number;
  readonly p99: number;
}

/** Runs `op` from `concurrency` workers until `seconds` have passed. `op` returns false on a refused request. */
async function run(concurrency: number, seconds: number, op: (i: number) => Promise<boolean>): Promise<Result> {
  const latencies: number[] = [];
  let next = 0;
  let refused = 0;
  const start = nowMs();
  const end = start + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (nowMs() < end) {
      const i = next++;
      const t = nowMs();
      if (!(await op(i))) refused++;
      latencies.push(nowMs() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = nowMs() - start;
  if (refused > 0) throw new Error(`${refused} of ${latencies.length} requests were refused (leadership changed?)`);
  latencies.sort((a, b) => a - b);
  return {
    ops: latencies.length,
    opsPerSec: round((latencies.length / elapsed) * 1000, 0),
    p50: round(quantile(latencies, 0.5), 3),
    p99: round(quantile(latencies, 0.99), 3),
  };
}

function scenario(name: string, concurrency: number, r: Result, leader: StoreNode, before: ReturnType<StoreNode['stats']>): void {
  const after = leader.stats();
  report('cluster-sim', name, {
    stores: 3, concurrency, ops: r.ops, ops_per_sec: r.opsPerSec, p50_ms: r.p50, p99_ms: r.p99,
    leader_writes_per_op: round((after.writes - before.writes) / r.ops, 3),
    leader_fsyncs_per_op: round((after.syncedWrites - before.syncedWrites) / r.ops, 3),
  });
}

async function main(): Promise<void> {
  const seconds = argNumber('seconds', 5);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinykv-bench-cluster-'));
  const cluster = await LocalCluster.start({ storeIds: [1, 2, 3], dataDir });
  try {
    const leader = await cluster.waitForLeader(1, 10_000);
    const server = new Server(new RaftStorage(leader));
    const rand = xorshift32(11);
    const value = Buffer.from(new Uint8Array(100).map(() => rand() & 0xff));
    let written = 0;
    const put = async (i: number): Promise<boolean> => {
      written = Math.max(written, i + 1);
      const res = await server.rawPut({ context: undefined, key: key(i), value, cf: CF_DEFAULT });
      return res.regionError === undefined && res.error === '';
    };
    const get = async (): Promise<boolean> => {
      const res = await server.rawGet({ context: undefined, key: key(rand() % written), cf: CF_DEFAULT });
      return res.regionError === undefined && res.error === '' && !res.notFound;
    };
    await run(8, 1, put); // warm-up: JIT, page cache, LMDB file growth

    for (const concurrency of [1, 64]) {
      const before = leader.stats();
      scenario('raw_put', concurrency, await run(concurrency, seconds, put), leader, before);
    }
    const before = leader.stats();
    scenario('raw_get_read_index', 64, await run(64, seconds, get), leader, before);
  } finally {
    await cluster.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
