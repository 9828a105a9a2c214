// Goal: Lock bytes are TinyKV's `primary ++ kind ++ BE64(ts) ++ BE64(ttl)`,
// round-trip, and corrupt values fail with a typed error. Method: golden
// bytes from TinyKV's 4B tests and malformed inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MVCC_ERROR_CODES, MvccError } from './errors.js';
import { encodeLock, parseLock } from './lock.js';
import type { Lock } from './lock.js';
import { WriteKind } from './write.js';

const be64 = (n: number): number[] => [0, 0, 0, 0, 0, 0, (n >> 8) & 0xff, n & 0xff];
const isBadLock = (e: unknown): boolean => e instanceof MvccError && e.code === MVCC_ERROR_CODES.BadLock;

test('encodeLock() golden: TestSinglePrewrite4B lock [1, 1, BE(100), BE(1000)]', () => {
  const lock: Lock = { primary: Uint8Array.of(1), ts: 100n, ttl: 1000n, kind: WriteKind.Put };
  const golden = Uint8Array.from([1, 1, ...be64(100), ...be64(1000)]);
  assert.deepEqual(encodeLock(lock), golden);
  assert.deepEqual(parseLock(golden), lock);
});

test('parseLock() accepts an empty primary (TestSingleCommit4B)', () => {
  const value = Uint8Array.from([WriteKind.Put, ...be64(100), ...be64(0)]);
  assert.deepEqual(parseLock(value), { primary: new Uint8Array(0), ts: 100n, ttl: 0n, kind: WriteKind.Put });
});

test('parseLock() round-trips a long primary and extreme numbers', () => {
  const lock: Lock = {
    primary: Uint8Array.from({ length: 300 }, (_, i) => i & 0xff),
    ts: (1n << 64n) - 1n,
    ttl: 0x100000008n,
    kind: WriteKind.Rollback,
  };
  assert.deepEqual(parseLock(encodeLock(lock)), lock);
});

test('parseLock() of a value at an offset in a larger buffer', () => {
  const backing = Uint8Array.from([9, 9, 7, WriteKind.Delete, ...be64(5), ...be64(6), 9]);
  const lock = parseLock(backing.subarray(2, backing.length - 1));
  assert.deepEqual(lock, { primary: Uint8Array.of(7), ts: 5n, ttl: 6n, kind: WriteKind.Delete });
});

test('parseLock() of malformed bytes throws MvccError BadLock', () => {
  assert.throws(() => parseLock(new Uint8Array(0)), isBadLock);
  assert.throws(() => parseLock(new Uint8Array(16)), isBadLock);
  assert.throws(() => parseLock(Uint8Array.from([1, 0, ...be64(1), ...be64(1)])), isBadLock); // kind 0
  assert.throws(() => parseLock(Uint8Array.from([1, 4, ...be64(1), ...be64(1)])), isBadLock); // kind 4
});
