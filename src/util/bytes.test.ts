// Goal: compareBytes is a total order that agrees with LMDB's unsigned
// lexicographic key order; hex helpers round-trip. Method: examples plus
// fast-check properties with a fixed seed (printed on failure by fast-check).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareBytes, equalBytes, formatKey, fromHex, toHex } from './bytes.js';

test('compareBytes() orders by unsigned bytes, shorter prefix first', () => {
  assert.ok(compareBytes(new Uint8Array([1]), new Uint8Array([2])) < 0);
  assert.ok(compareBytes(new Uint8Array([0xff]), new Uint8Array([0x01])) > 0);
  assert.ok(compareBytes(new Uint8Array([1]), new Uint8Array([1, 0])) < 0);
  assert.equal(compareBytes(new Uint8Array([]), new Uint8Array([])), 0);
});

test('compareBytes() agrees with Buffer.compare on random inputs', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 12 }), fc.uint8Array({ maxLength: 12 }), (a, b) => {
      const expected = Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b)));
      assert.equal(Math.sign(compareBytes(a, b)), expected);
      assert.equal(equalBytes(a, b), expected === 0);
    }),
    { seed: 42, numRuns: 500 },
  );
});

test('fromHex() inverts toHex() and rejects malformed input', () => {
  assert.deepEqual(fromHex(toHex(new Uint8Array([0, 1, 254]))), new Uint8Array([0, 1, 254]));
  assert.deepEqual(fromHex('0x0a'), new Uint8Array([10]));
  assert.throws(() => fromHex('abc'), TypeError);
  assert.throws(() => fromHex('zz'), TypeError);
});

test('formatKey() prints text keys quoted and binary keys as hex', () => {
  assert.equal(formatKey(new TextEncoder().encode('k1')), '"k1"');
  assert.equal(formatKey(new Uint8Array([0, 255])), '0x00ff');
});
