// Goal: the routing RawClient (`pd` mode) follows the retry rules the
// simulator's client settled on: each key goes to its region's leader with a
// full Context, learnt regions and leaders are cached, NotLeader with a
// leader is retried at once and without one after a pause on another peer,
// EpochNotMatch after a split teaches the new regions, RegionNotFound
// refreshes from the scheduler, a store that is down is routed around,
// scans continue across regions, and every operation ends by its deadline
// (reads DEADLINE_EXCEEDED, writes with a lost answer OUTCOME_UNKNOWN).
// Method: a fake scheduler and three fake stores (_test_fakes.ts) over real
// gRPC on 127.0.0.1:0; the fake stores answer region errors from the
// cluster's true layout, and the scheduler's view may lag it on purpose.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Region } from '../pb/metapb.js';
import { regionNotFound } from '../raftstore/region_errors.js';
import { ClientError, CLIENT_ERROR_CODES } from './errors.js';
import { RawClient } from './raw_client.js';
import type { RoutedOptions } from './raw_client.js';
import { enc, FakeCluster, FakeScheduler, FakeStore, makeRegion } from './_test_fakes.js';

const dec = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));
const isCode = (code: string) => (err: unknown) => err instanceof ClientError && err.code === code;

interface Env {
  readonly cluster: FakeCluster;
  readonly pd: FakeScheduler;
  readonly stores: readonly [FakeStore, FakeStore, FakeStore];
  readonly client: RawClient;
}

/** Three stores; each region has a peer on every store; `layout` gives regions and leader stores. */
async function withCluster(
  layout: readonly (readonly [Region, number])[],
  options: Omit<RoutedOptions, 'pd'>,
  body: (env: Env) => Promise<void>,
): Promise<void> {
  const cluster = new FakeCluster();
  const pd = await FakeScheduler.start();
  const stores = [await FakeStore.start(1, cluster), await FakeStore.start(2, cluster), await FakeStore.start(3, cluster)] as const;
  for (const s of stores) pd.stores.set(s.storeId, s.store);
  for (const [region, leader] of layout) {
    cluster.set(region, leader);
    pd.setRegion(region, leader);
  }
  const client = new RawClient({ pd: pd.addr, deadlineMs: 2_000, attemptTimeoutMs: 500, retryPauseMs: 20, retryPauseMsMax: 80, ...options });
  try {
    await body({ cluster, pd, stores, client });
  } finally {
    client.close();
    for (const s of stores) s.stop();
    pd.stop();
  }
}

const R1 = makeRegion(1, '', 'g', 2, [1, 2, 3]);
const R2 = makeRegion(2, 'g', 'p', 2, [1, 2, 3]);
const R3 = makeRegion(3, 'p', '', 2, [1, 2, 3]);
const THREE: readonly (readonly [Region, number])[] = [[R1, 1], [R2, 2], [R3, 3]];
/** Pauses long enough that "no pause was taken" is clear on a loaded machine. */
const LONG_PAUSE = { retryPauseMs: 5_000, retryPauseMsMax: 5_000, deadlineMs: 20_000 } as const;

describe('RawClient routed by region', () => {
  test('each key goes to its region leader with a full Context; regions and stores are cached', async () => {
    await withCluster(THREE, {}, async ({ pd, stores, client }) => {
      await client.put(enc('a'), enc('1'));
      await client.put(enc('h'), enc('2'));
      await client.put(enc('x'), enc('3'));
      const [s1, s2, s3] = stores;
      assert.deepEqual(s1.calls.map((c) => [c.method, c.key.toString()]), [['RawPut', 'a']]);
      assert.deepEqual(s2.calls.map((c) => [c.method, c.key.toString()]), [['RawPut', 'h']]);
      assert.deepEqual(s3.calls.map((c) => [c.method, c.key.toString()]), [['RawPut', 'x']]);
      assert.deepEqual(s2.calls[0]?.context, { regionId: 2, regionEpoch: { confVer: 1, version: 2 }, peer: { id: 22, storeId: 2 }, term: 0 });
      const lookups = pd.count('GetRegion') + pd.count('GetStore');
      assert.deepEqual([dec(await client.get(enc('a'))), dec(await client.get(enc('h'))), dec(await client.get(enc('x')))], ['1', '2', '3']);
      assert.equal(pd.count('GetRegion') + pd.count('GetStore'), lookups, 'no scheduler call once cached');
      await client.delete(enc('h'));
      assert.equal(await client.get(enc('h')), undefined);
    });
  });

  test('scan continues across three regions until the limit or the end', async () => {
    await withCluster(THREE, {}, async ({ client, stores }) => {
      const letters = 'abcdefghijklmnopqrstuvwxyz'.split('');
      await client.batchPut(letters.map((l) => ({ key: enc(l), value: enc(l.toUpperCase()) })));
      const all = await client.scan(enc(''), 100);
      assert.deepEqual(all.map((e) => dec(e.key)), letters);
      assert.deepEqual(all.map((e) => dec(e.value)), letters.map((l) => l.toUpperCase()));
      assert.deepEqual((await client.scan(enc('e'), 10)).map((e) => dec(e.key)), letters.slice(4, 14));
      assert.deepEqual((await client.scan(enc('q'), 100)).map((e) => dec(e.key)), letters.slice(16));
      assert.equal((await client.scan(enc(''), 26)).length, 26);
      // An empty region in the middle is passed over.
      await client.batchDelete(letters.slice(6, 15).map(enc));
      assert.deepEqual((await client.scan(enc('c'), 8)).map((e) => dec(e.key)), ['c', 'd', 'e', 'f', 'p', 'q', 'r', 's']);
      assert.ok(stores.every((s) => s.calls.some((c) => c.method === 'RawScan')), 'every region was scanned on its leader');
    });
  });

  test('NotLeader naming the leader is retried at once there, and the leader is remembered', async () => {
    await withCluster(THREE, LONG_PAUSE, async ({ cluster, stores, client }) => {
      cluster.set(R2, 3); // the scheduler still says store 2
      const start = Date.now();
      await client.put(enc('h'), enc('v'));
      assert.ok(Date.now() - start < LONG_PAUSE.retryPauseMs, 'no pause');
      const [, s2, s3] = stores;
      assert.equal(s2.calls.length, 1);
      assert.deepEqual(s3.calls.map((c) => c.context?.peer), [{ id: 23, storeId: 3 }]);
      assert.equal(dec(await client.get(enc('h'))), 'v');
      assert.equal(s2.calls.length, 1, 'the learnt leader is used directly');
    });
  });

  test('NotLeader without a leader pauses, then tries another peer', async () => {
    await withCluster(THREE, { retryPauseMs: 100, retryPauseMsMax: 100 }, async ({ cluster, stores, client }) => {
      cluster.set(R2, 3);
      const [s1, s2, s3] = stores;
      s1.hideLeader = true;
      s2.hideLeader = true;
      const start = Date.now();
      await client.put(enc('h'), enc('v'));
      assert.ok(Date.now() - start >= 100, 'paused after an answer that taught nothing');
      assert.equal(s2.calls.length, 1, 'the old leader is not asked twice');
      assert.equal(s3.calls.length, 1);
      assert.equal(cluster.data.get(enc('h').toString('hex'))?.value.toString(), 'v');
    });
  });

  test('EpochNotMatch after a split teaches the new regions; the retry goes out at once', async () => {
    const whole = makeRegion(1, '', '', 1, [1, 2, 3]);
    await withCluster([[whole, 1]], LONG_PAUSE, async ({ cluster, stores, client }) => {
      await client.put(enc('x'), enc('before'));
      // Split at m; the scheduler has not heard of it yet.
      const left = makeRegion(1, '', 'm', 2, [1, 2, 3]);
      const right = makeRegion(4, 'm', '', 2, [1, 2, 3]);
      cluster.set(left, 1);
      cluster.set(right, 1);
      const start = Date.now();
      assert.equal(dec(await client.get(enc('x'))), 'before');
      assert.ok(Date.now() - start < LONG_PAUSE.retryPauseMs, 'no pause');
      const [s1] = stores;
      const last = s1.calls[s1.calls.length - 1];
      assert.equal(last?.context?.regionId, 4);
      assert.deepEqual(last?.context?.regionEpoch, { confVer: 1, version: 2 });
      const count = s1.calls.length;
      await client.put(enc('a'), enc('left'));
      assert.equal(s1.calls.length, count + 1, 'the left region was learnt from the same answer');
      assert.equal(s1.calls[count]?.context?.regionId, 1);
    });
  });

  test('RegionNotFound drops the region and asks the scheduler again', async () => {
    await withCluster(THREE, {}, async ({ pd, stores, client }) => {
      await client.put(enc('a'), enc('1'));
      const lookups = pd.count('GetRegion');
      stores[0].inject.push({ regionError: regionNotFound(1) });
      assert.equal(dec(await client.get(enc('a'))), '1');
      assert.equal(pd.count('GetRegion'), lookups + 1);
    });
  });

  test('a store that is down is routed around (UNAVAILABLE), for reads and writes', async () => {
    await withCluster(THREE, {}, async ({ cluster, stores, client }) => {
      await client.put(enc('h'), enc('1'));
      stores[1].stop();
      cluster.set(R2, 3); // a new leader was elected; the scheduler does not know yet
      await client.put(enc('h'), enc('2'));
      assert.equal(dec(await client.get(enc('h'))), '2');
      assert.ok(stores[2].calls.some((c) => c.method === 'RawPut'));
    });
  });

  test('a lost write answer is OUTCOME_UNKNOWN by default; with retryAmbiguousWrites it is retried', async () => {
    await withCluster(THREE, { retryAmbiguousWrites: true }, async ({ stores, client }) => {
      stores[0].inject.push({ outcomeUnknownAfterApply: true });
      await client.put(enc('a'), enc('1'));
      assert.equal(stores[0].calls.length, 2, 'applied, answered OutcomeUnknown, put again');
    });
    await withCluster(THREE, {}, async ({ cluster, stores, client }) => {
      stores[0].inject.push({ outcomeUnknownAfterApply: true });
      await assert.rejects(client.put(enc('a'), enc('1')), isCode(CLIENT_ERROR_CODES.OutcomeUnknown));
      assert.equal(cluster.data.get(enc('a').toString('hex'))?.value.toString(), '1', 'it did take effect: never report it as failed');
      stores[0].inject.push({ hang: true });
      await assert.rejects(client.delete(enc('a')), isCode(CLIENT_ERROR_CODES.OutcomeUnknown));
    });
  });

  test('silent stores: a read ends DEADLINE_EXCEEDED and a write OUTCOME_UNKNOWN, by the deadline', async () => {
    await withCluster(THREE, { deadlineMs: 600, attemptTimeoutMs: 150 }, async ({ stores, client }) => {
      for (const s of stores) s.hangAll = true;
      let start = Date.now();
      await assert.rejects(client.get(enc('a')), isCode(CLIENT_ERROR_CODES.DeadlineExceeded));
      assert.ok(Date.now() - start < 3_000, `read ended by the deadline (${Date.now() - start} ms)`);
      start = Date.now();
      await assert.rejects(client.put(enc('a'), enc('1')), isCode(CLIENT_ERROR_CODES.OutcomeUnknown));
      assert.ok(Date.now() - start < 3_000, 'write ended by the deadline');
      assert.ok(stores.filter((s) => s.calls.length > 0).length >= 2, 'other peers were tried');
    });
  });

  test('an unreachable scheduler ends the operation by the deadline', async () => {
    const client = new RawClient({ pd: '127.0.0.1:1', deadlineMs: 300, retryPauseMs: 20, retryPauseMsMax: 40 });
    try {
      const start = Date.now();
      await assert.rejects(client.get(enc('a')), isCode(CLIENT_ERROR_CODES.DeadlineExceeded));
      assert.ok(Date.now() - start < 3_000, 'ended by the deadline, not the default 10 s');
    } finally {
      client.close();
    }
    await assert.rejects(client.get(enc('a')), isCode(CLIENT_ERROR_CODES.Closed));
  });

  test('options: exactly one of addr and pd', () => {
    assert.throws(() => new RawClient({} as never), TypeError);
    assert.throws(() => new RawClient({ addr: '127.0.0.1:1', pd: '127.0.0.1:2' } as never), TypeError);
    assert.throws(() => new RawClient({ pd: '127.0.0.1:1', attemptTimeoutMs: 0 }), RangeError);
  });
});
