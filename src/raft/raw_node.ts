/**
 * RawNode: the application's handle on one raft node (etcd's RawNode). Drive
 * it with `tick()` on a timer, `step()` with messages from peers, the
 * proposal methods, and the `ready()` / `advance()` loop (see ready.ts for
 * the ordering contract).
 */
import { assert } from '../util/assert.js';
import type { Config } from './config.js';
import { encodeConfChange, toV2 } from './conf_change_codec.js';
import { Raft } from './raft.js';
import type { Ready } from './ready.js';
import {
  ConfChangeTransition,
  EntryType,
  hardStateEqual,
  isEmptyHardState,
  isLocalMsg,
  isResponseMsg,
  MessageType,
  newEntry,
  newMessage,
  RaftError,
  RAFT_ERROR_CODES,
  StateType,
} from './types.js';
import type { ConfChange, ConfChangeV2, ConfState, Entry, HardState, Message, SoftState } from './types.js';

export enum SnapshotStatus {
  Finish = 1,
  Failure = 2,
}

/** A read-only picture of a node, for logs, tests and the raftstore (e.g. C4 checks). */
export interface Status {
  readonly id: number;
  readonly hardState: HardState;
  readonly softState: SoftState;
  readonly applied: number;
  readonly leadTransferee: number;
  readonly confState: ConfState;
  /** Only on the leader: match/next per member. */
  readonly progress: ReadonlyMap<number, { match: number; next: number; state: number; recentActive: boolean; isLearner: boolean }>;
}

export class RawNode {
  readonly raft: Raft;
  private prevSoftState: SoftState;
  private prevHardState: HardState;

  /** @throws {AssertionError} on an invalid config or inconsistent storage. */
  constructor(config: Config) {
    this.raft = new Raft(config);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = this.raft.hardState();
  }

  tick(): void {
    this.raft.tick();
  }

  /** Starts an election now (pre-vote first if configured). */
  campaign(): RaftError | undefined {
    return this.raft.step(newMessage({ msgType: MessageType.MsgHup }));
  }

  /** Proposes `data` to be appended. Refusals come back as a RaftError. */
  propose(data: Buffer): RaftError | undefined {
    return this.raft.step(newMessage({ msgType: MessageType.MsgPropose, from: this.raft.id, entries: [newEntry({ data })] }));
  }

  /** Proposes many payloads as one message (one append, one broadcast). */
  proposeBatch(datas: readonly Buffer[]): RaftError | undefined {
    if (datas.length === 0) return undefined;
    const entries = datas.map((data) => newEntry({ data }));
    return this.raft.step(newMessage({ msgType: MessageType.MsgPropose, from: this.raft.id, entries }));
  }

  /** Proposes entries of the given types together (normal commands and conf changes, in order). */
  proposeEntries(entries: readonly { readonly entryType: EntryType; readonly data: Buffer }[]): RaftError | undefined {
    if (entries.length === 0) return undefined;
    return this.raft.step(newMessage({ msgType: MessageType.MsgPropose, from: this.raft.id, entries: entries.map((e) => newEntry({ entryType: e.entryType, data: e.data })) }));
  }

  /** Proposes a membership change (TinyKV's ConfChange or a ConfChangeV2). */
  proposeConfChange(cc: ConfChange | ConfChangeV2): RaftError | undefined {
    const { entryType, data } = encodeConfChange(cc);
    return this.raft.step(newMessage({ msgType: MessageType.MsgPropose, from: this.raft.id, entries: [newEntry({ entryType, data })] }));
  }

  /**
   * Applies a committed conf change (call it when applying its entry).
   * Returns the new configuration, or the refusal when the committed change
   * does not fit the current configuration (then nothing changes).
   */
  applyConfChange(cc: ConfChange | ConfChangeV2): ConfState | RaftError {
    return this.raft.applyConfChange(toV2(cc));
  }

  /** Steps a message from a peer. Local messages must go through the methods above. */
  step(m: Message): RaftError | undefined {
    if (isLocalMsg(m.msgType)) return new RaftError(RAFT_ERROR_CODES.StepLocalMsg, `cannot step local message ${MessageType[m.msgType]}`);
    if (isResponseMsg(m.msgType) && !this.raft.prs.progress.has(m.from)) {
      return new RaftError(RAFT_ERROR_CODES.StepPeerNotFound, `cannot step a response from unknown peer ${m.from}`);
    }
    return this.raft.step(m);
  }

  hasReady(): boolean {
    const r = this.raft;
    const ss = r.softState();
    if (ss.lead !== this.prevSoftState.lead || ss.raftState !== this.prevSoftState.raftState) return true;
    const hs = r.hardState();
    if (!isEmptyHardState(hs) && !hardStateEqual(hs, this.prevHardState)) return true;
    if (r.raftLog.hasPendingSnapshot() && !r.raftLog.unstable.snapshotInProgress) return true;
    if (r.msgs.length > 0 || r.raftLog.unstable.entries.length > 0 || r.raftLog.hasNextEnts()) return true;
    return r.readStates.length > 0;
  }

  /** Collects what the application must do now; process it, then call advance(rd). */
  ready(): Ready {
    const r = this.raft;
    const ss = r.softState();
    const hs = r.hardState();
    const entries = r.raftLog.unstableEntries();
    const softChanged = ss.lead !== this.prevSoftState.lead || ss.raftState !== this.prevSoftState.raftState;
    const hardChanged = !isEmptyHardState(hs) && !hardStateEqual(hs, this.prevHardState);
    const snapshot = r.raftLog.unstable.snapshotInProgress ? undefined : r.raftLog.unstable.snapshot;
    // One fixed object shape, absent fields holding undefined (V8 builds it
    // much faster than conditional spreads); readers test `!== undefined`.
    const rd = {
      softState: softChanged ? ss : undefined,
      hardState: hardChanged ? hs : undefined,
      readStates: r.readStates,
      entries,
      snapshot,
      committedEntries: r.raftLog.nextEnts(),
      messages: r.msgs,
      mustSync: entries.length > 0 || hs.vote !== this.prevHardState.vote || hs.term !== this.prevHardState.term,
    } as Ready;
    // Accept: what this Ready carries is now the application's to process.
    if (softChanged) this.prevSoftState = ss;
    if (hardChanged) this.prevHardState = hs;
    r.readStates = [];
    r.msgs = [];
    r.raftLog.unstable.acceptInProgress();
    return rd;
  }

  /** Tells the node that everything in `rd` is persisted and applied. */
  advance(rd: Ready): void {
    const r = this.raft;
    r.reduceUncommittedSize(rd.committedEntries);
    const last = rd.committedEntries[rd.committedEntries.length - 1];
    const newApplied = last?.index ?? rd.snapshot?.metadata?.index ?? 0;
    if (newApplied > 0) {
      const oldApplied = r.raftLog.applied;
      r.raftLog.appliedTo(newApplied);
      this.maybeAutoLeaveJoint(oldApplied, newApplied);
    }
    const lastEntry: Entry | undefined = rd.entries[rd.entries.length - 1];
    if (lastEntry !== undefined) r.raftLog.stableTo(lastEntry.index, lastEntry.term);
    if (rd.snapshot?.metadata !== undefined) r.raftLog.stableSnapTo(rd.snapshot.metadata.index);
  }

  /**
   * Once the joint configuration's entry is applied and auto-leave is set, the
   * leader proposes the empty ConfChangeV2 that leaves it.
   */
  private maybeAutoLeaveJoint(oldApplied: number, newApplied: number): void {
    const r = this.raft;
    if (!r.prs.config.autoLeave || r.state !== StateType.Leader) return;
    if (!(oldApplied <= r.pendingConfIndex && newApplied >= r.pendingConfIndex)) return;
    const { entryType, data } = encodeConfChange({ transition: ConfChangeTransition.Auto, changes: [], context: Buffer.alloc(0) });
    assert(entryType === EntryType.EntryConfChangeV2, 'leave-joint must be a V2 entry');
    const ok = r.appendEntry([newEntry({ entryType, data })]);
    assert(ok, 'refused to append the leave-joint entry');
    r.pendingConfIndex = r.raftLog.lastIndex();
    r.bcastAppend();
  }

  /** Asks the leader to hand leadership to `transferee`. */
  transferLeader(transferee: number): void {
    this.raft.step(newMessage({ msgType: MessageType.MsgTransferLeader, from: transferee }));
  }

  /**
   * Requests a linearizable read point; the answer arrives as a ReadState with
   * `requestCtx` in a later Ready.
   */
  readIndex(requestCtx: Buffer): RaftError | undefined {
    return this.raft.step(newMessage({ msgType: MessageType.MsgReadIndex, entries: [newEntry({ data: requestCtx })] }));
  }

  reportUnreachable(id: number): void {
    this.raft.step(newMessage({ msgType: MessageType.MsgUnreachable, from: id }));
  }

  reportSnapshot(id: number, status: SnapshotStatus): void {
    this.raft.step(newMessage({ msgType: MessageType.MsgSnapStatus, from: id, reject: status === SnapshotStatus.Failure }));
  }

  status(): Status {
    const r = this.raft;
    const progress = new Map<number, { match: number; next: number; state: number; recentActive: boolean; isLearner: boolean }>();
    if (r.state === StateType.Leader) {
      r.prs.visit((id, pr) => progress.set(id, { match: pr.match, next: pr.next, state: pr.state, recentActive: pr.recentActive, isLearner: pr.isLearner }));
    }
    return {
      id: r.id,
      hardState: r.hardState(),
      softState: r.softState(),
      applied: r.raftLog.applied,
      leadTransferee: r.leadTransferee,
      confState: r.prs.confState(),
      progress,
    };
  }
}
