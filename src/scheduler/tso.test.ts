// Goal: TSO timestamps strictly increase, within a run and across restarts,
// even when the wall clock goes backwards, because a bound ahead of every
// physical part handed out is durable first. Method: Tso over
// MemorySchedulerStorage with a hand-driven clock; "restart" builds a new Tso
// from the storage's saved bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SchedulerError } from './errors.js';
import { MemorySchedulerStorage } from './storage.js';
import { composeTs, MAX_LOGICAL, splitTs, Tso } from './tso.js';

class TestClock {
  ms = 1_000_000;
  readonly nowMs = (): number => this.ms;
}

async function restart(storage: MemorySchedulerStorage, clock: TestClock): Promise<Tso> {
  const loaded = await storage.load();
  return new Tso({ savedBoundMs: loaded.tsoBoundMs, persist: (b) => storage.saveTsoBound(b), nowMs: clock.nowMs, saveWindowMs: 3000 });
}

test('timestamps increase; a batch returns the last of count; the bound is saved ahead', async () => {
  const storage = new MemorySchedulerStorage();
  const clock = new TestClock();
  const tso = await restart(storage, clock);
  const a = await tso.getTimestamp();
  assert.deepEqual(a, { physical: 1_000_000, logical: 1 });
  assert.equal((await storage.load()).tsoBoundMs, 1_003_000);
  const b = await tso.getTimestamp(10);
  assert.deepEqual(b, { physical: 1_000_000, logical: 11 }, 'the caller owns logical 2..11');
  clock.ms += 5;
  assert.deepEqual(await tso.getTimestamp(), { physical: 1_000_005, logical: 1 });
  assert.equal(storage.saveCounts.tso, 1, 'no save while inside the window');
  clock.ms += 3000;
  await tso.getTimestamp();
  assert.equal(storage.saveCounts.tso, 2);
  assert.equal(composeTs(b), (1_000_000n << 18n) | 11n);
  assert.deepEqual(splitTs(composeTs(b)), b);
});

test('across restarts timestamps never go backwards, even when the wall clock did', async () => {
  const storage = new MemorySchedulerStorage();
  const clock = new TestClock();
  let last = 0n;
  for (let life = 0; life < 4; life++) {
    const tso = await restart(storage, clock);
    for (let i = 0; i < 5; i++) {
      const ts = composeTs(await tso.getTimestamp(1 + i));
      assert.ok(ts > last, `life ${life}: ${ts} <= ${last}`);
      last = ts;
    }
    clock.ms -= 10_000; // the clock jumps back across the restart
  }
});

test('the clock going backwards within a run keeps counting at the old physical part', async () => {
  const clock = new TestClock();
  const tso = await restart(new MemorySchedulerStorage(), clock);
  const a = composeTs(await tso.getTimestamp());
  clock.ms -= 500;
  const b = composeTs(await tso.getTimestamp());
  assert.ok(b > a);
  assert.equal(splitTs(b).physical, 1_000_000);
});

test('logical overflow advances the physical part instead of waiting', async () => {
  const clock = new TestClock();
  const tso = await restart(new MemorySchedulerStorage(), clock);
  const a = await tso.getTimestamp(MAX_LOGICAL - 1);
  assert.deepEqual(a, { physical: 1_000_000, logical: MAX_LOGICAL - 1 });
  const b = await tso.getTimestamp(2);
  assert.deepEqual(b, { physical: 1_000_001, logical: 2 });
  assert.ok(composeTs(b) > composeTs(a));
});

test('concurrent requests are served in order and never overlap; bad counts and failed saves hand out nothing', async () => {
  const storage = new MemorySchedulerStorage();
  const clock = new TestClock();
  const tso = await restart(storage, clock);
  const results = await Promise.all([3, 1, 4, 1, 5].map((n) => tso.getTimestamp(n)));
  const ranges = results.map((ts, i) => [ts.logical - [3, 1, 4, 1, 5][i]! + 1, ts.logical]);
  assert.deepEqual(ranges, [[1, 3], [4, 4], [5, 8], [9, 9], [10, 14]]);
  await assert.rejects(tso.getTimestamp(0), (e: unknown) => e instanceof SchedulerError && e.code === 'INVALID_ARGUMENT');
  await assert.rejects(tso.getTimestamp(MAX_LOGICAL), (e: unknown) => e instanceof SchedulerError && e.code === 'INVALID_ARGUMENT');

  const fresh = await restart(new MemorySchedulerStorage(), clock);
  const s2 = new MemorySchedulerStorage();
  const failing = new Tso({ savedBoundMs: 0, persist: (b) => s2.saveTsoBound(b), nowMs: clock.nowMs });
  s2.failNext('tso');
  await assert.rejects(failing.getTimestamp(), (e: unknown) => e instanceof SchedulerError && e.code === 'STORAGE');
  assert.deepEqual(await failing.getTimestamp(), { physical: 1_000_000, logical: 1 }, 'the failed request consumed nothing');
  assert.ok((await fresh.getTimestamp()).physical >= 1_000_000);
});
