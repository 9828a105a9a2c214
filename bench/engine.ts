/**
 * Engine benchmark: `npm run bench:engine [-- --keys N]`.
 *
 * Workload (as in ../shared STACK.md §2): N keys of 16 bytes (8-byte
 * big-endian counter, shuffled within each batch, + 8 bytes) with 100-byte
 * values, written in batches of 100. Scenarios, one JSON line each, per engine:
 *  - put_durable_batched: sync batches, 8 in flight (group commit).
 *  - put_nondurable_batched: non-sync batches, 8 in flight.
 *  - get_point: random existing keys, synchronous reads.
 *  - scan_range: one forward scan over all keys.
 *  - delete_range_10k: time to delete a 10,000-key range.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CF_DEFAULT } from '../src/storage/engine.js';
import type { Engine } from '../src/storage/engine.js';
import { LmdbEngine } from '../src/storage/lmdb_engine.js';
import { MemEngine } from '../src/storage/mem_engine.js';
import { WriteBatch } from '../src/storage/write_batch.js';
import { argNumber, nowMs, report, round, xorshift32 } from './_report.js';

const BATCH = 100;
const IN_FLIGHT = 8;

function key(i: number, prefix: number): Uint8Array {
  const k = new Uint8Array(16);
  const view = new DataView(k.buffer);
  view.setUint32(0, prefix);
  view.setUint32(4, i);
  view.setUint32(8, i ^ 0x5bd1e995);
  return k;
}

async function writeAll(engine: Engine, keys: number, prefix: number, sync: boolean): Promise<number> {
  const rand = xorshift32(prefix + 1);
  const value = new Uint8Array(100).map(() => rand() & 0xff);
  const start = nowMs();
  let inFlight: Promise<void>[] = [];
  for (let base = 0; base < keys; base += BATCH) {
    const batch = new WriteBatch();
    const ids = Array.from({ length: Math.min(BATCH, keys - base) }, (_, j) => base + j);
    for (let j = ids.length - 1; j > 0; j--) {
      const r = rand() % (j + 1);
      [ids[j], ids[r]] = [ids[r] as number, ids[j] as number];
    }
    for (const id of ids) batch.put(CF_DEFAULT, key(id, prefix), value);
    inFlight.push(engine.write(batch, { sync }));
    if (inFlight.length >= IN_FLIGHT) {
      await Promise.all(inFlight);
      inFlight = [];
    }
  }
  await Promise.all(inFlight);
  return nowMs() - start;
}

async function benchEngine(name: string, engine: Engine, keys: number): Promise<void> {
  const durableMs = await writeAll(engine, keys, 1, true);
  report('engine', 'put_durable_batched', { engine: name, keys, batch: BATCH, in_flight: IN_FLIGHT, ops_per_sec: round((keys / durableMs) * 1000, 0) });
  const lazyMs = await writeAll(engine, keys, 2, false);
  report('engine', 'put_nondurable_batched', { engine: name, keys, batch: BATCH, in_flight: IN_FLIGHT, ops_per_sec: round((keys / lazyMs) * 1000, 0) });

  const rand = xorshift32(7);
  const reads = Math.min(keys, 100_000);
  let found = 0;
  let start = nowMs();
  for (let i = 0; i < reads; i++) if (engine.get(CF_DEFAULT, key(rand() % keys, 1)) !== undefined) found++;
  const getMs = nowMs() - start;
  if (found !== reads) throw new Error(`get_point found ${found} of ${reads} keys`);
  report('engine', 'get_point', { engine: name, reads, ops_per_sec: round((reads / getMs) * 1000, 0) });

  start = nowMs();
  let scanned = 0;
  for (const _ of engine.scan(CF_DEFAULT, { start: key(0, 1), end: key(0, 2) })) scanned++;
  const scanMs = nowMs() - start;
  if (scanned !== keys) throw new Error(`scan_range saw ${scanned} of ${keys} keys`);
  report('engine', 'scan_range', { engine: name, keys: scanned, keys_per_sec: round((scanned / scanMs) * 1000, 0) });

  const span = Math.min(10_000, keys);
  start = nowMs();
  await engine.write(new WriteBatch().deleteRange(CF_DEFAULT, key(0, 1), key(span, 1)), { sync: true });
  report('engine', 'delete_range_10k', { engine: name, keys: span, ms: round(nowMs() - start, 2) });
}

async function main(): Promise<void> {
  const keys = argNumber('keys', 200_000);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinykv-bench-engine-'));
  const lmdb = new LmdbEngine({ dataDir });
  try {
    await benchEngine('lmdb', lmdb, keys);
  } finally {
    await lmdb.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  const mem = new MemEngine();
  await benchEngine('memory', mem, keys);
  await mem.close();
}

await main();
