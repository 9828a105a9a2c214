// Goal: Write bytes are TinyKV's `kind(1B) ++ BE64(startTs)`, round-trip, and
// corrupt values fail with a typed error. Method: golden bytes from TinyKV's
// 4B/4C tests and malformed inputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MVCC_ERROR_CODES, MvccError } from './errors.js';
import { encodeWrite, parseWrite, WriteKind, writeKindName } from './write.js';

const be64 = (n: number): number[] => [0, 0, 0, 0, 0, 0, (n >> 8) & 0xff, n & 0xff];
const isBadWrite = (e: unknown): boolean => e instanceof MvccError && e.code === MVCC_ERROR_CODES.BadWrite;

test('WriteKind numbers are TinyKV\'s: Put=1, Delete=2, Rollback=3', () => {
  assert.deepEqual(WriteKind, { Put: 1, Delete: 2, Rollback: 3 });
  assert.equal(writeKindName(WriteKind.Rollback), 'Rollback');
});

test('encodeWrite() golden: commit [1, BE(100)] and rollback [3, BE(100)]', () => {
  assert.deepEqual(encodeWrite({ startTs: 100n, kind: WriteKind.Put }), Uint8Array.from([1, ...be64(100)]));
  assert.deepEqual(encodeWrite({ startTs: 100n, kind: WriteKind.Rollback }), Uint8Array.from([3, ...be64(100)]));
  assert.deepEqual(parseWrite(Uint8Array.from([2, ...be64(258)])), { startTs: 258n, kind: WriteKind.Delete });
});

test('parseWrite() round-trips the full u64 range', () => {
  for (const startTs of [0n, 1n, (1n << 53n) + 1n, (1n << 64n) - 1n]) {
    assert.deepEqual(parseWrite(encodeWrite({ startTs, kind: WriteKind.Put })), { startTs, kind: WriteKind.Put });
  }
});

test('parseWrite() of malformed bytes throws MvccError BadWrite', () => {
  assert.throws(() => parseWrite(new Uint8Array(0)), isBadWrite);
  assert.throws(() => parseWrite(Uint8Array.from([1, ...be64(1), 0])), isBadWrite); // 10 bytes
  assert.throws(() => parseWrite(Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0])), isBadWrite); // 8 bytes
  assert.throws(() => parseWrite(Uint8Array.from([0, ...be64(1)])), isBadWrite); // kind 0
  assert.throws(() => parseWrite(Uint8Array.from([4, ...be64(1)])), isBadWrite); // kind 4
});
