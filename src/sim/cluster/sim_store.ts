/**
 * A store in the simulator: the imperative shell around the raftstore's
 * functional core (src/raftstore/store.ts). It owns the store's simulated
 * disk and executes the core's effects on virtual time:
 *
 * - rounds: the core's batch goes to the disk; a round that must sync waits
 *   for the write's completion event before its messages and answers go out
 *   (ready.ts step 1), others finish at once (the disk makes a submitted
 *   write visible immediately, as a WAL + memtable would);
 * - raft messages go over the simulated network; a snapshot goes as a
 *   stream of bounded chunks, one in flight at a time, and its delivery (or
 *   failure) is reported to raft. A stream is a reliable transport (TCP
 *   under gRPC): a lost chunk is sent again after `chunkRetryMs`, and the
 *   stream fails once `streamTimeoutMs` passed since it started. Raft
 *   messages stay lossy datagrams, as in TinyKV's transport;
 * - snapshot generation runs in a later event (asynchronous, as TiKV's
 *   region worker), and raft retries the send once it is ready;
 * - ticks every `tickMs`; region heartbeats of leaders to the scheduler;
 * - transactional requests (`txn` payloads) run the production handlers
 *   (sim_txn_service.ts: `Server` over `SimRaftStorage`), whose storage
 *   commands come back here as commands with an internal reply address.
 *
 * A crash drops the core, the store's pending events and every unsynced
 * write; a restart rebuilds the core from the disk. The txn service belongs
 * to one incarnation: a promise of a crashed incarnation never settles into
 * the next one, and it sends no answer.
 */
import type { RaftCmdRequest, RaftCmdResponse } from '../../pb/raft_cmdpb.js';
import type { RaftMessage } from '../../pb/raft_serverpb.js';
import type { Region } from '../../pb/metapb.js';
import type { AskSplitRequest, AskSplitResponse, RegionHeartbeatRequest, RegionHeartbeatResponse, StoreHeartbeatRequest } from '../../pb/schedulerpb.js';
import { MessageType } from '../../raft/types.js';
import type { RaftstoreConfig } from '../../raftstore/config.js';
import type { PeerObserver, RegionView } from '../../raftstore/peer.js';
import { SnapshotAssembler, SnapshotChunkError, splitSnapshotMessage } from '../../raftstore/snapshot_chunks.js';
import { StoreCore } from '../../raftstore/store.js';
import type { StoreEffect } from '../../raftstore/store.js';
import { CF_DEFAULT } from '../../storage/engine.js';
import { assert, assertNever } from '../../util/assert.js';
import { compareBytes } from '../../util/bytes.js';
import type { SimClock } from '../clock.js';
import type { SimDisk } from '../disk.js';
import type { OutcomeCallback } from '../network.js';
import type { Prng } from '../prng.js';
import type { Trace } from '../trace.js';
import type { ClusterEnvelope, ClusterPayload, ScanBounds } from './payload.js';
import { messageTypeName } from './payload.js';
import { SimRaftStorage } from './sim_raft_storage.js';
import type { CommandAnswer } from './sim_raft_storage.js';
import { SimTxnService } from './sim_txn_service.js';

/**
 * Where a command's answer goes: a client endpoint over the network, or, for
 * the commands of this store's own raft storage, a callback in process.
 */
export type ReplyTo =
  | { readonly kind: 'client'; readonly endpoint: number; readonly reqId: number; readonly scan: ScanBounds | undefined }
  | { readonly kind: 'internal'; readonly onAnswer: CommandAnswer };

export interface SimStoreConfig {
  readonly raftstore: RaftstoreConfig;
  /** Virtual ms per raft tick (TinyKV `RaftBaseTickInterval`). */
  readonly tickMs: number;
  /** Leaders report their regions this often (TinyKV `SchedulerHeartbeatTickInterval`). */
  readonly heartbeatMs: number;
  /** The store reports its statistics this often (TinyKV `SchedulerStoreHeartbeatTickInterval`, 500 ms in tests). */
  readonly storeHeartbeatMs?: number;
  /** Snapshot generation (and a split check, and a scheduler call's answer) takes up to this long. */
  readonly snapshotGenMsMax: number;
  /** Most snapshot streams a store receives at once; a new one evicts the oldest. */
  readonly snapshotStreamsMax: number;
}

/** What a store asks the scheduler (TinyKV's MockSchedulerClient, in process and synchronous as there). */
export interface SchedulerSink {
  /** A leader's report; the answer may carry an operator. `term` is the leader's raft term. */
  regionHeartbeat(req: RegionHeartbeatRequest, term: number): RegionHeartbeatResponse | undefined;
  askSplit(req: AskSplitRequest): AskSplitResponse;
  regionById(id: number): Region | undefined;
  storeHeartbeat(req: StoreHeartbeatRequest): void;
}

export interface SimStoreDeps {
  readonly storeId: number;
  readonly clock: SimClock;
  readonly trace: Trace;
  readonly disk: SimDisk;
  readonly prng: Prng;
  readonly send: (envelope: ClusterEnvelope, onOutcome?: OutcomeCallback) => void;
  readonly scheduler: SchedulerSink;
  readonly observer: PeerObserver;
  /** A clock event settled a promise (the async driver runs its continuations next). */
  readonly noteAsync: () => void;
  /** Async work of the store threw (a bug: the seed fails). */
  readonly failAsync: (error: unknown) => void;
}

/** A snapshot stream's transport resends a lost chunk after this long (a TCP retransmission). */
const chunkRetryMs = 20;
/** A snapshot stream that has not finished this long after it started fails (gRPC deadline). */
const streamTimeoutMs = 10_000;

/** Readys processed back to back in one pump (each needs new input to exist; this bounds the loop). */
const roundsPerPumpMax = 64;

export class SimStore {
  readonly storeId: number;
  private readonly deps: SimStoreDeps;
  private readonly config: SimStoreConfig;
  private core: StoreCore<ReplyTo> | undefined;
  /** The running incarnation's transactional handlers (over its own raft storage). */
  private txn: SimTxnService | undefined;
  private persisting = false;
  private nextStreamId = 1;
  /** Snapshot streams being sent. */
  private streamsOut = 0;
  /** Virtual time of the last start (a store heartbeat's start time). */
  private startedAtMs = 0;
  /** Snapshot streams being received, by "<from store>:<stream id>", oldest first. */
  private readonly incoming = new Map<string, SnapshotAssembler>();
  /** Commands this incarnation answered, by endpoint and request id: each gets exactly one answer. */
  private answered = new Set<number>();

  constructor(deps: SimStoreDeps, config: SimStoreConfig) {
    this.deps = deps;
    this.config = config;
    this.storeId = deps.storeId;
  }

  get alive(): boolean {
    return this.core !== undefined;
  }

  /** The running core (tests and checks read peers through it). */
  get store(): StoreCore<ReplyTo> | undefined {
    return this.core;
  }

  start(): void {
    assert(this.core === undefined, `store ${this.storeId} is already running`);
    this.core = StoreCore.load<ReplyTo>({
      storeId: this.storeId, engine: this.deps.disk, rng: () => this.deps.prng.split(), config: this.config.raftstore, observer: this.deps.observer,
    });
    const core = this.core;
    this.txn = new SimTxnService(new SimRaftStorage({ command: (request, onAnswer) => this.internalCommand(core, request, onAnswer) }));
    this.persisting = false;
    this.streamsOut = 0;
    this.startedAtMs = this.deps.clock.nowMs;
    this.incoming.clear();
    this.answered = new Set();
    this.record(`start regions [${this.core.regionIds().join(',')}]`);
    this.scheduleTick(this.deps.prng.intInclusive(1, this.config.tickMs));
    this.scheduleHeartbeat(this.deps.prng.intInclusive(1, this.config.heartbeatMs));
    this.scheduleStoreHeartbeat(this.deps.prng.intInclusive(1, this.storeHeartbeatMs));
  }

  private get storeHeartbeatMs(): number {
    return this.config.storeHeartbeatMs ?? 500;
  }

  private scheduleStoreHeartbeat(delayMs: number): void {
    this.deps.clock.schedule(delayMs, this.storeId, 'store heartbeat', () => {
      const core = this.core;
      assert(core !== undefined, 'store heartbeat of a down store');
      const stats = core.storeStats();
      this.deps.scheduler.storeHeartbeat({
        header: undefined,
        stats: { ...stats, receivingSnapCount: this.incoming.size, sendingSnapCount: this.streamsOut, startTime: this.startedAtMs },
      });
      this.scheduleStoreHeartbeat(this.storeHeartbeatMs);
    });
  }

  /** Loses the core, every pending event of the store and every unsynced write. */
  crash(): void {
    assert(this.core !== undefined, `store ${this.storeId} is not running`);
    this.core = undefined;
    this.txn = undefined;
    const cancelled = this.deps.clock.cancelOwner(this.storeId);
    const lost = this.deps.disk.crash();
    this.record(`crash: ${cancelled} events cancelled, ${lost} unsynced writes lost`);
  }

  receive(envelope: ClusterEnvelope): void {
    const core = this.core;
    if (core === undefined) return;
    const p = envelope.payload;
    switch (p.kind) {
      case 'raft':
        core.onRaftMessage(p.message);
        break;
      case 'snapChunk':
        this.receiveChunk(core, envelope.from, p);
        break;
      case 'cmd': {
        const effects = core.handleCommand(p.request, { kind: 'client', endpoint: envelope.from, reqId: p.reqId, scan: p.scan });
        if (effects !== undefined) this.execute(effects);
        break;
      }
      case 'txn':
        this.serveTxn(core, envelope.from, p);
        break;
      case 'cmdResp':
      case 'txnResp':
        assert(false, `store ${this.storeId} received a ${p.kind}`);
    }
    this.pump();
  }

  /**
   * Runs a transactional request through this incarnation's Server and sends
   * its answer, unless the store crashed meanwhile (a dead process answers
   * nothing; the client times out). The handler runs partly in promise
   * continuations, which the async driver runs between clock events.
   */
  private serveTxn(core: StoreCore<ReplyTo>, from: number, p: Extract<ClusterPayload, { kind: 'txn' }>): void {
    const txn = this.txn;
    assert(txn !== undefined, `store ${this.storeId}: running without a txn service`);
    txn.serve(p).then((answer) => {
      if (this.core !== core) return;
      const payload: ClusterPayload = { kind: 'txnResp', reqId: p.reqId, ...answer };
      this.deps.send({ from: this.storeId, to: from, type: messageTypeName(payload), regionId: 0, payload });
    }).catch((error: unknown) => this.deps.failAsync(error));
  }

  /**
   * A command of this store's raft storage (sim_raft_storage.ts), proposed
   * on incarnation `core`. Called from promise continuations, never while
   * a pump runs (continuations run only once the stack is empty). A crashed
   * incarnation takes nothing and answers nothing.
   */
  private internalCommand(core: StoreCore<ReplyTo>, request: RaftCmdRequest, onAnswer: CommandAnswer): void {
    if (this.core !== core) return;
    const replyTo: ReplyTo = {
      kind: 'internal',
      onAnswer: (response, regionView) => {
        if (this.core !== core) {
          regionView?.view.close();
          return;
        }
        onAnswer(response, regionView);
        this.deps.noteAsync();
      },
    };
    const effects = core.handleCommand(request, replyTo);
    if (effects !== undefined) this.execute(effects);
    this.pump();
  }

  private scheduleTick(delayMs: number): void {
    this.deps.clock.schedule(delayMs, this.storeId, 'tick', () => {
      const core = this.core;
      assert(core !== undefined, 'tick of a down store');
      core.tick();
      this.scheduleTick(this.config.tickMs);
      this.pump();
    });
  }

  private scheduleHeartbeat(delayMs: number): void {
    this.deps.clock.schedule(delayMs, this.storeId, 'region heartbeat', () => {
      const core = this.core;
      assert(core !== undefined, 'heartbeat of a down store');
      for (const { request, term } of core.heartbeats()) this.heartbeat(core, request, term);
      this.scheduleHeartbeat(this.config.heartbeatMs);
      this.pump();
    });
  }

  /** One region heartbeat to the scheduler; an operator in the answer goes to the region's leader here. */
  private heartbeat(core: StoreCore<ReplyTo>, request: RegionHeartbeatRequest, term: number): void {
    const resp = this.deps.scheduler.regionHeartbeat(request, term);
    if (resp === undefined || (resp.changePeer === undefined && resp.transferLeader === undefined)) return;
    this.record(`operator for region ${resp.regionId}: ${resp.changePeer !== undefined ? `change peer ${resp.changePeer.changeType} ${resp.changePeer.peer?.id}` : `transfer leader to ${resp.transferLeader?.peer?.id}`}`);
    core.onHeartbeatResponse(resp);
  }

  /** Runs rounds while there is work and no synced write is in flight. */
  private pump(): void {
    for (let i = 0; i < roundsPerPumpMax; i++) {
      const core = this.core;
      if (core === undefined) return;
      this.execute(core.drain());
      if (this.persisting) return;
      const round = core.prepareRound();
      if (round === undefined) {
        this.execute(core.drain());
        return;
      }
      // A leader's appends go out while its batch is written (RegionPeer.earlyMessages).
      this.execute(core.drain());
      if (!round.sync) {
        // Nothing to fsync (only a commit index moved, applies, GC): the write need not complete first.
        if (!round.batch.isEmpty()) this.deps.disk.submit(round.batch, false);
        core.finishRound(round);
        continue;
      }
      this.persisting = true;
      this.deps.disk.submit(round.batch, true, () => {
        assert(this.core === core, 'round completion of another incarnation');
        this.persisting = false;
        core.finishRound(round);
        this.pump();
      });
    }
  }

  private execute(effects: readonly StoreEffect<ReplyTo>[]): void {
    for (const e of effects) {
      switch (e.kind) {
        case 'send':
          this.sendRaft(e.message.regionId, e.message);
          break;
        case 'respond':
          this.respond(e.replyTo, e.response, e.regionView);
          break;
        case 'generateSnapshot': {
          const core = this.core;
          const delay = this.deps.prng.intInclusive(1, this.config.snapshotGenMsMax);
          this.deps.clock.schedule(delay, this.storeId, 'generate snapshot', () => {
            if (this.core !== core || core === undefined) return;
            core.generateSnapshot(e.regionId);
            this.record(`generated snapshot of region ${e.regionId}`);
            this.pump();
          });
          break;
        }
        case 'splitCheck':
          this.later('split check', () => this.core?.checkSplit(e.regionId));
          break;
        case 'askSplit': {
          const resp = this.deps.scheduler.askSplit({ header: undefined, region: e.region });
          this.record(`ask split of region ${e.regionId}: ${resp.header?.error?.message ?? `region ${resp.newRegionId}, peers ${resp.newPeerIds.join(',')}`}`);
          this.later('ask split answer', () => this.core?.onAskSplit(e.regionId, e.region, e.splitKey, resp));
          break;
        }
        case 'heartbeat':
          if (this.core !== undefined) this.heartbeat(this.core, e.request, e.term);
          break;
        case 'staleCheck': {
          const region = this.deps.scheduler.regionById(e.regionId);
          this.later('stale check answer', () => this.core?.onStaleCheck(e.regionId, region));
          break;
        }
        default:
          assertNever(e, `store ${this.storeId}: unknown effect`);
      }
    }
  }

  /** Runs `f` on this incarnation of the store a little later (a worker or the scheduler answering), then pumps. */
  private later(what: string, f: () => void): void {
    const core = this.core;
    const delay = this.deps.prng.intInclusive(1, this.config.snapshotGenMsMax);
    this.deps.clock.schedule(delay, this.storeId, what, () => {
      if (this.core !== core || core === undefined) return;
      f();
      this.pump();
    });
  }

  private sendRaft(regionId: number, rm: RaftMessage): void {
    const to = rm.toPeer?.storeId ?? 0;
    if (to === 0 || to === this.storeId) return;
    const payload: ClusterPayload = { kind: 'raft', message: rm };
    if (rm.message?.msgType !== MessageType.MsgSnapshot) {
      this.deps.send({ from: this.storeId, to, type: messageTypeName(payload), regionId, payload });
      return;
    }
    this.streamSnapshot(regionId, rm, to);
  }

  /** Sends a snapshot as chunks, the next one once the previous arrived; reports the outcome to raft. */
  private streamSnapshot(regionId: number, rm: RaftMessage, to: number): void {
    const core = this.core;
    const toPeer = rm.toPeer?.id ?? 0;
    const chunks = splitSnapshotMessage(rm, this.config.raftstore.snapshotChunkBytes);
    const streamId = this.nextStreamId++;
    const deadline = this.deps.clock.nowMs + streamTimeoutMs;
    this.record(`snapshot stream ${streamId} to store ${to}: ${chunks.length} chunks`);
    this.streamsOut++;
    const sendChunk = (i: number): void => {
      const chunk = chunks[i];
      assert(chunk !== undefined, 'snapshot chunk out of range');
      const last = i === chunks.length - 1;
      this.deps.send({ from: this.storeId, to, type: 'MsgSnapshot', regionId, payload: { kind: 'snapChunk', streamId, chunk, last } }, (delivered) => {
        if (this.core !== core || core === undefined) return;
        if (delivered && !last) return sendChunk(i + 1);
        if (!delivered && this.deps.clock.nowMs + chunkRetryMs < deadline) {
          this.deps.clock.schedule(chunkRetryMs, this.storeId, 'snapshot chunk resend', () => {
            if (this.core === core) sendChunk(i);
          });
          return;
        }
        this.streamsOut--;
        core.reportSnapshot(regionId, toPeer, delivered);
        this.pump();
      });
    };
    sendChunk(0);
  }

  private receiveChunk(core: StoreCore<ReplyTo>, from: number, p: Extract<ClusterPayload, { kind: 'snapChunk' }>): void {
    const key = `${from}:${p.streamId}`;
    if (p.chunk.message !== undefined) {
      // A header starts a stream (a sender that restarted reuses stream ids: the new header wins).
      this.incoming.delete(key);
      if (this.incoming.size >= this.config.snapshotStreamsMax) {
        const oldest = this.incoming.keys().next().value as string;
        this.incoming.delete(oldest);
      }
      this.incoming.set(key, new SnapshotAssembler(this.config.raftstore.snapshotBytesMax));
    }
    const assembler = this.incoming.get(key);
    if (assembler === undefined) return; // the stream's start was lost or evicted
    try {
      assembler.push(p.chunk);
      if (!p.last) return;
      this.incoming.delete(key);
      core.onRaftMessage(assembler.finish());
    } catch (err) {
      if (!(err instanceof SnapshotChunkError)) throw err;
      this.incoming.delete(key);
      this.record(`snapshot stream ${key} refused: ${err.message}`);
    }
  }

  private respond(replyTo: ReplyTo, response: RaftCmdResponse, regionView: RegionView | undefined): void {
    if (replyTo.kind === 'internal') return replyTo.onAnswer(response, regionView);
    const id = replyTo.endpoint * 2 ** 32 + replyTo.reqId;
    if (this.answered.has(id)) assert(false, `store ${this.storeId}: request ${replyTo.reqId} of ${replyTo.endpoint} answered twice`);
    this.answered.add(id);
    let entries: [string, string][] | undefined;
    if (regionView !== undefined) {
      if (replyTo.scan !== undefined) entries = scanView(regionView, replyTo.scan);
      regionView.view.close();
    }
    const payload: ClusterPayload = entries === undefined
      ? { kind: 'cmdResp', reqId: replyTo.reqId, response }
      : { kind: 'cmdResp', reqId: replyTo.reqId, response, entries };
    this.deps.send({ from: this.storeId, to: replyTo.endpoint, type: 'response', regionId: 0, payload });
  }

  private record(text: string): void {
    if (this.deps.trace.enabled) this.deps.trace.record(`s${this.storeId} ${text}`);
  }
}

/** Bytes as a latin1 string (one char per byte), without a Buffer for short ones. */
function latin1(b: Uint8Array): string {
  if (b.length > 64) return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
  let s = '';
  for (let i = 0; i < b.length; i++) s += String.fromCharCode(b[i] as number);
  return s;
}

/** Default-CF entries of the view within the scan bounds and the region's range (TinyKV's RegionReader). */
function scanView(rv: RegionView, scan: ScanBounds): [string, string][] {
  const region = rv.region;
  const start = compareBytes(scan.start, region.startKey) > 0 ? scan.start : region.startKey;
  let end = region.endKey;
  if (scan.end.length > 0 && (end.length === 0 || compareBytes(scan.end, end) < 0)) end = scan.end;
  const out: [string, string][] = [];
  for (const { key, value } of rv.view.scan(CF_DEFAULT, { start, end })) out.push([latin1(key), latin1(value)]);
  return out;
}
