// Goal: PdClient's contract: the cluster id is fetched once and stamped on
// every request; typed answers (regions with leaders, stores, ids, split
// ids); header errors become SchedulerError with the ErrorType, another
// cluster's answer CLUSTER_MISMATCH; unary calls move past an unreachable
// address and fail DEADLINE_EXCEEDED within the deadline; the Tso stream
// serves many concurrent callers with unique, increasing timestamps in few
// requests and survives the scheduler dropping it; the RegionHeartbeat
// stream delivers answers and re-opens after a drop. Method: a fake
// scheduler (_test_fakes.ts) over real gRPC on 127.0.0.1:0.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StoreState } from '../pb/metapb.js';
import { ErrorType } from '../pb/schedulerpb.js';
import type { RegionHeartbeatResponse } from '../pb/schedulerpb.js';
import { ClientError, CLIENT_ERROR_CODES, SchedulerError, SCHEDULER_ERROR_CODES } from './errors.js';
import { PdClient } from './scheduler_client.js';
import { enc, FakeScheduler, makeRegion } from './_test_fakes.js';

const FAST = { retryPauseMs: 10, retryPauseMsMax: 40 } as const;

async function waitFor(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('PdClient', () => {
  let pd: FakeScheduler;
  let client: PdClient;
  before(async () => {
    pd = await FakeScheduler.start();
    pd.setRegion(makeRegion(1, '', 'g', 2, [1, 2, 3]), 1);
    pd.setRegion(makeRegion(2, 'g', 'p', 2, [1, 2, 3]), 2);
    pd.setRegion(makeRegion(3, 'p', '', 2, [1, 2, 3]), undefined);
    pd.stores.set(1, { id: 1, address: '127.0.0.1:1', state: StoreState.Up });
    pd.stores.set(2, { id: 2, address: '127.0.0.1:2', state: StoreState.Tombstone });
    client = new PdClient({ addrs: pd.addr, deadlineMs: 2_000, ...FAST });
  });
  after(() => {
    client.close();
    pd.stop();
  });

  test('the cluster id is fetched once and sent in every request header', async () => {
    await Promise.all([client.allocId(), client.allocId(), client.isBootstrapped()]);
    await client.getAllStores();
    assert.equal(pd.count('GetMembers'), 1);
    assert.equal(await client.clusterId(), 7);
    const stamped = pd.calls.filter((c) => c.method !== 'GetMembers');
    assert.ok(stamped.length >= 4);
    assert.ok(stamped.every((c) => c.clusterId === 7), 'every request carries the cluster id');
  });

  test('region lookups return the region and its leader, or undefined', async () => {
    const at = await client.getRegion(enc('h'));
    assert.equal(at?.region.id, 2);
    assert.deepEqual(at?.leader, { id: 22, storeId: 2 });
    assert.equal((await client.getRegion(enc('z')))?.leader, undefined, 'a region without a known leader');
    assert.equal((await client.getPrevRegion(enc('h')))?.region.id, 1);
    assert.equal(await client.getPrevRegion(enc('a')), undefined);
    assert.equal((await client.getRegionById(3))?.region.id, 3);
    assert.equal(await client.getRegionById(99), undefined, 'REGION_NOT_FOUND is no region');
    const scanned = await client.scanRegions(enc('h'), enc(''), 0);
    assert.deepEqual(scanned.map((r) => [r.region.id, r.leader?.id]), [[2, 22], [3, undefined]]);
    assert.deepEqual((await client.scanRegions(enc(''), enc('h'), 1)).map((r) => r.region.id), [1]);
  });

  test('stores, ids, split ids, bootstrap and heartbeats', async () => {
    assert.equal((await client.getStore(1))?.address, '127.0.0.1:1');
    assert.equal((await client.getAllStores()).length, 2);
    assert.deepEqual((await client.getAllStores({ excludeTombstoneStores: true })).map((s) => s.id), [1]);
    const a = await client.allocId();
    const b = await client.allocId();
    assert.ok(b > a);
    const split = await client.askSplit(makeRegion(2, 'g', 'p', 2, [1, 2, 3]));
    assert.equal(split.newPeerIds.length, 3);
    assert.equal(await client.isBootstrapped(), false);
    await client.bootstrap({ id: 4, address: '127.0.0.1:4', state: StoreState.Up }, makeRegion(9, '', '', 1, [4]));
    assert.equal(await client.isBootstrapped(), true);
    await assert.rejects(client.bootstrap({ id: 4, address: '127.0.0.1:4', state: StoreState.Up }, makeRegion(9, '', '', 1, [4])), (err: unknown) =>
      err instanceof SchedulerError && err.code === SCHEDULER_ERROR_CODES.AlreadyBootstrapped && err.errorType === ErrorType.ALREADY_BOOTSTRAPPED,
    );
    await client.putStore({ id: 5, address: '127.0.0.1:5', state: StoreState.Up });
    assert.equal(pd.stores.get(5)?.address, '127.0.0.1:5');
    await client.storeHeartbeat({
      storeId: 5, capacity: 0, available: 0, regionCount: 0, sendingSnapCount: 0, receivingSnapCount: 0, startTime: 0,
      applyingSnapCount: 0, isBusy: false, usedSize: 0, interval: undefined, cpuUsages: [], readIoRates: [], writeIoRates: [], opLatencies: [],
    });
    assert.equal(pd.count('StoreHeartbeat'), 1);
    await assert.rejects(client.getStore(42), (err: unknown) => err instanceof SchedulerError && err.errorType === ErrorType.UNKNOWN);
  });

  test('an answer from another cluster is CLUSTER_MISMATCH', async () => {
    pd.checkClusterId = false;
    const other = new PdClient({ addrs: pd.addr, clusterId: 99, ...FAST });
    try {
      await assert.rejects(other.allocId(), (err: unknown) => err instanceof SchedulerError && err.code === SCHEDULER_ERROR_CODES.ClusterMismatch);
    } finally {
      other.close();
      pd.checkClusterId = true;
    }
  });

  test('without GetMembers the cluster id is adopted from the first answer', async () => {
    pd.membersUnimplemented = true;
    pd.checkClusterId = false;
    const adopting = new PdClient({ addrs: pd.addr, ...FAST });
    try {
      const from = pd.calls.length;
      await adopting.allocId();
      assert.equal(await adopting.clusterId(), 7);
      await adopting.allocId();
      assert.deepEqual(pd.calls.slice(from).map((c) => c.clusterId), [0, 7]);
    } finally {
      adopting.close();
      pd.membersUnimplemented = false;
      pd.checkClusterId = true;
    }
  });

  test('an unreachable address is skipped; none reachable fails within the deadline', async () => {
    const twoAddrs = new PdClient({ addrs: ['127.0.0.1:1', pd.addr], ...FAST });
    const lost = new PdClient({ addrs: '127.0.0.1:1', deadlineMs: 300, ...FAST });
    try {
      assert.ok((await twoAddrs.allocId()) > 0);
      const start = Date.now();
      await assert.rejects(lost.allocId(), (err: unknown) => err instanceof ClientError && err.code === CLIENT_ERROR_CODES.DeadlineExceeded);
      assert.ok(Date.now() - start < 3_000, 'failed by the deadline, not the default 10 s');
    } finally {
      twoAddrs.close();
      lost.close();
    }
  });

  test('tso: many concurrent callers get unique timestamps in few requests; sequential ones increase', async () => {
    const before = pd.tsoRequests;
    const all = await Promise.all(Array.from({ length: 500 }, () => client.tso()));
    assert.equal(new Set(all).size, 500, 'unique');
    // Callers of one turn share requests, and within a stream answers come in call order.
    assert.deepEqual([...all].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)), all, 'increasing in call order');
    assert.ok(pd.tsoRequests - before <= 5, `batched: ${pd.tsoRequests - before} requests`);
    let last = all[all.length - 1] ?? 0n;
    for (let i = 0; i < 20; i++) {
      const ts = await client.tso();
      assert.ok(ts > last);
      last = ts;
    }
    assert.equal(last >> 18n, 1_700_000_000_000n, 'physical << 18 | logical');
  });

  test('tso: the stream is re-opened after the scheduler drops it, and lost requests are asked again', async () => {
    await client.tso();
    const streams = pd.tsoStreams;
    pd.tsoDrops = 2;
    const got = await Promise.all(Array.from({ length: 50 }, () => client.tso()));
    assert.equal(new Set(got).size, 50);
    assert.ok(pd.tsoStreams >= streams + 2, 'two drops, two re-opens');
    assert.equal(pd.tsoDrops, 0);
  });

  test('tso: a caller gets DEADLINE_EXCEEDED when the scheduler is gone', async () => {
    const lost = new PdClient({ addrs: '127.0.0.1:1', clusterId: 7, deadlineMs: 300, ...FAST });
    try {
      await assert.rejects(lost.tso(), (err: unknown) => err instanceof ClientError && err.code === CLIENT_ERROR_CODES.DeadlineExceeded);
    } finally {
      lost.close();
    }
    await assert.rejects(lost.tso(), (err: unknown) => err instanceof ClientError && err.code === CLIENT_ERROR_CODES.Closed);
  });

  test('region heartbeats: answers reach the callback; a dropped stream is re-opened', async () => {
    const answers: RegionHeartbeatResponse[] = [];
    const errors: unknown[] = [];
    const streams = pd.heartbeatStreams;
    pd.heartbeatDropAfter = 2;
    const handle = client.regionHeartbeats({ onResponse: (r) => answers.push(r), onError: (e) => errors.push(e) });
    try {
      await waitFor(() => pd.heartbeatStreams === streams + 1, 'the stream to open');
      const beat = (id: number) => handle.send({ region: makeRegion(id, '', '', 1, [1]), leader: { id: id * 10 + 1, storeId: 1 }, pendingPeers: [], approximateSize: 0 });
      beat(1);
      beat(2);
      await waitFor(() => answers.length === 2 && errors.length === 1, 'two answers, then the drop');
      await waitFor(() => pd.heartbeatStreams === streams + 2, 'the stream to re-open');
      // The re-opened stream is usable once open; heartbeats sent while it was down were dropped.
      await waitFor(() => {
        beat(3);
        return answers.some((a) => a.regionId === 3);
      }, 'an answer on the new stream');
      assert.deepEqual(answers.slice(0, 2).map((a) => a.regionId), [1, 2]);
      assert.ok(errors[0] instanceof ClientError);
    } finally {
      handle.close();
    }
    assert.throws(() => handle.send({ region: undefined, leader: undefined, pendingPeers: [], approximateSize: 0 }), ClientError);
  });

  test('invalid options are rejected at construction', () => {
    assert.throws(() => new PdClient({ addrs: [] }), RangeError);
    assert.throws(() => new PdClient({ addrs: pd.addr, deadlineMs: 0 }), RangeError);
    assert.throws(() => new PdClient({ addrs: pd.addr, retryPauseMs: 10, retryPauseMsMax: 5 }), RangeError);
  });
});
