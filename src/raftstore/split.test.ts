// Goal: the split checker (checkSplit) sizes a region as the sum of key and
// value bytes over every data CF inside the region's range only, walking the
// CFs merged in key order; it proposes no split key until the size passes the
// maximum, and then picks the first key whose running size passes the split
// size, never the region's start key (HARD-CASES P3). TinyKV's TestOneSplit3B
// numbers give "k162". applySplit shrinks the parent to [start, split key)
// and creates [split key, end) with the new id, both at version + 1 and the
// parent's conf_ver, pairing the parent's peers in order with the new peer
// ids (P5); a stale or malformed request is refused and changes nothing (P4).
// Method: checkSplit over a MemEngine filled through a WriteBatch (and over a
// read view of it), applySplit over hand-built regions and requests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Error as RegionError } from '../pb/errorpb.js';
import type { Region, RegionEpoch } from '../pb/metapb.js';
import { AdminCmdType } from '../pb/raft_cmdpb.js';
import type { RaftCmdRequest } from '../pb/raft_cmdpb.js';
import { ALL_CFS, CF_DEFAULT, CF_LOCK, CF_META, CF_RAFT, CF_WRITE, DATA_CFS } from '../storage/engine.js';
import type { CfName } from '../storage/engine.js';
import { MemEngine } from '../storage/mem_engine.js';
import { WriteBatch } from '../storage/write_batch.js';
import type { Refused } from './conf_change.js';
import { cloneRegion } from './responses.js';
import { applySplit, checkSplit, isTxnSafeBoundary, txnSafeBoundary } from './split.js';
import { encodeKey } from '../txn/codec.js';
import type { AppliedSplit } from './split.js';

const b = (s: string): Buffer => Buffer.from(s);

type Put = readonly [CfName, string, string];

/** A MemEngine (data CFs unless told otherwise) holding `puts`, written in one batch. */
async function engineWith(puts: readonly Put[], cfs: readonly CfName[] = DATA_CFS): Promise<MemEngine> {
  const engine = new MemEngine({ cfs });
  const wb = new WriteBatch();
  for (const [cf, k, v] of puts) wb.put(cf, b(k), b(v));
  await engine.write(wb, { sync: false });
  return engine;
}

function region(start: string, end: string, epoch: RegionEpoch = { confVer: 2, version: 3 }, id = 1): Region {
  return {
    id, startKey: b(start), endKey: b(end), regionEpoch: { ...epoch },
    peers: [{ id: 11, storeId: 1 }, { id: 12, storeId: 2 }, { id: 13, storeId: 3 }],
  };
}

const splitKeyOf = (r: { splitKey: Buffer | undefined }): string | undefined => r.splitKey?.toString();

// ---- checkSplit ----

test('checkSplit() counts key and value bytes of every data CF, inside the region range only', async () => {
  const engine = await engineWith(
    [
      [CF_DEFAULT, 'a', 'outside-before'],
      [CF_DEFAULT, 'b', '1'], // 2 bytes: the start key is inside
      [CF_LOCK, 'bb', '22'], // 4 bytes
      [CF_WRITE, 'c', '333'], // 4 bytes
      [CF_DEFAULT, 'd', 'outside-at-end'], // the end key is outside
      [CF_WRITE, 'e', 'outside-after'],
      [CF_RAFT, 'c', 'raft CF is not region data'],
      [CF_META, 'c', 'meta CF is not region data'],
    ],
    ALL_CFS,
  );
  const res = checkSplit(engine, region('b', 'd'), 1000, 500, false);
  assert.equal(res.sizeBytes, 10);
  assert.equal(res.splitKey, undefined);
  // An unbounded region counts every data CF entry (15 + 2 + 4 + 4 + 15 + 14 bytes).
  assert.equal(checkSplit(engine, region('', ''), 1000, 500, false).sizeBytes, 54);
  assert.equal(checkSplit(engine, region('x', ''), 1000, 500, false).sizeBytes, 0, 'an empty range');
});

test('checkSplit() proposes no split key until the size passes the maximum', async () => {
  // Ten entries "a".."j" of 2 bytes each: 20 bytes in all.
  const keys = 'abcdefghij'.split('');
  const engine = await engineWith(keys.map((k) => [CF_DEFAULT, k, '1'] as const));
  const atMax = checkSplit(engine, region('', ''), 20, 5, false);
  assert.equal(atMax.sizeBytes, 20);
  assert.equal(atMax.splitKey, undefined, 'equal to the maximum is not larger');
  const pastMax = checkSplit(engine, region('', ''), 19, 5, false);
  assert.equal(pastMax.sizeBytes, 20);
  assert.equal(splitKeyOf(pastMax), 'c');
  assert.equal(checkSplit(engine, region('', ''), 1000, 0, false).splitKey, undefined, 'a tiny split size alone does not split');
});

test('checkSplit() picks the first key whose running size passes the split size, and stops counting past the maximum', async () => {
  const keys = 'abcdefghij'.split('');
  const engine = await engineWith(keys.map((k) => [CF_DEFAULT, k, '1'] as const));
  // Running sizes: a=2, b=4, c=6, d=8, e=10, f=12, ...
  const res = checkSplit(engine, region('', ''), 10, 5, false);
  assert.equal(splitKeyOf(res), 'c');
  assert.equal(res.sizeBytes, 12, 'counting stops at the first entry past the maximum (f)');
  assert.equal(splitKeyOf(checkSplit(engine, region('', ''), 10, 6, false)), 'd', 'reaching the split size is not passing it');
  assert.equal(splitKeyOf(checkSplit(engine, region('', ''), 10, 0, false)), 'a', 'in a region starting at "", the first key may split');
});

test('checkSplit() never picks the region start key', async () => {
  const engine = await engineWith([
    [CF_DEFAULT, 'a', 'outside'],
    [CF_DEFAULT, 'b', 'x'.repeat(100)], // the start key alone passes the split size
    [CF_DEFAULT, 'c', '1'],
    [CF_DEFAULT, 'd', '1'],
  ]);
  // Running sizes: b=101 (passes 10, but is the start key), c=103 (passes 102).
  const res = checkSplit(engine, region('b', ''), 102, 10, false);
  assert.equal(splitKeyOf(res), 'c');
  assert.equal(res.sizeBytes, 103);
  // A region whose only key is its start key is too large but cannot split.
  const lone = checkSplit(engine, region('b', 'c'), 50, 10, false);
  assert.equal(lone.sizeBytes, 101);
  assert.equal(lone.splitKey, undefined);
});

// P3: a region whose first entry alone passes the maximum must still split at a
// later key, or it would stay oversized however much is written after it.
test('checkSplit() still splits a region whose start key entry alone passes the maximum', async () => {
  const engine = await engineWith([
    [CF_DEFAULT, 'b', 'x'.repeat(100)],
    [CF_DEFAULT, 'c', '1'],
    [CF_DEFAULT, 'd', '1'],
  ]);
  const res = checkSplit(engine, region('b', ''), 50, 10, false);
  assert.ok(res.sizeBytes > 50);
  assert.equal(splitKeyOf(res), 'c');
});

test('checkSplit() merges the data CFs in key order', async () => {
  // Every entry is 10 bytes. Scanned CF by CF the order would be a, d, f, b, e, c;
  // merged it is a, b, c, d, e, f, and "d" appears twice (default and write).
  const v = 'v'.repeat(9);
  const engine = await engineWith([
    [CF_DEFAULT, 'a', v], [CF_DEFAULT, 'd', v], [CF_DEFAULT, 'f', v],
    [CF_LOCK, 'b', v], [CF_LOCK, 'e', v],
    [CF_WRITE, 'c', v], [CF_WRITE, 'd', v],
  ]);
  const merged = ['a', 'b', 'c', 'd', 'd', 'e', 'f'];
  const total = merged.length * 10;
  for (let splitSize = 0; splitSize < total; splitSize++) {
    // The entry at index floor(splitSize / 10) is the first to pass splitSize.
    const res = checkSplit(engine, region('', ''), total - 1, splitSize, false);
    assert.equal(splitKeyOf(res), merged[Math.floor(splitSize / 10)], `split size ${splitSize}`);
    // Txn-safe boundaries must leave data on the left: never the first entry's key.
    const safe = checkSplit(engine, region('', ''), total - 1, splitSize, true);
    assert.equal(splitKeyOf(safe), merged[Math.max(1, Math.floor(splitSize / 10))], `txn-safe, split size ${splitSize}`);
    assert.equal(res.sizeBytes, total);
  }
});

test('checkSplit() reads a read view as of when it was taken', async () => {
  const engine = await engineWith([[CF_DEFAULT, 'a', '1'], [CF_DEFAULT, 'b', '1']]);
  const view = engine.readView();
  try {
    await engine.write(new WriteBatch().put(CF_DEFAULT, b('c'), b('x'.repeat(100))), { sync: false });
    assert.equal(checkSplit(view, region('', ''), 1000, 500, false).sizeBytes, 4);
    assert.equal(checkSplit(engine, region('', ''), 1000, 500, false).sizeBytes, 105);
  } finally {
    view.close();
  }
  assert.equal(engine.openViewCount, 0);
});

test('checkSplit() reproduces TinyKV TestOneSplit3B: max 800, split 500 gives "k162"', async () => {
  // Byte order: k1 < k100 < ... < k199 < k2. Sizes: k1=v1 is 4 bytes, each
  // k1xx=v1xx 8 bytes, k2=v2 4 bytes: 808 in all, more than 800 (PEER-SUITE.md).
  // Running size after k1xx is 4 + 8 * (xx + 1), which first passes 500 at
  // xx = 62 (508 bytes), so the split key is "k162" and k100 stays left. The
  // checker stops counting at the first entry past 800: k199 (804 bytes), so
  // it reports 804, not 808; k2 is never reached.
  const puts: Put[] = [[CF_DEFAULT, 'k1', 'v1'], [CF_DEFAULT, 'k2', 'v2']];
  for (let i = 100; i < 200; i++) puts.push([CF_DEFAULT, `k${i}`, `v${i}`]);
  const engine = await engineWith(puts);
  const res = checkSplit(engine, region('', ''), 800, 500, false);
  assert.equal(splitKeyOf(res), 'k162');
  assert.equal(res.sizeBytes, 804);
  // The full size, with a maximum the region does not pass.
  assert.equal(checkSplit(engine, region('', ''), 808, 500, false).sizeBytes, 808);
  assert.equal(checkSplit(engine, region('', ''), 808, 500, false).splitKey, undefined);
});

// ---- applySplit ----

function splitReq(
  splitKey: string,
  newRegionId: number,
  newPeerIds: number[],
  epoch: RegionEpoch | null = { confVer: 2, version: 3 },
): RaftCmdRequest {
  return {
    header: { regionId: 1, peer: { id: 11, storeId: 1 }, regionEpoch: epoch === null ? undefined : { ...epoch }, term: 4 },
    requests: [],
    adminRequest: {
      cmdType: AdminCmdType.Split, changePeer: undefined, compactLog: undefined, transferLeader: undefined,
      split: { splitKey: b(splitKey), newRegionId, newPeerIds },
    },
  };
}

function isRefused(r: AppliedSplit | Refused): r is Refused {
  return 'error' in r;
}

function applied(r: AppliedSplit | Refused): AppliedSplit {
  if (isRefused(r)) assert.fail(`refused: ${r.error.message}`);
  return r;
}

function refusal(r: AppliedSplit | Refused): RegionError {
  if (!isRefused(r)) assert.fail('expected a refusal');
  return r.error;
}

function assertRefusedInvalid(parent: Region, req: RaftCmdRequest, why: string): void {
  const before = cloneRegion(parent);
  const err = refusal(applySplit(parent, req));
  assert.match(err.message, /^InvalidRequest/, why);
  assert.deepEqual(parent, before, why);
}

function assertRefusedEpoch(parent: Region, req: RaftCmdRequest, why: string): void {
  const before = cloneRegion(parent);
  const err = refusal(applySplit(parent, req));
  assert.deepEqual(err.epochNotMatch?.currentRegions, [before], why);
  assert.deepEqual(parent, before, why);
}

test('applySplit() shrinks the parent and creates the right half with paired peers', () => {
  const parent = region('b', 'x');
  const before = cloneRegion(parent);
  const { left, right } = applied(applySplit(parent, splitReq('m', 9, [21, 22, 23])));
  assert.deepEqual(left, {
    id: 1, startKey: b('b'), endKey: b('m'), regionEpoch: { confVer: 2, version: 4 },
    peers: [{ id: 11, storeId: 1 }, { id: 12, storeId: 2 }, { id: 13, storeId: 3 }],
  });
  assert.deepEqual(right, {
    id: 9, startKey: b('m'), endKey: b('x'), regionEpoch: { confVer: 2, version: 4 },
    peers: [{ id: 21, storeId: 1 }, { id: 22, storeId: 2 }, { id: 23, storeId: 3 }],
  });
  assert.deepEqual(parent, before, 'the input region is not mutated');
});

test('applySplit() of an unbounded region leaves the right half unbounded', () => {
  const { left, right } = applied(applySplit(region('', ''), splitReq('k162', 2, [21, 22, 23])));
  assert.deepEqual([left.startKey, left.endKey], [b(''), b('k162')]);
  assert.deepEqual([right.startKey, right.endKey], [b('k162'), b('')]);
});

test('applySplit() pairs new peer ids with the parent peers in order, whatever the stores', () => {
  const parent = { ...region('a', 'z'), peers: [{ id: 13, storeId: 3 }, { id: 11, storeId: 1 }] };
  const { right } = applied(applySplit(parent, splitReq('m', 9, [31, 30])));
  assert.deepEqual(right.peers, [{ id: 31, storeId: 3 }, { id: 30, storeId: 1 }]);
});

test('applySplit() refuses a split proposed at another epoch (P4)', () => {
  const parent = region('a', 'z');
  assertRefusedEpoch(parent, splitReq('m', 9, [21, 22, 23], { confVer: 2, version: 2 }), 'stale version (an earlier split applied)');
  assertRefusedEpoch(parent, splitReq('m', 9, [21, 22, 23], { confVer: 1, version: 3 }), 'stale conf_ver (a membership change applied)');
  assertRefusedEpoch(parent, splitReq('m', 9, [21, 22, 23], null), 'no epoch');
});

test('a split proposed twice at one version applies once; the second is stale', () => {
  const req = splitReq('m', 9, [21, 22, 23]);
  const { left } = applied(applySplit(region('a', 'z'), req));
  assertRefusedEpoch(left, req, 'the same split again');
});

test('applySplit() refuses a split key that is not strictly inside the region', () => {
  const parent = region('b', 'x');
  assertRefusedInvalid(parent, splitReq('b', 9, [21, 22, 23]), 'equal to the start key');
  assertRefusedInvalid(parent, splitReq('a', 9, [21, 22, 23]), 'before the start key');
  assertRefusedInvalid(parent, splitReq('x', 9, [21, 22, 23]), 'equal to the end key');
  assertRefusedInvalid(parent, splitReq('y', 9, [21, 22, 23]), 'after the end key');
  assertRefusedInvalid(parent, splitReq('', 9, [21, 22, 23]), 'empty');
  assertRefusedInvalid(region('', ''), splitReq('', 9, [21, 22, 23]), 'empty, in a region starting at ""');
});

test('applySplit() refuses a wrong number of new peer ids (P4)', () => {
  const parent = region('a', 'z');
  assertRefusedEpoch(parent, splitReq('m', 9, [21, 22]), 'too few');
  assertRefusedEpoch(parent, splitReq('m', 9, [21, 22, 23, 24]), 'too many');
  assertRefusedEpoch(parent, splitReq('m', 9, []), 'none');
});

test('applySplit() refuses duplicate or zero ids and a new region id equal to the parent', () => {
  const parent = region('a', 'z');
  assertRefusedInvalid(parent, splitReq('m', 9, [21, 21, 23]), 'duplicate peer ids');
  assertRefusedInvalid(parent, splitReq('m', 9, [21, 0, 23]), 'zero peer id');
  assertRefusedInvalid(parent, splitReq('m', 1, [21, 22, 23]), 'new region id equal to the parent');
  assertRefusedInvalid(parent, splitReq('m', 0, [21, 22, 23]), 'zero region id');
});

test('applySplit() refuses an admin request without a split body', () => {
  const req = splitReq('m', 9, [21, 22, 23]);
  assert.ok(req.adminRequest !== undefined);
  req.adminRequest.split = undefined;
  assertRefusedInvalid(region('a', 'z'), req, 'no body');
});

// ---- split keys of regions holding transactional data ----

/** TinyKV's MVCC layout of one committed Put: lock-free, write and default CF entries at encodeKey(k, ts). */
function mvccPuts(key: Buffer, versions: readonly bigint[]): Put[] {
  const out: Put[] = [];
  for (const ts of versions) {
    const enc = Buffer.from(encodeKey(key, ts)).toString('latin1');
    out.push([CF_DEFAULT, enc, 'v'.repeat(20)], [CF_WRITE, enc, 'w'.repeat(9)]);
  }
  return out;
}

async function latin1Engine(puts: readonly Put[]): Promise<MemEngine> {
  const engine = new MemEngine({ cfs: DATA_CFS });
  const wb = new WriteBatch();
  for (const [cf, k, v] of puts) wb.put(cf, Buffer.from(k, 'latin1'), b(v));
  await engine.write(wb, { sync: false });
  return engine;
}

test('txnSafeBoundary() cuts the user key to 8 bytes and drops trailing zero bytes', () => {
  assert.equal(Buffer.from(txnSafeBoundary(encodeKey(b('account-000123'), 7n)) ?? []).toString(), 'account-');
  assert.equal(Buffer.from(txnSafeBoundary(b('k07')) ?? []).toString(), 'k07');
  assert.deepEqual([...(txnSafeBoundary(Buffer.from([1, 2, 0, 0])) ?? [])], [1, 2]);
  assert.equal(txnSafeBoundary(Buffer.from([0, 0])), undefined);
  assert.equal(isTxnSafeBoundary(b('abcdefgh')), true);
  assert.equal(isTxnSafeBoundary(b('abcdefghi')), false);
  assert.equal(isTxnSafeBoundary(Buffer.from([5, 0])), false);
});

test('a txn-safe boundary puts every key of a user key (lock, write, default) on its side', async () => {
  // Exhaustive over short keys around the boundaries, including 0x00 and 0xff bytes and 9+ byte keys.
  const alphabet = [0x00, 0x01, 0x61, 0xff];
  const keys: Buffer[] = [b('abcdefgh'), b('abcdefgh\x00'), b('abcdefgh\x01'), b('abcdefghij'), b('abcdefg'), b('abcdefg\x00\x00')];
  for (const x of alphabet) for (const y of alphabet) keys.push(Buffer.from([0x61, x, y]), Buffer.from([x]), Buffer.from([0x61, x]));
  const boundaries = keys.map((k) => txnSafeBoundary(k)).filter((x): x is Uint8Array => x !== undefined);
  for (const bound of boundaries) {
    assert.ok(isTxnSafeBoundary(bound));
    for (const k of keys) {
      const left = Buffer.compare(k, Buffer.from(bound)) < 0;
      for (const ts of [0n, 1n, 1n << 40n, (1n << 64n) - 1n]) {
        const enc = Buffer.from(encodeKey(k, ts));
        assert.equal(Buffer.compare(enc, Buffer.from(bound)) < 0, left, `key ${k.toString('hex')} ts ${ts} vs boundary ${Buffer.from(bound).toString('hex')}`);
      }
    }
  }
});

test('checkSplit() with txn-safe split keys never splits one user key\'s versions apart', async () => {
  // Three 12-byte user keys sharing 8 bytes ("account-"), then others: only a boundary between 8-byte prefixes is allowed.
  const puts: Put[] = [
    ...mvccPuts(b('account-0001'), [10n, 20n, 30n, 40n]),
    ...mvccPuts(b('account-0002'), [11n, 21n]),
    ...mvccPuts(b('balance-0001'), [12n, 22n, 32n]),
    [CF_LOCK, 'balance-0001', 'lock'],
  ];
  const engine = await latin1Engine(puts);
  const res = checkSplit(engine, region('', ''), 100, 60, true);
  assert.equal(splitKeyOf(res), 'balance-', 'the first safe boundary after the split size');
  // Without txn-safe split keys, the same keys as raw data split at a raw key.
  const raw = await engineWith([[CF_DEFAULT, 'account-0001', 'v'.repeat(80)], [CF_DEFAULT, 'account-0002', 'v'.repeat(80)]]);
  assert.equal(splitKeyOf(checkSplit(raw, region('', ''), 100, 120, false)), 'account-0002');
  // All keys behind one 8-byte prefix: no safe boundary inside the region, no split.
  const one = await latin1Engine(mvccPuts(b('account-0001'), [1n, 2n, 3n, 4n, 5n, 6n]));
  assert.equal(checkSplit(one, region('', ''), 100, 60, true).splitKey, undefined);
});
