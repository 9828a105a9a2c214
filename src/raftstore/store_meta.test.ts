// Goal: the store's region metadata (store_meta.ts) keeps initialized region
// ranges ordered and never overlapping (an overlap is an AssertionError naming
// both regions and leaves the metadata as it was), finds the regions a range
// would collide with, counting snapshots accepted but not yet applied
// (HARD-CASES P7), maps a key to its region, and remembers tombstones of
// destroyed peers (P6). `rangesOverlap` treats an empty end key as unbounded
// and half-open ranges that only touch as disjoint; `isEpochStale` is TinyKV's
// `util.IsEpochStale`. Method: hand-built regions on a fresh StoreMeta, plus an
// exhaustive comparison of `rangesOverlap` against a naive "is there a shared
// key" oracle over every non-empty range with bounds in a small alphabet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Region, RegionEpoch } from '../pb/metapb.js';
import { AssertionError } from '../util/assert.js';
import { compareBytes } from '../util/bytes.js';
import { isEpochStale, rangesOverlap, StoreMeta } from './store_meta.js';
import type { KeyRange } from './store_meta.js';

const b = (s: string): Buffer => Buffer.from(s);

function range(start: string, end: string): KeyRange {
  return { startKey: b(start), endKey: b(end) };
}

function region(id: number, start: string, end: string, epoch: RegionEpoch = { confVer: 1, version: 1 }): Region {
  return { id, startKey: b(start), endKey: b(end), regionEpoch: { ...epoch }, peers: [{ id: id * 10, storeId: 1 }] };
}

/** The ranges of `meta` as [regionId, start, end] string triples, in the order it keeps them. */
function rangesOf(meta: StoreMeta): [number, string, string][] {
  return meta.allRanges().map((r) => [r.regionId, Buffer.from(r.startKey).toString(), Buffer.from(r.endKey).toString()]);
}

// ---- rangesOverlap ----

test('rangesOverlap() is true for ranges sharing a key, whichever is first', () => {
  const pairs: [KeyRange, KeyRange][] = [
    [range('a', 'c'), range('b', 'd')],
    [range('a', 'd'), range('b', 'c')], // containment
    [range('a', 'b'), range('a', 'b')], // identical
    [range('a', ''), range('x', 'y')], // unbounded end contains a later range
    [range('a', ''), range('b', '')], // two unbounded ends
    [range('', 'b'), range('a', 'c')], // empty start = from the first key
    [range('', ''), range('k', 'l')], // the whole key space
    [range('', ''), range('', '')],
  ];
  for (const [x, y] of pairs) {
    assert.equal(rangesOverlap(x, y), true, `${JSON.stringify([x, y].map(show))}`);
    assert.equal(rangesOverlap(y, x), true, `${JSON.stringify([y, x].map(show))} (swapped)`);
  }
});

test('rangesOverlap() is false for disjoint ranges and for ranges that only touch', () => {
  const pairs: [KeyRange, KeyRange][] = [
    [range('a', 'b'), range('b', 'c')], // touching: the end key is exclusive
    [range('a', 'b'), range('c', 'd')],
    [range('', 'b'), range('b', '')], // touching, both ends open
    [range('', 'a'), range('x', '')],
    [range('b', 'c'), range('c', '')], // touching an unbounded range
  ];
  for (const [x, y] of pairs) {
    assert.equal(rangesOverlap(x, y), false, `${JSON.stringify([x, y].map(show))}`);
    assert.equal(rangesOverlap(y, x), false, `${JSON.stringify([y, x].map(show))} (swapped)`);
  }
});

test('rangesOverlap() agrees with a naive shared-key oracle on every small range pair', () => {
  // Bounds from {"", a, b, c, d}; "" as an end means unbounded. For a
  // non-empty half-open range, the shared keys (if any) include the larger
  // start key, so the oracle only has to test the candidates below.
  const bounds = ['', 'a', 'b', 'c', 'd'];
  const ranges: KeyRange[] = [];
  for (const s of bounds) {
    for (const e of bounds) {
      if (e === '' || compareBytes(b(s), b(e)) < 0) ranges.push(range(s, e));
    }
  }
  const candidates = ['', 'a', 'a0', 'b', 'b0', 'c', 'c0', 'd', 'd0', 'z'].map(b);
  const contains = (r: KeyRange, k: Uint8Array): boolean =>
    compareBytes(k, r.startKey) >= 0 && (r.endKey.length === 0 || compareBytes(k, r.endKey) < 0);
  let checked = 0;
  for (const x of ranges) {
    for (const y of ranges) {
      const expected = candidates.some((k) => contains(x, k) && contains(y, k));
      assert.equal(rangesOverlap(x, y), expected, `${JSON.stringify([x, y].map(show))}`);
      checked++;
    }
  }
  assert.equal(checked, 15 * 15);
});

// ---- isEpochStale ----

test('isEpochStale() is true when either component of the first epoch is older', () => {
  const e = (confVer: number, version: number): RegionEpoch => ({ confVer, version });
  assert.equal(isEpochStale(e(2, 2), e(2, 2)), false, 'equal');
  assert.equal(isEpochStale(e(3, 3), e(2, 2)), false, 'newer in both');
  assert.equal(isEpochStale(e(2, 1), e(2, 2)), true, 'older version');
  assert.equal(isEpochStale(e(1, 2), e(2, 2)), true, 'older conf_ver');
  assert.equal(isEpochStale(e(5, 1), e(2, 2)), true, 'newer conf_ver does not hide an older version');
  assert.equal(isEpochStale(e(1, 5), e(2, 2)), true, 'newer version does not hide an older conf_ver');
  // A missing epoch counts as {0, 0}.
  assert.equal(isEpochStale(undefined, e(0, 0)), false);
  assert.equal(isEpochStale(undefined, e(0, 1)), true);
  assert.equal(isEpochStale(e(1, 1), undefined), false);
  assert.equal(isEpochStale(undefined, undefined), false);
});

// ---- StoreMeta ranges ----

test('setRange() inserts regions and allRanges() lists them in key order', () => {
  const meta = new StoreMeta();
  assert.deepEqual(rangesOf(meta), []);
  meta.setRange(region(3, 'm', ''));
  meta.setRange(region(1, '', 'c'));
  meta.setRange(region(2, 'c', 'm'));
  assert.deepEqual(rangesOf(meta), [[1, '', 'c'], [2, 'c', 'm'], [3, 'm', '']]);
});

test('setRange() copies the keys: later edits of the region object do not move its range', () => {
  const meta = new StoreMeta();
  const r = region(1, 'a', 'c');
  meta.setRange(r);
  r.startKey[0] = 'x'.charCodeAt(0);
  r.endKey = b('z');
  assert.deepEqual(rangesOf(meta), [[1, 'a', 'c']]);
});

test('setRange() moves or shrinks a region that is already there (a split shrinks the left half)', () => {
  const meta = new StoreMeta();
  meta.setRange(region(1, 'a', 'z'));
  // The split's right half [m, z) overlaps the parent until the parent shrinks.
  assert.throws(() => meta.setRange(region(2, 'm', 'z')), AssertionError);
  meta.setRange(region(1, 'a', 'm', { confVer: 1, version: 2 }));
  meta.setRange(region(2, 'm', 'z', { confVer: 1, version: 2 }));
  assert.deepEqual(rangesOf(meta), [[1, 'a', 'm'], [2, 'm', 'z']]);
  // Moving a region past its neighbour re-sorts it, and leaves one entry per region.
  meta.setRange(region(1, 'z', ''));
  assert.deepEqual(rangesOf(meta), [[2, 'm', 'z'], [1, 'z', '']]);
});

test('setRange() over another region throws an AssertionError naming both and changes nothing', () => {
  const meta = new StoreMeta();
  meta.setRange(region(1, 'a', 'm'));
  meta.setRange(region(2, 'm', ''));
  const before = rangesOf(meta);
  assert.throws(
    () => meta.setRange(region(7, 'k', 'n')),
    (err: unknown) =>
      err instanceof AssertionError && /region 7\b/.test(err.message) && /region 1\b/.test(err.message),
  );
  assert.throws(
    () => meta.setRange(region(1, 'a', 'p')), // region 1 grows into region 2
    (err: unknown) =>
      err instanceof AssertionError && /region 1\b/.test(err.message) && /region 2\b/.test(err.message),
  );
  assert.deepEqual(rangesOf(meta), before);
});

test('removeRange() forgets a region range; unknown ids are ignored', () => {
  const meta = new StoreMeta();
  meta.setRange(region(1, 'a', 'm'));
  meta.setRange(region(2, 'm', ''));
  meta.removeRange(1);
  meta.removeRange(99);
  assert.deepEqual(rangesOf(meta), [[2, 'm', '']]);
  // The freed range can be taken by another region.
  meta.setRange(region(3, 'b', 'c'));
  assert.deepEqual(rangesOf(meta), [[3, 'b', 'c'], [2, 'm', '']]);
});

// ---- overlapping ----

test('overlapping() lists the regions a range collides with, except the one asked about', () => {
  const meta = new StoreMeta();
  meta.setRange(region(1, '', 'c'));
  meta.setRange(region(2, 'c', 'm'));
  meta.setRange(region(3, 'm', ''));
  assert.deepEqual(meta.overlapping(range('b', 'n'), 0), [1, 2, 3]);
  assert.deepEqual(meta.overlapping(range('c', 'm'), 0), [2], 'touching neighbours do not overlap');
  assert.deepEqual(meta.overlapping(range('c', 'm'), 2), [], 'a region does not collide with itself');
  assert.deepEqual(meta.overlapping(range('a', ''), 3), [1, 2]);
  assert.deepEqual(meta.overlapping(range('', ''), 0), [1, 2, 3]);
});

test('overlapping() counts ranges of snapshots accepted but not applied yet (P7)', () => {
  const meta = new StoreMeta();
  meta.setRange(region(1, 'a', 'c'));
  meta.addPendingSnapshot(5, range('m', 'p'));
  // A second snapshot for [n, q) must be refused while region 5's is pending.
  assert.deepEqual(meta.overlapping(range('n', 'q'), 6), [5]);
  assert.deepEqual(meta.overlapping(range('n', 'q'), 5), [], 'a region\'s own pending snapshot does not block it');
  assert.deepEqual(meta.overlapping(range('b', 'n'), 6), [1, 5]);
  meta.removePendingSnapshot(5);
  assert.deepEqual(meta.overlapping(range('n', 'q'), 6), []);
});

test('overlapping() lists a region once when both its range and its pending snapshot overlap', () => {
  const meta = new StoreMeta();
  meta.setRange(region(1, 'a', 'c'));
  meta.addPendingSnapshot(1, range('a', 'k')); // region 1's accepted snapshot widens its range
  assert.deepEqual(meta.overlapping(range('b', 'e'), 9), [1]);
  assert.deepEqual(meta.overlapping(range('d', 'e'), 9), [1], 'only the pending range overlaps');
});

test('addPendingSnapshot() copies the range keys', () => {
  const meta = new StoreMeta();
  const r = { startKey: b('m'), endKey: b('p') };
  meta.addPendingSnapshot(5, r);
  r.startKey[0] = 'x'.charCodeAt(0);
  assert.deepEqual(meta.overlapping(range('m', 'n'), 0), [5]);
});

test('split then snapshot (P7): a snapshot for the right half collides until the parent shrinks', () => {
  const meta = new StoreMeta();
  meta.setRange(region(1, 'a', 'z'));
  assert.deepEqual(meta.overlapping(range('m', 'z'), 2), [1]);
  meta.setRange(region(1, 'a', 'm', { confVer: 1, version: 2 }));
  assert.deepEqual(meta.overlapping(range('m', 'z'), 2), []);
});

// ---- regionIdOfKey ----

test('regionIdOfKey() finds the region owning a key, and none in a gap', () => {
  const meta = new StoreMeta();
  assert.equal(meta.regionIdOfKey(b('a')), undefined, 'empty meta');
  meta.setRange(region(1, 'b', 'd'));
  meta.setRange(region(2, 'f', 'h'));
  meta.setRange(region(3, 'h', ''));
  assert.equal(meta.regionIdOfKey(b('a')), undefined, 'before the first region');
  assert.equal(meta.regionIdOfKey(b('')), undefined, 'the empty key sorts first');
  assert.equal(meta.regionIdOfKey(b('b')), 1, 'start key is inside');
  assert.equal(meta.regionIdOfKey(b('cz')), 1);
  assert.equal(meta.regionIdOfKey(b('d')), undefined, 'end key is outside');
  assert.equal(meta.regionIdOfKey(b('e')), undefined, 'gap');
  assert.equal(meta.regionIdOfKey(b('g')), 2);
  assert.equal(meta.regionIdOfKey(b('h')), 3, 'boundary key belongs to the right region');
  assert.equal(meta.regionIdOfKey(Buffer.from([0xff, 0xff])), 3, 'unbounded end');
  meta.setRange(region(0, '', 'b'));
  assert.equal(meta.regionIdOfKey(b('')), 0, 'empty start key covers the empty key');
  assert.equal(meta.regionIdOfKey(b('a')), 0);
});

test('regionIdOfKey() ignores pending snapshots: only initialized regions own keys', () => {
  const meta = new StoreMeta();
  meta.addPendingSnapshot(5, range('a', 'c'));
  assert.equal(meta.regionIdOfKey(b('b')), undefined);
});

// ---- tombstones (P6) ----

test('setTombstone(), tombstone() and clearTombstone() remember a destroyed region by id', () => {
  const meta = new StoreMeta();
  assert.equal(meta.tombstone(4), undefined);
  const r = region(4, 'a', 'c', { confVer: 5, version: 3 });
  meta.setTombstone(r);
  assert.deepEqual(meta.tombstone(4), region(4, 'a', 'c', { confVer: 5, version: 3 }));
  assert.equal(meta.tombstone(5), undefined);
  // A newer tombstone for the same region replaces the old one.
  meta.setTombstone(region(4, 'a', 'c', { confVer: 6, version: 3 }));
  assert.deepEqual(meta.tombstone(4)?.regionEpoch, { confVer: 6, version: 3 });
  meta.clearTombstone(4);
  assert.equal(meta.tombstone(4), undefined);
  meta.clearTombstone(4); // idempotent
});

test('setTombstone() keeps a copy: editing the region afterwards does not change the tombstone', () => {
  const meta = new StoreMeta();
  const r = region(4, 'a', 'c', { confVer: 5, version: 3 });
  meta.setTombstone(r);
  assert.ok(r.regionEpoch !== undefined);
  r.regionEpoch.confVer = 99;
  r.peers.push({ id: 77, storeId: 7 });
  r.startKey[0] = 'x'.charCodeAt(0);
  assert.deepEqual(meta.tombstone(4), region(4, 'a', 'c', { confVer: 5, version: 3 }));
});

test('tombstones are independent of ranges', () => {
  const meta = new StoreMeta();
  meta.setRange(region(1, 'a', 'c'));
  meta.setTombstone(region(1, 'a', 'c'));
  assert.deepEqual(rangesOf(meta), [[1, 'a', 'c']]);
  meta.removeRange(1);
  assert.notEqual(meta.tombstone(1), undefined);
});

function show(r: KeyRange): string {
  return `[${Buffer.from(r.startKey).toString()}, ${r.endKey.length === 0 ? '∞' : Buffer.from(r.endKey).toString()})`;
}
