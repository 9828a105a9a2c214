// Goal: the raft server (`tinykv server --raft` in process) serves the raw
// API over gRPC from RaftStorage: values written through raft are read back
// by ReadIndex reads, region errors come back in the responses'
// `regionError` field, a restart on the same data dir loads the store, stop
// releases the data-dir lock, a standalone data dir is refused, and a
// standalone server refuses a raft data dir.
// Method: startRaftServer on LMDB in a temp dir with a 20 ms tick, driven by
// the generated gRPC client over loopback (the same client path as the CLI).
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Context } from '../pb/kvrpcpb.js';
import { TinyKvClient } from '../pb/tinykvpb.js';
import { CF_DEFAULT, CF_WRITE } from '../storage/engine.js';
import { LmdbEngine } from '../storage/lmdb_engine.js';
import { StandaloneStorage } from '../storage/standalone_storage.js';
import { silentLogger } from '../util/log.js';
import { grpcApi } from './_test_driver.js';
import type { RawApi } from './_test_driver.js';
import { RAFT_SERVER_ERROR_CODES, RaftServerError, startRaftServer } from './raft_server.js';
import type { RunningRaftServer } from './raft_server.js';
import { STANDALONE_ERROR_CODES, StandaloneError, startStandalone } from './standalone.js';

const TICK_MS = 20;
const enc = (s: string): Buffer => Buffer.from(s);

describe('raft server', () => {
  let dataDir: string;
  const fatal: unknown[] = [];
  const cleanups: (() => Promise<void> | void)[] = [];

  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinykv-raft-server-'));
    fatal.length = 0;
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    fs.rmSync(dataDir, { recursive: true, force: true });
    assert.deepEqual(fatal, []);
  });

  /** Starts a server on `dataDir` and a gRPC client to it; both are cleaned up after the test. */
  const start = async (): Promise<{ server: RunningRaftServer; api: RawApi }> => {
    const server = await startRaftServer({
      dataDir, addr: '127.0.0.1:0', logger: silentLogger(), baseTickMs: TICK_MS, onFatal: (err) => fatal.push(err),
    });
    const client = new TinyKvClient(server.addr, grpc.credentials.createInsecure());
    cleanups.push(() => server.stop(1_000), () => client.close());
    return { server, api: grpcApi(client) };
  };

  test('the gRPC raw API returns what was written through raft', async () => {
    const { server, api } = await start();
    assert.ok(server.node.isLeaderReady(1), 'serving starts once the peer is a ready leader');
    for (const k of ['a', 'b', 'c']) {
      assert.deepEqual(await api.rawPut({ context: undefined, key: enc(k), value: enc(`v-${k}`), cf: CF_DEFAULT }), { regionError: undefined, error: '' });
    }
    await api.rawPut({ context: undefined, key: enc('b'), value: enc('w-b'), cf: CF_WRITE });
    const got = await api.rawGet({ context: undefined, key: enc('b'), cf: CF_DEFAULT });
    assert.deepEqual({ ...got, value: got.value.toString() }, { regionError: undefined, error: '', value: 'v-b', notFound: false });
    assert.equal((await api.rawGet({ context: undefined, key: enc('b'), cf: CF_WRITE })).value.toString(), 'w-b');
    assert.equal((await api.rawGet({ context: undefined, key: enc('zz'), cf: CF_DEFAULT })).notFound, true);
    const scan = await api.rawScan({ context: undefined, startKey: enc('b'), limit: 10, cf: CF_DEFAULT });
    assert.deepEqual(scan.kvs.map((kv) => [kv.key.toString(), kv.value.toString()]), [['b', 'v-b'], ['c', 'v-c']]);
    assert.deepEqual(await api.rawDelete({ context: undefined, key: enc('b'), cf: CF_DEFAULT }), { regionError: undefined, error: '' });
    assert.equal((await api.rawGet({ context: undefined, key: enc('b'), cf: CF_DEFAULT })).notFound, true);
    // Bad input is still answered in `error`, before anything is proposed.
    assert.match((await api.rawPut({ context: undefined, key: enc(''), value: enc('v'), cf: CF_DEFAULT })).error, /^InvalidArgument: key is empty/);
  });

  test('region errors come back in the regionError field', async () => {
    const { server, api } = await start();
    const peer = server.node.localPeer(1);
    const routed: Context = { regionId: 1, regionEpoch: { confVer: 1, version: 1 }, peer, term: 0 };
    assert.deepEqual(await api.rawPut({ context: routed, key: enc('k'), value: enc('v'), cf: CF_DEFAULT }), { regionError: undefined, error: '' });
    const unknown = await api.rawGet({ context: { ...routed, regionId: 42 }, key: enc('k'), cf: CF_DEFAULT });
    assert.equal(unknown.error, '');
    assert.equal(unknown.regionError?.regionNotFound?.regionId, 42);
    const stale = await api.rawPut({ context: { ...routed, regionEpoch: { confVer: 1, version: 0 } }, key: enc('k'), value: enc('x'), cf: CF_DEFAULT });
    assert.ok(stale.regionError?.epochNotMatch !== undefined, JSON.stringify(stale));
    const wrongStore = await api.rawScan({ context: { ...routed, peer: { id: 2, storeId: 7 } }, startKey: enc(''), limit: 10, cf: CF_DEFAULT });
    assert.equal(wrongStore.regionError?.storeNotMatch?.requestStoreId, 7);
    assert.deepEqual(wrongStore.kvs, []);
    // The refused write did not happen.
    assert.equal((await api.rawGet({ context: routed, key: enc('k'), cf: CF_DEFAULT })).value.toString(), 'v');
  });

  test('a restart on the same data dir loads the store; stop releases the lock', async () => {
    const first = await start();
    await first.api.rawPut({ context: undefined, key: enc('k'), value: enc('v1'), cf: CF_DEFAULT });
    const applied = first.server.node.appliedIndex(1);
    await first.server.stop();
    assert.equal(fs.existsSync(path.join(dataDir, 'LOCK')), false);
    const second = await start();
    assert.ok(second.server.node.appliedIndex(1) > applied, 'the restarted leader applied an entry of its new term');
    assert.equal((await second.api.rawGet({ context: undefined, key: enc('k'), cf: CF_DEFAULT })).value.toString(), 'v1');
  });

  test('a standalone data dir is refused and left unlocked', async () => {
    const standalone = new StandaloneStorage(new LmdbEngine({ dataDir }));
    await standalone.start();
    await standalone.write({ regionId: 0, term: 0 }, [{ type: 'put', cf: CF_DEFAULT, key: enc('k'), value: enc('v') }]);
    await standalone.stop();
    await assert.rejects(
      () => startRaftServer({ dataDir, addr: '127.0.0.1:0', logger: silentLogger(), baseTickMs: TICK_MS }),
      (err: unknown) => err instanceof RaftServerError && err.code === RAFT_SERVER_ERROR_CODES.StandaloneData,
    );
    assert.equal(fs.existsSync(path.join(dataDir, 'LOCK')), false);
  });

  test('a standalone server refuses a raft data dir and leaves it unlocked', async () => {
    const first = await start();
    await first.server.stop();
    await assert.rejects(
      () => startStandalone({ dataDir, addr: '127.0.0.1:0', logger: silentLogger() }),
      (err: unknown) => err instanceof StandaloneError && err.code === STANDALONE_ERROR_CODES.RaftData,
    );
    assert.equal(fs.existsSync(path.join(dataDir, 'LOCK')), false);
  });

  test('a busy address fails the start and releases the data dir', async () => {
    const holder = await start();
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'tinykv-raft-server-'));
    cleanups.push(() => fs.rmSync(other, { recursive: true, force: true }));
    await assert.rejects(
      () => startRaftServer({ dataDir: other, addr: holder.server.addr, logger: silentLogger(), baseTickMs: TICK_MS }),
      /Cannot listen on/,
    );
    assert.equal(fs.existsSync(path.join(other, 'LOCK')), false);
  });
});
