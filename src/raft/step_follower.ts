/**
 * Message handling of followers and (pre-)candidates (etcd's stepFollower and
 * stepCandidate), and the handlers of append, heartbeat and snapshot they
 * share.
 */
import { mark } from '../util/marks.js';
import { CampaignType } from './raft.js';
import type { Raft } from './raft.js';
import { VoteResult } from './quorum/majority.js';
import { MessageType, newMessage, NONE, RaftError, RAFT_ERROR_CODES, StateType } from './types.js';
import type { Message } from './types.js';

export function stepFollower(r: Raft, m: Message): RaftError | undefined {
  switch (m.msgType) {
    case MessageType.MsgPropose:
      if (r.lead === NONE) return new RaftError(RAFT_ERROR_CODES.ProposalDropped, `no leader at term ${r.term}; dropping proposal`);
      if (r.disableProposalForwarding) {
        return new RaftError(RAFT_ERROR_CODES.ProposalDropped, `not leader at term ${r.term}; proposal forwarding is disabled`);
      }
      m.to = r.lead;
      r.send(m);
      return undefined;
    case MessageType.MsgAppend:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleAppendEntries(r, m);
      return undefined;
    case MessageType.MsgHeartbeat:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleHeartbeat(r, m);
      return undefined;
    case MessageType.MsgSnapshot:
      r.electionElapsed = 0;
      r.lead = m.from;
      handleSnapshot(r, m);
      return undefined;
    case MessageType.MsgTransferLeader:
      if (r.lead === NONE) return undefined;
      m.to = r.lead;
      m.term = 0;
      r.send(m);
      return undefined;
    case MessageType.MsgTimeoutNow:
      // The leader chose us: campaign at once, bypassing pre-vote and the lease.
      r.hup(CampaignType.Transfer);
      return undefined;
    case MessageType.MsgReadIndex:
      if (r.lead === NONE) return undefined;
      m.to = r.lead;
      r.send(m);
      return undefined;
    case MessageType.MsgReadIndexResponse:
      if (m.entries.length !== 1) return undefined;
      r.readStates.push({ index: m.index, requestCtx: m.entries[0]!.data });
      return undefined;
    default:
      return undefined;
  }
}

export function stepCandidate(r: Raft, m: Message): RaftError | undefined {
  // Only the responses to our own kind of election count.
  const myVoteRespType = r.state === StateType.PreCandidate ? MessageType.MsgPreVoteResponse : MessageType.MsgRequestVoteResponse;
  switch (m.msgType) {
    case MessageType.MsgPropose:
      return new RaftError(RAFT_ERROR_CODES.ProposalDropped, `no leader at term ${r.term}; dropping proposal`);
    case MessageType.MsgAppend:
      r.becomeFollower(m.term, m.from);
      handleAppendEntries(r, m);
      return undefined;
    case MessageType.MsgHeartbeat:
      r.becomeFollower(m.term, m.from);
      handleHeartbeat(r, m);
      return undefined;
    case MessageType.MsgSnapshot:
      r.becomeFollower(m.term, m.from);
      handleSnapshot(r, m);
      return undefined;
    case myVoteRespType: {
      const result = r.poll(m.from, m.msgType, !m.reject);
      if (result === VoteResult.Won) {
        if (r.state === StateType.PreCandidate) {
          r.campaign(CampaignType.Election);
        } else {
          r.becomeLeader();
          r.bcastAppend();
        }
      } else if (result === VoteResult.Lost) {
        // A pre-candidate that lost returns to follower at its old term.
        r.becomeFollower(r.term, NONE);
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

/**
 * S1: while a snapshot handed to the application is not yet applied (between
 * the Ready that carried it and advance), further snapshots and appends are
 * ignored; the leader retries after its next heartbeat round.
 */
function snapshotBeingApplied(r: Raft): boolean {
  if (!r.raftLog.unstable.snapshotInProgress) return false;
  mark('raft: ignore append/snapshot, pending snapshot not applied');
  return true;
}

export function handleAppendEntries(r: Raft, m: Message): void {
  if (snapshotBeingApplied(r)) return;
  if (m.index < r.raftLog.committed) {
    // S2: the leader's prevLogIndex is below our commit index, possibly
    // compacted here: everything up to `committed` matches, say so.
    mark('raft: append below committed, answer with committed index');
    r.send(newMessage({ msgType: MessageType.MsgAppendResponse, to: m.from, index: r.raftLog.committed }));
    return;
  }
  const lastNewIndex = r.raftLog.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
  if (lastNewIndex !== undefined) {
    r.send(newMessage({ msgType: MessageType.MsgAppendResponse, to: m.from, index: lastNewIndex }));
    return;
  }
  // Reject with a hint: the largest index <= min(m.index, lastIndex) whose
  // term is <= m.logTerm, so the leader can skip a whole term at once.
  const hintIndex = Math.min(m.index, r.raftLog.lastIndex());
  const hint = r.raftLog.findConflictByTerm(hintIndex, m.logTerm);
  r.send(
    newMessage({
      msgType: MessageType.MsgAppendResponse,
      to: m.from,
      index: m.index,
      reject: true,
      rejectHint: hint.index,
      logTerm: hint.term,
    }),
  );
}

export function handleHeartbeat(r: Raft, m: Message): void {
  // m.commit <= the match the leader verified, so it is within our log.
  r.raftLog.commitTo(m.commit);
  r.send(newMessage({ msgType: MessageType.MsgHeartbeatResponse, to: m.from, context: m.context }));
}

export function handleSnapshot(r: Raft, m: Message): void {
  if (snapshotBeingApplied(r)) return;
  if (r.restore(m.snapshot)) {
    r.send(newMessage({ msgType: MessageType.MsgAppendResponse, to: m.from, index: r.raftLog.lastIndex() }));
  } else {
    r.send(newMessage({ msgType: MessageType.MsgAppendResponse, to: m.from, index: r.raftLog.committed }));
  }
}
