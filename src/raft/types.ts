/**
 * Vocabulary of the raft core: the eraftpb messages and entries (TinyKV's
 * wire types, extended), node states, and the errors `step` returns as values.
 */
import {
  ConfChangeTransition,
  ConfChangeType,
  EntryType,
  MessageType,
} from '../pb/eraftpb.js';
import type {
  ConfChange,
  ConfChangeSingle,
  ConfChangeV2,
  ConfState,
  Entry,
  HardState,
  Message,
  Snapshot,
} from '../pb/eraftpb.js';
import { CodedError } from '../util/errors.js';

export { ConfChangeTransition, ConfChangeType, EntryType, MessageType };
export type { ConfChange, ConfChangeSingle, ConfChangeV2, ConfState, Entry, HardState, Message, Snapshot };

/** Node id 0 means "nobody" (no leader, no vote). */
export const NONE = 0;

export enum StateType {
  Follower = 0,
  Candidate = 1,
  Leader = 2,
  PreCandidate = 3,
}

export const STATE_NAMES: Record<StateType, string> = {
  [StateType.Follower]: 'StateFollower',
  [StateType.Candidate]: 'StateCandidate',
  [StateType.Leader]: 'StateLeader',
  [StateType.PreCandidate]: 'StatePreCandidate',
};

/** Volatile state: who leads and in what role this node is. Not persisted. */
export interface SoftState {
  readonly lead: number;
  readonly raftState: StateType;
}

const EMPTY_BYTES = Buffer.alloc(0);

/** A message with every unspecified field zero, as tests compare whole messages. */
export function newMessage(fields: Partial<Message> & { msgType: MessageType }): Message {
  return {
    msgType: fields.msgType,
    to: fields.to ?? 0,
    from: fields.from ?? 0,
    term: fields.term ?? 0,
    logTerm: fields.logTerm ?? 0,
    index: fields.index ?? 0,
    entries: fields.entries ?? [],
    commit: fields.commit ?? 0,
    snapshot: fields.snapshot,
    reject: fields.reject ?? false,
    rejectHint: fields.rejectHint ?? 0,
    context: fields.context ?? EMPTY_BYTES,
  };
}

export function newEntry(fields: Partial<Entry> = {}): Entry {
  return {
    entryType: fields.entryType ?? EntryType.EntryNormal,
    term: fields.term ?? 0,
    index: fields.index ?? 0,
    data: fields.data ?? EMPTY_BYTES,
  };
}

export function emptyHardState(): HardState {
  return { term: 0, vote: 0, commit: 0 };
}

export function isEmptyHardState(hs: HardState): boolean {
  return hs.term === 0 && hs.vote === 0 && hs.commit === 0;
}

export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

export function emptyConfState(): ConfState {
  return { nodes: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
}

export function emptySnapshot(): Snapshot {
  return { data: EMPTY_BYTES, metadata: { confState: emptyConfState(), index: 0, term: 0 } };
}

export function snapshotIndex(s: Snapshot | undefined): number {
  return s?.metadata?.index ?? 0;
}

export function snapshotTerm(s: Snapshot | undefined): number {
  return s?.metadata?.term ?? 0;
}

export function isEmptySnapshot(s: Snapshot | undefined): boolean {
  return snapshotIndex(s) === 0;
}

/**
 * A copy of a message as a network delivers it: the core mutates some messages
 * it is given (the entries of a proposal, the term of a forwarded request), so
 * a duplicated or retained message must not share that state with its twin.
 * Payload bytes are shared: nothing mutates them.
 */
export function cloneMessage(m: Message): Message {
  const snap = m.snapshot;
  let snapshot: Snapshot | undefined;
  if (snap !== undefined) {
    const md = snap.metadata;
    snapshot = {
      data: snap.data,
      metadata: md === undefined ? undefined : { index: md.index, term: md.term, confState: md.confState === undefined ? undefined : cloneConfState(md.confState) },
    };
  }
  return {
    ...m,
    entries: m.entries.map((e) => ({ entryType: e.entryType, term: e.term, index: e.index, data: e.data })),
    snapshot,
  };
}

export function cloneConfState(cs: ConfState): ConfState {
  return { ...cs, nodes: [...cs.nodes], learners: [...cs.learners], votersOutgoing: [...cs.votersOutgoing], learnersNext: [...cs.learnersNext] };
}

/** Messages that never cross the network. */
export function isLocalMsg(t: MessageType): boolean {
  return (
    t === MessageType.MsgHup ||
    t === MessageType.MsgBeat ||
    t === MessageType.MsgUnreachable ||
    t === MessageType.MsgSnapStatus ||
    t === MessageType.MsgCheckQuorum
  );
}

export function isResponseMsg(t: MessageType): boolean {
  return (
    t === MessageType.MsgAppendResponse ||
    t === MessageType.MsgRequestVoteResponse ||
    t === MessageType.MsgHeartbeatResponse ||
    t === MessageType.MsgUnreachable ||
    t === MessageType.MsgPreVoteResponse ||
    t === MessageType.MsgReadIndexResponse
  );
}

export function voteRespMsgType(t: MessageType): MessageType {
  return t === MessageType.MsgRequestVote ? MessageType.MsgRequestVoteResponse : MessageType.MsgPreVoteResponse;
}

export const RAFT_ERROR_CODES = {
  /** The proposal was not appended (not leader, no leader known, or removed). Retry elsewhere. */
  ProposalDropped: 'RAFT_PROPOSAL_DROPPED',
  /** The leader is transferring leadership and refuses proposals until it ends (T1). Retry. */
  TransferringLeader: 'RAFT_TRANSFERRING_LEADER',
  /** A conf change is proposed while an earlier one is not applied yet (C3). Retry after it applies. */
  ConfChangePending: 'RAFT_CONF_CHANGE_PENDING',
  /** A conf change that the current configuration cannot take (e.g. leave joint when not joint). */
  InvalidConfChange: 'RAFT_INVALID_CONF_CHANGE',
  /** The uncommitted tail of the log is over its byte limit. Retry later. */
  UncommittedLimit: 'RAFT_UNCOMMITTED_LIMIT',
  /** RawNode.step was given a local message; use the RawNode method instead. */
  StepLocalMsg: 'RAFT_STEP_LOCAL_MSG',
  /** A response from a peer that is not in the configuration. */
  StepPeerNotFound: 'RAFT_STEP_PEER_NOT_FOUND',
} as const;
export type RaftErrorCode = (typeof RAFT_ERROR_CODES)[keyof typeof RAFT_ERROR_CODES];

/** An expected refusal, returned (never thrown) by `step` and the RawNode proposal methods. */
export class RaftError extends CodedError<RaftErrorCode> {
  override readonly name = 'RaftError';
}
