// Goal: the meta keys are byte-identical to TinyKV's (PROTOCOL.md "Storage
// encodings"), and their order keeps one region's log sorted by index inside
// the region's own prefix range. Method: exact byte comparisons against
// hand-written expectations, round trips, and compareBytes over neighbours.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compareBytes } from '../../util/bytes.js';
import {
  applyStateKey,
  isRaftLogKey,
  raftLogIndex,
  raftLogKey,
  raftLogKeyRange,
  raftStateKey,
  regionIdOfKey,
  regionStateKey,
} from './keys.js';

const bytes = (k: Uint8Array): number[] => [...k];

describe('meta keys', () => {
  test('exact bytes of the four keys', () => {
    assert.deepEqual(bytes(raftLogKey(1, 2)), [1, 2, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 2]);
    assert.deepEqual(bytes(raftStateKey(1)), [1, 2, 0, 0, 0, 0, 0, 0, 0, 1, 2]);
    assert.deepEqual(bytes(applyStateKey(1)), [1, 2, 0, 0, 0, 0, 0, 0, 0, 1, 3]);
    assert.deepEqual(bytes(regionStateKey(1)), [1, 3, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
  });

  test('ids and indexes are 8-byte big-endian, up to 2^53 - 1', () => {
    assert.deepEqual(bytes(raftStateKey(0x0102030405)), [1, 2, 0, 0, 0, 1, 2, 3, 4, 5, 2]);
    const big = Number.MAX_SAFE_INTEGER;
    assert.deepEqual(bytes(raftLogKey(7, big)).slice(11), [0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    assert.equal(raftLogIndex(raftLogKey(7, big)), big);
    assert.throws(() => raftLogKey(1, -1), { name: 'AssertionError' });
    assert.throws(() => raftLogKey(1, 1.5), { name: 'AssertionError' });
  });

  test('parsers round-trip', () => {
    for (const idx of [0, 1, 5, 255, 256, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 3]) {
      assert.equal(raftLogIndex(raftLogKey(9, idx)), idx);
    }
    assert.equal(regionIdOfKey(raftLogKey(42, 3)), 42);
    assert.equal(regionIdOfKey(regionStateKey(2 ** 33)), 2 ** 33);
    assert.equal(isRaftLogKey(raftLogKey(3, 4), 3), true);
    assert.equal(isRaftLogKey(raftLogKey(3, 4), 4), false);
    assert.equal(isRaftLogKey(raftStateKey(3), 3), false);
    assert.throws(() => raftLogIndex(raftStateKey(3)), { name: 'AssertionError' });
  });

  test('log keys sort by index and stay within the region prefix range', () => {
    const indexes = [0, 1, 2, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, 2 ** 52];
    const { start, end } = raftLogKeyRange(5);
    for (let i = 0; i + 1 < indexes.length; i++) {
      assert.ok(compareBytes(raftLogKey(5, indexes[i]!), raftLogKey(5, indexes[i + 1]!)) < 0);
    }
    for (const idx of indexes) {
      const k = raftLogKey(5, idx);
      assert.ok(compareBytes(start, k) <= 0 && compareBytes(k, end) < 0);
    }
    // Neighbouring regions and the state keys fall outside the log range.
    for (const k of [raftLogKey(4, Number.MAX_SAFE_INTEGER), raftLogKey(6, 0), raftStateKey(5), applyStateKey(5)]) {
      assert.ok(compareBytes(k, start) < 0 || compareBytes(k, end) >= 0);
    }
    // Within a region: log < raft state < apply state.
    assert.ok(compareBytes(raftLogKey(5, Number.MAX_SAFE_INTEGER), raftStateKey(5)) < 0);
    assert.ok(compareBytes(raftStateKey(5), applyStateKey(5)) < 0);
  });
});
