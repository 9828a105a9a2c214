/**
 * Goal: the simulated disk loses exactly what a real one may lose: writes
 * are visible at once, durable only once a sync completes (which also makes
 * every earlier write durable), and a crash drops everything not durable,
 * including completions still pending.
 *
 * Method: write batches with and without sync over a virtual clock, crash
 * before or after completions run, and read back what survived.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromUtf8, utf8 } from '../util/bytes.js';
import { CF_DEFAULT } from '../storage/engine.js';
import { WriteBatch } from '../storage/write_batch.js';
import { SimClock } from './clock.js';
import { SimDisk } from './disk.js';
import type { DiskOptions } from './disk.js';
import { Prng } from './prng.js';
import { Trace } from './trace.js';

const OWNER = 1;

function setup(options: DiskOptions = { writeLatencyMsMin: 1, writeLatencyMsMax: 5 }): { clock: SimClock; disk: SimDisk } {
  const clock = new SimClock();
  const disk = new SimDisk({ clock, prng: new Prng(9), trace: new Trace({ nowMs: () => clock.nowMs }), owner: OWNER }, options);
  return { clock, disk };
}

function put(key: string, value: string): WriteBatch {
  return new WriteBatch().put(CF_DEFAULT, utf8(key), utf8(value));
}

function get(disk: SimDisk, key: string): string | undefined {
  const v = disk.get(CF_DEFAULT, utf8(key));
  return v === undefined ? undefined : fromUtf8(v);
}

/** A node crash: its events go, then its disk loses what is not durable. */
function crash(clock: SimClock, disk: SimDisk): number {
  clock.cancelOwner(OWNER);
  return disk.crash();
}

test('SimDisk writes are visible at once and complete after their latency', () => {
  const { clock, disk } = setup();
  let completed = false;
  disk.submit(put('a', '1'), true, () => (completed = true));
  assert.equal(get(disk, 'a'), '1');
  assert.equal(completed, false);
  clock.runUntil(10, 100);
  assert.equal(completed, true);
  assert.equal(disk.stats.syncs, 1);
});

test('SimDisk crash loses unsynced writes and keeps synced ones', () => {
  const { clock, disk } = setup();
  disk.submit(put('synced', '1'), true, () => {});
  clock.runUntil(10, 100);
  disk.submit(put('unsynced', '2'), false, () => {});
  clock.runUntil(20, 100); // completed, but never synced
  assert.equal(get(disk, 'unsynced'), '2');
  assert.equal(crash(clock, disk), 1);
  assert.equal(get(disk, 'synced'), '1');
  assert.equal(get(disk, 'unsynced'), undefined);
});

test('SimDisk crash before a sync completes loses that write too, and cancels its completion', () => {
  const { clock, disk } = setup();
  let completed = false;
  disk.submit(put('a', '1'), true, () => (completed = true));
  assert.equal(crash(clock, disk), 1);
  clock.runUntil(100, 100);
  assert.equal(completed, false);
  assert.equal(get(disk, 'a'), undefined);
});

test('SimDisk sync makes every earlier write durable (an fsync flushes the log)', () => {
  const { clock, disk } = setup();
  disk.submit(put('a', '1'), false, () => {});
  disk.submit(new WriteBatch().delete(CF_DEFAULT, utf8('a')).put(CF_DEFAULT, utf8('b'), utf8('2')), false, () => {});
  disk.submit(put('c', '3'), true, () => {});
  disk.submit(put('d', '4'), false, () => {});
  clock.runUntil(100, 100);
  assert.equal(crash(clock, disk), 1);
  assert.deepEqual([get(disk, 'a'), get(disk, 'b'), get(disk, 'c'), get(disk, 'd')], [undefined, '2', '3', undefined]);
});

test('SimDisk completions keep submission order whatever latencies are drawn', () => {
  const { clock, disk } = setup({ writeLatencyMsMin: 0, writeLatencyMsMax: 50 });
  const order: number[] = [];
  for (let i = 0; i < 50; i++) disk.submit(put(`k${i}`, 'v'), i % 3 === 0, () => order.push(i));
  clock.runUntil(10_000, 1000);
  assert.deepEqual(order, Array.from({ length: 50 }, (_, i) => i));
});

test('SimDisk with crashKeepsUnsyncedPrefix keeps a prefix of the unsynced writes, never a gap', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const clock = new SimClock();
    const disk = new SimDisk(
      { clock, prng: new Prng(seed), trace: new Trace({ nowMs: () => clock.nowMs }), owner: OWNER },
      { writeLatencyMsMin: 1, writeLatencyMsMax: 1, crashKeepsUnsyncedPrefix: true },
    );
    for (let i = 0; i < 10; i++) disk.submit(put(`k${i}`, 'v'), false, () => {});
    crash(clock, disk);
    const kept = Array.from({ length: 10 }, (_, i) => get(disk, `k${i}`) !== undefined);
    const firstMissing = kept.indexOf(false);
    if (firstMissing >= 0) assert.ok(kept.slice(firstMissing).every((k) => !k), `seed ${seed}: gap in ${kept.join(',')}`);
  }
});

test('SimDisk.format writes durably outside of time', () => {
  const { clock, disk } = setup();
  disk.format(put('boot', 'x'));
  assert.equal(crash(clock, disk), 0);
  assert.equal(get(disk, 'boot'), 'x');
});
