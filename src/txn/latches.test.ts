// Goal: Latches give each key to one holder at a time, hand it over in FIFO
// order, never deadlock on overlapping key sets acquired in any order, and
// refuse a double release. Method: drive acquire/release directly and record
// the order in which acquirers are granted (no timers: microtasks only).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionError } from '../util/assert.js';
import { Latches, sortedUniqueKeys } from './latches.js';

const k = (...b: number[]): Uint8Array => Uint8Array.from(b);

/** Lets every pending promise continuation run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

test('sortedUniqueKeys sorts by bytes and drops duplicates', () => {
  assert.deepEqual(sortedUniqueKeys([k(2), k(1, 0), k(1), k(2)]), [k(1), k(1, 0), k(2)]);
});

test('disjoint key sets are granted at once', async () => {
  const latches = new Latches();
  const r1 = await latches.acquire([k(1), k(2)]);
  const r2 = await latches.acquire([k(3)]);
  assert.equal(latches.heldCount(), 3);
  r1();
  r2();
  assert.equal(latches.heldCount(), 0);
});

test('one key is handed to waiters in FIFO order', async () => {
  const latches = new Latches();
  const granted: number[] = [];
  const first = await latches.acquire([k(1)]);
  const waiters = [2, 3, 4].map((id) => latches.acquire([k(1)]).then((release) => {
    granted.push(id);
    return release;
  }));
  await settle();
  assert.deepEqual(granted, []);
  first();
  for (const w of waiters) {
    await settle();
    (await w)();
  }
  assert.deepEqual(granted, [2, 3, 4]);
  assert.equal(latches.heldCount(), 0);
});

test('overlapping key sets requested in opposite orders do not deadlock', async () => {
  const latches = new Latches();
  const order: string[] = [];
  const run = async (name: string, keys: Uint8Array[]): Promise<void> => {
    const release = await latches.acquire(keys);
    order.push(name);
    await settle();
    release();
  };
  await Promise.all([run('a', [k(1), k(2)]), run('b', [k(2), k(1)]), run('c', [k(2), k(3), k(1)])]);
  assert.deepEqual(order, ['a', 'b', 'c']);
  assert.equal(latches.heldCount(), 0);
});

test('duplicate keys in one request take the latch once', async () => {
  const latches = new Latches();
  const release = await latches.acquire([k(5), k(5)]);
  assert.equal(latches.heldCount(), 1);
  release();
  assert.equal(latches.heldCount(), 0);
});

test('releasing twice is a bug', async () => {
  const latches = new Latches();
  const release = await latches.acquire([k(1)]);
  release();
  assert.throws(() => release(), AssertionError);
});
