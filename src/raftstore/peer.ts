/**
 * One region's peer on a store: the functional core of the raftstore
 * (STYLE.md 3, 10, 11, 14; TinyKV `peer.go` + `peer_msg_handler.go`, TiKV
 * raftstore-v2 `Peer`). No clock, timers, sockets or engine writes: inputs
 * are method calls (a raft message, a command, a tick), outputs are staged
 * writes in a caller-provided batch and effects queued in an outbox, which
 * the shell (the simulator, or the production store) executes.
 *
 * The round contract, with the store's shell:
 * 1. `prepareRound(batch)` takes the raft Ready and stages into `batch`
 *    everything it asks to persist (entries, hard state, a snapshot) plus
 *    the apply of its committed entries (data + apply state: one batch, so
 *    they are atomic together) and background log GC;
 * 2. the shell writes the batch (with fsync when `round.sync`), then calls
 *    `finishRound(round)`, which installs the durable state, queues the
 *    Ready's messages and the answers, serves ReadIndex reads and advances.
 * Many peers share one batch and one fsync (group commit, store.ts).
 *
 * Every command gets exactly one answer (region_errors.ts says which answers
 * are definite): a refusal before proposing; or, once proposed, the result
 * when its entry applies, StaleCommand when another entry applies at its
 * index or a newer term's entry applies before it (the entry can then never
 * commit), or OutcomeUnknown when a snapshot covers its index. Only a crash
 * loses answers (with everything else in memory); clients time out.
 *
 * Reads use ReadIndex (raft thesis §6.4) and never write the log:
 * docs/RAFTSTORE.md has the argument for their linearizability.
 */
import { ConfChangeType } from '../pb/eraftpb.js';
import type { Error as RegionError } from '../pb/errorpb.js';
import type { Peer as PeerMeta, Region } from '../pb/metapb.js';
import { AdminCmdType, RaftCmdRequest } from '../pb/raft_cmdpb.js';
import type { RaftCmdResponse } from '../pb/raft_cmdpb.js';
import type { RaftMessage, RaftTruncatedState } from '../pb/raft_serverpb.js';
import type { RegionHeartbeatRequest } from '../pb/schedulerpb.js';
import { RawNode } from '../raft/raw_node.js';
import { SnapshotStatus } from '../raft/raw_node.js';
import type { Ready } from '../raft/ready.js';
import { RaftStorageError, RAFT_STORAGE_ERROR_CODES } from '../raft/storage.js';
import type { InitialState, Storage } from '../raft/storage.js';
import { EntryType, MessageType, NONE, RAFT_ERROR_CODES, StateType } from '../raft/types.js';
import type { Entry, HardState, Message, RaftError, Snapshot } from '../raft/types.js';
import { CF_RAFT } from '../storage/engine.js';
import type { ViewableReader } from '../storage/engine.js';
import type { WriteBatch } from '../storage/write_batch.js';
import { assert } from '../util/assert.js';
import { mark } from '../util/marks.js';
import type { Rng } from '../util/prng.js';
import { applyWrites, compactLogOf, compactTo, writeBytesOf } from './apply.js';
import { checkEpoch, checkHeader, checkRequests, classify } from './cmd_check.js';
import type { RaftstoreConfig } from './config.js';
import { applyChangePeer, confChangeOf } from './conf_change.js';
import { raftLogKeyRange, raftLogIndex } from './meta/keys.js';
import { PeerStorage } from './peer_storage.js';
import type { PendingUpdate } from './peer_storage.js';
import { ConfChange as ConfChangeCodec } from '../pb/eraftpb.js';
import { Proposals } from './proposals.js';
import type { Answer, QueuedProposal } from './proposals.js';
import { executeRead, ReadQueue } from './reads.js';
import type { RegionView } from './reads.js';
import { errorResponse, invalidRequest, notLeader, serverIsBusy } from './region_errors.js';
import { adminResponse, cloneRegion } from './responses.js';
import { decodeSnapshotData, SnapshotError } from './snapshot.js';
import { applySplit, checkSplit } from './split.js';
import type { AppliedSplit } from './split.js';
import { isEpochStale } from './store_meta.js';

export type { RegionView } from './reads.js';

/** What the shell must do for a peer. `R` is the shell's reply address for a command. */
export type PeerEffect<R> =
  | { readonly kind: 'send'; readonly message: RaftMessage }
  | {
      readonly kind: 'respond';
      readonly replyTo: R;
      readonly response: RaftCmdResponse;
      /** Present for a successful command with a Snap request; the receiver closes it. */
      readonly regionView?: RegionView;
    }
  /** Build a snapshot soon (asynchronously), then call `generateSnapshot`. */
  | { readonly kind: 'generateSnapshot'; readonly regionId: number }
  /** Run the split checker soon (it reads the region's data), then call `StoreCore.checkSplit`. */
  | { readonly kind: 'splitCheck'; readonly regionId: number }
  /** Ask the scheduler for the new ids of a split at `splitKey` (AskSplit), then call `StoreCore.onAskSplit`. */
  | { readonly kind: 'askSplit'; readonly regionId: number; readonly region: Region; readonly splitKey: Buffer }
  /**
   * The peer has heard no leader for long: ask the scheduler for the region
   * and call `StoreCore.onStaleCheck` (a peer removed while cut off learns it
   * there; TiKV's leader-missing check).
   */
  | { readonly kind: 'staleCheck'; readonly regionId: number }
  /**
   * Report the region to the scheduler now, not at the next heartbeat
   * interval: this peer just became leader or split its region (TiKV does
   * the same), so clients find the new leader or the new regions at once.
   */
  | { readonly kind: 'heartbeat'; readonly request: RegionHeartbeatRequest; readonly term: number };

export interface PeerDeps {
  readonly storeId: number;
  readonly peerId: number;
  readonly raftEngine: ViewableReader;
  readonly kvEngine: ViewableReader;
  readonly rng: Rng;
  readonly config: RaftstoreConfig;
  /** Sees every applied entry and every leadership won (the simulator checks raft safety with it). */
  readonly observer?: PeerObserver;
  /**
   * Regions split off this one since `version` (an EpochNotMatch carries them
   * so a client with an old region learns the new ones in one answer).
   */
  readonly siblings?: (regionId: number, version: number) => Region[];
  /** Told whenever the peer queues an effect (the store drains only peers that did). */
  readonly onEffect?: (regionId: number) => void;
}

export interface PeerObserver {
  onApply(regionId: number, peerId: number, entry: Entry): void;
  onLeader(regionId: number, peerId: number, term: number): void;
}

/** The work of one round, between prepareRound and finishRound. */
export interface PeerRound<R> {
  readonly ready: Ready;
  readonly updates: readonly PendingUpdate[];
  /** Answers to send once the batch is durable. */
  readonly answers: readonly Answer<R>[];
  /** The batch must be fsynced before finishRound (a Ready step 1 with mustSync, or a snapshot). */
  readonly sync: boolean;
  /** Splits applied in this round, in order (the store creates the new regions' peers). */
  readonly splits: readonly AppliedSplit[];
  /** This follower applied its own removal: the store destroys it in the same batch. */
  readonly removedSelf: boolean;
  /** Messages of the Ready already sent before the batch was written (a leader's appends). */
  readonly early: ReadonlySet<Message>;
}

const EMPTY_EFFECTS: readonly never[] = Object.freeze([]);
const NO_MESSAGES: ReadonlySet<Message> = new Set();

export class RegionPeer<R> {
  readonly regionId: number;
  readonly peerId: number;
  readonly storage: PeerStorage;
  private readonly deps: PeerDeps;
  private readonly rawNode: RawNode;
  /**
   * Writes: accepted ones are proposed together at the next round (one
   * append and one MsgAppend per follower for all of them), then tracked
   * until an applied entry or a snapshot settles them.
   */
  private readonly proposals: Proposals<R>;
  private readonly reads = new ReadQueue<R>();
  private outbox: PeerEffect<R>[] = [];
  /** Applied index and truncated state as staged (ahead of storage's durable ones within a round). */
  private stagedApplied: number;
  private stagedTruncated: RaftTruncatedState;
  /** Log entries below this index are deleted (or being deleted) from the raft engine. */
  private gcFrom: number;
  private gcTicks = 0;
  /** A CompactLog proposed and not yet applied (so the GC tick does not repeat it). */
  private compactInFlight: { readonly index: number; readonly term: number } | undefined;
  private generatedSnapshot: Snapshot | undefined;
  private snapshotGenerating = false;
  private inRound = false;
  private snapshotInRound = false;
  /** Peers learnt from messages, for peers not (yet) in the region (an uninitialized peer knows none). */
  private readonly peerCache = new Map<number, PeerMeta>();
  /** Peers that wrote to this one stamped with a newer conf_ver than its region's: members it has not applied yet. */
  private readonly newerMembers = new Map<number, number>();
  /** Bytes written by applied commands since the last split check (HARD-CASES P3). */
  private sizeDiffHint = 0;
  /** Region size found by the last split check; undefined until one ran. */
  private approximateSize: number | undefined;
  private splitCheckTicks = 0;
  private splitCheckPending = false;
  /** Ticks without a known leader (reset when one is known). */
  private leaderMissingTicks = 0;
  /**
   * A leader that applied its own removal (proposed by an earlier leader):
   * it stays, answering votes, until the scheduler shows the new
   * configuration in effect (C4; destroying it at once could leave a
   * 2-member group unable to learn that the removal committed).
   */
  private removedLeader = false;
  /**
   * The newest conf_ver at which this peer is known to be a member: its own
   * region's, or that of a message addressed to it (members only send to
   * members of the region they stamp on the message). A removal older than
   * this is old news: the peer was added back since (with the same id).
   */
  private memberAtConfVer = 0;
  /** Index of the last conf change or split applied here (a generated snapshot older than it is stale). */
  private regionChangedAt = 0;
  /** Splits applied in the round being prepared. */
  private roundSplits: AppliedSplit[] = [];
  /** This follower applied its own removal in the round being prepared. */
  private roundRemovedSelf = false;

  private constructor(deps: PeerDeps, storage: PeerStorage) {
    this.deps = deps;
    this.storage = storage;
    this.regionId = storage.regionId;
    this.peerId = deps.peerId;
    this.proposals = new Proposals<R>(storage.regionId);
    const applied = storage.appliedIndex;
    this.stagedApplied = applied;
    this.stagedTruncated = storage.truncatedState;
    this.gcFrom = firstLogKeyIndex(deps.raftEngine, storage.regionId) ?? storage.truncatedState.index + 1;
    const c = deps.config;
    this.rawNode = new RawNode({
      id: deps.peerId,
      electionTick: c.electionTick,
      heartbeatTick: c.heartbeatTick,
      storage: this.raftStorage(),
      applied,
      maxSizePerMsg: c.maxSizePerMsgBytes,
      maxInflightMsgs: c.maxInflightMsgs,
      maxUncommittedEntriesSize: c.uncommittedBytesMax,
      checkQuorum: c.checkQuorum,
      preVote: c.preVote,
      voteResendTick: c.voteResendTick,
      resendProbeOnHeartbeat: c.resendProbeOnHeartbeat,
      // Only the leader proposes; others answer NotLeader, so a refusal is definite.
      disableProposalForwarding: true,
      rng: deps.rng,
    });
  }

  /** A peer over `storage` (loaded or created by the store). */
  static open<R>(deps: PeerDeps, storage: PeerStorage): RegionPeer<R> {
    const self = storage.region.peers.find((p) => p.id === deps.peerId);
    if (storage.isInitialized() && self === undefined) assert(false, `peer ${deps.peerId} is not in region ${storage.regionId}`);
    if (self !== undefined && self.storeId !== deps.storeId) assert(false, `peer ${deps.peerId} belongs to store ${self.storeId}, not ${deps.storeId}`);
    return new RegionPeer<R>(deps, storage);
  }

  get region(): Region {
    return this.storage.region;
  }

  get isLeader(): boolean {
    return this.rawNode.raft.state === StateType.Leader;
  }

  get term(): number {
    return this.rawNode.raft.term;
  }

  /** The leader as this peer knows it, if any. */
  get leader(): PeerMeta | undefined {
    return this.peerMeta(this.rawNode.raft.lead);
  }

  get appliedIndex(): number {
    return this.storage.appliedIndex;
  }

  /** A snapshot is being applied: its round is prepared and not finished (HARD-CASES S1). */
  get applyingSnapshot(): boolean {
    return this.snapshotInRound;
  }

  /** Commands waiting for their entry to apply or their read to be served. */
  get pendingCount(): number {
    return this.proposals.count + this.reads.size;
  }

  /** Effects queued since the last call (the shell executes them in order). */
  drain(): readonly PeerEffect<R>[] {
    const out = this.outbox;
    if (out.length === 0) return EMPTY_EFFECTS;
    this.outbox = [];
    return out;
  }

  tick(): void {
    this.rawNode.tick();
    const c = this.deps.config;
    if (++this.gcTicks >= c.raftLogGcTickTicks) {
      this.gcTicks = 0;
      this.maybeProposeCompactLog();
    }
    if (++this.splitCheckTicks >= c.splitCheckTickTicks) {
      this.splitCheckTicks = 0;
      this.maybeCheckSplit();
    }
    if (this.rawNode.raft.lead !== NONE && !this.removedLeader) {
      this.leaderMissingTicks = 0;
    } else if (++this.leaderMissingTicks >= c.staleCheckTicks && this.storage.isInitialized()) {
      this.leaderMissingTicks = 0;
      mark('raftstore: leader missing, stale check');
      this.emit({ kind: 'staleCheck', regionId: this.regionId });
    }
  }

  /** Starts an election now (a region just split off a leader's region gets its leader quickly). */
  campaign(): void {
    this.rawNode.campaign();
  }

  /** Raft's term and vote as they are now (including a vote whose Ready is not yet persisted). */
  get hardState(): HardState {
    const raft = this.rawNode.raft;
    return { term: raft.term, vote: raft.vote, commit: raft.raftLog.committed };
  }

  /** Raft holds a received snapshot that has not been applied yet. */
  get hasPendingSnapshot(): boolean {
    return this.rawNode.raft.raftLog.hasPendingSnapshot();
  }

  /** See {@link memberAtConfVer}: news of a removal at or before this conf_ver is stale. */
  get memberAt(): number {
    const own = this.region.peers.some((p) => p.id === this.peerId) ? (this.region.regionEpoch?.confVer ?? 0) : 0;
    return Math.max(own, this.memberAtConfVer);
  }

  /** True when the peer has applied its own removal as leader and waits to be destroyed (C4). */
  get isRemovedLeader(): boolean {
    return this.removedLeader;
  }

  /** A raft message from another store, already routed to this region. */
  onRaftMessage(rm: RaftMessage): void {
    const m = rm.message;
    if (m === undefined || rm.toPeer?.id !== this.peerId) return;
    const from = rm.fromPeer;
    if (from !== undefined && from.id !== 0) {
      this.peerCache.set(from.id, { id: from.id, storeId: from.storeId });
      const confVer = rm.regionEpoch?.confVer ?? 0;
      if (confVer > (this.newerMembers.get(from.id) ?? 0)) this.newerMembers.set(from.id, confVer);
    }
    this.memberAtConfVer = Math.max(this.memberAtConfVer, rm.regionEpoch?.confVer ?? 0);
    const initialized = this.storage.isInitialized();
    // HARD-CASES S3: an uninitialized peer accepts appends, heartbeats and snapshots, and never
    // starts an election (raft does not count it a member until a snapshot gives it a config). It
    // does vote: its empty log only grants candidates at least as up to date, the vote is persisted
    // like any other, and refusing would deadlock a two-member group whose leader lost its lease
    // before the new member got its snapshot (no leader to send one, no majority without it).
    if (!initialized && (m.msgType === MessageType.MsgRequestVote || m.msgType === MessageType.MsgPreVote)) mark('raftstore: uninitialized peer votes');
    if (initialized && from !== undefined && !this.region.peers.some((p) => p.id === from.id) && isEpochStale(rm.regionEpoch, this.region.regionEpoch)) {
      // A peer removed from the region that has not learnt it yet: tell it to destroy itself (TinyKV handleStaleMsg).
      mark('raftstore: stale peer told to destroy itself');
      this.sendGcMessage(from);
      return;
    }
    if (m.msgType === MessageType.MsgSnapshot && !this.snapshotAcceptable(m)) return;
    // Refusals of stray messages (a response from an unknown peer) are expected under faults.
    this.rawNode.step(m);
  }

  /** Tells raft whether a snapshot sent to `toPeerId` arrived (the transport reports it). */
  reportSnapshot(toPeerId: number, delivered: boolean): void {
    this.rawNode.reportSnapshot(toPeerId, delivered ? SnapshotStatus.Finish : SnapshotStatus.Failure);
  }

  /** The transport could not reach `toPeerId`: raft probes it again instead of streaming. */
  reportUnreachable(toPeerId: number): void {
    this.rawNode.reportUnreachable(toPeerId);
  }

  /**
   * Serves a command: reads by ReadIndex, writes and CompactLog by proposal.
   * The answer comes later as a `respond` effect (or at once for a refusal).
   */
  handleCommand(request: RaftCmdRequest, replyTo: R | undefined): void {
    const refusal = this.precheck(request);
    if (refusal !== undefined) return this.refuse(replyTo, refusal);
    const kind = classify(request);
    if (kind === 'read') {
      if (replyTo === undefined) return;
      return this.startRead(request, replyTo);
    }
    if (kind === 'write') {
      this.propose(request, replyTo);
      return;
    }
    if (kind === 'admin') return this.handleAdmin(request, replyTo);
    return this.refuse(replyTo, kind);
  }

  /** Builds the snapshot the leader asked for (the shell calls it some time after the effect). */
  generateSnapshot(): void {
    if (!this.snapshotGenerating) return;
    this.snapshotGenerating = false;
    this.generatedSnapshot = this.storage.snapshot();
    mark('raftstore: snapshot generated');
  }

  /**
   * Step 1 of a round: stages this peer's Ready and applies into `batch`.
   * Returns undefined when there is nothing to do.
   */
  prepareRound(batch: WriteBatch): PeerRound<R> | undefined {
    assert(!this.inRound, `region ${this.regionId}: a round is already in flight`);
    this.stageLogGc(batch);
    this.flushProposals();
    this.reads.closeBatch();
    if (!this.rawNode.hasReady()) return undefined;
    this.inRound = true;
    const rd = this.rawNode.ready();
    this.snapshotInRound = rd.snapshot !== undefined;
    if (rd.softState !== undefined && rd.softState.raftState === StateType.Leader) this.deps.observer?.onLeader(this.regionId, this.peerId, this.term);
    // Raft drops its pending reads when it leaves a leadership (even one regained at once in a
    // later term): answer ours, or they would wait forever.
    if (this.reads.size > 0 && (rd.softState !== undefined || rd.hardState !== undefined)) this.dropUnconfirmedReads();
    const updates: PendingUpdate[] = [];
    const answers: Answer<R>[] = [];
    this.roundSplits = [];
    this.roundRemovedSelf = false;
    if (rd.snapshot !== undefined) updates.push(this.stageSnapshot(batch, rd.snapshot, answers));
    const raftUpdate = this.storage.stageReady(batch, rd);
    if (raftUpdate !== undefined) updates.push(raftUpdate);
    const applyUpdate = this.stageApply(batch, rd.committedEntries, answers, updates);
    if (applyUpdate !== undefined) updates.push(applyUpdate);
    // A destroyed peer's batch must be durable before anything it says goes out.
    // A changed region is synced too: its epoch must never be seen to go back after a crash.
    const sync = rd.mustSync || rd.snapshot !== undefined || updates.some((u) => u.kind === 'region');
    const early = this.earlyMessages(rd);
    for (const m of early) this.send(m);
    return { ready: rd, updates, answers, sync, splits: this.roundSplits, removedSelf: this.roundRemovedSelf, early };
  }

  /**
   * The messages of a leader's Ready that may go out before its batch is
   * durable: appends and heartbeats (raft thesis §10.2.1: the leader writes
   * its log in parallel with replicating it; etcd raft's Ready contract allows
   * sending while the same Ready's entries are written). A commit still waits
   * for this write: the leader applies and answers only in a later round,
   * after the entries are durable here, and broadcasts a commit index only
   * in a later Ready too. Not when the Ready changes the term or the vote:
   * a message may never precede the durable hard state that allows it.
   */
  private earlyMessages(rd: Ready): ReadonlySet<Message> {
    if (!this.isLeader || rd.snapshot !== undefined || rd.messages.length === 0) return NO_MESSAGES;
    if (rd.hardState !== undefined) {
      const persisted = this.storage.initialState().hardState;
      if (rd.hardState.term !== persisted.term || rd.hardState.vote !== persisted.vote) return NO_MESSAGES;
    }
    const early = new Set<Message>();
    for (const m of rd.messages) if (m.msgType === MessageType.MsgAppend || m.msgType === MessageType.MsgHeartbeat) early.add(m);
    if (early.size > 0) mark('raftstore: leader sent appends before its write');
    return early;
  }

  /** Steps 2-5 of a round, once its batch is written (and fsynced if `round.sync`). */
  finishRound(round: PeerRound<R>): void {
    assert(this.inRound, `region ${this.regionId}: finishing a round that was not prepared`);
    this.inRound = false;
    this.snapshotInRound = false;
    for (const u of round.updates) this.storage.applyPersisted(u);
    const rd = round.ready;
    // An apply counts once its batch is durable: a crash before that loses it, and it replays.
    const observer = this.deps.observer;
    if (observer !== undefined) {
      const applied = round.removedSelf ? rd.committedEntries.filter((e) => e.index <= this.stagedApplied) : rd.committedEntries;
      for (const e of applied) observer.onApply(this.regionId, this.peerId, e);
    }
    for (const m of rd.messages) if (!round.early.has(m)) this.send(m);
    for (const a of round.answers) this.respond(a.replyTo, a.response);
    this.reads.confirm(rd.readStates);
    this.rawNode.advance(rd);
    if ((rd.softState?.raftState === StateType.Leader || round.splits.length > 0) && this.isLeader) {
      const request = this.heartbeat();
      if (request !== undefined) this.emit({ kind: 'heartbeat', request, term: this.term });
    }
    this.serveReads();
    if (this.compactInFlight !== undefined && this.storage.truncatedIndex >= this.compactInFlight.index) this.compactInFlight = undefined;
  }

  /** Answers everything pending with `error` (the peer is going away: shutdown or destroy). */
  abandonPending(error: RegionError): void {
    const answers: Answer<R>[] = [];
    this.proposals.abandon(error, this.term, answers);
    for (const a of answers) this.respond(a.replyTo, a.response);
    for (const r of this.reads.takeAll()) this.respond(r.replyTo, errorResponse(error, this.term));
  }

  // ---- commands ----

  private precheck(request: RaftCmdRequest): RegionError | undefined {
    return checkHeader(request, this.deps.storeId, this.region, this.peerId, this.term) ?? this.checkEpoch(request) ?? checkRequests(request, this.region);
  }

  /** The epoch check; a request from before a split learns the regions split off since (TiKV collect_sibling_region). */
  private checkEpoch(request: RaftCmdRequest): RegionError | undefined {
    const err = checkEpoch(request, this.region);
    const requested = request.header?.regionEpoch?.version;
    if (err?.epochNotMatch === undefined || requested === undefined || requested >= (this.region.regionEpoch?.version ?? 0)) return err;
    const siblings = this.deps.siblings?.(this.regionId, requested) ?? [];
    return siblings.length === 0 ? err : { ...err, epochNotMatch: { currentRegions: [...err.epochNotMatch.currentRegions, ...siblings] } };
  }

  private notLeaderError(): RegionError {
    return notLeader(this.regionId, this.leader);
  }

  /** Accepts a write for the next round's batch; returns whether it was accepted. */
  private propose(request: RaftCmdRequest, replyTo: R | undefined, compactLog = false): boolean {
    if (!this.isLeader) {
      this.refuse(replyTo, this.notLeaderError());
      return false;
    }
    const pending = this.proposals.count;
    if (pending >= this.deps.config.proposalsMax) {
      this.refuse(replyTo, serverIsBusy(`${pending} proposals pending`));
      return false;
    }
    this.proposals.enqueue({ data: Buffer.from(RaftCmdRequest.encode(request).finish()), replyTo, compactLog });
    return true;
  }

  /** Proposes the round's queued writes as one batch, or refuses them all. */
  private flushProposals(): void {
    const queued: QueuedProposal<R>[] = this.proposals.takeQueued();
    if (queued.length === 0) return;
    const raft = this.rawNode.raft;
    const index = raft.raftLog.lastIndex() + 1;
    const term = raft.term;
    const err = this.isLeader
      ? this.rawNode.proposeEntries(queued.map((q) => ({ entryType: q.confChange === true ? EntryType.EntryConfChange : EntryType.EntryNormal, data: q.data })))
      : undefined;
    if (!this.isLeader || err !== undefined) {
      const refusal = err === undefined ? this.notLeaderError() : this.proposeRefusal(err);
      for (const q of queued) {
        if (q.compactLog) this.compactInFlight = undefined;
        this.refuse(q.replyTo, refusal);
      }
      return;
    }
    // The entries must have landed at index.. in `term`: (index, term) identifies each at apply.
    const last = index + queued.length - 1;
    assert(raft.raftLog.lastIndex() === last && raft.raftLog.term(last) === term, `region ${this.regionId}: proposals not at ${index}..${last}/${term}`);
    this.proposals.track(index, term, queued);
  }

  private proposeRefusal(err: RaftError): RegionError {
    switch (err.code) {
      case RAFT_ERROR_CODES.TransferringLeader:
        return serverIsBusy('leadership is being transferred');
      case RAFT_ERROR_CODES.UncommittedLimit:
        return serverIsBusy('too many uncommitted log bytes');
      default:
        return this.notLeaderError();
    }
  }

  private handleAdmin(request: RaftCmdRequest, replyTo: R | undefined): void {
    const admin = request.adminRequest;
    assert(admin !== undefined, 'admin command without admin request');
    switch (admin.cmdType) {
      case AdminCmdType.CompactLog:
        if (admin.compactLog === undefined) return this.refuse(replyTo, invalidRequest('CompactLog without body'));
        this.propose(request, replyTo);
        return;
      case AdminCmdType.ChangePeer:
        return this.proposeChangePeer(request, replyTo);
      case AdminCmdType.Split: {
        if (!this.isLeader) return this.refuse(replyTo, this.notLeaderError());
        const check = applySplit(this.region, request);
        if ('error' in check) return this.refuse(replyTo, check.error);
        this.propose(request, replyTo);
        return;
      }
      case AdminCmdType.TransferLeader: {
        const target = admin.transferLeader?.peer;
        if (target === undefined || this.peerMeta(target.id) === undefined) return this.refuse(replyTo, invalidRequest('TransferLeader to a peer not in the region'));
        if (!this.isLeader) return this.refuse(replyTo, this.notLeaderError());
        // Not proposed: raft transfers directly (TinyKV); the answer only says it started.
        this.rawNode.transferLeader(target.id);
        if (replyTo === undefined) return;
        return this.respond(replyTo, adminResponse(AdminCmdType.TransferLeader, this.term));
      }
      default:
        return this.refuse(replyTo, invalidRequest(`admin command ${AdminCmdType[admin.cmdType] ?? admin.cmdType} is not supported yet`));
    }
  }

  /**
   * Proposes a membership change. C3: at most one unapplied conf change (a
   * second is refused with a retryable error, never dropped in silence).
   * C4: the leader never proposes its own removal; it hands leadership to
   * the most up-to-date follower and answers with a retryable error.
   */
  private proposeChangePeer(request: RaftCmdRequest, replyTo: R | undefined): void {
    if (!this.isLeader) return this.refuse(replyTo, this.notLeaderError());
    const cc = confChangeOf(request);
    if ('error' in cc) return this.refuse(replyTo, cc.error);
    const raft = this.rawNode.raft;
    if (raft.pendingConfIndex > raft.raftLog.applied || this.proposals.hasQueuedConfChange()) {
      mark('raftstore: conf change refused, another is pending');
      return this.refuse(replyTo, serverIsBusy('a conf change is pending'));
    }
    if (cc.changeType === ConfChangeType.RemoveNode) {
      if (this.region.peers.length <= 1) return this.refuse(replyTo, invalidRequest('cannot remove the last peer of a region'));
      if (cc.nodeId === this.peerId) {
        const to = this.mostCaughtUpFollower();
        if (to !== undefined) this.rawNode.transferLeader(to);
        mark('raftstore: leader removal refused, transferring leadership first');
        return this.refuse(replyTo, serverIsBusy(`removing the leader: leadership moves to peer ${to ?? '?'} first`));
      }
    }
    const pending = this.proposals.count;
    if (pending >= this.deps.config.proposalsMax) return this.refuse(replyTo, serverIsBusy(`${pending} proposals pending`));
    this.proposals.enqueue({ data: Buffer.from(ConfChangeCodec.encode(cc).finish()), replyTo, compactLog: false, confChange: true });
  }

  /** The voter (not this peer) with the highest match index. */
  private mostCaughtUpFollower(): number | undefined {
    let best: number | undefined;
    let bestMatch = -1;
    for (const [id, pr] of this.rawNode.raft.prs.progress) {
      if (id === this.peerId || pr.isLearner) continue;
      if (pr.match > bestMatch) {
        best = id;
        bestMatch = pr.match;
      }
    }
    return best;
  }

  /**
   * P3: the checker runs when no size is known yet, when apply saw enough new
   * bytes since the last check (1/8 of the split size), or when the bytes
   * since may have taken the region past the maximum.
   */
  private maybeCheckSplit(): void {
    if (!this.isLeader || this.splitCheckPending || !this.storage.isInitialized()) return;
    const c = this.deps.config;
    const size = this.approximateSize;
    if (size !== undefined && this.sizeDiffHint < c.regionSplitSizeBytes / 8 && size + this.sizeDiffHint <= c.regionMaxSizeBytes) return;
    this.splitCheckPending = true;
    this.emit({ kind: 'splitCheck', regionId: this.regionId });
  }

  /** Runs the split checker over the region's data (the shell calls it after a `splitCheck` effect). */
  checkSplit(): void {
    if (!this.splitCheckPending) return;
    this.splitCheckPending = false;
    this.sizeDiffHint = 0;
    if (!this.isLeader) return;
    const c = this.deps.config;
    const view = this.deps.kvEngine.readView();
    try {
      const r = checkSplit(view, this.region, c.regionMaxSizeBytes, c.regionSplitSizeBytes, c.txnSafeSplitKeys);
      this.approximateSize = r.sizeBytes;
      if (r.splitKey === undefined) return;
      mark('raftstore: split key found');
      this.emit({ kind: 'askSplit', regionId: this.regionId, region: cloneRegion(this.region), splitKey: r.splitKey });
    } finally {
      view.close();
    }
  }

  /** The scheduler's ids for a split asked for at `asked` (the region as it was then): proposes it. */
  proposeSplit(asked: Region, splitKey: Buffer, newRegionId: number, newPeerIds: readonly number[]): void {
    const request: RaftCmdRequest = {
      header: { regionId: this.regionId, peer: this.peerMeta(this.peerId), regionEpoch: asked.regionEpoch, term: 0 },
      requests: [],
      adminRequest: {
        cmdType: AdminCmdType.Split, split: { splitKey, newRegionId, newPeerIds: [...newPeerIds] },
        changePeer: undefined, compactLog: undefined, transferLeader: undefined,
      },
    };
    this.handleCommand(request, undefined);
  }

  /** A region heartbeat for the scheduler, when this peer leads (TinyKV `HeartbeatScheduler`). */
  heartbeat(): RegionHeartbeatRequest | undefined {
    if (!this.isLeader) return undefined;
    const truncated = this.storage.truncatedIndex;
    const pendingPeers: PeerMeta[] = [];
    for (const p of this.region.peers) {
      const pr = this.rawNode.raft.prs.progress.get(p.id);
      // A peer that needs entries the leader compacted away cannot serve yet (TinyKV CollectPendingPeers).
      if (p.id !== this.peerId && (pr === undefined || pr.match < truncated)) pendingPeers.push({ ...p });
    }
    return {
      header: undefined, region: cloneRegion(this.region), leader: this.peerMeta(this.peerId),
      pendingPeers, approximateSize: this.approximateSize ?? 0,
    };
  }

  private startRead(request: RaftCmdRequest, replyTo: R): void {
    if (!this.isLeader) return this.refuse(replyTo, this.notLeaderError());
    if (this.reads.size >= this.deps.config.readsMax) return this.refuse(replyTo, serverIsBusy(`${this.reads.size} reads pending`));
    const batch = this.reads.batchFor(this.term);
    if (batch.fresh) {
      const err = this.rawNode.readIndex(batch.ctx);
      if (err !== undefined) return this.refuse(replyTo, this.notLeaderError());
    } else {
      mark('raftstore: read joined a ReadIndex batch');
    }
    this.reads.add(batch, { replyTo, request, term: this.term, index: undefined });
  }

  /** Reads whose read index is applied: served from one read view each, in read-id order. */
  private serveReads(): void {
    for (const r of this.reads.takeServable(this.storage.appliedIndex)) {
      // The region may have changed since the read was accepted: check again at the read point.
      const stale = checkEpoch(r.request, this.region) ?? checkRequests(r.request, this.region);
      if (stale !== undefined) {
        this.respond(r.replyTo, errorResponse(stale, this.term));
        continue;
      }
      this.respond(r.replyTo, ...executeRead(this.deps.kvEngine, this.region, r.request, this.term));
    }
  }

  /** Unconfirmed reads of an ended leadership are answered NotLeader (raft forgot them). */
  private dropUnconfirmedReads(): void {
    for (const r of this.reads.takeUnconfirmed(this.isLeader ? this.term : -1)) {
      this.respond(r.replyTo, errorResponse(this.notLeaderError(), this.term));
    }
  }

  private maybeProposeCompactLog(): void {
    if (!this.isLeader) return;
    const applied = this.storage.appliedIndex;
    const first = this.storage.firstIndex();
    if (!(applied > first && applied - first >= this.deps.config.raftLogGcCountLimit)) return;
    const inFlight = this.compactInFlight;
    if (inFlight !== undefined && inFlight.term === this.term) return;
    const compactTerm = this.storage.term(applied);
    const request: RaftCmdRequest = {
      header: { regionId: this.regionId, peer: this.peerMeta(this.peerId), regionEpoch: this.region.regionEpoch, term: 0 },
      requests: [],
      adminRequest: {
        cmdType: AdminCmdType.CompactLog, compactLog: { compactIndex: applied, compactTerm },
        changePeer: undefined, transferLeader: undefined, split: undefined,
      },
    };
    // Only an accepted proposal is in flight: a refused one (ServerIsBusy) must not block later GC ticks.
    if (this.propose(request, undefined, true)) this.compactInFlight = { index: applied, term: this.term };
  }

  // ---- apply ----

  /**
   * Applies committed entries into `batch` (TinyKV `HandleRaftReady` apply
   * part): data writes and the apply state go in the same batch. Answers to
   * this peer's proposals are collected for after the batch is durable.
   */
  private stageApply(batch: WriteBatch, entries: readonly Entry[], answers: Answer<R>[], updates: PendingUpdate[]): PendingUpdate | undefined {
    if (entries.length === 0) return undefined;
    for (const e of entries) {
      if (!(e.index === this.stagedApplied + 1)) assert(false, `region ${this.regionId} peer ${this.peerId}: applying ${e.index} after ${this.stagedApplied}`);
      this.stagedApplied = e.index;
      const resp = this.applyEntry(batch, e, updates);
      this.proposals.settleApplied(e.index, e.term, resp, this.term, answers);
      // Removed: the store destroys this peer in the same batch; nothing after its removal applies here.
      if (this.roundRemovedSelf) return undefined;
    }
    return this.storage.stageApplyState(batch, { appliedIndex: this.stagedApplied, truncatedState: { ...this.stagedTruncated } });
  }

  private applyEntry(batch: WriteBatch, e: Entry, updates: PendingUpdate[]): RaftCmdResponse | undefined {
    if (e.entryType === EntryType.EntryConfChange) return this.applyConfChangeEntry(batch, e, updates);
    if (e.entryType !== EntryType.EntryNormal) assert(false, `region ${this.regionId}: unexpected entry type ${e.entryType} at ${e.index}`);
    if (e.data.length === 0) return undefined; // a new leader's empty entry
    const request = RaftCmdRequest.decode(e.data);
    // The epoch may have changed between proposal and apply: check against the region as applied so far.
    const stale = checkEpoch(request, this.storage.appliedRegion);
    if (stale !== undefined) return errorResponse(stale, this.term);
    const where = `region ${this.regionId} entry ${e.index}`;
    if (request.adminRequest === undefined) {
      this.sizeDiffHint += writeBytesOf(request);
      return applyWrites(batch, request, this.term, where);
    }
    if (request.adminRequest.cmdType === AdminCmdType.Split) return this.applySplitEntry(batch, request, updates);
    // A stale or already-covered CompactLog changes nothing (TinyKV ignores it too).
    const truncated = compactTo(compactLogOf(request, where), this.stagedTruncated, this.stagedApplied, (i) => (i === e.index ? e.term : this.termAt(i)), where);
    if (truncated !== undefined) {
      this.stagedTruncated = truncated;
      mark('raftstore: compact log applied');
    }
    return adminResponse(AdminCmdType.CompactLog, this.term);
  }

  /** Applies a committed conf change (C1: validated against the region as applied so far). */
  private applyConfChangeEntry(batch: WriteBatch, e: Entry, updates: PendingUpdate[]): RaftCmdResponse {
    const r = applyChangePeer(this.storage.appliedRegion, e.data);
    if ('error' in r) {
      mark('raftstore: conf change refused at apply');
      return errorResponse(r.error, this.term);
    }
    updates.push(this.storage.stageRegion(batch, r.region));
    this.regionChangedAt = e.index;
    const wasLeader = this.isLeader;
    const cs = this.rawNode.applyConfChange({ changeType: r.changeType, nodeId: r.peer.id, context: Buffer.alloc(0) });
    if (!('nodes' in cs)) assert(false, `region ${this.regionId}: raft refused conf change at ${e.index}: ${cs.message}`);
    mark(r.changeType === ConfChangeType.AddNode ? 'raftstore: peer added' : 'raftstore: peer removed');
    if (r.changeType === ConfChangeType.RemoveNode && r.peer.id === this.peerId) {
      if (wasLeader) {
        mark('raftstore: leader applied its own removal, stays until the stale check');
        this.removedLeader = true;
      } else {
        mark('raftstore: follower applied its own removal, destroyed');
        this.roundRemovedSelf = true;
      }
    }
    const resp = adminResponse(AdminCmdType.ChangePeer, this.term);
    return { ...resp, adminResponse: { ...(resp.adminResponse as NonNullable<RaftCmdResponse['adminResponse']>), changePeer: { region: cloneRegion(r.region) } } };
  }

  /** Applies a committed split (P4: validated against the region as applied so far). */
  private applySplitEntry(batch: WriteBatch, request: RaftCmdRequest, updates: PendingUpdate[]): RaftCmdResponse {
    const r = applySplit(this.storage.appliedRegion, request);
    if ('error' in r) {
      mark('raftstore: split refused at apply');
      return errorResponse(r.error, this.term);
    }
    updates.push(this.storage.stageRegion(batch, r.left));
    this.regionChangedAt = this.stagedApplied;
    this.roundSplits.push(r);
    // P3: the estimates start over for both halves.
    this.sizeDiffHint = 0;
    this.approximateSize = undefined;
    mark('raftstore: split applied');
    const resp = adminResponse(AdminCmdType.Split, this.term);
    return { ...resp, adminResponse: { ...(resp.adminResponse as NonNullable<RaftCmdResponse['adminResponse']>), split: { regions: [cloneRegion(r.left), cloneRegion(r.right)] } } };
  }

  /** The term of a log entry still in storage, or undefined when compacted away. */
  private termAt(index: number): number | undefined {
    try {
      return this.rawNode.raft.raftLog.term(index);
    } catch (err) {
      if (err instanceof RaftStorageError) return undefined;
      throw err;
    }
  }

  private stageSnapshot(batch: WriteBatch, snap: Snapshot, answers: Answer<R>[]): PendingUpdate {
    const index = snap.metadata?.index ?? 0;
    const term = snap.metadata?.term ?? 0;
    this.proposals.settleSnapshot(index, term, this.term, answers);
    const update = this.storage.stageApplySnapshot(batch, batch, snap);
    mark('raftstore: snapshot applied');
    this.stagedApplied = index;
    this.stagedTruncated = { index, term };
    // The whole old log is deleted in the same batch.
    this.gcFrom = index + 1;
    this.generatedSnapshot = undefined;
    return update;
  }

  /** Deletes log entries that a durable truncated state made garbage (raft log GC, in the background). */
  private stageLogGc(batch: WriteBatch): void {
    const to = this.storage.truncatedIndex + 1;
    if (to <= this.gcFrom) return;
    this.storage.stageGcLogs(batch, this.gcFrom, to);
    this.gcFrom = to;
  }

  // ---- snapshots ----

  /** The raft core's Storage: the peer storage, with snapshots generated asynchronously. */
  private raftStorage(): Storage {
    const ps = (): PeerStorage => this.storage;
    return {
      initialState: (): InitialState => ps().initialState(),
      entries: (lo, hi, max) => ps().entries(lo, hi, max),
      term: (i) => ps().term(i),
      lastIndex: () => ps().lastIndex(),
      firstIndex: () => ps().firstIndex(),
      snapshot: () => this.snapshotForRaft(),
    };
  }

  /**
   * A generated snapshot still usable (it does not predate the log's first
   * index, or the follower could not continue from it), else ask the shell
   * to generate one and tell raft to retry later (TinyKV/TiKV region worker).
   */
  private snapshotForRaft(): Snapshot {
    const snap = this.generatedSnapshot;
    // A snapshot from before the last applied conf change or split describes an older region (a peer
    // removed and re-added since would apply its own removal after it; a range since split off would
    // overlap the new region on the receiver): never reuse it.
    const index = snap?.metadata?.index ?? 0;
    if (snap !== undefined && index >= this.storage.truncatedIndex && index >= this.regionChangedAt) return snap;
    this.generatedSnapshot = undefined;
    if (!this.snapshotGenerating) {
      this.snapshotGenerating = true;
      this.emit({ kind: 'generateSnapshot', regionId: this.regionId });
    }
    throw new RaftStorageError(RAFT_STORAGE_ERROR_CODES.SnapshotTemporarilyUnavailable, `region ${this.regionId}: snapshot is being generated`);
  }

  /** A snapshot from the network must decode and be for this region before raft sees it. */
  private snapshotAcceptable(m: Message): boolean {
    const snap = m.snapshot;
    if (snap?.metadata === undefined) return false;
    try {
      return decodeSnapshotData(snap.data).region.id === this.regionId;
    } catch (err) {
      if (err instanceof SnapshotError) return false;
      throw err;
    }
  }

  // ---- effects ----

  private send(m: Message): void {
    const region = this.region;
    // An initialized peer talks only to the members of its region: a message raft made before
    // a removal applied would otherwise go out stamped with the epoch that removed its target,
    // which could recreate the removed peer, empty, under its old id (P6). An uninitialized peer
    // knows no members: it answers whoever wrote to it.
    // A lagging peer must still answer a member of a newer configuration (a leader it has not yet
    // learnt was added), or it would never catch up.
    const newer = (this.newerMembers.get(m.to) ?? 0) > (region.regionEpoch?.confVer ?? 0);
    const to = !this.storage.isInitialized() || newer ? this.peerMeta(m.to) : memberOf(region, m.to);
    if (to === undefined) return;
    this.emit({
      kind: 'send',
      message: {
        regionId: this.regionId, fromPeer: this.peerMeta(this.peerId) ?? { id: this.peerId, storeId: this.deps.storeId },
        toPeer: to, message: m, regionEpoch: region.regionEpoch, isTombstone: false, startKey: region.startKey, endKey: region.endKey,
      },
    });
  }

  private emit(effect: PeerEffect<R>): void {
    this.outbox.push(effect);
    this.deps.onEffect?.(this.regionId);
  }

  private respond(replyTo: R, response: RaftCmdResponse, regionView?: RegionView): void {
    this.emit(regionView === undefined ? { kind: 'respond', replyTo, response } : { kind: 'respond', replyTo, response, regionView });
  }

  private refuse(replyTo: R | undefined, error: RegionError): void {
    if (replyTo !== undefined) this.respond(replyTo, errorResponse(error, this.term));
  }

  private peerMeta(id: number): PeerMeta | undefined {
    if (id === 0) return undefined;
    const p = this.region.peers.find((x) => x.id === id) ?? this.peerCache.get(id);
    return p === undefined ? undefined : { ...p };
  }

  /** Tells a peer removed from the region to destroy itself: a message with no raft content, `isTombstone` set, our epoch. */
  private sendGcMessage(to: PeerMeta): void {
    const region = this.region;
    this.emit({
      kind: 'send',
      message: {
        regionId: this.regionId, fromPeer: this.peerMeta(this.peerId) ?? { id: this.peerId, storeId: this.deps.storeId },
        toPeer: { ...to }, message: undefined, regionEpoch: region.regionEpoch, isTombstone: true, startKey: region.startKey, endKey: region.endKey,
      },
    });
  }
}

function memberOf(region: Region, id: number): PeerMeta | undefined {
  const p = region.peers.find((x) => x.id === id);
  return p === undefined ? undefined : { ...p };
}

/** The index of the region's first stored log entry, if any (where log GC resumes after a restart). */
function firstLogKeyIndex(engine: ViewableReader, regionId: number): number | undefined {
  const range = raftLogKeyRange(regionId);
  for (const { key } of engine.scan(CF_RAFT, { start: range.start, end: range.end, limit: 1 })) return raftLogIndex(key);
  return undefined;
}
