// Goal: the client's region cache never holds two overlapping regions, lets
// a newer region (higher version, or same id at a newer epoch) evict the
// older ones it overlaps, refuses older ones, and keeps a known leader only
// while it is still a member. Method: RegionCache directly, on hand-built
// regions of a split history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Region } from '../pb/metapb.js';
import { memberOf, RegionCache } from './region_cache.js';

function region(id: number, start: string, end: string, version: number, confVer = 1, peers: number[] = [id * 10 + 1, id * 10 + 2]): Region {
  return {
    id, startKey: Buffer.from(start), endKey: Buffer.from(end), regionEpoch: { confVer, version },
    peers: peers.map((p, i) => ({ id: p, storeId: i + 1 })),
  };
}

const key = (k: string): Buffer => Buffer.from(k);

test('a split region evicts its cached parent; the stale parent cannot come back', () => {
  const cache = new RegionCache();
  cache.put(region(1, '', '', 1), { id: 11, storeId: 1 });
  assert.equal(cache.byKey(key('x'))?.region.id, 1);
  // After a split at m: region 1 is [, m) at version 2, region 2 [m, ) at version 2.
  cache.put(region(2, 'm', '', 2), undefined);
  assert.equal(cache.byKey(key('x'))?.region.id, 2);
  assert.equal(cache.byId(1), undefined, 'the old region 1 overlapped region 2 and is gone');
  assert.equal(cache.byKey(key('a')), undefined, 'nothing cached covers a');
  cache.put(region(1, '', '', 1), undefined);
  assert.equal(cache.byKey(key('a')), undefined, 'the parent at version 1 is older than region 2');
  cache.put(region(1, '', 'm', 2), undefined);
  assert.equal(cache.byKey(key('a'))?.region.id, 1);
  assert.equal(cache.byKey(key('x'))?.region.id, 2);
});

test('a region at an older epoch than the cached one of the same id is refused', () => {
  const cache = new RegionCache();
  cache.put(region(1, '', 'm', 2, 3), undefined);
  cache.put(region(1, '', '', 1, 3), undefined);
  assert.equal(cache.byId(1)?.region.regionEpoch?.version, 2);
  cache.put(region(1, '', 'm', 2, 2), undefined);
  assert.equal(cache.byId(1)?.region.regionEpoch?.confVer, 3);
  cache.put(region(1, '', 'm', 2, 4), undefined);
  assert.equal(cache.byId(1)?.region.regionEpoch?.confVer, 4);
});

test('a cached leader survives a refresh while it is a member, and is forgotten when it is not', () => {
  const cache = new RegionCache();
  cache.put(region(1, '', '', 1, 1, [11, 12, 13]), { id: 12, storeId: 2 });
  cache.put(region(1, '', '', 1, 2, [11, 12, 13, 14]), undefined);
  assert.deepEqual(cache.byId(1)?.leader, { id: 12, storeId: 2 });
  cache.put(region(1, '', '', 1, 3, [11, 13, 14]), undefined);
  assert.equal(cache.byId(1)?.leader, undefined);
  cache.setLeader(1, { id: 14, storeId: 4 });
  assert.deepEqual(cache.byId(1)?.leader, { id: 14, storeId: 4 });
  cache.drop(1);
  assert.equal(cache.byId(1), undefined);
});

test('a region without peers (an uninitialized peer\'s) is not cached; memberOf checks membership', () => {
  const cache = new RegionCache();
  cache.put(region(1, '', '', 0, 0, []), undefined);
  assert.equal(cache.byId(1), undefined);
  const r = region(1, '', '', 1, 1, [11, 12]);
  assert.deepEqual(memberOf({ id: 12, storeId: 2 }, r), { id: 12, storeId: 2 });
  assert.equal(memberOf({ id: 13, storeId: 3 }, r), undefined);
  assert.equal(memberOf({ id: 0, storeId: 0 }, r), undefined);
  assert.equal(memberOf(undefined, r), undefined);
});
