/**
 * The leader's message handling (etcd's stepLeader), split into the local
 * commands a leader takes and the responses it gets from followers.
 */
import { assert } from '../util/assert.js';
import { mark } from '../util/marks.js';
import { decodeConfChangeEntry } from './conf_change_codec.js';
import { jointVoteResult } from './quorum/joint.js';
import { VoteResult } from './quorum/majority.js';
import { ReadOnlyOption, requestCtx } from './read_only.js';
import type { Raft } from './raft.js';
import { ProgressState } from './tracker/progress.js';
import type { Progress } from './tracker/progress.js';
import { EntryType, MessageType, NONE, RaftError, RAFT_ERROR_CODES, StateType } from './types.js';
import type { Message } from './types.js';

export function stepLeader(r: Raft, m: Message): RaftError | undefined {
  switch (m.msgType) {
    case MessageType.MsgBeat:
      r.bcastHeartbeat();
      if (r.resendProbeOnHeartbeat) resendProbes(r);
      return undefined;
    case MessageType.MsgCheckQuorum:
      checkQuorum(r);
      return undefined;
    case MessageType.MsgPropose:
      return propose(r, m);
    case MessageType.MsgReadIndex:
      readIndex(r, m);
      return undefined;
    default:
      break;
  }
  const pr = r.prs.progress.get(m.from);
  if (pr === undefined) return undefined; // a response from a node no longer in the config
  switch (m.msgType) {
    case MessageType.MsgAppendResponse:
      appendResponse(r, m, pr);
      break;
    case MessageType.MsgHeartbeatResponse:
      heartbeatResponse(r, m, pr);
      break;
    case MessageType.MsgSnapStatus:
      if (pr.state !== ProgressState.Snapshot) break;
      // On failure forget the snapshot; either way probe again, but only after
      // the next heartbeat response or MsgAppend answer (probeSent).
      if (m.reject) pr.pendingSnapshot = 0;
      pr.becomeProbe();
      pr.probeSent = true;
      break;
    case MessageType.MsgUnreachable:
      // Optimistic replication to an unreachable peer is wasted: probe instead.
      if (pr.state === ProgressState.Replicate) pr.becomeProbe();
      break;
    case MessageType.MsgTransferLeader:
      transferLeader(r, m, pr);
      break;
    default:
      break;
  }
  return undefined;
}

function checkQuorum(r: Raft): void {
  // The leader always counts itself as active (it may have just removed itself).
  const self = r.prs.progress.get(r.id);
  if (self !== undefined) self.recentActive = true;
  if (!r.prs.quorumActive()) {
    mark('raft: check-quorum failed, leader steps down');
    r.becomeFollower(r.term, NONE);
  }
  r.prs.visit((id, pr) => {
    if (id !== r.id) pr.recentActive = false;
  });
}

function propose(r: Raft, m: Message): RaftError | undefined {
  assert(m.entries.length > 0, 'stepped empty MsgPropose');
  if (!r.prs.progress.has(r.id)) {
    // Removed from the configuration, but not stepped down yet.
    return new RaftError(RAFT_ERROR_CODES.ProposalDropped, `node ${r.id} is not in the configuration`);
  }
  if (r.leadTransferee !== NONE) {
    // T1: no new entries while handing over, or the transferee could never
    // catch up and win.
    mark('raft: proposal refused, leader transfer in progress');
    return new RaftError(RAFT_ERROR_CODES.TransferringLeader, `leader ${r.id} is transferring leadership to ${r.leadTransferee}`);
  }
  const refusal = checkConfChanges(r, m);
  if (refusal !== undefined) return refusal;
  if (!r.appendEntry(m.entries)) {
    return new RaftError(RAFT_ERROR_CODES.UncommittedLimit, 'too many uncommitted bytes, retry later');
  }
  r.bcastAppend();
  return undefined;
}

/**
 * C3: at most one unapplied conf change; a refused one is reported to the
 * proposer, never turned into a silent no-op.
 */
function checkConfChanges(r: Raft, m: Message): RaftError | undefined {
  const lastIndex = r.raftLog.lastIndex();
  let pendingConfIndex = r.pendingConfIndex;
  for (let i = 0; i < m.entries.length; i++) {
    const e = m.entries[i]!;
    if (e.entryType === EntryType.EntryNormal) continue;
    const cc = decodeConfChangeEntry(e);
    const alreadyPending = pendingConfIndex > r.raftLog.applied;
    const alreadyJoint = r.isJoint();
    const wantsLeaveJoint = cc.changes.length === 0;
    if (alreadyPending) {
      mark('raft: conf change refused, another is pending');
      return new RaftError(
        RAFT_ERROR_CODES.ConfChangePending,
        `possible unapplied conf change at index ${pendingConfIndex} (applied to ${r.raftLog.applied})`,
      );
    }
    if (alreadyJoint && !wantsLeaveJoint) {
      return new RaftError(RAFT_ERROR_CODES.InvalidConfChange, 'must transition out of joint config first');
    }
    if (!alreadyJoint && wantsLeaveJoint) {
      return new RaftError(RAFT_ERROR_CODES.InvalidConfChange, 'not in joint state; refusing empty conf change');
    }
    pendingConfIndex = lastIndex + i + 1;
  }
  r.pendingConfIndex = pendingConfIndex;
  return undefined;
}

function readIndex(r: Raft, m: Message): void {
  if (r.prs.isSingleton()) {
    const resp = r.responseToReadIndexReq(m, r.raftLog.committed);
    if (resp !== undefined) r.send(resp);
    return;
  }
  // A new leader does not know the commit index of earlier terms until it
  // has committed an entry of its own (thesis §6.4): hold the read.
  if (!r.committedEntryInCurrentTerm()) {
    r.pendingReadIndexMessages.push(m);
    return;
  }
  sendReadIndexResponse(r, m);
}

export function sendReadIndexResponse(r: Raft, m: Message): void {
  switch (r.readOnly.option) {
    case ReadOnlyOption.Safe: {
      // Confirm leadership with a heartbeat round carrying the request context.
      r.readOnly.addRequest(r.raftLog.committed, m);
      r.readOnly.recvAck(r.id, requestCtx(m));
      r.bcastHeartbeatWithCtx(requestCtx(m));
      return;
    }
    case ReadOnlyOption.LeaseBased: {
      const resp = r.responseToReadIndexReq(m, r.raftLog.committed);
      if (resp !== undefined) r.send(resp);
      return;
    }
  }
}

function releasePendingReadIndexMessages(r: Raft): void {
  if (r.pendingReadIndexMessages.length === 0) return;
  if (!r.committedEntryInCurrentTerm()) return;
  const msgs = r.pendingReadIndexMessages;
  r.pendingReadIndexMessages = [];
  for (const m of msgs) sendReadIndexResponse(r, m);
}

function appendResponse(r: Raft, m: Message, pr: Progress): void {
  pr.recentActive = true;
  pr.answeredSinceBeat = true;
  if (m.reject) {
    // The hint (the follower's last index, and its term there) lets us skip a
    // whole conflicting term per round trip.
    let nextProbeIdx = m.rejectHint;
    if (m.logTerm > 0) nextProbeIdx = r.raftLog.findConflictByTerm(m.rejectHint, m.logTerm).index;
    if (pr.maybeDecrTo(m.index, nextProbeIdx)) {
      if (pr.state === ProgressState.Replicate) pr.becomeProbe();
      r.sendAppend(m.from);
    }
    return;
  }
  const oldPaused = pr.isPaused();
  if (!pr.maybeUpdate(m.index)) return;
  switch (pr.state) {
    case ProgressState.Probe:
      pr.becomeReplicate();
      break;
    case ProgressState.Snapshot:
      // The follower has caught up past the snapshot: replicate again.
      if (pr.match + 1 >= r.raftLog.firstIndex()) {
        pr.becomeProbe();
        pr.becomeReplicate();
      }
      break;
    case ProgressState.Replicate:
      pr.inflights.freeLE(m.index);
      break;
  }
  if (r.maybeCommit()) {
    releasePendingReadIndexMessages(r);
    r.bcastAppend();
  } else if (oldPaused) {
    // The follower was paused: now it is not, send what it missed.
    r.sendAppend(m.from);
  }
  // Send more while the window allows, so a large backlog drains without
  // waiting for heartbeats.
  while (r.state === StateType.Leader && r.maybeSendAppend(m.from, false)) {
    // each iteration sends one message; the in-flight window bounds the loop
  }
  if (m.from === r.leadTransferee && pr.match === r.raftLog.lastIndex()) {
    // T1: the transferee has caught up; hand over now.
    r.sendTimeoutNow(m.from);
  }
}

/**
 * Config.resendProbeOnHeartbeat: a follower that is behind and answered
 * nothing for a whole heartbeat interval lost what was in flight to it (or
 * its answers): it goes back to Probe and gets one MsgAppend now, a
 * retransmission timeout of one heartbeat interval. A follower that answers
 * is left alone, so pipelined replication is unaffected.
 */
function resendProbes(r: Raft): void {
  const last = r.raftLog.lastIndex();
  r.prs.visit((id, pr) => {
    const silent = !pr.answeredSinceBeat;
    pr.answeredSinceBeat = false;
    if (id === r.id || !silent || pr.match >= last) return;
    if (pr.state === ProgressState.Snapshot) return;
    if (pr.state === ProgressState.Replicate) pr.becomeProbe();
    mark('raft: silent follower probed again with the heartbeat');
    pr.probeSent = false;
    r.sendAppend(id);
  });
}

function heartbeatResponse(r: Raft, m: Message, pr: Progress): void {
  pr.recentActive = true;
  pr.answeredSinceBeat = true;
  pr.probeAcked();
  // A full window with no acks may mean a lost message: free one slot.
  if (pr.state === ProgressState.Replicate && pr.inflights.full()) pr.inflights.freeFirstOne();
  if (pr.match < r.raftLog.lastIndex()) r.sendAppend(m.from);
  if (r.readOnly.option !== ReadOnlyOption.Safe || m.context.length === 0) return;
  const acks = r.readOnly.recvAck(m.from, m.context);
  if (acks === undefined) return;
  const votes = new Map<number, boolean>();
  for (const id of acks) votes.set(id, true);
  if (jointVoteResult(r.prs.config.voters, votes) !== VoteResult.Won) return;
  for (const rs of r.readOnly.advance(m.context)) {
    const resp = r.responseToReadIndexReq(rs.req, rs.index);
    if (resp !== undefined) r.send(resp);
  }
}

function transferLeader(r: Raft, m: Message, pr: Progress): void {
  if (pr.isLearner) return;
  const transferee = m.from;
  const last = r.leadTransferee;
  if (last !== NONE) {
    if (last === transferee) return; // the same transfer is already under way
    r.abortLeaderTransfer();
  }
  if (transferee === r.id) return; // already leader: transfer to self is a no-op (and cancels)
  // The transfer must finish within one election timeout (T2).
  r.electionElapsed = 0;
  r.leadTransferee = transferee;
  if (pr.match === r.raftLog.lastIndex()) {
    r.sendTimeoutNow(transferee);
  } else {
    // T1: bring the transferee's log up to date first.
    r.sendAppend(transferee);
  }
}
