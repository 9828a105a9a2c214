/**
 * The raft state machine (a port of etcd's raft.go, with TinyKV's message
 * vocabulary): terms, votes, roles, ticks and the top of `step`. The
 * per-role message handlers live in step_leader.ts and step_follower.ts.
 *
 * Pure and synchronous: no timers, I/O or ambient randomness. Time is
 * `tick()`; randomness is the injected `Config.rng`; output is `msgs` and the
 * log's unstable part, collected by RawNode into a Ready.
 */
import { assert } from '../util/assert.js';
import { mark } from '../util/marks.js';
import { resolveConfig } from './config.js';
import type { Config, ResolvedConfig } from './config.js';
import { Changer } from './confchange/changer.js';
import type { ChangeResult } from './confchange/changer.js';
import { restoreConfState } from './confchange/restore.js';
import { RaftLog } from './raft_log.js';
import { ReadOnly } from './read_only.js';
import type { ReadState } from './read_only.js';
import { Inflights } from './tracker/inflights.js';
import { Progress } from './tracker/progress.js';
import { isJoint, ProgressTracker } from './tracker/tracker.js';
import type { ProgressMap, TrackerConfig } from './tracker/tracker.js';
import { VoteResult } from './quorum/majority.js';
import {
  ConfChangeTransition,
  emptyConfState,
  EntryType,
  isEmptyHardState,
  MessageType,
  newEntry,
  newMessage,
  NONE,
  RaftError,
  StateType,
  voteRespMsgType,
} from './types.js';
import type { ConfChangeV2, ConfState, Entry, HardState, Message, SoftState } from './types.js';
import { payloadsSize, sortedIds } from './util.js';
import { stepLeader } from './step_leader.js';
import { stepCandidate, stepFollower } from './step_follower.js';

/** Marks a MsgRequestVote sent on a leader transfer: it bypasses the leader lease. */
export const CAMPAIGN_TRANSFER = Buffer.from('CampaignTransfer');

export enum CampaignType {
  PreElection = 'CampaignPreElection',
  Election = 'CampaignElection',
  Transfer = 'CampaignTransfer',
}

type StepFn = (r: Raft, m: Message) => RaftError | undefined;

export class Raft {
  readonly id: number;
  term = 0;
  vote = NONE;
  readStates: ReadState[] = [];
  readonly raftLog: RaftLog;
  readonly maxMsgSize: number;
  readonly maxUncommittedSize: number;
  readonly prs: ProgressTracker;
  state: StateType = StateType.Follower;
  /** True when this node is a learner in the current configuration. */
  isLearner = false;
  /** Outgoing messages, drained into each Ready. */
  msgs: Message[] = [];
  lead = NONE;
  /** The target of an ongoing leader transfer, or NONE. */
  leadTransferee = NONE;
  /**
   * Index of the latest conf change the leader appended. A new one is refused
   * while this index is not applied (C3); it clears itself as applied moves.
   */
  pendingConfIndex = 0;
  /** Payload bytes of entries appended by this leader and not yet applied. */
  uncommittedSize = 0;
  readOnly: ReadOnly;
  /** Ticks since the last election timeout (leader: since the last check-quorum round). */
  electionElapsed = 0;
  heartbeatElapsed = 0;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly heartbeatTimeout: number;
  readonly electionTimeout: number;
  /** In [electionTimeout, 2 * electionTimeout); reset on every term change. */
  randomizedElectionTimeout = 0;
  readonly disableProposalForwarding: boolean;
  readonly stepDownOnRemoval: boolean;
  readonly resendProbeOnHeartbeat: boolean;
  /** MsgReadIndex received before the leader committed an entry of its term. */
  pendingReadIndexMessages: Message[] = [];
  private stepFn: StepFn = stepFollower;
  /** How the current (pre-)campaign started; re-sent vote requests repeat it. */
  private campaignType: CampaignType = CampaignType.Election;
  private readonly config: ResolvedConfig;

  constructor(c: Config) {
    const cfg = resolveConfig(c);
    this.config = cfg;
    this.id = cfg.id;
    this.raftLog = new RaftLog(cfg.storage, cfg.maxCommittedSizePerReady);
    this.maxMsgSize = cfg.maxSizePerMsg;
    this.maxUncommittedSize = cfg.maxUncommittedEntriesSize;
    this.prs = new ProgressTracker(cfg.maxInflightMsgs, cfg.maxInflightBytes);
    this.checkQuorum = cfg.checkQuorum;
    this.preVote = cfg.preVote;
    this.heartbeatTimeout = cfg.heartbeatTick;
    this.electionTimeout = cfg.electionTick;
    this.disableProposalForwarding = cfg.disableProposalForwarding;
    this.stepDownOnRemoval = cfg.stepDownOnRemoval;
    this.resendProbeOnHeartbeat = cfg.resendProbeOnHeartbeat;
    this.readOnly = new ReadOnly(cfg.readOnlyOption);

    const { hardState, confState } = cfg.storage.initialState();
    let cs = confState;
    if (cs.nodes.length === 0 && cs.learners.length === 0 && cs.votersOutgoing.length === 0) {
      cs = { ...emptyConfState(), nodes: [...cfg.peers], learners: [...cfg.learners] };
    } else {
      assert(cfg.peers.length === 0 && cfg.learners.length === 0, 'cannot specify both peers and a ConfState in storage');
    }
    restoreConfState(this.prs, this.raftLog.lastIndex(), cs);
    this.assertConfStateMatches(cs);
    this.isLearner = this.prs.progress.get(this.id)?.isLearner ?? false;
    if (!isEmptyHardState(hardState)) this.loadState(hardState);
    if (cfg.applied > 0) this.raftLog.appliedTo(cfg.applied);
    this.becomeFollower(this.term, NONE);
  }

  get rng(): ResolvedConfig['rng'] {
    return this.config.rng;
  }

  softState(): SoftState {
    return { lead: this.lead, raftState: this.state };
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.raftLog.committed };
  }

  /** Returns and clears the outgoing messages (TinyKV tests' readMessages). */
  readMessages(): Message[] {
    const msgs = this.msgs;
    this.msgs = [];
    return msgs;
  }

  // --- sending -------------------------------------------------------------

  /** Queues `m`, stamping `from` and, except for proposals and votes, `term`. */
  send(m: Message): void {
    if (m.from === NONE) m.from = this.id;
    const t = m.msgType;
    if (
      t === MessageType.MsgRequestVote ||
      t === MessageType.MsgRequestVoteResponse ||
      t === MessageType.MsgPreVote ||
      t === MessageType.MsgPreVoteResponse
    ) {
      // Vote messages carry the term of the election, which may differ from ours.
      if (!(m.term !== 0)) assert(false, `term should be set when sending ${MessageType[t]}`);
    } else {
      if (!(m.term === 0)) assert(false, `term should not be set when sending ${MessageType[t]} (was ${m.term})`);
      // Proposals and read requests are forwarded to the leader as local messages.
      if (t !== MessageType.MsgPropose && t !== MessageType.MsgReadIndex) m.term = this.term;
    }
    this.msgs.push(m);
  }

  /**
   * Sends MsgAppend (or MsgSnapshot when the needed entries are compacted) to
   * `to`; with sendIfEmpty false, only when there are entries to send.
   * Returns whether a message was sent.
   */
  maybeSendAppend(to: number, sendIfEmpty: boolean): boolean {
    const pr = this.prs.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.raftLog.termOrUndefined(prevIndex);
    let ents: Entry[] | undefined;
    if (prevTerm !== undefined) ents = this.raftLog.entriesOrUndefined(pr.next, this.maxMsgSize);
    if (ents !== undefined && ents.length === 0 && !sendIfEmpty) return false;
    if (prevTerm === undefined || ents === undefined) return this.maybeSendSnapshot(to, pr);
    this.send(newMessage({ msgType: MessageType.MsgAppend, to, index: prevIndex, logTerm: prevTerm, entries: ents, commit: this.raftLog.committed }));
    if (ents.length > 0) {
      const last = (ents[ents.length - 1] as Entry).index;
      if (pr.state === 1 /* Replicate */) {
        pr.optimisticUpdate(last);
        pr.inflights.add(last, pr.inflights.bytesMax > 0 ? payloadsSize(ents) : 0);
      } else if (pr.state === 0 /* Probe */) {
        pr.probeSent = true;
      }
    }
    return true;
  }

  /**
   * The follower needs entries this leader has compacted (HARD-CASES S2: also
   * when its rejection hint is below our first index): send the snapshot.
   */
  private maybeSendSnapshot(to: number, pr: Progress): boolean {
    if (!pr.recentActive) return false;
    const snapshot = this.raftLog.snapshotOrUndefined();
    if (snapshot === undefined) {
      mark('raft: snapshot temporarily unavailable, retry later');
      return false;
    }
    const sindex = snapshot.metadata?.index ?? 0;
    assert(sindex !== 0, 'need non-empty snapshot');
    mark('raft: send snapshot, needed entries compacted');
    pr.becomeSnapshot(sindex);
    this.send(newMessage({ msgType: MessageType.MsgSnapshot, to, snapshot }));
    return true;
  }

  sendAppend(to: number): void {
    this.maybeSendAppend(to, true);
  }

  /** Heartbeats carry commit = min(match, committed): a follower may lack the entries. */
  sendHeartbeat(to: number, ctx: Buffer | undefined): void {
    const pr = this.prs.progress.get(to);
    const commit = Math.min(pr?.match ?? 0, this.raftLog.committed);
    this.send(newMessage({ msgType: MessageType.MsgHeartbeat, to, commit, ...(ctx !== undefined ? { context: ctx } : {}) }));
  }

  bcastAppend(): void {
    this.prs.visit((id) => {
      if (id !== this.id) this.sendAppend(id);
    });
  }

  bcastHeartbeat(): void {
    this.bcastHeartbeatWithCtx(this.readOnly.lastPendingRequestCtx());
  }

  bcastHeartbeatWithCtx(ctx: Buffer | undefined): void {
    this.prs.visit((id) => {
      if (id !== this.id) this.sendHeartbeat(id, ctx);
    });
  }

  sendTimeoutNow(to: number): void {
    this.send(newMessage({ msgType: MessageType.MsgTimeoutNow, to }));
  }

  // --- log -----------------------------------------------------------------

  /** Commits the highest index a quorum has matched, if it is of this term. */
  maybeCommit(): boolean {
    return this.raftLog.maybeCommit(this.prs.committed(), this.term);
  }

  /**
   * Appends proposed entries at this term. Returns false (dropping them) when
   * the uncommitted tail would exceed its byte limit.
   */
  appendEntry(es: Entry[]): boolean {
    const li = this.raftLog.lastIndex();
    for (let i = 0; i < es.length; i++) {
      const e = es[i] as Entry;
      e.term = this.term;
      e.index = li + 1 + i;
    }
    if (!this.increaseUncommittedSize(es)) {
      mark('raft: proposal dropped, uncommitted size limit');
      return false;
    }
    const last = this.raftLog.append(es);
    this.prs.progress.get(this.id)?.maybeUpdate(last);
    this.maybeCommit();
    return true;
  }

  committedEntryInCurrentTerm(): boolean {
    return this.raftLog.term(this.raftLog.committed) === this.term;
  }

  private increaseUncommittedSize(ents: readonly Entry[]): boolean {
    // Without a limit there is nothing to track.
    if (this.maxUncommittedSize >= Number.MAX_SAFE_INTEGER) return true;
    const s = payloadsSize(ents);
    // An empty log tail always accepts one proposal, however large.
    if (this.uncommittedSize > 0 && s > 0 && this.uncommittedSize + s > this.maxUncommittedSize) return false;
    this.uncommittedSize += s;
    return true;
  }

  reduceUncommittedSize(ents: readonly Entry[]): void {
    if (this.uncommittedSize === 0) return; // followers do not track it
    const s = payloadsSize(ents);
    // Entries from a previous term were not counted: clamp at zero.
    this.uncommittedSize = s > this.uncommittedSize ? 0 : this.uncommittedSize - s;
  }

  // --- roles ---------------------------------------------------------------

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.prs.resetVotes();
    const lastIndex = this.raftLog.lastIndex();
    const fresh: ProgressMap = new Map();
    for (const [id, pr] of this.prs.progress) {
      const np = new Progress({
        next: lastIndex + 1,
        inflights: new Inflights(this.prs.maxInflight, this.prs.maxInflightBytes),
        isLearner: pr.isLearner,
      });
      if (id === this.id) {
        np.match = lastIndex;
        // A node is always active to itself (etcd 3.6 does the same).
        np.recentActive = true;
      }
      fresh.set(id, np);
    }
    this.prs.progress = fresh;
    this.pendingConfIndex = 0;
    this.uncommittedSize = 0;
    this.readOnly = new ReadOnly(this.readOnly.option);
    // Reads waiting for this term's first commit cannot be served any more:
    // their callers time out and retry against the new leader.
    this.pendingReadIndexMessages = [];
  }

  becomeFollower(term: number, lead: number): void {
    this.stepFn = stepFollower;
    this.reset(term);
    this.lead = lead;
    this.state = StateType.Follower;
  }

  becomeCandidate(): void {
    assert(this.state !== StateType.Leader, 'invalid transition [leader -> candidate]');
    this.stepFn = stepCandidate;
    this.reset(this.term + 1);
    this.vote = this.id;
    this.state = StateType.Candidate;
  }

  /** A pre-candidate keeps its term and vote: pre-votes change nothing (thesis §9.6). */
  becomePreCandidate(): void {
    assert(this.state !== StateType.Leader, 'invalid transition [leader -> pre-candidate]');
    this.stepFn = stepCandidate;
    this.prs.resetVotes();
    this.lead = NONE;
    this.state = StateType.PreCandidate;
  }

  becomeLeader(): void {
    assert(this.state !== StateType.Follower, 'invalid transition [follower -> leader]');
    this.stepFn = stepLeader;
    this.reset(this.term);
    this.lead = this.id;
    this.state = StateType.Leader;
    // The leader's own progress is always in Replicate state.
    this.prs.progress.get(this.id)?.becomeReplicate();
    // Conservatively treat any unapplied entry as a possible conf change.
    this.pendingConfIndex = this.raftLog.lastIndex();
    // A new leader appends an empty entry of its term (§5.4.2): committing it
    // commits everything before it.
    // It has no payload, so the uncommitted-size limit never refuses it.
    const ok = this.appendEntry([newEntry()]);
    assert(ok, 'empty entry was dropped');
  }

  resetRandomizedElectionTimeout(): void {
    this.randomizedElectionTimeout = this.electionTimeout + this.config.rng.intInclusive(0, this.electionTimeout - 1);
  }

  pastElectionTimeout(): boolean {
    return this.electionElapsed >= this.randomizedElectionTimeout;
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = NONE;
  }

  /** A node can campaign only as a voter without a snapshot being applied. */
  promotable(): boolean {
    const pr = this.prs.progress.get(this.id);
    return pr !== undefined && !pr.isLearner && !this.raftLog.hasPendingSnapshot();
  }

  // --- time ----------------------------------------------------------------

  tick(): void {
    if (this.state === StateType.Leader) this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.pastElectionTimeout()) {
      this.electionElapsed = 0;
      this.step(newMessage({ msgType: MessageType.MsgHup, from: this.id }));
      return;
    }
    const every = this.config.voteResendTick;
    const campaigning = this.state === StateType.Candidate || this.state === StateType.PreCandidate;
    if (every > 0 && campaigning && this.electionElapsed % every === 0) {
      mark('raft: vote request re-sent to silent voters');
      this.sendVoteRequests(true);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.checkQuorum) this.step(newMessage({ msgType: MessageType.MsgCheckQuorum, from: this.id }));
      // T2: a transfer that did not finish within one election timeout is abandoned.
      if (this.state === StateType.Leader && this.leadTransferee !== NONE) {
        mark('raft: leader transfer timed out, aborted');
        this.abortLeaderTransfer();
      }
    }
    if (this.state !== StateType.Leader) return;
    if (this.heartbeatElapsed >= this.heartbeatTimeout) {
      this.heartbeatElapsed = 0;
      this.step(newMessage({ msgType: MessageType.MsgBeat, from: this.id }));
    }
  }

  // --- elections -----------------------------------------------------------

  hup(t: CampaignType): void {
    if (this.state === StateType.Leader) return;
    if (!this.promotable()) return;
    if (this.hasUnappliedConfChanges()) {
      mark('raft: campaign delayed, unapplied conf change');
      return;
    }
    this.campaign(t);
  }

  private hasUnappliedConfChanges(): boolean {
    if (this.raftLog.applied >= this.raftLog.committed) return false;
    const lo = Math.max(this.raftLog.applied + 1, this.raftLog.firstIndex());
    if (lo > this.raftLog.committed) return false;
    const ents = this.raftLog.slice(lo, this.raftLog.committed + 1, Number.MAX_SAFE_INTEGER);
    return ents.some((e) => e.entryType !== EntryType.EntryNormal);
  }

  campaign(t: CampaignType): void {
    if (!this.promotable()) return;
    let voteMsg: MessageType;
    if (t === CampaignType.PreElection) {
      this.becomePreCandidate();
      voteMsg = MessageType.MsgPreVote;
    } else {
      this.becomeCandidate();
      voteMsg = MessageType.MsgRequestVote;
    }
    if (this.poll(this.id, voteRespMsgType(voteMsg), true) === VoteResult.Won) {
      // A single-voter group wins at once.
      if (t === CampaignType.PreElection) this.campaign(CampaignType.Election);
      else this.becomeLeader();
      return;
    }
    this.campaignType = t;
    this.sendVoteRequests(false);
  }

  /**
   * Asks the voters for their vote in the current campaign; with
   * `onlySilent`, only those whose answer has not arrived. A candidate's log
   * does not change while it campaigns, so a re-sent request is identical to
   * the first one.
   */
  private sendVoteRequests(onlySilent: boolean): void {
    const pre = this.state === StateType.PreCandidate;
    const voteMsg = pre ? MessageType.MsgPreVote : MessageType.MsgRequestVote;
    // Pre-votes are asked for the next term without moving to it.
    const term = pre ? this.term + 1 : this.term;
    for (const id of this.prs.voterNodes()) {
      if (id === this.id) continue;
      if (onlySilent && this.prs.votes.has(id)) continue;
      this.send(
        newMessage({
          msgType: voteMsg,
          to: id,
          term,
          index: this.raftLog.lastIndex(),
          logTerm: this.raftLog.lastTerm(),
          ...(this.campaignType === CampaignType.Transfer ? { context: CAMPAIGN_TRANSFER } : {}),
        }),
      );
    }
  }

  poll(id: number, _t: MessageType, granted: boolean): VoteResult {
    this.prs.recordVote(id, granted);
    return this.prs.tallyVotes().result;
  }

  // --- step ----------------------------------------------------------------

  /**
   * The single entry point for messages. Expected refusals (a proposal on a
   * follower without leader, during a transfer, a second conf change) come
   * back as a {@link RaftError} value.
   */
  step(m: Message): RaftError | undefined {
    if (m.term === 0) {
      // Local message.
    } else if (m.term > this.term) {
      if (!this.stepHigherTerm(m)) return undefined;
    } else if (m.term < this.term) {
      this.stepLowerTerm(m);
      return undefined;
    }
    switch (m.msgType) {
      case MessageType.MsgHup:
        this.hup(this.preVote ? CampaignType.PreElection : CampaignType.Election);
        return undefined;
      case MessageType.MsgRequestVote:
      case MessageType.MsgPreVote:
        this.handleVoteRequest(m);
        return undefined;
      default:
        return this.stepFn(this, m);
    }
  }

  /** Returns false when the message must be dropped. */
  private stepHigherTerm(m: Message): boolean {
    const isVote = m.msgType === MessageType.MsgRequestVote || m.msgType === MessageType.MsgPreVote;
    if (isVote) {
      const force = m.context.equals(CAMPAIGN_TRANSFER);
      const inLease = this.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
      if (!force && inLease) {
        // Within the leader lease (check-quorum) a vote request cannot be from
        // a legitimate election: this is what keeps a rejoining partitioned
        // node from deposing a healthy leader. We neither vote nor adopt its term.
        mark('raft: vote request ignored, leader lease');
        return false;
      }
    }
    if (m.msgType === MessageType.MsgPreVote) {
      // Never change our term in response to a pre-vote.
    } else if (m.msgType === MessageType.MsgPreVoteResponse && !m.reject) {
      // The term in a granted pre-vote response is the future term; it is
      // adopted when the pre-vote wins.
    } else if (
      m.msgType === MessageType.MsgAppend ||
      m.msgType === MessageType.MsgHeartbeat ||
      m.msgType === MessageType.MsgSnapshot
    ) {
      this.becomeFollower(m.term, m.from);
    } else {
      this.becomeFollower(m.term, NONE);
    }
    return true;
  }

  private stepLowerTerm(m: Message): void {
    if ((this.checkQuorum || this.preVote) && (m.msgType === MessageType.MsgHeartbeat || m.msgType === MessageType.MsgAppend)) {
      // A leader cut off by a partition (or whose term was bumped by a
      // pre-vote-less node) learns our higher term from this response and
      // steps down; without it, check-quorum and pre-vote could leave it stuck.
      this.send(newMessage({ msgType: MessageType.MsgAppendResponse, to: m.from }));
    } else if (m.msgType === MessageType.MsgPreVote) {
      // Reject with our term so the pre-candidate learns it is behind.
      this.send(newMessage({ msgType: MessageType.MsgPreVoteResponse, to: m.from, term: this.term, reject: true }));
    }
    // Otherwise a stale message: ignore it.
  }

  private handleVoteRequest(m: Message): void {
    // We can vote if this is a repeat of a vote we cast, or we have not voted
    // and know of no leader in this term, or it is a pre-vote for a later term.
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.msgType === MessageType.MsgPreVote && m.term > this.term);
    if (canVote && this.raftLog.isUpToDate(m.index, m.logTerm)) {
      // The response carries the term of the request (for a pre-vote, the
      // future term), so the candidate can count it.
      this.send(newMessage({ msgType: voteRespMsgType(m.msgType), to: m.from, term: m.term }));
      if (m.msgType === MessageType.MsgRequestVote) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(newMessage({ msgType: voteRespMsgType(m.msgType), to: m.from, term: this.term, reject: true }));
    }
  }

  // --- configuration -------------------------------------------------------

  /** Applies a committed conf change; returns the new ConfState, or the refusal. */
  applyConfChange(cc: ConfChangeV2): ConfState | RaftError {
    const changer = new Changer(this.prs, this.raftLog.lastIndex());
    let res: ChangeResult | RaftError;
    const joint = enterJoint(cc);
    if (cc.changes.length === 0 && cc.transition === ConfChangeTransition.Auto) res = changer.leaveJoint();
    else if (joint !== undefined) res = changer.enterJoint(joint.autoLeave, cc.changes);
    else res = changer.simple(cc.changes);
    if (res instanceof RaftError) {
      mark('raft: committed conf change refused at apply');
      return res;
    }
    return this.switchToConfig(res.config, res.progress);
  }

  /** TinyKV's addNode: a simple change adding voter `id`. */
  addNode(id: number): ConfState | RaftError {
    return this.applyConfChange({ transition: ConfChangeTransition.Auto, changes: [{ changeType: 0, nodeId: id }], context: Buffer.alloc(0) });
  }

  /** TinyKV's removeNode: a simple change removing `id`. */
  removeNode(id: number): ConfState | RaftError {
    return this.applyConfChange({ transition: ConfChangeTransition.Auto, changes: [{ changeType: 1, nodeId: id }], context: Buffer.alloc(0) });
  }

  switchToConfig(config: TrackerConfig, progress: ProgressMap): ConfState {
    this.prs.config = config;
    this.prs.progress = progress;
    this.prs.checkInvariants();
    const cs = this.prs.confState();
    const pr = this.prs.progress.get(this.id);
    this.isLearner = pr?.isLearner ?? false;
    if ((pr === undefined || this.isLearner) && this.state === StateType.Leader) {
      // This leader was removed or demoted. C4: tell the others the commit
      // index (which covers the entry that removed us) before stepping down,
      // so the remaining members can elect a leader without our vote.
      if (this.stepDownOnRemoval) {
        mark('raft: leader removed, step down after broadcasting commit');
        this.bcastAppend();
        this.becomeFollower(this.term, NONE);
      }
      return cs;
    }
    if (this.state !== StateType.Leader || cs.nodes.length === 0) return cs;
    if (this.maybeCommit()) {
      // A smaller quorum may commit more entries now.
      this.bcastAppend();
    } else {
      // Probe new members right away rather than at the next heartbeat.
      this.prs.visit((id) => {
        if (id !== this.id) this.maybeSendAppend(id, false);
      });
    }
    if (this.leadTransferee !== NONE && !this.prs.isVoter(this.leadTransferee)) this.abortLeaderTransfer();
    return cs;
  }

  /** Restores log and configuration from a snapshot; false when it is stale. */
  restore(s: Message['snapshot']): boolean {
    const meta = s?.metadata;
    if (s === undefined || meta === undefined) return false;
    if (meta.index <= this.raftLog.committed) return false;
    if (this.state !== StateType.Follower) {
      // Defensive, as in etcd: only followers restore snapshots.
      this.becomeFollower(this.term + 1, NONE);
      return false;
    }
    const cs = meta.confState ?? emptyConfState();
    const inConfig = [...cs.nodes, ...cs.learners, ...cs.votersOutgoing].includes(this.id);
    if (!inConfig) {
      mark('raft: snapshot ignored, not in its configuration');
      return false;
    }
    if (this.raftLog.matchTerm(meta.index, meta.term)) {
      // We already have the entry: fast-forward the commit index only.
      this.raftLog.commitTo(meta.index);
      return false;
    }
    this.raftLog.restore(s);
    const fresh = new ProgressTracker(this.prs.maxInflight, this.prs.maxInflightBytes);
    restoreConfState(fresh, this.raftLog.lastIndex(), cs);
    this.switchToConfig(fresh.config, fresh.progress);
    this.assertConfStateMatches(cs);
    const pr = this.prs.progress.get(this.id);
    pr?.maybeUpdate(pr.next - 1);
    return true;
  }

  private loadState(hs: HardState): void {
    if (!(hs.commit >= this.raftLog.committed && hs.commit <= this.raftLog.lastIndex())) assert(false, `${this.id} state.commit ${hs.commit} is out of range [${this.raftLog.committed}, ${this.raftLog.lastIndex()}]`);
    this.raftLog.committed = hs.commit;
    this.term = hs.term;
    this.vote = hs.vote;
  }

  private assertConfStateMatches(cs: ConfState): void {
    const got = this.prs.confState();
    const same = (a: readonly number[], b: readonly number[]): boolean => sortedIds(a).join(',') === sortedIds(b).join(',');
    if (!(same(got.nodes, cs.nodes) && same(got.learners, cs.learners) && same(got.votersOutgoing, cs.votersOutgoing) && same(got.learnersNext, cs.learnersNext) && got.autoLeave === cs.autoLeave)) assert(false, `restored conf state ${JSON.stringify(got)} differs from ${JSON.stringify(cs)}`);
  }

  /** Records a read that is ready to be served (local) or answers a follower. */
  responseToReadIndexReq(req: Message, readIndex: number): Message | undefined {
    if (req.from === NONE || req.from === this.id) {
      this.readStates.push({ index: readIndex, requestCtx: req.entries[0]?.data ?? Buffer.alloc(0) });
      return undefined;
    }
    return newMessage({ msgType: MessageType.MsgReadIndexResponse, to: req.from, index: readIndex, entries: req.entries });
  }

  isJoint(): boolean {
    return isJoint(this.prs.config);
  }
}

/** Whether (and how) a ConfChangeV2 enters a joint configuration. */
export function enterJoint(cc: ConfChangeV2): { autoLeave: boolean } | undefined {
  // Empty changes mean "leave joint"; a single change can be simple.
  if (cc.transition !== ConfChangeTransition.Auto || cc.changes.length > 1) {
    switch (cc.transition) {
      case ConfChangeTransition.Auto:
      case ConfChangeTransition.JointImplicit:
        return { autoLeave: true };
      case ConfChangeTransition.JointExplicit:
        return { autoLeave: false };
      default:
        return { autoLeave: true };
    }
  }
  return undefined;
}
