// Goal: RaftStorage is a Storage with the standalone semantics (atomic writes,
// point-in-time readers) plus routing: refusals become STORAGE_REGION_ERROR
// carrying the errorpb.Error, which the raw API answers in `regionError`;
// readers and iterators stay inside their region.
// Method: real StoreNodes on LMDB in temp dirs with LocalTransport and a
// 20 ms tick; the raw API handlers are called directly (as TinyKV's
// server_test.go does), over RaftStorage instead of standalone storage.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Region } from '../pb/metapb.js';
import { CF_DEFAULT, CF_RAFT, CF_WRITE } from '../storage/engine.js';
import { LmdbEngine } from '../storage/lmdb_engine.js';
import { StorageError, STORAGE_ERROR_CODES } from '../storage/storage.js';
import { LocalCluster } from './local_cluster.js';
import { LocalTransport } from './local_transport.js';
import { RaftStorage } from './raft_storage.js';
import { Server } from './server.js';
import { StoreNode } from './store_node.js';

const TICK_MS = 20;
const enc = (s: string): Buffer => Buffer.from(s);
const CTX = { regionId: 0, term: 0 };

describe('RaftStorage', () => {
  let dataDir: string;
  const stops: (() => Promise<void>)[] = [];
  const fatal: unknown[] = [];

  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinykv-raft-storage-'));
    fatal.length = 0;
  });

  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    assert.deepEqual(fatal, []);
  });

  const cluster = async (storeIds: number[]): Promise<LocalCluster> => {
    const c = await LocalCluster.start({ storeIds, dataDir, baseTickMs: TICK_MS, onFatal: (_id, err) => fatal.push(err) });
    stops.push(() => c.stop());
    return c;
  };

  /** One store holding one region [startKey, endKey). */
  const boundedStore = async (startKey: string, endKey: string): Promise<StoreNode> => {
    const region: Region = {
      id: 1, startKey: enc(startKey), endKey: enc(endKey), regionEpoch: { confVer: 1, version: 1 }, peers: [{ id: 2, storeId: 1 }],
    };
    const transport = new LocalTransport();
    const node = await StoreNode.open({
      storeId: 1, engine: new LmdbEngine({ dataDir }), transport, baseTickMs: TICK_MS,
      bootstrap: { clusterId: 1, region }, onFatal: (err) => fatal.push(err),
    });
    transport.register(1, node);
    stops.push(() => node.stop());
    const deadline = Date.now() + 5_000;
    while (!node.isLeaderReady(1)) {
      assert.ok(Date.now() < deadline, 'no leader');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return node;
  };

  test('the raw API round trip through the leader: put, get, scan, delete', async () => {
    const c = await cluster([1, 2, 3]);
    const leader = await c.waitForLeader();
    const server = new Server(c.storage(leader.storeId));
    for (const k of ['a', 'b', 'c']) {
      assert.deepEqual(await server.rawPut({ context: undefined, key: enc(k), value: enc(`v-${k}`), cf: CF_DEFAULT }), { regionError: undefined, error: '' });
    }
    const got = await server.rawGet({ context: undefined, key: enc('b'), cf: CF_DEFAULT });
    assert.equal(got.regionError, undefined);
    assert.equal(got.value.toString(), 'v-b');
    const scan = await server.rawScan({ context: undefined, startKey: enc('b'), limit: 10, cf: CF_DEFAULT });
    assert.deepEqual(scan.kvs.map((kv) => kv.key.toString()), ['b', 'c']);
    await server.rawDelete({ context: undefined, key: enc('b'), cf: CF_DEFAULT });
    assert.equal((await server.rawGet({ context: undefined, key: enc('b'), cf: CF_DEFAULT })).notFound, true);
  });

  test('a follower answers NotLeader in the raw responses\' regionError', async () => {
    const c = await cluster([1, 2, 3]);
    const leader = await c.waitForLeader();
    const follower = c.storeIds.find((id) => id !== leader.storeId) as number;
    const server = new Server(c.storage(follower));
    const put = await server.rawPut({ context: undefined, key: enc('k'), value: enc('v'), cf: CF_DEFAULT });
    assert.equal(put.error, '');
    assert.equal(put.regionError?.notLeader?.leader?.storeId, leader.storeId);
    const got = await server.rawGet({ context: undefined, key: enc('k'), cf: CF_DEFAULT });
    assert.equal(got.regionError?.notLeader?.regionId, 1);
    const scan = await server.rawScan({ context: undefined, startKey: enc(''), limit: 10, cf: CF_DEFAULT });
    assert.ok(scan.regionError?.notLeader !== undefined);
    assert.deepEqual(scan.kvs, []);
    const del = await server.rawDelete({ context: undefined, key: enc('k'), cf: CF_DEFAULT });
    assert.ok(del.regionError?.notLeader !== undefined);
  });

  test('a request context is checked: unknown region, stale epoch, wrong store', async () => {
    const c = await cluster([1]);
    const node = await c.waitForLeader();
    const server = new Server(c.storage(1));
    const peer = node.localPeer(1);
    const base = { regionId: 1, regionEpoch: { confVer: 1, version: 1 }, peer, term: 0 };
    const ok = await server.rawPut({ context: base, key: enc('k'), value: enc('v'), cf: CF_DEFAULT });
    assert.equal(ok.regionError, undefined);
    const unknown = await server.rawGet({ context: { ...base, regionId: 42 }, key: enc('k'), cf: CF_DEFAULT });
    assert.equal(unknown.regionError?.regionNotFound?.regionId, 42);
    const stale = await server.rawPut({ context: { ...base, regionEpoch: { confVer: 1, version: 0 } }, key: enc('k'), value: enc('v'), cf: CF_DEFAULT });
    assert.ok(stale.regionError?.epochNotMatch !== undefined);
    const wrongStore = await server.rawGet({ context: { ...base, peer: { id: 2, storeId: 5 } }, key: enc('k'), cf: CF_DEFAULT });
    assert.equal(wrongStore.regionError?.storeNotMatch?.requestStoreId, 5);
  });

  test('a reader is a point-in-time view; internal column families are refused', async () => {
    const c = await cluster([1]);
    await c.waitForLeader();
    const storage = c.storage(1);
    await storage.write(CTX, [{ type: 'put', cf: CF_WRITE, key: enc('k'), value: enc('old') }]);
    const reader = await storage.reader(CTX);
    try {
      await storage.write(CTX, [{ type: 'put', cf: CF_WRITE, key: enc('k'), value: enc('new') }]);
      assert.equal(Buffer.from(reader.getCF(CF_WRITE, enc('k')) ?? []).toString(), 'old');
      assert.throws(() => reader.getCF(CF_RAFT, enc('k')), (err: unknown) => err instanceof StorageError && err.code === STORAGE_ERROR_CODES.InvalidCf);
    } finally {
      reader.close();
    }
    await assert.rejects(
      () => storage.write(CTX, [{ type: 'put', cf: CF_RAFT, key: enc('k'), value: enc('v') }]),
      (err: unknown) => err instanceof StorageError && err.code === STORAGE_ERROR_CODES.InvalidCf,
    );
    await storage.write(CTX, []);
  });

  test('readers and writes stay inside the region', async () => {
    const node = await boundedStore('b', 'm');
    const storage = new RaftStorage(node);
    const server = new Server(storage);
    for (const k of ['b', 'c', 'l']) await storage.write(CTX, [{ type: 'put', cf: CF_DEFAULT, key: enc(k), value: enc(k) }]);
    const outside = await server.rawPut({ context: undefined, key: enc('z'), value: enc('v'), cf: CF_DEFAULT });
    assert.equal(outside.regionError?.keyNotInRegion?.key.toString(), 'z');
    const before = await server.rawGet({ context: undefined, key: enc('a'), cf: CF_DEFAULT });
    assert.equal(before.regionError?.keyNotInRegion?.startKey.toString(), 'b');
    const scan = await server.rawScan({ context: undefined, startKey: enc('a'), limit: 10, cf: CF_DEFAULT });
    assert.deepEqual(scan.kvs.map((kv) => kv.key.toString()), ['b', 'c', 'l']);
    const reader = await storage.reader(CTX);
    try {
      const it = reader.iterCF(CF_DEFAULT);
      it.seek(enc('c'));
      const keys: string[] = [];
      for (; it.valid(); it.next()) keys.push(Buffer.from(it.item().key).toString());
      assert.deepEqual(keys, ['c', 'l']);
      it.seek(enc('m'));
      assert.equal(it.valid(), false);
    } finally {
      reader.close();
    }
  });

  test('a stopped store: StorageError STORAGE_STOPPED', async () => {
    const c = await cluster([1]);
    await c.waitForLeader();
    const storage = c.storage(1);
    await storage.stop();
    await assert.rejects(() => storage.reader(CTX), (err: unknown) => err instanceof StorageError && err.code === STORAGE_ERROR_CODES.Stopped);
    await assert.rejects(() => storage.start(), (err: unknown) => err instanceof StorageError && err.code === STORAGE_ERROR_CODES.Stopped);
  });
});
