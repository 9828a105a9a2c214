// Goal: no id is ever handed out twice, across concurrent callers and across
// restarts, because each step's bound is durable before its ids are used.
// Method: an IdAllocator over MemorySchedulerStorage; "restart" builds a new
// allocator from the storage's saved bound; a controllable persist hook
// shows nothing is handed out while a save is pending.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SchedulerError } from './errors.js';
import { IdAllocator } from './id_allocator.js';
import { MemorySchedulerStorage } from './storage.js';

async function restart(storage: MemorySchedulerStorage, step = 10): Promise<IdAllocator> {
  const loaded = await storage.load();
  return new IdAllocator({ savedBound: loaded.idBound, persist: (b) => storage.saveIdBound(b), step });
}

test('ids are unique and ascending across restarts; a restart skips at most one step', async () => {
  const storage = new MemorySchedulerStorage();
  const seen = new Set<number>();
  let last = 0;
  for (let life = 0; life < 5; life++) {
    const ids = await restart(storage);
    for (let i = 0; i < 7 + life * 3; i++) {
      const id = await ids.alloc();
      assert.ok(!seen.has(id), `id ${id} handed out twice`);
      assert.ok(id > last);
      assert.ok(id <= (await storage.load()).idBound, 'every id handed out is below the durable bound');
      seen.add(id);
      last = id;
    }
  }
  assert.ok(last < seen.size + 5 * 10);
});

test('one save per step; concurrent callers share a single reservation', async () => {
  const storage = new MemorySchedulerStorage();
  const ids = await restart(storage, 100);
  const got = await Promise.all(Array.from({ length: 50 }, () => ids.alloc()));
  assert.equal(new Set(got).size, 50);
  assert.equal(storage.saveCounts.id, 1);
  const many = await ids.allocMany(120);
  assert.equal(many.length, 120);
  assert.deepEqual(many, [...many].sort((a, b) => a - b));
  assert.equal(new Set([...got, ...many]).size, 170);
});

test('nothing is handed out before the bound is durable; a failed save hands out nothing', async () => {
  let release: (() => void) | undefined;
  const saved: number[] = [];
  const ids = new IdAllocator({
    savedBound: 40, step: 5,
    persist: (b) => new Promise<void>((resolve) => { release = () => { saved.push(b); resolve(); }; }),
  });
  assert.equal(ids.tryAllocSync(), undefined);
  const p = ids.alloc();
  await Promise.resolve();
  assert.equal(ids.tryAllocSync(), undefined, 'the window is empty until the save lands');
  release?.();
  assert.equal(await p, 41);
  assert.deepEqual(saved, [45]);
  assert.equal(ids.tryAllocSync(), 42);
  assert.equal(ids.available, 3);

  const storage = new MemorySchedulerStorage({ idBound: 7 });
  const failing = await restart(storage);
  storage.failNext('id');
  await assert.rejects(failing.alloc(), (e: unknown) => e instanceof SchedulerError && e.code === 'STORAGE');
  assert.equal(failing.available, 0);
  assert.equal(await failing.alloc(), 8, 'the next call retries');
  await assert.rejects(failing.allocMany(0), (e: unknown) => e instanceof SchedulerError && e.code === 'INVALID_ARGUMENT');
});

test('ensureAvailable + tryAllocSync lets synchronous code use reserved ids', async () => {
  const storage = new MemorySchedulerStorage();
  const ids = await restart(storage, 4);
  await ids.ensureAvailable(6);
  assert.ok(ids.available >= 6);
  const got = Array.from({ length: 6 }, () => ids.tryAllocSync());
  assert.deepEqual(got, [1, 2, 3, 4, 5, 6]);
});
