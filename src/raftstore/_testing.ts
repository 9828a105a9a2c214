/**
 * Test support for the raftstore core: an in-process, synchronous cluster of
 * {@link StoreCore}s, the smallest shell that executes their effects (the
 * simulator's cluster is the full one). Everything is deterministic: one seed
 * feeds every peer's election jitter, stores are visited in id order and
 * messages are delivered in the order they were sent.
 *
 * One pass of the loop ({@link TestCluster.runUntilQuiet}):
 * 1. snapshots asked for by `generateSnapshot` effects of the previous pass
 *    are built (the region worker's delay, one pass);
 * 2. per store in id order: `prepareRound()`, write its batch, `finishRound()`,
 *    then execute every drained effect: `send` queues the message, `respond`
 *    records the answer under its reply token, `generateSnapshot` is kept for
 *    the next pass;
 * 3. every queued message is delivered in send order, unless a filter drops
 *    it. A MsgSnapshot travels as chunks (snapshot_chunks.ts) and its sender is
 *    told whether it arrived (`reportSnapshot`).
 * Time only moves in {@link TestCluster.tick}: tick every store, then run
 * until quiet.
 *
 * MemEngine commits inside `write()` (mem_engine.ts: the batch is visible when
 * the call returns), so the loop never awaits. It rejects only when closed or
 * given an unknown column family, which this driver never does; a rejection
 * would surface as an unhandled rejection and fail the test file.
 */
import { MessageType } from '../pb/eraftpb.js';
import type { Region } from '../pb/metapb.js';
import { CmdType } from '../pb/raft_cmdpb.js';
import type { RaftCmdRequest, RaftCmdResponse, RaftRequestHeader, Request } from '../pb/raft_cmdpb.js';
import type { RaftMessage } from '../pb/raft_serverpb.js';
import { CF_DEFAULT, DATA_CFS } from '../storage/engine.js';
import { MemEngine } from '../storage/mem_engine.js';
import { WriteBatch } from '../storage/write_batch.js';
import { assert, assertNever } from '../util/assert.js';
import { Prng } from '../util/prng.js';
import { DEFAULT_RAFTSTORE_CONFIG } from './config.js';
import type { RaftstoreConfig } from './config.js';
import type { RegionPeer, RegionView } from './peer.js';
import { SnapshotAssembler, splitSnapshotMessage } from './snapshot_chunks.js';
import { StoreCore } from './store.js';
import type { StoreEffect } from './store.js';

/** The shell's reply address for a command: a number the cluster hands out. */
export type ReplyToken = number;

/** Returns false to drop the message. */
export type MessageFilter = (rm: RaftMessage) => boolean;

export interface Answer {
  readonly response: RaftCmdResponse;
  /** For a Snap command: the test closes it. */
  readonly regionView?: RegionView;
}

/** Things the shell saw happen, in order, for tests that assert an order. */
export type ClusterEvent =
  | { readonly kind: 'generateSnapshot'; readonly storeId: number; readonly regionId: number }
  | { readonly kind: 'snapshotDelivered'; readonly from: number; readonly to: number; readonly index: number; readonly chunks: number }
  | { readonly kind: 'snapshotDropped'; readonly from: number; readonly to: number };

export interface TestClusterOptions {
  /** @default 3 */
  readonly storeCount?: number;
  /** Seeds every peer's election jitter. @default 1 */
  readonly seed?: number;
  /** Overrides of a small, fast test configuration. */
  readonly config?: Partial<RaftstoreConfig>;
}

export const TEST_REGION_ID = 1;
const CLUSTER_ID = 1;
/** A pass budget for one `runUntilQuiet`: a quiet cluster needs a handful. */
const PASSES_MAX = 1_000;

export const TEST_CONFIG: RaftstoreConfig = {
  ...DEFAULT_RAFTSTORE_CONFIG,
  electionTick: 10,
  heartbeatTick: 2,
  snapshotChunkBytes: 1024,
};

/** Region 1 = ['', '') with epoch {confVer 1, version 1} and peer i on store i. */
export function firstRegion(storeCount: number): Region {
  const peers = [];
  for (let id = 1; id <= storeCount; id++) peers.push({ id, storeId: id });
  return { id: TEST_REGION_ID, startKey: Buffer.alloc(0), endKey: Buffer.alloc(0), regionEpoch: { confVer: 1, version: 1 }, peers };
}

export class TestCluster {
  readonly storeIds: readonly number[];
  readonly config: RaftstoreConfig;
  /** Each store's engine, which outlives restarts of its StoreCore. */
  readonly engines = new Map<number, MemEngine>();
  /** Every answer by reply token, in arrival order (a command must get exactly one). */
  readonly answers = new Map<ReplyToken, Answer[]>();
  readonly events: ClusterEvent[] = [];
  private readonly cores = new Map<number, StoreCore<ReplyToken>>();
  private readonly prng: Prng;
  private filters: MessageFilter[] = [];
  private queue: { readonly from: number; readonly message: RaftMessage }[] = [];
  private generateNext: { readonly storeId: number; readonly regionId: number }[] = [];
  private nextToken: ReplyToken = 1;

  private constructor(options: TestClusterOptions) {
    const storeCount = options.storeCount ?? 3;
    assert(Number.isSafeInteger(storeCount) && storeCount >= 1, `TestCluster: bad store count ${storeCount}`);
    this.storeIds = Array.from({ length: storeCount }, (_, i) => i + 1);
    this.config = { ...TEST_CONFIG, ...options.config };
    this.prng = new Prng(options.seed ?? 1);
  }

  /** Bootstraps every store with region 1 and loads it. */
  static bootstrap(options: TestClusterOptions = {}): TestCluster {
    const cluster = new TestCluster(options);
    const region = firstRegion(cluster.storeIds.length);
    for (const id of cluster.storeIds) {
      const engine = new MemEngine();
      const batch = new WriteBatch();
      StoreCore.stageBootstrap(batch, engine, CLUSTER_ID, id, region);
      void engine.write(batch, { sync: true });
      cluster.engines.set(id, engine);
      cluster.cores.set(id, cluster.load(id));
    }
    return cluster;
  }

  store(id: number): StoreCore<ReplyToken> {
    const core = this.cores.get(id);
    assert(core !== undefined, `TestCluster: no store ${id}`);
    return core;
  }

  engine(id: number): MemEngine {
    const engine = this.engines.get(id);
    assert(engine !== undefined, `TestCluster: no engine for store ${id}`);
    return engine;
  }

  /** Region 1's peer on store `id`. */
  peer(id: number, regionId = TEST_REGION_ID): RegionPeer<ReplyToken> {
    const peer = this.store(id).peer(regionId);
    assert(peer !== undefined, `TestCluster: store ${id} has no peer of region ${regionId}`);
    return peer;
  }

  /** A crash and restart: the StoreCore (and everything in memory) is dropped and rebuilt from the engine. */
  restart(id: number): void {
    assert(this.cores.has(id), `TestCluster: no store ${id} to restart`);
    this.generateNext = this.generateNext.filter((g) => g.storeId !== id);
    this.cores.set(id, this.load(id));
  }

  addFilter(filter: MessageFilter): void {
    this.filters.push(filter);
  }

  /** Drops every message from or to store `id`. */
  isolate(id: number): void {
    this.addFilter((rm) => rm.fromPeer?.storeId !== id && rm.toPeer?.storeId !== id);
  }

  /** Removes every filter. */
  heal(): void {
    this.filters = [];
  }

  /**
   * Sends a command to store `storeId`; its answer arrives in `answers` under
   * the returned token. The store's effects are executed at once, so a
   * refusal is answered before this returns.
   */
  command(storeId: number, request: RaftCmdRequest): ReplyToken {
    const token = this.nextToken++;
    this.answers.set(token, []);
    const core = this.store(storeId);
    for (const e of core.handleCommand(request, token) ?? []) this.execute(storeId, e);
    for (const e of core.drain()) this.execute(storeId, e);
    return token;
  }

  /** The one answer of `token`. @throws {AssertionError} when there are none or several. */
  answer(token: ReplyToken): Answer {
    const list = this.answers.get(token) ?? [];
    assert(list.length === 1, `TestCluster: command ${token} has ${list.length} answers, want exactly 1`);
    return list[0] as Answer;
  }

  /** Ticks every store once, then runs until quiet. */
  tick(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const id of this.storeIds) this.store(id).tick();
      this.runUntilQuiet();
    }
  }

  /** Runs passes until one does nothing (see the module comment). */
  runUntilQuiet(): void {
    for (let pass = 0; pass < PASSES_MAX; pass++) if (!this.pass()) return;
    assert(false, `TestCluster: not quiet after ${PASSES_MAX} passes`);
  }

  /** The leader of the region with the highest term, if any. */
  leader(regionId = TEST_REGION_ID): number | undefined {
    let best: { id: number; term: number } | undefined;
    for (const id of this.storeIds) {
      const p = this.store(id).peer(regionId);
      if (p !== undefined && p.isLeader && (best === undefined || p.term > best.term)) best = { id, term: p.term };
    }
    return best?.id;
  }

  /**
   * Ticks until `accept(leader)` holds for a leader that has applied its
   * whole durable log (so it committed an entry of its term and can serve reads).
   */
  awaitLeader(accept: (storeId: number) => boolean = () => true, ticksMax = 200): number {
    for (let t = 0; t <= ticksMax; t++) {
      const id = this.leader();
      if (id !== undefined && accept(id)) {
        const p = this.peer(id);
        if (p.appliedIndex === p.storage.lastIndex()) return id;
      }
      this.tick();
    }
    assert(false, `TestCluster: no leader within ${ticksMax} ticks`);
  }

  /** Ticks until `cond` holds. */
  tickUntil(cond: () => boolean, what: string, ticksMax = 200): void {
    for (let t = 0; t <= ticksMax; t++) {
      if (cond()) return;
      this.tick();
    }
    assert(false, `TestCluster: ${what} not reached within ${ticksMax} ticks`);
  }

  /** Puts `key` = `value` through the current leader and runs until it is answered ok. */
  put(key: string, value: string): void {
    const leader = this.awaitLeader();
    const token = this.command(leader, cmd(leader, [putReq(key, value)]));
    this.runUntilQuiet();
    const { response } = this.answer(token);
    assert(response.header?.error === undefined, `TestCluster: put ${key} failed: ${response.header?.error?.message}`);
  }

  /** Every data-CF entry of store `id`'s engine, as `cf:key=value` lines in order. */
  data(id: number): string[] {
    const out: string[] = [];
    const engine = this.engine(id);
    for (const cf of DATA_CFS) {
      for (const { key, value } of engine.scan(cf)) out.push(`${cf}:${Buffer.from(key).toString()}=${Buffer.from(value).toString()}`);
    }
    return out;
  }

  private load(id: number): StoreCore<ReplyToken> {
    return StoreCore.load<ReplyToken>({ storeId: id, engine: this.engine(id), rng: () => this.prng.split(), config: this.config });
  }

  /** One pass of the loop. Returns whether anything happened. */
  private pass(): boolean {
    let busy = false;
    const generate = this.generateNext;
    this.generateNext = [];
    for (const g of generate) {
      this.cores.get(g.storeId)?.generateSnapshot(g.regionId);
      busy = true;
    }
    for (const id of this.storeIds) {
      const core = this.store(id);
      const round = core.prepareRound();
      if (round !== undefined) {
        void this.engine(id).write(round.batch, { sync: round.sync });
        core.finishRound(round);
        busy = true;
      }
      for (const e of core.drain()) {
        this.execute(id, e);
        busy = true;
      }
    }
    const queue = this.queue;
    this.queue = [];
    for (const { from, message } of queue) {
      this.deliver(from, message);
      busy = true;
    }
    return busy;
  }

  private execute(storeId: number, e: StoreEffect<ReplyToken>): void {
    switch (e.kind) {
      case 'send':
        this.queue.push({ from: storeId, message: e.message });
        return;
      case 'respond': {
        const list = this.answers.get(e.replyTo);
        assert(list !== undefined, `TestCluster: answer to unknown command ${e.replyTo}`);
        list.push(e.regionView === undefined ? { response: e.response } : { response: e.response, regionView: e.regionView });
        return;
      }
      case 'generateSnapshot':
        this.events.push({ kind: 'generateSnapshot', storeId, regionId: e.regionId });
        this.generateNext.push({ storeId, regionId: e.regionId });
        return;
      case 'splitCheck':
        this.cores.get(storeId)?.checkSplit(e.regionId);
        return;
      case 'askSplit':
      case 'staleCheck':
      case 'heartbeat':
        // No scheduler in this driver: splits and stale checks are simulator scenarios.
        return;
      default:
        assertNever(e, 'TestCluster: unknown effect');
    }
  }

  private deliver(from: number, rm: RaftMessage): void {
    const to = rm.toPeer?.storeId ?? 0;
    const isSnapshot = rm.message?.msgType === MessageType.MsgSnapshot;
    const target = this.cores.get(to);
    if (target === undefined || !this.filters.every((f) => f(rm))) {
      if (isSnapshot) {
        this.events.push({ kind: 'snapshotDropped', from, to });
        this.cores.get(from)?.reportSnapshot(rm.regionId, rm.toPeer?.id ?? 0, false);
      }
      return;
    }
    if (!isSnapshot) return target.onRaftMessage(rm);
    const chunks = splitSnapshotMessage(rm, this.config.snapshotChunkBytes);
    const assembler = new SnapshotAssembler(this.config.snapshotBytesMax);
    for (const c of chunks) assembler.push(c);
    const whole = assembler.finish();
    this.events.push({ kind: 'snapshotDelivered', from, to, index: whole.message?.snapshot?.metadata?.index ?? 0, chunks: chunks.length });
    target.onRaftMessage(whole);
    this.cores.get(from)?.reportSnapshot(rm.regionId, rm.toPeer?.id ?? 0, true);
  }
}

// ---- commands ----

/** A request header for region 1 addressed to peer `storeId` on store `storeId`. */
export function header(storeId: number, overrides: Partial<RaftRequestHeader> = {}): RaftRequestHeader {
  return { regionId: TEST_REGION_ID, peer: { id: storeId, storeId }, regionEpoch: { confVer: 1, version: 1 }, term: 0, ...overrides };
}

export function cmd(storeId: number, requests: Request[], overrides: Partial<RaftRequestHeader> = {}): RaftCmdRequest {
  return { header: header(storeId, overrides), requests, adminRequest: undefined };
}

function request(cmdType: CmdType, body: Partial<Request>): Request {
  return { cmdType, get: undefined, put: undefined, delete: undefined, snap: undefined, ...body };
}

export function putReq(key: string, value: string, cf: string = CF_DEFAULT): Request {
  return request(CmdType.Put, { put: { cf, key: Buffer.from(key), value: Buffer.from(value) } });
}

export function getReq(key: string, cf: string = CF_DEFAULT): Request {
  return request(CmdType.Get, { get: { cf, key: Buffer.from(key) } });
}

export function snapReq(): Request {
  return request(CmdType.Snap, { snap: {} });
}
