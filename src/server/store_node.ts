/**
 * The production shell around one store's raftstore core (STYLE.md 3; TinyKV
 * `raftstore.go` + `raft_worker.go`, TiKV raftstore-v2's store/peer pollers):
 * it owns the real resources the functional core may not touch (a timer, the
 * engine's asynchronous writes, the transport) and executes the core's
 * effects.
 *
 * Event loop. Every input (a raft message, a command, a tick, a snapshot
 * report) is handed to the core at once, then a pump is scheduled. The pump
 * runs rounds of group commit until the core has no work:
 * `prepareRound()` → one `engine.write(batch, { sync })` (one write and at
 * most one fsync for every peer of the store) → `finishRound()` → execute
 * `drain()`'s effects. One round is in flight at a time; inputs that arrive
 * while its write is in flight are stepped into the core immediately and
 * picked up by the next round (the raft core accepts steps between `ready()`
 * and `advance()`).
 *
 * Answers. Every `command()` promise settles exactly once, and never rejects:
 * with the core's answer; with NotLeader (definite: nothing happened) when
 * the store is not running; or with OutcomeUnknown for commands still pending
 * when the store stops or fails (a proposal may yet commit through another
 * peer, so nothing more definite can be said).
 *
 * Failure. A failed engine write or a broken invariant in the core makes the
 * store unusable (TiKV panics on both): the node stops serving, answers what
 * is pending, and calls `onFatal` (by default: log at fatal and crash the
 * process, as the gRPC edge does for assertion failures).
 */
import { randomInt } from 'node:crypto';
import type { Error as RegionError } from '../pb/errorpb.js';
import type { Peer, Region, RegionEpoch } from '../pb/metapb.js';
import { AdminCmdType } from '../pb/raft_cmdpb.js';
import type { RaftCmdRequest, RaftCmdResponse } from '../pb/raft_cmdpb.js';
import type { RaftMessage } from '../pb/raft_serverpb.js';
import { StoreIdent } from '../pb/raft_serverpb.js';
import type {
  AskSplitRequest, AskSplitResponse, RegionHeartbeatRequest, RegionHeartbeatResponse, StoreHeartbeatRequest, StoreStats,
} from '../pb/schedulerpb.js';
import { MessageType } from '../raft/types.js';
import type { Message } from '../raft/types.js';
import { DEFAULT_RAFTSTORE_CONFIG } from '../raftstore/config.js';
import type { RaftstoreConfig } from '../raftstore/config.js';
import { STORE_IDENT_KEY } from '../raftstore/meta/keys.js';
import type { RegionView } from '../raftstore/peer.js';
import { errorResponse, notLeader, outcomeUnknown, regionNotFound } from '../raftstore/region_errors.js';
import { cloneRegion } from '../raftstore/responses.js';
import { checkSplit, isTxnSafeBoundary } from '../raftstore/split.js';
import { StoreCore } from '../raftstore/store.js';
import type { StoreEffect, StoreRound } from '../raftstore/store.js';
import { CF_META } from '../storage/engine.js';
import type { Engine } from '../storage/engine.js';
import { WriteBatch } from '../storage/write_batch.js';
import { assert, assertNever } from '../util/assert.js';
import { CodedError } from '../util/errors.js';
import { silentLogger } from '../util/log.js';
import type { Logger } from '../util/log.js';
import { Prng } from '../util/prng.js';
import type { Rng } from '../util/prng.js';

/**
 * Moves raft messages between stores. A gRPC transport (a later issue) and
 * {@link LocalTransport} (one process) implement it.
 */
export interface Transport {
  /**
   * Sends `message` to the store of `message.toPeer`. Never throws and never
   * delivers or reports before returning (stores must not re-enter each
   * other). `report`, when given, is called exactly once: `true` once the
   * receiving store took the message, `false` when it could not be delivered
   * (store unknown, stopped or unreachable).
   */
  send(message: RaftMessage, report?: (delivered: boolean) => void): void;
}

/**
 * What a store asks the scheduler (TinyKV's `SchedulerClient` as the
 * raftstore uses it). The gRPC scheduler client implements it; tests pass
 * doubles. Calls may fail (the scheduler is down or restarting): the store
 * logs and carries on, because every caller retries on its own schedule
 * (heartbeats repeat, the split checker and the stale check run again).
 */
export interface SchedulerLink {
  /**
   * A leader's region heartbeat. Operators come back asynchronously through
   * {@link StoreNode.onHeartbeatResponse} (PD's heartbeat stream). Never throws.
   */
  regionHeartbeat(request: RegionHeartbeatRequest): void;
  storeHeartbeat(request: StoreHeartbeatRequest): Promise<void>;
  askSplit(request: AskSplitRequest): Promise<AskSplitResponse>;
  /** The scheduler's view of a region, undefined when it knows none. */
  regionById(regionId: number): Promise<Region | undefined>;
}

/** What the shell measures about its disk for store heartbeats (bytes). */
export interface DiskStats {
  readonly capacity: number;
  readonly available: number;
  readonly usedSize: number;
}

/** How an admin split ended. */
export type SplitOutcome =
  | { readonly regions: readonly Region[]; readonly regionError?: undefined; readonly error?: undefined }
  | { readonly regionError: RegionError; readonly regions?: undefined; readonly error?: undefined }
  | { readonly error: string; readonly regions?: undefined; readonly regionError?: undefined };

/** The answer to a command. */
export interface CommandResult {
  readonly response: RaftCmdResponse;
  /** A read view of the region, for a successful Snap read; the receiver must close it. */
  readonly regionView?: RegionView;
}

export interface StoreNodeOptions {
  readonly storeId: number;
  /** The store's engine; the node takes ownership (`stop()` closes it, also when `open` fails). */
  readonly engine: Engine;
  readonly transport: Transport;
  /**
   * The cluster and first region to bootstrap a fresh engine with (TinyKV
   * `BootstrapStore` + `PrepareBootstrapCluster`); ignored when the engine is
   * already bootstrapped. @default none: a fresh engine is refused.
   */
  readonly bootstrap?: { readonly clusterId: number; readonly region: Region };
  /** Length of one raftstore tick (TinyKV `RaftBaseTickInterval`). @default 100 */
  readonly baseTickMs?: number;
  /** @default DEFAULT_RAFTSTORE_CONFIG */
  readonly config?: RaftstoreConfig;
  /** One random stream per peer (election jitter). @default streams split from a randomly seeded Prng */
  readonly rng?: () => Rng;
  /** @default a silent logger */
  readonly logger?: Logger;
  /** Called once when the store fails. @default log at fatal and crash the process */
  readonly onFatal?: (err: unknown) => void;
  /**
   * The scheduler. Without it the store never splits, is never told it was
   * removed, and reports nothing (a fixed set of stores, as in tests and
   * `tinykv server --raft`). @default none
   */
  readonly scheduler?: SchedulerLink;
  /** Leaders report their regions this often (TinyKV `SchedulerHeartbeatTickInterval`). @default 10_000 */
  readonly regionHeartbeatMs?: number;
  /** The store reports its statistics this often (TinyKV `SchedulerStoreHeartbeatTickInterval`). @default 10_000 */
  readonly storeHeartbeatMs?: number;
  /** Disk figures for store heartbeats. @default zeros */
  readonly diskStats?: () => DiskStats;
  /** Snapshot streams in flight, for store heartbeats. @default zeros */
  readonly snapshotStreams?: () => { readonly sending: number; readonly receiving: number };
}

/** Counters for benches and tests. */
export interface StoreNodeStats {
  /** Rounds whose batch was written. */
  readonly writes: number;
  /** Written rounds that waited for an fsync. */
  readonly syncedWrites: number;
  readonly messagesSent: number;
  /** MsgSnapshot among them. */
  readonly snapshotsSent: number;
  /** Incoming raft messages dropped as malformed or not meant for this store. */
  readonly messagesDropped: number;
  /** Scheduler calls that failed (each is retried on its own schedule). */
  readonly schedulerErrors: number;
}

export const STORE_NODE_ERROR_CODES = {
  NotBootstrapped: 'STORE_NODE_NOT_BOOTSTRAPPED',
  WrongStore: 'STORE_NODE_WRONG_STORE',
} as const;
export type StoreNodeErrorCode = (typeof STORE_NODE_ERROR_CODES)[keyof typeof STORE_NODE_ERROR_CODES];

export class StoreNodeError extends CodedError<StoreNodeErrorCode> {
  override readonly name = 'StoreNodeError';
}

/** Where a command's answer goes: settles its promise exactly once. */
class ReplySlot {
  settled = false;
  constructor(readonly resolve: (result: CommandResult) => void) {}
}

type State = 'running' | 'stopping' | 'stopped';

/**
 * Rounds with nothing to write run back to back without yielding to the
 * event loop; after this many the pump yields once (each such round needs new
 * input, so this is a backstop, not a steady state).
 */
const ROUNDS_WITHOUT_YIELD_MAX = 64;

/** Message types stores exchange; the rest are local or never sent by this raftstore (no forwarding). */
const WIRE_MESSAGE_TYPES: ReadonlySet<number> = new Set([
  MessageType.MsgAppend, MessageType.MsgAppendResponse, MessageType.MsgRequestVote, MessageType.MsgRequestVoteResponse,
  MessageType.MsgSnapshot, MessageType.MsgHeartbeat, MessageType.MsgHeartbeatResponse, MessageType.MsgTimeoutNow,
  MessageType.MsgPreVote, MessageType.MsgPreVoteResponse,
]);

export class StoreNode {
  readonly storeId: number;
  private readonly core: StoreCore<ReplySlot>;
  private readonly engine: Engine;
  private readonly transport: Transport;
  private readonly logger: Logger;
  private readonly onFatal: (err: unknown) => void;
  private readonly ticker: ReturnType<typeof setInterval>;
  private readonly scheduler: SchedulerLink | undefined;
  private readonly schedulerTimers: ReturnType<typeof setInterval>[] = [];
  /** The conf_ver each region led here was last reported with (membership changes are reported at once). */
  private readonly reportedConfVer = new Map<number, number>();
  private readonly startedAtSec = Math.floor(Date.now() / 1000);
  private lastStoreHeartbeatSec: number | undefined;
  private readonly options: StoreNodeOptions;
  private state: State = 'running';
  /** Commands not yet answered. */
  private readonly pending = new Set<ReplySlot>();
  private pumpScheduled = false;
  /** The running pump (at most one), which holds the round in flight. */
  private pumpLoop: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private failure: { readonly err: unknown } | undefined;
  private readonly counters = { writes: 0, syncedWrites: 0, messagesSent: 0, snapshotsSent: 0, messagesDropped: 0, schedulerErrors: 0 };

  private constructor(options: StoreNodeOptions, core: StoreCore<ReplySlot>) {
    this.options = options;
    this.storeId = options.storeId;
    this.core = core;
    this.engine = options.engine;
    this.transport = options.transport;
    this.logger = (options.logger ?? silentLogger()).child({ storeId: options.storeId });
    this.onFatal = options.onFatal ?? ((err) => crash(this.logger, err));
    const tickMs = options.baseTickMs ?? 100;
    assert(Number.isSafeInteger(tickMs) && tickMs >= 1, `base tick must be a positive number of ms, got ${tickMs}`);
    this.ticker = setInterval(() => this.onTick(), tickMs);
    this.scheduler = options.scheduler;
    if (this.scheduler !== undefined) {
      const regionMs = options.regionHeartbeatMs ?? 10_000;
      const storeMs = options.storeHeartbeatMs ?? 10_000;
      assert(Number.isSafeInteger(regionMs) && regionMs >= 1 && Number.isSafeInteger(storeMs) && storeMs >= 1, 'heartbeat intervals must be positive ms');
      this.schedulerTimers.push(setInterval(() => this.onRegionHeartbeatTick(), regionMs));
      this.schedulerTimers.push(setInterval(() => this.onStoreHeartbeatTick(), storeMs));
    }
  }

  /**
   * Opens a store over `options.engine`: bootstraps a fresh engine (one
   * durable write), then loads every region it holds and starts ticking.
   * @throws {StoreNodeError} when the engine is fresh and no bootstrap is
   * given, or belongs to another store; {@link EngineError} on I/O failure.
   */
  static async open(options: StoreNodeOptions): Promise<StoreNode> {
    const { storeId, engine } = options;
    assert(Number.isSafeInteger(storeId) && storeId > 0, `invalid store id ${storeId}`);
    try {
      await bootstrapIfFresh(options);
      const base = new Prng(randomInt(2 ** 48 - 1));
      const core = StoreCore.load<ReplySlot>({
        storeId, engine, config: options.config ?? DEFAULT_RAFTSTORE_CONFIG, rng: options.rng ?? (() => base.split()),
      });
      const node = new StoreNode(options, core);
      node.logger.info({ regions: core.regionIds() }, 'store started');
      node.schedulePump();
      // The scheduler learns the store's state at once rather than a heartbeat interval later.
      node.onStoreHeartbeatTick();
      node.onRegionHeartbeatTick();
      return node;
    } catch (err: unknown) {
      await engine.close();
      throw err;
    }
  }

  get isRunning(): boolean {
    return this.state === 'running' && this.failure === undefined;
  }

  /** Ids of the regions this store holds a peer of, ascending. */
  regionIds(): number[] {
    return this.core.regionIds();
  }

  /** The region as this store's peer knows it (a live object of the core: do not modify it). */
  region(regionId: number): Region | undefined {
    return this.core.peer(regionId)?.region;
  }

  /** This store's peer of `regionId`, if any. */
  localPeer(regionId: number): Peer | undefined {
    const peer = this.core.peer(regionId);
    const meta = peer?.region.peers.find((p) => p.id === peer.peerId);
    return meta === undefined ? undefined : { id: meta.id, storeId: meta.storeId };
  }

  isLeader(regionId: number): boolean {
    return this.core.peer(regionId)?.isLeader ?? false;
  }

  /** The applied index of this store's peer of `regionId` (0 without one). */
  appliedIndex(regionId: number): number {
    return this.core.peer(regionId)?.appliedIndex ?? 0;
  }

  /**
   * This store's peer leads `regionId` and has applied an entry of its own
   * term, so reads through it are served at once (raft thesis §6.4: a new
   * leader serves ReadIndex only after committing an entry of its term).
   */
  isLeaderReady(regionId: number): boolean {
    const peer = this.core.peer(regionId);
    if (peer === undefined || !peer.isLeader) return false;
    return peer.storage.term(peer.appliedIndex) === peer.term;
  }

  stats(): StoreNodeStats {
    return { ...this.counters };
  }

  /**
   * Serves a command through the region's peer. Never rejects: errors are
   * region errors in the response header.
   */
  command(request: RaftCmdRequest): Promise<CommandResult> {
    if (!this.isRunning) {
      const regionId = request.header?.regionId ?? 0;
      return Promise.resolve({ response: errorResponse(notLeader(regionId, undefined)) });
    }
    return new Promise<CommandResult>((resolve) => {
      const slot = new ReplySlot(resolve);
      this.pending.add(slot);
      this.guard(() => {
        const immediate = this.core.handleCommand(request, slot);
        if (immediate !== undefined) this.runEffects(immediate);
      });
      this.schedulePump();
    });
  }

  /**
   * A raft message from another store (the transport calls it). Malformed
   * messages and messages for other stores are dropped.
   * @returns whether the store took the message (false once it stopped).
   */
  onRaftMessage(message: RaftMessage): boolean {
    if (!this.isRunning) return false;
    if (!isWellFormed(message) || message.toPeer?.storeId !== this.storeId) {
      this.counters.messagesDropped++;
      this.logger.debug({ regionId: message.regionId }, 'dropped a malformed or misrouted raft message');
      return true;
    }
    this.guard(() => this.core.onRaftMessage(message));
    this.schedulePump();
    return true;
  }

  /**
   * Splits a region this store leads (`tinykv ctl split`): at `splitKey`, or
   * where the split checker would put it for half the region's size when
   * `splitKey` is empty. Ids come from the scheduler; the Split admin command
   * goes through raft and is validated at apply like any split (P4, P5).
   * Resolves once the split is applied here, with the two regions, or with
   * the refusal (a region error, or a message for anything else).
   */
  async splitRegion(regionId: number, epoch: RegionEpoch | undefined, splitKey: Buffer): Promise<SplitOutcome> {
    const peer = this.core.peer(regionId);
    if (!this.isRunning || peer === undefined) return { regionError: regionNotFound(regionId) };
    if (!peer.isLeader) return { regionError: notLeader(regionId, peer.leader) };
    const scheduler = this.scheduler;
    if (scheduler === undefined) return { error: `store ${this.storeId} has no scheduler to allocate the new region's ids` };
    const region = cloneRegion(peer.region);
    let key = splitKey;
    const txnSafe = (this.options.config ?? DEFAULT_RAFTSTORE_CONFIG).txnSafeSplitKeys;
    if (key.length > 0) {
      // A boundary that could separate one key's lock from its versions (split.ts).
      if (txnSafe && !isTxnSafeBoundary(key)) {
        return { error: `split key ${splitKey.toString('hex')} could separate a transactional key's lock from its versions: with txn-safe split keys (the default) a split key is 1 to 8 bytes and does not end in 0x00 (docs/TXN.md)` };
      }
    } else {
      const view = this.engine.readView();
      try {
        const size = checkSplit(view, region, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, txnSafe).sizeBytes;
        key = checkSplit(view, region, 0, Math.floor(size / 2), txnSafe).splitKey ?? Buffer.alloc(0);
      } finally {
        view.close();
      }
      if (key.length === 0) return { error: `region ${regionId} has too little data to find a split key` };
    }
    let ids;
    try {
      ids = await scheduler.askSplit({ header: undefined, region });
    } catch (err: unknown) {
      return { error: `the scheduler could not be asked for ids: ${err instanceof Error ? err.message : String(err)}` };
    }
    if (ids.header?.error !== undefined) return { error: `the scheduler refused the split: ${ids.header.error.message}` };
    const { response } = await this.command({
      header: { regionId, peer: this.localPeer(regionId), regionEpoch: epoch ?? region.regionEpoch, term: 0 },
      requests: [],
      adminRequest: {
        cmdType: AdminCmdType.Split, split: { splitKey: key, newRegionId: ids.newRegionId, newPeerIds: ids.newPeerIds },
        changePeer: undefined, compactLog: undefined, transferLeader: undefined,
      },
    });
    if (response.header?.error !== undefined) return { regionError: response.header.error };
    return { regions: response.adminResponse?.split?.regions ?? [] };
  }

  /**
   * An answer on the scheduler's heartbeat stream: an operator for a region
   * led here becomes an admin command (stamped with the epoch the scheduler
   * decided on, so a stale operator fails the epoch check).
   */
  onHeartbeatResponse(resp: RegionHeartbeatResponse): void {
    if (!this.isRunning) return;
    if (!isId(resp.regionId)) return;
    this.guard(() => this.core.onHeartbeatResponse(resp));
    this.schedulePump();
  }

  /**
   * Stops the store: no more ticks or inputs; waits for the round in flight
   * (its answers are sent), answers every pending command with
   * OutcomeUnknown, then closes the engine. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  // ---- the event loop ----

  private onTick(): void {
    if (!this.isRunning) return;
    this.guard(() => this.core.tick());
    this.schedulePump();
  }

  /**
   * A leader whose region's membership changed in this round reports at once
   * (the core reports leadership changes and splits itself): the scheduler
   * judges its operator's steps by heartbeats, and would otherwise wait a
   * whole heartbeat interval per step.
   */
  private reportMembershipChanges(round: StoreRound<ReplySlot>): void {
    for (const [peer] of round.peers) {
      if (!peer.isLeader) continue;
      const confVer = peer.region.regionEpoch?.confVer ?? 0;
      if (this.reportedConfVer.get(peer.regionId) === confVer) continue;
      this.reportedConfVer.set(peer.regionId, confVer);
      const request = peer.heartbeat();
      if (request !== undefined) this.scheduler?.regionHeartbeat(request);
    }
  }

  private onRegionHeartbeatTick(): void {
    const scheduler = this.scheduler;
    if (scheduler === undefined || !this.isRunning) return;
    let beats: { readonly request: RegionHeartbeatRequest }[] = [];
    this.guard(() => {
      beats = this.core.heartbeats();
    });
    for (const { request } of beats) scheduler.regionHeartbeat(request);
  }

  private onStoreHeartbeatTick(): void {
    const scheduler = this.scheduler;
    if (scheduler === undefined || !this.isRunning) return;
    const disk = this.options.diskStats?.() ?? { capacity: 0, available: 0, usedSize: 0 };
    const snaps = this.options.snapshotStreams?.() ?? { sending: 0, receiving: 0 };
    const nowSec = Math.floor(Date.now() / 1000);
    const stats: StoreStats = {
      ...this.core.storeStats(),
      capacity: disk.capacity, available: disk.available, usedSize: disk.usedSize,
      sendingSnapCount: snaps.sending, receivingSnapCount: snaps.receiving, startTime: this.startedAtSec,
      // The interval this report covers (PD's StoreStats.interval): since the previous report.
      interval: { startTimestamp: this.lastStoreHeartbeatSec ?? this.startedAtSec, endTimestamp: nowSec },
    };
    this.lastStoreHeartbeatSec = nowSec;
    scheduler.storeHeartbeat({ header: undefined, stats }).catch((err: unknown) => this.schedulerFailed('store heartbeat', err));
  }

  private schedulerFailed(what: string, err: unknown): void {
    this.counters.schedulerErrors++;
    this.logger.warn({ err: err instanceof Error ? err.message : String(err) }, `scheduler call failed: ${what}`);
  }

  /** Runs `work` on the core once `answer` settles (a scheduler answer), then pumps; failures are logged. */
  private onSchedulerAnswer<T>(what: string, answer: Promise<T>, work: (value: T) => void): void {
    answer.then(
      (value) => {
        if (!this.isRunning) return;
        this.guard(() => work(value));
        this.schedulePump();
      },
      (err: unknown) => this.schedulerFailed(what, err),
    );
  }

  /** Runs the pump soon, after the inputs of this event-loop turn (they share its first round). */
  private schedulePump(): void {
    if (this.pumpScheduled || this.pumpLoop !== undefined || !this.isRunning) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      if (this.pumpLoop !== undefined || !this.isRunning) return;
      this.pumpLoop = this.pump().finally(() => {
        this.pumpLoop = undefined;
      });
    });
  }

  /** Rounds of group commit until the core has no work. Never rejects. */
  private async pump(): Promise<void> {
    try {
      let unwritten = 0;
      while (this.isRunning) {
        this.runEffects(this.core.drain());
        const round = this.core.prepareRound();
        if (round === undefined) {
          // Preparing may answer at once (writes refused when proposed): deliver those too.
          this.runEffects(this.core.drain());
          return;
        }
        // A leader's appends go out while its batch is written (RegionPeer.earlyMessages).
        this.runEffects(this.core.drain());
        // A round of messages only (heartbeats, read confirmations) has nothing to persist.
        if (!round.batch.isEmpty()) {
          unwritten = 0;
          await this.write(round);
        } else if (++unwritten >= ROUNDS_WITHOUT_YIELD_MAX) {
          unwritten = 0;
          await new Promise<void>((resolve) => setImmediate(resolve));
        }
        this.core.finishRound(round);
        if (this.scheduler !== undefined) this.reportMembershipChanges(round);
      }
    } catch (err: unknown) {
      this.fail(err);
    }
  }

  private async write(round: StoreRound<ReplySlot>): Promise<void> {
    this.counters.writes++;
    if (round.sync) this.counters.syncedWrites++;
    await this.engine.write(round.batch, { sync: round.sync });
  }

  private runEffects(effects: readonly StoreEffect<ReplySlot>[]): void {
    for (const e of effects) {
      switch (e.kind) {
        case 'send':
          this.send(e.message);
          break;
        case 'respond':
          this.settle(e.replyTo, e.regionView === undefined ? { response: e.response } : { response: e.response, regionView: e.regionView });
          break;
        case 'generateSnapshot': {
          // Like TinyKV's region worker: the core asked raft to retry later.
          const regionId = e.regionId;
          this.offTurn(() => this.core.generateSnapshot(regionId));
          break;
        }
        case 'splitCheck': {
          // The checker reads the region's data.
          const regionId = e.regionId;
          this.offTurn(() => this.core.checkSplit(regionId));
          break;
        }
        case 'askSplit': {
          // Without a scheduler the region never splits (no ids to give the new region).
          if (this.scheduler === undefined) break;
          const { regionId, region, splitKey } = e;
          this.onSchedulerAnswer(`ask split of region ${regionId}`, this.scheduler.askSplit({ header: undefined, region }),
            (resp) => this.core.onAskSplit(regionId, region, splitKey, resp));
          break;
        }
        case 'staleCheck': {
          if (this.scheduler === undefined) break;
          const regionId = e.regionId;
          this.onSchedulerAnswer(`stale check of region ${regionId}`, this.scheduler.regionById(regionId),
            (region) => this.core.onStaleCheck(regionId, region));
          break;
        }
        case 'heartbeat':
          this.scheduler?.regionHeartbeat(e.request);
          break;
        default:
          assertNever(e);
      }
    }
  }

  /** Runs `work` on the core in a later event-loop turn (a worker's job), then pumps. */
  private offTurn(work: () => void): void {
    setImmediate(() => {
      if (!this.isRunning) return;
      this.guard(work);
      this.schedulePump();
    });
  }

  private send(message: RaftMessage): void {
    this.counters.messagesSent++;
    const regionId = message.regionId;
    const toPeerId = message.toPeer?.id ?? 0;
    const isSnapshot = message.message?.msgType === MessageType.MsgSnapshot;
    if (isSnapshot) this.counters.snapshotsSent++;
    this.transport.send(message, (delivered) => {
      if (!this.isRunning || (delivered && !isSnapshot)) return;
      this.guard(() => {
        if (isSnapshot) this.core.reportSnapshot(regionId, toPeerId, delivered);
        if (!delivered) this.core.reportUnreachable(regionId, toPeerId);
      });
      this.schedulePump();
    });
  }

  private settle(slot: ReplySlot, result: CommandResult): void {
    if (slot.settled) {
      result.regionView?.view.close();
      assert(false, `store ${this.storeId}: a command was answered twice`);
    }
    slot.settled = true;
    this.pending.delete(slot);
    slot.resolve(result);
  }

  /** Runs a synchronous step of the core; a throw (a broken invariant) fails the store. */
  private guard(step: () => void): void {
    try {
      step();
    } catch (err: unknown) {
      this.fail(err);
    }
  }

  // ---- stop and failure ----

  private async doStop(): Promise<void> {
    const wasRunning = this.isRunning;
    if (this.state === 'running') this.state = 'stopping';
    clearInterval(this.ticker);
    for (const t of this.schedulerTimers) clearInterval(t);
    // The round in flight completes: its answers are durable results.
    await this.pumpLoop;
    if (wasRunning) {
      try {
        this.runEffects(this.core.drain());
        const error = outcomeUnknown(`store ${this.storeId} is stopping`);
        for (const id of this.core.regionIds()) this.core.peer(id)?.abandonPending(error);
        for (const e of this.core.drain()) if (e.kind === 'respond') this.runEffects([e]);
      } catch (err: unknown) {
        this.fail(err);
      }
    }
    this.answerAllPending(`store ${this.storeId} stopped`);
    this.state = 'stopped';
    await this.engine.close();
    this.logger.info('store stopped');
  }

  private fail(err: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = { err };
    clearInterval(this.ticker);
    for (const t of this.schedulerTimers) clearInterval(t);
    this.logger.fatal({ err }, 'store failed');
    this.answerAllPending(`store ${this.storeId} failed`);
    this.onFatal(err);
  }

  /** Safety net: whatever is still unanswered gets OutcomeUnknown (the core may be gone). */
  private answerAllPending(why: string): void {
    if (this.pending.size === 0) return;
    if (this.failure === undefined) this.logger.error({ count: this.pending.size }, 'commands without an answer at stop');
    const response = errorResponse(outcomeUnknown(why));
    for (const slot of [...this.pending]) this.settle(slot, { response });
  }
}

/** A region covering all keys with one peer on each store: peer ids follow the region id. */
export function bootstrapRegion(storeIds: readonly number[], regionId = 1): Region {
  assert(storeIds.length > 0 && new Set(storeIds).size === storeIds.length, 'bootstrap region needs distinct store ids');
  return {
    id: regionId, startKey: Buffer.alloc(0), endKey: Buffer.alloc(0), regionEpoch: { confVer: 1, version: 1 },
    peers: [...storeIds].sort((a, b) => a - b).map((storeId, i) => ({ id: regionId + 1 + i, storeId })),
  };
}

async function bootstrapIfFresh(options: StoreNodeOptions): Promise<void> {
  const { storeId, engine } = options;
  const raw = engine.get(CF_META, STORE_IDENT_KEY);
  if (raw !== undefined) {
    const ident = StoreIdent.decode(raw);
    if (ident.storeId !== storeId) {
      throw new StoreNodeError(STORE_NODE_ERROR_CODES.WrongStore, `Cannot open store ${storeId}: the engine belongs to store ${ident.storeId}`);
    }
    return;
  }
  const bootstrap = options.bootstrap;
  if (bootstrap === undefined) {
    throw new StoreNodeError(STORE_NODE_ERROR_CODES.NotBootstrapped, `Cannot open store ${storeId}: the engine is empty and no bootstrap region was given`);
  }
  const batch = new WriteBatch();
  StoreCore.stageBootstrap(batch, engine, bootstrap.clusterId, storeId, bootstrap.region);
  await engine.write(batch, { sync: true });
}

function isId(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0;
}

function isIndex(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/**
 * The shape checks the core relies on: ids, terms and indexes are safe
 * integers, the message is one stores exchange, and its peers agree with the
 * envelope. (Entry payloads are the leader's log; they are not re-validated.)
 */
function isWellFormed(rm: RaftMessage): boolean {
  const m = rm.message;
  const from = rm.fromPeer;
  const to = rm.toPeer;
  if (m === undefined || from === undefined || to === undefined) return false;
  if (!isId(rm.regionId) || !isId(from.id) || !isId(from.storeId) || !isId(to.id) || !isId(to.storeId)) return false;
  if (m.from !== from.id || m.to !== to.id || !WIRE_MESSAGE_TYPES.has(m.msgType)) return false;
  return isWellFormedMessage(m);
}

function isWellFormedMessage(m: Message): boolean {
  if (!isIndex(m.term) || !isIndex(m.logTerm) || !isIndex(m.index) || !isIndex(m.commit) || !isIndex(m.rejectHint)) return false;
  let next = m.index + 1;
  for (const e of m.entries) {
    if (!isIndex(e.term) || e.index !== next) return false;
    next++;
  }
  const meta = m.snapshot?.metadata;
  if (m.msgType === MessageType.MsgSnapshot && (meta === undefined || !isIndex(meta.index) || !isIndex(meta.term))) return false;
  return true;
}

/** The default `onFatal`: a store that broke an invariant or lost its disk must not keep serving. */
function crash(logger: Logger, err: unknown): void {
  logger.fatal({ err }, 'store failed: crashing the process');
  process.nextTick(() => {
    throw err;
  });
}
