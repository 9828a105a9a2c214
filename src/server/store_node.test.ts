// Goal: the production shell runs the raftstore core correctly with real
// timers, real LMDB engines and in-process delivery: leaders get elected,
// writes and ReadIndex reads go through the leader, followers refuse with
// NotLeader, data and leadership survive a restart of every store, every
// command's promise settles exactly once (also at stop), and malformed
// transport input is dropped without harm.
// Method: LocalCluster (StoreNodes on LMDB in temp dirs, LocalTransport) with
// a 20 ms base tick; every test stops its stores and removes its directories.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MessageType } from '../raft/types.js';
import type { RaftMessage } from '../pb/raft_serverpb.js';
import { CmdType } from '../pb/raft_cmdpb.js';
import type { RaftCmdRequest } from '../pb/raft_cmdpb.js';
import { DEFAULT_RAFTSTORE_CONFIG } from '../raftstore/config.js';
import { isOutcomeUnknown } from '../raftstore/region_errors.js';
import { CF_DEFAULT } from '../storage/engine.js';
import { LmdbEngine } from '../storage/lmdb_engine.js';
import { StorageError, STORAGE_ERROR_CODES } from '../storage/storage.js';
import type { Storage } from '../storage/storage.js';
import { LocalCluster } from './local_cluster.js';
import { LocalTransport } from './local_transport.js';
import { RaftStorage } from './raft_storage.js';
import { bootstrapRegion, StoreNode, StoreNodeError, STORE_NODE_ERROR_CODES } from './store_node.js';

const CTX = { regionId: 0, term: 0 };
const TICK_MS = 20;
const enc = (s: string): Buffer => Buffer.from(s);

async function put(storage: Storage, key: string, value: string): Promise<void> {
  await storage.write(CTX, [{ type: 'put', cf: CF_DEFAULT, key: enc(key), value: enc(value) }]);
}

async function get(storage: Storage, key: string): Promise<string | undefined> {
  const reader = await storage.reader(CTX);
  try {
    const v = reader.getCF(CF_DEFAULT, enc(key));
    return v === undefined ? undefined : Buffer.from(v).toString();
  } finally {
    reader.close();
  }
}

function putRequest(node: StoreNode, key: string, value: string): RaftCmdRequest {
  const region = node.region(1);
  assert.ok(region !== undefined);
  return {
    header: { regionId: 1, peer: node.localPeer(1), regionEpoch: region.regionEpoch, term: 0 },
    requests: [{ cmdType: CmdType.Put, get: undefined, put: { cf: CF_DEFAULT, key: enc(key), value: enc(value) }, delete: undefined, snap: undefined }],
    adminRequest: undefined,
  };
}

describe('StoreNode', () => {
  let dataDir: string;
  let cluster: LocalCluster | undefined;
  const fatal: unknown[] = [];

  const start = async (storeIds: number[]): Promise<LocalCluster> => {
    cluster = await LocalCluster.start({ storeIds, dataDir, baseTickMs: TICK_MS, onFatal: (_id, err) => fatal.push(err) });
    return cluster;
  };

  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinykv-store-node-'));
    fatal.length = 0;
  });

  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
    fs.rmSync(dataDir, { recursive: true, force: true });
    assert.deepEqual(fatal, []);
  });

  test('3 stores: write and read through the leader; a follower answers NotLeader', async () => {
    const c = await start([1, 2, 3]);
    const leader = await c.waitForLeader();
    const storage = c.storage(leader.storeId);
    await put(storage, 'k1', 'v1');
    await storage.write(CTX, [
      { type: 'put', cf: CF_DEFAULT, key: enc('k2'), value: enc('v2') },
      { type: 'delete', cf: CF_DEFAULT, key: enc('k1') },
    ]);
    assert.equal(await get(storage, 'k1'), undefined);
    assert.equal(await get(storage, 'k2'), 'v2');

    const follower = c.storeIds.find((id) => id !== leader.storeId) as number;
    for (const op of [() => put(c.storage(follower), 'k3', 'v3'), () => get(c.storage(follower), 'k2')]) {
      await assert.rejects(op, (err: unknown) => {
        assert.ok(err instanceof StorageError);
        assert.equal(err.code, STORAGE_ERROR_CODES.RegionError);
        assert.equal(err.regionError?.notLeader?.regionId, 1);
        assert.equal(err.regionError?.notLeader?.leader?.storeId, leader.storeId);
        return true;
      });
    }
    assert.ok(leader.stats().writes > 0);
  });

  test('3 stores: concurrent writes share rounds (group commit) and all apply', async () => {
    const c = await start([1, 2, 3]);
    const leader = await c.waitForLeader();
    const storage = c.storage(leader.storeId);
    const before = leader.stats();
    await Promise.all(Array.from({ length: 200 }, (_, i) => put(storage, `k${i}`, `v${i}`)));
    const after = leader.stats();
    assert.ok(after.writes - before.writes < 200, `${after.writes - before.writes} writes for 200 commands`);
    assert.ok(after.syncedWrites - before.syncedWrites < 100, `${after.syncedWrites - before.syncedWrites} fsyncs for 200 commands`);
    const values = await Promise.all(Array.from({ length: 200 }, (_, i) => get(storage, `k${i}`)));
    assert.deepEqual(values, Array.from({ length: 200 }, (_, i) => `v${i}`));
  });

  test('3 stores: every store restarts from its directory with its data, and a leader is elected again', async () => {
    const c = await start([1, 2, 3]);
    const leader = await c.waitForLeader();
    for (let i = 0; i < 20; i++) await put(c.storage(leader.storeId), `k${i}`, `v${i}`);
    await c.stop();

    const again = await start([1, 2, 3]);
    const newLeader = await again.waitForLeader();
    const storage = again.storage(newLeader.storeId);
    for (let i = 0; i < 20; i++) assert.equal(await get(storage, `k${i}`), `v${i}`);
    await put(storage, 'after', 'restart');
    assert.equal(await get(storage, 'after'), 'restart');
  });

  test('a single-store cluster elects itself and serves', async () => {
    const c = await start([7]);
    const leader = await c.waitForLeader();
    assert.equal(leader.storeId, 7);
    const storage = c.storage(7);
    await put(storage, 'a', '1');
    assert.equal(await get(storage, 'a'), '1');
  });

  test('a follower cut off misses writes; when the leader stops, the up-to-date follower takes over', async () => {
    const c = await start([1, 2, 3]);
    const leader = await c.waitForLeader();
    const lagging = c.storeIds.find((id) => id !== leader.storeId) as number;
    c.transport.isolate(lagging);
    for (let i = 0; i < 10; i++) await put(c.storage(leader.storeId), `k${i}`, `v${i}`);
    c.transport.isolate(lagging, false);
    await c.stopStore(leader.storeId);
    const next = await c.waitForLeader();
    assert.notEqual(next.storeId, leader.storeId);
    for (let i = 0; i < 10; i++) assert.equal(await get(c.storage(next.storeId), `k${i}`), `v${i}`);
  });

  test('a follower behind a compacted log catches up by snapshot', async () => {
    cluster = await LocalCluster.start({
      storeIds: [1, 2, 3], dataDir, baseTickMs: TICK_MS, onFatal: (_id, err) => fatal.push(err),
      config: { ...DEFAULT_RAFTSTORE_CONFIG, raftLogGcCountLimit: 5 },
    });
    const c = cluster;
    const leader = await c.waitForLeader();
    const lagging = c.storeIds.find((id) => id !== leader.storeId) as number;
    c.transport.isolate(lagging);
    for (let i = 0; i < 30; i++) await put(c.storage(leader.storeId), `k${i}`, `v${i}`);
    const target = leader.appliedIndex(1);
    c.transport.isolate(lagging, false);
    const deadline = Date.now() + 5_000;
    while (c.node(lagging).appliedIndex(1) < target) {
      assert.ok(Date.now() < deadline, 'the lagging follower did not catch up');
      await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    }
    assert.ok(leader.stats().snapshotsSent >= 1, 'the leader sent no snapshot');
    await c.stop();
    const engine = new LmdbEngine({ dataDir: path.join(dataDir, `store-${lagging}`) });
    try {
      for (let i = 0; i < 30; i++) assert.equal(Buffer.from(engine.get(CF_DEFAULT, enc(`k${i}`)) ?? []).toString(), `v${i}`);
    } finally {
      await engine.close();
    }
  });

  test('commands pending at stop settle once, with OutcomeUnknown; later ones get NotLeader', async () => {
    const c = await start([1, 2, 3]);
    const leader = await c.waitForLeader();
    // Cut the leader off: its proposals can no longer commit.
    c.transport.isolate(leader.storeId);
    const pending = [leader.command(putRequest(leader, 'x', '1')), leader.command(putRequest(leader, 'y', '2'))];
    let settled = 0;
    for (const p of pending) void p.then(() => settled++);
    await new Promise((resolve) => setTimeout(resolve, 5 * TICK_MS));
    assert.equal(settled, 0);
    await c.stopStore(leader.storeId);
    for (const p of pending) {
      const { response } = await p;
      assert.ok(isOutcomeUnknown(response.header?.error), JSON.stringify(response.header?.error));
    }
    const late = await leader.command(putRequest(leader, 'z', '3'));
    assert.ok(late.response.header?.error?.notLeader !== undefined);
    await assert.rejects(
      () => put(new RaftStorage(leader), 'z', '3'),
      (err: unknown) => err instanceof StorageError && err.code === STORAGE_ERROR_CODES.Stopped,
    );
  });

  test('malformed and misrouted raft messages are dropped; the store keeps serving', async () => {
    const c = await start([1]);
    const node = await c.waitForLeader();
    const good = (): RaftMessage => ({
      regionId: 1, fromPeer: { id: 3, storeId: 2 }, toPeer: { id: 2, storeId: 1 }, regionEpoch: { confVer: 1, version: 1 },
      isTombstone: false, startKey: Buffer.alloc(0), endKey: Buffer.alloc(0),
      message: {
        msgType: MessageType.MsgHeartbeat, to: 2, from: 3, term: 1, logTerm: 0, index: 0, entries: [], commit: 0,
        snapshot: undefined, reject: false, rejectHint: 0, context: Buffer.alloc(0),
      },
    });
    const bad: RaftMessage[] = [
      { ...good(), message: undefined },
      { ...good(), toPeer: undefined },
      { ...good(), toPeer: { id: 2, storeId: 9 } },
      { ...good(), regionId: 99 },
      { ...good(), regionId: -1 },
      { ...good(), message: { ...(good().message as NonNullable<RaftMessage['message']>), msgType: MessageType.MsgHup } },
      { ...good(), message: { ...(good().message as NonNullable<RaftMessage['message']>), msgType: MessageType.MsgPropose } },
      { ...good(), message: { ...(good().message as NonNullable<RaftMessage['message']>), term: Number.MAX_SAFE_INTEGER + 2 } },
      { ...good(), message: { ...(good().message as NonNullable<RaftMessage['message']>), from: 4 } },
      { ...good(), message: { ...(good().message as NonNullable<RaftMessage['message']>), msgType: MessageType.MsgSnapshot } },
    ];
    for (const m of bad) assert.equal(node.onRaftMessage(m), true);
    assert.ok(node.stats().messagesDropped >= 8);
    await put(c.storage(1), 'still', 'serving');
    assert.equal(await get(c.storage(1), 'still'), 'serving');
    assert.ok(node.isRunning);
  });

  test('open refuses an empty engine without a bootstrap region, and an engine of another store', async () => {
    const transport = new LocalTransport();
    const dir = path.join(dataDir, 'lone');
    await assert.rejects(
      () => StoreNode.open({ storeId: 1, engine: new LmdbEngine({ dataDir: dir }), transport }),
      (err: unknown) => err instanceof StoreNodeError && err.code === STORE_NODE_ERROR_CODES.NotBootstrapped,
    );
    const node = await StoreNode.open({
      storeId: 1, engine: new LmdbEngine({ dataDir: dir }), transport, baseTickMs: TICK_MS, bootstrap: { clusterId: 1, region: bootstrapRegion([1]) },
    });
    await node.stop();
    await assert.rejects(
      () => StoreNode.open({ storeId: 2, engine: new LmdbEngine({ dataDir: dir }), transport }),
      (err: unknown) => err instanceof StoreNodeError && err.code === STORE_NODE_ERROR_CODES.WrongStore,
    );
    // The failed opens released the directory: it opens again.
    const again = await StoreNode.open({ storeId: 1, engine: new LmdbEngine({ dataDir: dir }), transport, baseTickMs: TICK_MS });
    await again.stop();
  });
});
