// Goal: stores in separate gRPC servers exchange raft messages and snapshots
// over real sockets: a 3-peer region elects a leader and replicates; a
// follower restarted on a new port behind a compacted log catches up by a
// chunked snapshot; a store that is down is reported unreachable and the
// transport reconnects to its new address; reports are never synchronous;
// queues and snapshot slots are bounded; malformed Raft bytes and bad
// snapshot streams are refused with INVALID_ARGUMENT without harming the
// server; a server without a raft sink still answers UNIMPLEMENTED.
// Method: StoreNodes on LMDB in temp dirs, each with its own gRPC server on
// 127.0.0.1:0 and its own GrpcTransport resolving through a map; unit tests
// use a recording sink behind a real gRPC server. Conditions are polled with
// deadlines, never slept on.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { MessageType } from '../pb/eraftpb.js';
import { Done, RaftMessage, SnapshotChunk } from '../pb/raft_serverpb.js';
import { TinyKvClient } from '../pb/tinykvpb.js';
import { emptyConfState, newMessage } from '../raft/types.js';
import { DEFAULT_RAFTSTORE_CONFIG } from '../raftstore/config.js';
import type { RaftstoreConfig } from '../raftstore/config.js';
import { CF_DEFAULT } from '../storage/engine.js';
import { LmdbEngine } from '../storage/lmdb_engine.js';
import { MemEngine } from '../storage/mem_engine.js';
import { StandaloneStorage } from '../storage/standalone_storage.js';
import { silentLogger } from '../util/log.js';
import { Prng } from '../util/prng.js';
import { startGrpcServer } from './grpc_server.js';
import type { GrpcServerOptions, RunningGrpcServer } from './grpc_server.js';
import { GrpcTransport } from './grpc_transport.js';
import type { GrpcTransportOptions } from './grpc_transport.js';
import { RaftStorage } from './raft_storage.js';
import { Server } from './server.js';
import { bootstrapRegion, StoreNode } from './store_node.js';

const TICK_MS = 20;
const CTX = { regionId: 0, term: 0 };
const enc = (s: string): Buffer => Buffer.from(s);

async function waitFor(what: string, cond: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function raftMessage(msgType: MessageType, opts: { to?: number; index?: number; data?: Buffer } = {}): RaftMessage {
  const to = opts.to ?? 2;
  const index = opts.index ?? 0;
  return {
    regionId: 1, fromPeer: { id: 2, storeId: 1 }, toPeer: { id: to + 1, storeId: to },
    message: newMessage({
      msgType, from: 2, to: to + 1, term: 3, index,
      ...(msgType === MessageType.MsgSnapshot
        ? { snapshot: { data: opts.data ?? Buffer.alloc(0), metadata: { index, term: 3, confState: { ...emptyConfState(), nodes: [2, 3] } } } }
        : {}),
    }),
    regionEpoch: { confVer: 1, version: 1 }, isTombstone: false, startKey: Buffer.alloc(0), endKey: Buffer.alloc(0),
  };
}

function patterned(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + 17) & 0xff;
  return b;
}

/** Sends `message` and resolves with its report, checking it did not come from inside `send`. */
function sendAndReport(t: GrpcTransport, message: RaftMessage): Promise<boolean> {
  return new Promise((resolve) => {
    let returned = false;
    t.send(message, (delivered) => {
      assert.ok(returned, 'report called inside send');
      resolve(delivered);
    });
    returned = true;
  });
}

/** A gRPC server whose raft sink records what it takes. */
class SinkServer {
  readonly got: RaftMessage[] = [];
  accepting = true;
  private running: RunningGrpcServer | undefined;
  private constructor(private readonly storage: StandaloneStorage) {}

  static async start(options: Partial<GrpcServerOptions> = {}): Promise<SinkServer> {
    const storage = new StandaloneStorage(new MemEngine());
    await storage.start();
    const sink = new SinkServer(storage);
    sink.running = await startGrpcServer({
      addr: '127.0.0.1:0', server: new Server(storage), logger: silentLogger(), raftSink: { onRaftMessage: (m) => sink.take(m) }, ...options,
    });
    return sink;
  }

  get addr(): string {
    assert.ok(this.running !== undefined);
    return this.running.addr;
  }

  take(m: RaftMessage): boolean {
    if (!this.accepting) return false;
    this.got.push(m);
    return true;
  }

  async stop(): Promise<void> {
    await this.running?.shutdown(1_000);
    await this.storage.stop();
  }
}

function resolverOf(addrs: Map<number, string>): GrpcTransportOptions['resolve'] {
  return async (storeId) => {
    const addr = addrs.get(storeId);
    if (addr === undefined) throw new Error(`store ${storeId} is not known`);
    return addr;
  };
}

/** An address nothing listens on (a port that was just free). */
async function deadAddr(): Promise<string> {
  const s = await SinkServer.start();
  const addr = s.addr;
  await s.stop();
  return addr;
}

describe('GrpcTransport between StoreNodes', () => {
  interface GrpcStore {
    readonly node: StoreNode;
    readonly server: RunningGrpcServer;
    readonly transport: GrpcTransport;
  }
  let dataDir: string;
  const addrs = new Map<number, string>();
  const stores = new Map<number, GrpcStore>();
  const fatal: unknown[] = [];

  async function startStore(storeId: number, storeIds: number[], config: RaftstoreConfig): Promise<GrpcStore> {
    const transport = new GrpcTransport({ resolve: resolverOf(addrs), config, rng: new Prng(storeId), backoffMsMin: 20, backoffMsMax: 200 });
    const node = await StoreNode.open({
      storeId, engine: new LmdbEngine({ dataDir: path.join(dataDir, `store-${storeId}`) }), transport,
      bootstrap: { clusterId: 1, region: bootstrapRegion(storeIds) }, baseTickMs: TICK_MS, config, onFatal: (err) => fatal.push(err),
    });
    const server = await startGrpcServer({
      addr: '127.0.0.1:0', server: new Server(new RaftStorage(node)), logger: silentLogger(), raftSink: node, raftstoreConfig: config,
    });
    addrs.set(storeId, server.addr);
    const store = { node, server, transport };
    stores.set(storeId, store);
    return store;
  }

  async function stopStore(storeId: number): Promise<void> {
    const store = stores.get(storeId);
    if (store === undefined) return;
    stores.delete(storeId);
    addrs.delete(storeId);
    await store.server.shutdown(1_000);
    await store.node.stop();
    await store.transport.close();
  }

  async function waitForLeader(): Promise<StoreNode> {
    let leader: StoreNode | undefined;
    await waitFor('a ready leader', () => {
      leader = [...stores.values()].map((s) => s.node).find((n) => n.isLeaderReady(1));
      return leader !== undefined;
    });
    return leader as StoreNode;
  }

  function node(storeId: number): StoreNode {
    const store = stores.get(storeId);
    assert.ok(store !== undefined, `store ${storeId} is not running`);
    return store.node;
  }

  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinykv-grpc-transport-'));
    fatal.length = 0;
  });

  afterEach(async () => {
    await Promise.all([...stores.keys()].map((id) => stopStore(id)));
    fs.rmSync(dataDir, { recursive: true, force: true });
    assert.deepEqual(fatal, []);
  });

  test('3 stores in 3 gRPC servers elect a leader and replicate writes', async () => {
    const ids = [1, 2, 3];
    for (const id of ids) await startStore(id, ids, DEFAULT_RAFTSTORE_CONFIG);
    const leader = await waitForLeader();
    const storage = new RaftStorage(leader);
    await Promise.all(Array.from({ length: 20 }, (_, i) => storage.write(CTX, [{ type: 'put', cf: CF_DEFAULT, key: enc(`k${i}`), value: enc(`v${i}`) }])));
    const reader = await storage.reader(CTX);
    try {
      assert.equal(Buffer.from(reader.getCF(CF_DEFAULT, enc('k7')) ?? []).toString(), 'v7');
    } finally {
      reader.close();
    }
    const applied = leader.appliedIndex(1);
    await waitFor('followers apply every write', () => ids.every((id) => node(id).appliedIndex(1) >= applied));
    for (const id of ids) {
      const stats = (stores.get(id) as GrpcStore).transport.stats();
      assert.ok(stats.messagesSent > 0, `store ${id} sent nothing: ${JSON.stringify(stats)}`);
      // The leader talks to both followers; a follower that never campaigned only answers the leader.
      const peersNeeded = id === leader.storeId ? 2 : 1;
      assert.ok(stats.connects >= peersNeeded, `store ${id} connected to ${stats.connects} stores`);
    }
  });

  test('a follower restarted on a new port behind a compacted log catches up by snapshot', async () => {
    const ids = [1, 2, 3];
    const config = { ...DEFAULT_RAFTSTORE_CONFIG, raftLogGcCountLimit: 5, snapshotChunkBytes: 1024 };
    for (const id of ids) await startStore(id, ids, config);
    const leader = await waitForLeader();
    const lagging = ids.find((id) => id !== leader.storeId) as number;
    const oldAddr = addrs.get(lagging);
    await stopStore(lagging);
    const storage = new RaftStorage(leader);
    const value = patterned(200);
    for (let i = 0; i < 30; i++) await storage.write(CTX, [{ type: 'put', cf: CF_DEFAULT, key: enc(`k${i}`), value }]);
    const target = leader.appliedIndex(1);
    const restarted = await startStore(lagging, ids, config);
    assert.notEqual(addrs.get(lagging), oldAddr);
    await waitFor('the restarted follower catches up', () => restarted.node.appliedIndex(1) >= target);
    const stats = (stores.get(leader.storeId) as GrpcStore).transport.stats();
    assert.ok(stats.snapshotsSent >= 1, `the leader sent no snapshot over gRPC: ${JSON.stringify(stats)}`);
    assert.ok(stats.reconnects >= 1, `the leader did not reconnect: ${JSON.stringify(stats)}`);
    assert.ok(stats.messagesDropped >= 1, 'messages to the stopped store were not reported undelivered');
    await stopStore(lagging);
    const engine = new LmdbEngine({ dataDir: path.join(dataDir, `store-${lagging}`) });
    try {
      for (let i = 0; i < 30; i++) assert.deepEqual(Buffer.from(engine.get(CF_DEFAULT, enc(`k${i}`)) ?? []), value);
    } finally {
      await engine.close();
    }
  });
});

describe('GrpcTransport', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function transport(addrs: Map<number, string>, options: Partial<GrpcTransportOptions> = {}): Promise<GrpcTransport> {
    const t = new GrpcTransport({ resolve: resolverOf(addrs), rng: new Prng(7), backoffMsMin: 10, backoffMsMax: 40, ...options });
    cleanup.push(() => t.close());
    return t;
  }

  async function sink(options: Partial<GrpcServerOptions> = {}): Promise<SinkServer> {
    const s = await SinkServer.start(options);
    cleanup.push(() => s.stop());
    return s;
  }

  /** Sends heartbeats until one is reported delivered. */
  async function sendUntilDelivered(t: GrpcTransport): Promise<void> {
    const deadline = Date.now() + 3_000;
    while (!(await sendAndReport(t, raftMessage(MessageType.MsgHeartbeat)))) {
      assert.ok(Date.now() < deadline, 'never delivered');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  test('a store that is down is reported unreachable; the transport reconnects to its new address', async () => {
    const addrs = new Map([[2, await deadAddr()]]);
    const t = await transport(addrs);
    assert.equal(await sendAndReport(t, raftMessage(MessageType.MsgHeartbeat)), false);
    assert.ok(t.stats().connectFailures >= 1);
    // Unknown to the resolver: also unreachable, never a throw.
    assert.equal(await sendAndReport(t, raftMessage(MessageType.MsgHeartbeat, { to: 9 })), false);

    const first = await sink();
    addrs.set(2, first.addr);
    await sendUntilDelivered(t);
    await waitFor('the sink took a message', () => first.got.length > 0);
    assert.ok(t.stats().reconnects >= 1);

    // Many messages of one turn go out in one flush, in order.
    const reports = Array.from({ length: 500 }, (_, i) => new Promise<boolean>((resolve) => t.send(raftMessage(MessageType.MsgAppend, { index: i + 1 }), resolve)));
    assert.ok((await Promise.all(reports)).every((d) => d));
    await waitFor('500 appends arrive', () => first.got.filter((m) => m.message?.msgType === MessageType.MsgAppend).length === 500);
    assert.deepEqual(first.got.filter((m) => m.message?.msgType === MessageType.MsgAppend).map((m) => m.message?.index), Array.from({ length: 500 }, (_, i) => i + 1));

    // The store goes away and comes back elsewhere.
    await first.stop();
    cleanup.splice(cleanup.length - 1, 1);
    await waitFor('sends fail again', () => t.stats().connectFailures >= 2);
    const second = await sink();
    addrs.set(2, second.addr);
    const reconnects = t.stats().reconnects;
    await sendUntilDelivered(t);
    await waitFor('the new server took a message', () => second.got.length > 0);
    assert.ok(t.stats().reconnects > reconnects);
  });

  test('a snapshot goes in bounded chunks and is reported only once the receiver answered Done', async () => {
    const good = await sink();
    const small = await sink({ raftstoreConfig: { ...DEFAULT_RAFTSTORE_CONFIG, snapshotBytesMax: 4096 } });
    const addrs = new Map([[2, good.addr], [3, small.addr], [4, await deadAddr()]]);
    const t = await transport(addrs, { config: { ...DEFAULT_RAFTSTORE_CONFIG, snapshotChunkBytes: 1024 } });
    const snap = raftMessage(MessageType.MsgSnapshot, { index: 40, data: patterned(10 * 1024 + 5) });
    assert.equal(await sendAndReport(t, snap), true);
    assert.equal(good.got.length, 1);
    assert.deepEqual(good.got[0], RaftMessage.decode(RaftMessage.encode(snap).finish()));

    assert.equal(await sendAndReport(t, raftMessage(MessageType.MsgSnapshot, { to: 3, index: 40, data: patterned(8192) })), false);
    assert.equal(small.got.length, 0);
    assert.equal(await sendAndReport(t, raftMessage(MessageType.MsgSnapshot, { to: 4, index: 40, data: patterned(100) })), false);
    good.accepting = false;
    assert.equal(await sendAndReport(t, snap), false, 'a store that did not take the snapshot');
    assert.deepEqual({ sent: t.stats().snapshotsSent, failed: t.stats().snapshotsFailed }, { sent: 1, failed: 3 });
  });

  test('queues and snapshot slots are bounded; close reports everything queued, and later sends, undelivered', async () => {
    let resolveAddr: ((addr: string) => void) | undefined;
    const t = new GrpcTransport({
      resolve: () => new Promise<string>((resolve) => (resolveAddr = resolve)), rng: new Prng(1),
      queueMessagesMax: 4, snapshotsInFlightMax: 1, snapshotsQueuedMax: 1,
    });
    const reports: (boolean | undefined)[] = Array.from({ length: 9 }, () => undefined);
    const record = (i: number) => (d: boolean): void => void (reports[i] = d);
    for (let i = 0; i < 6; i++) t.send(raftMessage(MessageType.MsgHeartbeat), record(i));
    for (let i = 6; i < 9; i++) t.send(raftMessage(MessageType.MsgSnapshot, { index: 10 }), record(i));
    assert.ok(reports.every((r) => r === undefined));
    await waitFor('the overflow is reported', () => reports.filter((r) => r !== undefined).length === 3);
    assert.deepEqual(reports.map((r) => r ?? 'pending'), ['pending', 'pending', 'pending', 'pending', false, false, 'pending', 'pending', false]);
    await t.close();
    assert.deepEqual(reports, [false, false, false, false, false, false, false, false, false]);
    assert.ok(resolveAddr !== undefined);
    assert.equal(await sendAndReport(t, raftMessage(MessageType.MsgHeartbeat)), false);
    const stats = t.stats();
    assert.deepEqual([stats.messagesSent, stats.messagesDropped, stats.snapshotsFailed], [0, 7, 3]);
  });
});

describe('gRPC server store streams', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function client(addr: string): Promise<TinyKvClient> {
    const c = new TinyKvClient(addr, grpc.credentials.createInsecure());
    cleanup.push(async () => c.close());
    return c;
  }

  /** Opens a client stream of raw bytes on `method`, writes `messages`, ends it; resolves with the status. */
  function rawStream(c: TinyKvClient, method: 'Raft' | 'Snapshot', messages: readonly Buffer[], end = true): { done: Promise<grpc.ServiceError | null>; call: grpc.ClientWritableStream<Buffer> } {
    let call: grpc.ClientWritableStream<Buffer> | undefined;
    const done = new Promise<grpc.ServiceError | null>((resolve) => {
      call = c.makeClientStreamRequest(`/tinykvpb.TinyKv/${method}`, (x: Buffer) => x, (x: Buffer) => Done.decode(x), (err) => resolve(err));
    });
    assert.ok(call !== undefined);
    call.on('error', () => undefined);
    for (const m of messages) call.write(m);
    if (end) call.end();
    return { done, call };
  }

  const chunk = (c: SnapshotChunk): Buffer => Buffer.from(SnapshotChunk.encode(c).finish());
  const header = (data = 0): Buffer => chunk(splitSnapshotHeader(data));

  function splitSnapshotHeader(data: number): SnapshotChunk {
    const rm = raftMessage(MessageType.MsgSnapshot, { index: 40 });
    return { message: rm, data: Buffer.alloc(data) };
  }

  test('malformed Raft bytes and bad snapshot streams are refused with INVALID_ARGUMENT; the server keeps serving', async () => {
    const s = await SinkServer.start({ raftstoreConfig: { ...DEFAULT_RAFTSTORE_CONFIG, snapshotBytesMax: 2048 }, snapshotStreamsMax: 1 });
    cleanup.push(() => s.stop());
    const c = await client(s.addr);
    const good = Buffer.from(RaftMessage.encode(raftMessage(MessageType.MsgHeartbeat)).finish());
    const truncated = Buffer.from([0x0a, 0x05, 0x08]);
    const badWireType = Buffer.from([0x0f]);

    const raft = await rawStream(c, 'Raft', [good, truncated, good]).done;
    assert.equal(raft?.code, grpc.status.INVALID_ARGUMENT);
    assert.match(raft?.details ?? '', /Cannot decode Raft stream message/);
    assert.equal(s.got.length, 1, 'nothing after the bad message is taken');

    const cases: [string, Buffer[], RegExp][] = [
      ['undecodable chunk', [badWireType], /Cannot decode Snapshot stream message/],
      ['data before the header', [chunk({ message: undefined, data: Buffer.alloc(10) })], /SNAPSHOT_CHUNK_DATA_BEFORE_HEADER/],
      ['no header at all', [], /SNAPSHOT_CHUNK_MISSING_HEADER/],
      ['a header carrying data', [header(5)], /SNAPSHOT_CHUNK_INVALID_HEADER/],
      ['two headers', [header(), header()], /SNAPSHOT_CHUNK_DUPLICATE_HEADER/],
      ['an empty data chunk', [header(), chunk({ message: undefined, data: Buffer.alloc(0) })], /SNAPSHOT_CHUNK_EMPTY/],
      ['over the size bound', [header(), chunk({ message: undefined, data: Buffer.alloc(1024) }), chunk({ message: undefined, data: Buffer.alloc(1025) })], /SNAPSHOT_CHUNK_TOO_LARGE/],
    ];
    for (const [name, messages, details] of cases) {
      const err = await rawStream(c, 'Snapshot', messages).done;
      assert.equal(err?.code, grpc.status.INVALID_ARGUMENT, name);
      assert.match(err?.details ?? '', details, name);
    }
    assert.equal(s.got.length, 1);

    // One incoming snapshot stream at a time: a second one is refused while the first is open
    // (both go on one connection, whose streams the server starts in order).
    const open = rawStream(c, 'Snapshot', [header()], false);
    const busy = await rawStream(c, 'Snapshot', [header()]).done;
    assert.equal(busy?.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match(busy?.details ?? '', /the limit is 1/);
    open.call.write(chunk({ message: undefined, data: Buffer.alloc(100) }));
    open.call.end();
    assert.equal(await open.done, null);

    // Still serving: a good Raft stream and a good snapshot are taken.
    assert.equal(await rawStream(c, 'Raft', [good, good]).done, null);
    assert.equal(await rawStream(c, 'Snapshot', [header(), chunk({ message: undefined, data: Buffer.alloc(7) })]).done, null);
    assert.equal(s.got.filter((m) => m.message?.msgType === MessageType.MsgHeartbeat).length, 3);
    const snaps = s.got.filter((m) => m.message?.msgType === MessageType.MsgSnapshot);
    assert.deepEqual(snaps.map((m) => m.message?.snapshot?.data.length), [100, 7]);
  });

  test('a store that stopped answers UNAVAILABLE on both streams', async () => {
    const s = await SinkServer.start();
    cleanup.push(() => s.stop());
    s.accepting = false;
    const c = await client(s.addr);
    const good = Buffer.from(RaftMessage.encode(raftMessage(MessageType.MsgHeartbeat)).finish());
    assert.equal((await rawStream(c, 'Raft', [good]).done)?.code, grpc.status.UNAVAILABLE);
    assert.equal((await rawStream(c, 'Snapshot', [header()]).done)?.code, grpc.status.UNAVAILABLE);
  });

  test('a server without a raft sink answers UNIMPLEMENTED for Raft and Snapshot', async () => {
    const storage = new StandaloneStorage(new MemEngine());
    await storage.start();
    const running = await startGrpcServer({ addr: '127.0.0.1:0', server: new Server(storage), logger: silentLogger() });
    cleanup.push(async () => {
      await running.shutdown(1_000);
      await storage.stop();
    });
    const c = await client(running.addr);
    for (const method of ['Raft', 'Snapshot'] as const) {
      const err = await rawStream(c, method, []).done;
      assert.equal(err?.code, grpc.status.UNIMPLEMENTED);
      assert.match(err?.details ?? '', new RegExp(`${method} is not implemented by this server`));
    }
  });
});
