// Goal: the MVCC key encodings are byte-identical to TinyKV's codec and
// mvcc.EncodeKey, order-preserving, and refuse malformed bytes with a typed
// error instead of crashing. Method: TinyKV's own vectors (TestEncodeKey,
// TestDecodeKey), extra golden bytes, malformed inputs, and seeded
// fast-check properties for round trips and ordering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AssertionError } from '../util/assert.js';
import { compareBytes } from '../util/bytes.js';
import {
  decodeBytes,
  decodeKey,
  decodeTimestamp,
  decodeUserKey,
  encodeBytes,
  encodeKey,
  physical,
  U64_MAX,
} from './codec.js';
import { MVCC_ERROR_CODES, MvccError } from './errors.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
const not = (x: bigint): bigint => U64_MAX ^ x; // Go's ^uint64(x).
const FF8 = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
const isBadKey = (e: unknown): boolean => e instanceof MvccError && e.code === MVCC_ERROR_CODES.BadKey;
const PROPERTY = { seed: 4004, numRuns: 300 } as const;

test('TestEncodeKey: TinyKV byte vectors', () => {
  assert.deepEqual(encodeKey(bytes(), 0n), bytes(0, 0, 0, 0, 0, 0, 0, 0, 247, ...FF8));
  assert.deepEqual(encodeKey(bytes(42), 0n), bytes(42, 0, 0, 0, 0, 0, 0, 0, 248, ...FF8));
  assert.deepEqual(encodeKey(bytes(42, 0, 5), 0n), bytes(42, 0, 5, 0, 0, 0, 0, 0, 250, ...FF8));
  assert.deepEqual(
    encodeKey(bytes(42), not(43543258743295n)),
    bytes(42, 0, 0, 0, 0, 0, 0, 0, 248, 0, 0, 39, 154, 52, 120, 65, 255),
  );
  assert.deepEqual(
    encodeKey(bytes(42, 0, 5), not(98753868n)),
    bytes(42, 0, 5, 0, 0, 0, 0, 0, 250, 0, 0, 0, 0, 5, 226, 221, 76),
  );
});

test('TestEncodeKey: encoded keys order by user key, then newest first', () => {
  assert.ok(compareBytes(encodeKey(bytes(42), 238n), encodeKey(bytes(200), 0n)) < 0);
  assert.ok(compareBytes(encodeKey(bytes(42), 238n), encodeKey(bytes(42, 0), 0n)) < 0);
  assert.ok(compareBytes(encodeKey(bytes(42), 52n), encodeKey(bytes(42), 42n)) < 0);
});

test('TestDecodeKey: decodeUserKey inverts encodeKey', () => {
  assert.deepEqual(decodeUserKey(encodeKey(bytes(), 0n)), bytes());
  assert.deepEqual(decodeUserKey(encodeKey(bytes(42), 0n)), bytes(42));
  assert.deepEqual(decodeUserKey(encodeKey(bytes(42, 0, 5), 0n)), bytes(42, 0, 5));
  assert.deepEqual(decodeUserKey(encodeKey(bytes(42), 2342342355436234n)), bytes(42));
  assert.deepEqual(decodeUserKey(encodeKey(bytes(42, 0, 5), 234234n)), bytes(42, 0, 5));
  assert.equal(decodeTimestamp(encodeKey(bytes(42), 2342342355436234n)), 2342342355436234n);
  assert.equal(decodeTimestamp(encodeKey(bytes(), U64_MAX)), U64_MAX);
});

test('encodeBytes() golden: a multiple of 8 gets an extra empty group', () => {
  assert.deepEqual(encodeBytes(bytes(1, 2, 3, 4, 5, 6, 7, 8)), bytes(1, 2, 3, 4, 5, 6, 7, 8, 255, 0, 0, 0, 0, 0, 0, 0, 0, 247));
  assert.deepEqual(
    encodeBytes(bytes(1, 2, 3, 4, 5, 6, 7, 8, 9)),
    bytes(1, 2, 3, 4, 5, 6, 7, 8, 255, 9, 0, 0, 0, 0, 0, 0, 0, 248),
  );
  assert.deepEqual(encodeBytes(bytes(0xff)), bytes(0xff, 0, 0, 0, 0, 0, 0, 0, 248));
});

test('decodeBytes() returns the bytes after the encoding', () => {
  const { value, rest } = decodeBytes(bytes(42, 0, 0, 0, 0, 0, 0, 0, 248, 7, 8));
  assert.deepEqual(value, bytes(42));
  assert.deepEqual(rest, bytes(7, 8));
});

test('physical() drops the 18 logical bits', () => {
  assert.equal(physical((123n << 18n) | 5n), 123n);
  assert.equal(physical((1n << 18n) - 1n), 0n);
  assert.equal(physical(U64_MAX), (1n << 46n) - 1n);
});

test('decode of malformed bytes throws MvccError BadKey', () => {
  const cases: Uint8Array[] = [
    bytes(), // empty
    bytes(42, 0, 0, 0, 0, 0, 0, 0), // truncated group
    bytes(42, 0, 0, 0, 0, 0, 0, 0, 246, ...FF8), // marker implies 9 pad bytes
    bytes(42, 1, 0, 0, 0, 0, 0, 0, 248, ...FF8), // non-zero padding
    bytes(1, 2, 3, 4, 5, 6, 7, 8, 255), // full group with no terminating group
    bytes(42, 0, 0, 0, 0, 0, 0, 0, 248), // no timestamp
    bytes(42, 0, 0, 0, 0, 0, 0, 0, 248, 1, 2, 3, 4, 5, 6, 7), // short timestamp
    bytes(42, 0, 0, 0, 0, 0, 0, 0, 248, ...FF8, 0), // trailing byte
  ];
  for (const input of cases) {
    assert.throws(() => decodeKey(input), isBadKey, `input ${Array.from(input).join(',')}`);
  }
  assert.throws(() => decodeBytes(bytes(0, 0, 0, 0, 0, 0, 0, 0, 0)), isBadKey);
});

test('encodeKey() asserts the timestamp is a u64', () => {
  assert.throws(() => encodeKey(bytes(1), -1n), AssertionError);
  assert.throws(() => encodeKey(bytes(1), U64_MAX + 1n), AssertionError);
});

const key = fc.uint8Array({ maxLength: 40 });
const ts = fc.bigInt({ min: 0n, max: U64_MAX });

test('property: decodeKey(encodeKey(k, ts)) round-trips', () => {
  fc.assert(
    fc.property(key, ts, (k, t) => {
      const d = decodeKey(encodeKey(k, t));
      assert.deepEqual(d.userKey, k);
      assert.equal(d.ts, t);
    }),
    PROPERTY,
  );
});

test('property: encoding orders by user key ascending, then ts descending', () => {
  fc.assert(
    fc.property(key, ts, key, ts, (k1, t1, k2, t2) => {
      const byKey = compareBytes(k1, k2);
      const expected = byKey !== 0 ? byKey : t1 === t2 ? 0 : t1 > t2 ? -1 : 1;
      assert.equal(Math.sign(compareBytes(encodeKey(k1, t1), encodeKey(k2, t2))), Math.sign(expected));
    }),
    PROPERTY,
  );
});

test('property: decodeKey never throws anything but MvccError on random bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (input) => {
      try {
        decodeKey(input);
      } catch (e) {
        assert.ok(isBadKey(e), String(e));
      }
    }),
    PROPERTY,
  );
});
