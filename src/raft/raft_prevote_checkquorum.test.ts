/**
 * Goal: pin down what production raft adds to elections beyond TinyKV:
 * pre-vote (raft thesis §9.6), check-quorum (§6.2) and the leader lease that
 * check-quorum implies (a vote request heard within an election timeout of a
 * live leader is ignored unless it carries the CampaignTransfer context).
 *
 * Method: ports of etcd-io/raft raft_test.go (TestPreVoteFromAnyState,
 * TestPreVoteWithSplitVote, TestPreVoteWithCheckQuorum,
 * TestLeaderStepdownWhenQuorumActive/Lost, TestLeaderSupersedingWithCheckQuorum,
 * TestLeaderElectionWithCheckQuorum, TestFreeStuckCandidateWithCheckQuorum,
 * TestNonPromotableVoterWithCheckQuorum, TestDisruptiveFollower(PreVote), ...)
 * on the synchronous test network, plus scenarios of our own (a node back
 * from a minority partition, a pre-candidate hearing from a defunct leader,
 * the lease and its CampaignTransfer bypass). Where etcd flips `preVote` or
 * `checkQuorum` on a live node, we configure it at construction instead (the
 * fields are read-only here); each such test says why that is equivalent.
 * Coverage marks prove the lease and check-quorum paths ran.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectMark } from '../util/marks.js';
import { CAMPAIGN_TRANSFER } from './raft.js';
import type { Raft } from './raft.js';
import { MessageType, newMessage, NONE, StateType, voteRespMsgType } from './types.js';
import {
  msgBeat,
  msgHup,
  msgProp,
  newNetwork,
  newNetworkWithConfig,
  newTestMemoryStorage,
  newTestRaft,
} from './testing/network.js';
import type { ConfigOverrides } from './testing/network.js';

const PRE_VOTE: ConfigOverrides = { preVote: true };
const CHECK_QUORUM: ConfigOverrides = { checkQuorum: true };
const BOTH: ConfigOverrides = { preVote: true, checkQuorum: true };

/** A member of a 3-voter group (etcd's newTestRaft(id, 10, 1, newTestMemoryStorage(withPeers(1, 2, 3)))). */
function raft3(id: number, overrides: ConfigOverrides = {}, election = 10): Raft {
  return newTestRaft(id, [], election, 1, newTestMemoryStorage([1, 2, 3]), overrides);
}

/** etcd's setRandomizedElectionTimeout: fixes the jitter so a test controls who times out. */
function setRandomizedElectionTimeout(r: Raft, v: number): void {
  r.randomizedElectionTimeout = v;
}

function tickN(r: Raft, n: number): void {
  for (let i = 0; i < n; i++) r.tick();
}

describe('pre-vote', () => {
  for (const vt of [MessageType.MsgRequestVote, MessageType.MsgPreVote]) {
    const name = vt === MessageType.MsgPreVote ? 'TestPreVoteFromAnyState' : 'TestVoteFromAnyState';
    test(name, () => {
      for (const st of [StateType.Follower, StateType.PreCandidate, StateType.Candidate, StateType.Leader]) {
        const r = raft3(1);
        r.term = 1;
        switch (st) {
          case StateType.Follower:
            r.becomeFollower(r.term, 3);
            break;
          case StateType.PreCandidate:
            r.becomePreCandidate();
            break;
          case StateType.Candidate:
            r.becomeCandidate();
            break;
          case StateType.Leader:
            r.becomeCandidate();
            r.becomeLeader();
            break;
        }
        // Setting the state above may have advanced the term past 1.
        const origTerm = r.term;
        const newTerm = r.term + 1;
        const err = r.step(newMessage({ msgType: vt, from: 2, to: 1, term: newTerm, logTerm: newTerm, index: 42 }));
        assert.equal(err, undefined);
        const msgs = r.readMessages();
        assert.equal(msgs.length, 1, `${MessageType[vt]} in ${StateType[st]}`);
        assert.equal(msgs[0]!.msgType, voteRespMsgType(vt));
        assert.equal(msgs[0]!.reject, false, `${MessageType[vt]} in ${StateType[st]} rejected`);
        if (vt === MessageType.MsgRequestVote) {
          // A real vote resets state and term.
          assert.equal(r.state, StateType.Follower);
          assert.equal(r.term, newTerm);
          assert.equal(r.vote, 2);
        } else {
          // A pre-vote changes nothing: not the state, the term or the vote.
          assert.equal(r.state, st);
          assert.equal(r.term, origTerm);
          assert.ok(r.vote === NONE || r.vote === 1, `vote ${r.vote}`);
        }
      }
    });
  }

  test('a granted pre-vote response carries the future term; a rejection carries the voter term', () => {
    const r = raft3(1);
    r.becomeFollower(5, NONE);
    // Up-to-date pre-candidate at a future term: granted with that term.
    r.step(newMessage({ msgType: MessageType.MsgPreVote, from: 2, to: 1, term: 7, logTerm: 0, index: 0 }));
    let msgs = r.readMessages();
    assert.deepEqual(
      msgs.map((m) => [m.msgType, m.term, m.reject]),
      [[MessageType.MsgPreVoteResponse, 7, false]],
    );
    // A pre-vote from an older term: rejected with our term, so the sender learns it is behind.
    r.step(newMessage({ msgType: MessageType.MsgPreVote, from: 3, to: 1, term: 4, logTerm: 0, index: 0 }));
    msgs = r.readMessages();
    assert.deepEqual(
      msgs.map((m) => [m.msgType, m.term, m.reject]),
      [[MessageType.MsgPreVoteResponse, 5, true]],
    );
    assert.equal(r.term, 5);
    assert.equal(r.vote, NONE);
  });

  test('TestDuelingPreCandidates', () => {
    const a = raft3(1, PRE_VOTE);
    const b = raft3(2, PRE_VOTE);
    const c = raft3(3, PRE_VOTE);
    const nt = newNetwork(a, b, c);
    nt.cut(1, 3);
    nt.send(msgHup(1));
    nt.send(msgHup(3));
    // 1 becomes leader with the votes of 1 and 2.
    assert.equal(a.state, StateType.Leader);
    // 3 campaigns, then reverts to follower when its pre-vote is rejected.
    assert.equal(c.state, StateType.Follower);
    nt.recover();
    // 3 campaigns again; with pre-vote it does not disrupt the leader.
    nt.send(msgHup(3));
    const want: [Raft, StateType, number, number][] = [
      [a, StateType.Leader, 1, 1],
      [b, StateType.Follower, 1, 1],
      [c, StateType.Follower, 1, 0],
    ];
    for (const [sm, state, term, lastIndex] of want) {
      assert.equal(sm.state, state, `node ${sm.id}`);
      assert.equal(sm.term, term, `node ${sm.id}`);
      assert.equal(sm.raftLog.lastIndex(), lastIndex, `node ${sm.id}`);
    }
  });

  test('TestPreVoteWithSplitVote', () => {
    const [n1, n2, n3] = [raft3(1, PRE_VOTE), raft3(2, PRE_VOTE), raft3(3, PRE_VOTE)];
    for (const n of [n1, n2, n3]) n.becomeFollower(1, NONE);
    const nt = newNetwork(n1, n2, n3);
    nt.send(msgHup(1));
    // The leader goes down; both followers start an election at once.
    nt.isolate(1);
    nt.send(msgHup(2), msgHup(3));
    // Each pre-vote succeeds, then the real votes split.
    assert.equal(n2.term, 3);
    assert.equal(n3.term, 3);
    assert.equal(n2.state, StateType.Candidate);
    assert.equal(n3.state, StateType.Candidate);
    // Node 2 times out first and wins the next round.
    nt.send(msgHup(2));
    assert.equal(n2.term, 4);
    assert.equal(n3.term, 4);
    assert.equal(n2.state, StateType.Leader);
    assert.equal(n3.state, StateType.Follower);
  });

  test('TestPreVoteWithCheckQuorum', () => {
    const [n1, n2, n3] = [raft3(1, BOTH), raft3(2, BOTH), raft3(3, BOTH)];
    for (const n of [n1, n2, n3]) n.becomeFollower(1, NONE);
    const nt = newNetwork(n1, n2, n3);
    nt.send(msgHup(1));
    // Isolate the leader; 2 and 3 still know it as leader.
    nt.isolate(1);
    assert.equal(n1.state, StateType.Leader);
    assert.equal(n2.state, StateType.Follower);
    assert.equal(n3.state, StateType.Follower);
    // 2 ignores 3's pre-vote (lease); then 3, a pre-candidate that forgot the
    // leader, grants 2's pre-vote and vote.
    const lease = expectMark('raft: vote request ignored, leader lease');
    nt.send(msgHup(3));
    lease.assertHit();
    assert.equal(n3.state, StateType.PreCandidate);
    nt.send(msgHup(2));
    // etcd asserts `n2 leader || n3 follower`; here both hold.
    assert.equal(n2.state, StateType.Leader);
    assert.equal(n3.state, StateType.Follower);
  });

  test('TestNodeWithSmallerTermCanCompleteElection', () => {
    const [n1, n2, n3] = [raft3(1, PRE_VOTE), raft3(2, PRE_VOTE), raft3(3, PRE_VOTE)];
    for (const n of [n1, n2, n3]) n.becomeFollower(1, NONE);
    // Partition node 3 away.
    const nt = newNetwork(n1, n2, n3);
    nt.cut(1, 3);
    nt.cut(2, 3);
    nt.send(msgHup(1));
    assert.equal(n1.state, StateType.Leader);
    assert.equal(n2.state, StateType.Follower);
    nt.send(msgHup(3));
    assert.equal(n3.state, StateType.PreCandidate);
    nt.send(msgHup(2));
    assert.deepEqual([n1.term, n2.term, n3.term], [3, 3, 1]);
    assert.deepEqual([n1.state, n2.state, n3.state], [StateType.Follower, StateType.Leader, StateType.PreCandidate]);
    // Bring 3 back and at once lose the leader 2.
    nt.recover();
    nt.cut(2, 1);
    nt.cut(2, 3);
    nt.send(msgHup(3));
    nt.send(msgHup(1));
    const states: StateType[] = [n1.state, n3.state];
    assert.ok(states.includes(StateType.Leader), 'no leader elected');
  });

  for (const [label, overrides, why] of [
    ['pre-vote only', PRE_VOTE, 'its pre-vote is rejected: its log is behind'],
    ['pre-vote and check-quorum', BOTH, 'its pre-vote is ignored: the others are within the leader lease'],
  ] as const) {
    test(`a node back from a minority partition does not disrupt the majority (${label}): ${why}`, () => {
      const nt = newNetworkWithConfig(overrides, null, null, null);
      nt.send(msgHup(1));
      const [n1, n2, n3] = [nt.raft(1), nt.raft(2), nt.raft(3)];
      assert.equal(n1.state, StateType.Leader);
      const term = n1.term;
      nt.isolate(3);
      for (let i = 0; i < 3; i++) nt.send(msgProp(1));
      // Alone, 3 keeps campaigning; pre-vote never lets its term move.
      for (let i = 0; i < 5; i++) nt.send(msgHup(3));
      assert.equal(n3.term, term);
      assert.equal(n3.state, StateType.PreCandidate);
      nt.recover();
      nt.send(msgHup(3));
      // The majority never saw a higher term; the leader is undisturbed.
      assert.deepEqual([n1.term, n2.term, n3.term], [term, term, term]);
      assert.equal(n1.state, StateType.Leader);
      assert.equal(n2.state, StateType.Follower);
      // The next heartbeat brings 3 back as a follower, and it catches up.
      nt.send(msgBeat(1));
      assert.equal(n3.state, StateType.Follower);
      assert.equal(n3.lead, 1);
      assert.equal(n3.raftLog.committed, n1.raftLog.committed);
      assert.equal(n1.raftLog.committed, 4);
    });
  }

  test('a pre-candidate ignores a defunct leader of an older term and frees it with its higher term', () => {
    const nt = newNetworkWithConfig(BOTH, null, null, null);
    const [n1, n2, n3] = [nt.raft(1), nt.raft(2), nt.raft(3)];
    nt.send(msgHup(1));
    assert.equal(n1.state, StateType.Leader);
    assert.equal(n1.term, 1);
    // Leader 1 is cut off; once the lease has expired on 3, 2 wins term 2.
    nt.isolate(1);
    setRandomizedElectionTimeout(n3, n3.electionTimeout + 5);
    tickN(n3, n3.electionTimeout);
    nt.send(msgHup(2));
    assert.equal(n2.state, StateType.Leader);
    assert.equal(n2.term, 2);
    assert.equal(n3.term, 2);
    // Now 3 loses 2 as well and becomes a pre-candidate at term 2.
    nt.cut(2, 3);
    nt.send(msgHup(3));
    assert.equal(n3.state, StateType.PreCandidate);
    assert.equal(n3.term, 2);
    // The defunct leader 1 (term 1, still believing it leads) reaches 3.
    nt.recover();
    nt.cut(2, 3);
    nt.send(newMessage({ msgType: MessageType.MsgHeartbeat, from: 1, to: 3, term: n1.term }));
    // 3 does not follow it: it stays a pre-candidate at its own term ...
    assert.equal(n3.state, StateType.PreCandidate);
    assert.equal(n3.term, 2);
    assert.equal(n3.lead, NONE);
    // ... and its answer (an empty MsgAppendResponse at term 2) makes 1 step down.
    assert.equal(n1.state, StateType.Follower);
    assert.equal(n1.term, 2);
  });

  test('a pre-candidate hearing from a leader of its own term follows it', () => {
    const n3 = raft3(3, BOTH);
    n3.becomeFollower(2, NONE);
    n3.becomePreCandidate();
    n3.step(newMessage({ msgType: MessageType.MsgHeartbeat, from: 1, to: 3, term: 2 }));
    assert.equal(n3.state, StateType.Follower);
    assert.equal(n3.lead, 1);
    assert.equal(n3.term, 2);
  });

  test('TestDisruptiveFollower', () => {
    const [n1, n2, n3] = [raft3(1, CHECK_QUORUM), raft3(2, CHECK_QUORUM), raft3(3, CHECK_QUORUM)];
    for (const n of [n1, n2, n3]) n.becomeFollower(1, NONE);
    const nt = newNetwork(n1, n2, n3);
    nt.send(msgHup(1));
    assert.deepEqual([n1.state, n2.state, n3.state], [StateType.Leader, StateType.Follower, StateType.Follower]);
    // The leader's messages to 3 are delayed while 3's election ticks elapse.
    setRandomizedElectionTimeout(n3, n3.electionTimeout + 2);
    tickN(n3, n3.randomizedElectionTimeout - 1);
    n3.tick();
    assert.deepEqual([n1.state, n2.state, n3.state], [StateType.Leader, StateType.Follower, StateType.Candidate]);
    assert.deepEqual([n1.term, n2.term, n3.term], [2, 2, 3]);
    // The late heartbeat (lower term) is answered with 3's higher term, which
    // deposes the leader: without pre-vote a partitioned follower disrupts.
    nt.send(newMessage({ msgType: MessageType.MsgHeartbeat, from: 1, to: 3, term: n1.term }));
    assert.deepEqual([n1.state, n2.state, n3.state], [StateType.Follower, StateType.Follower, StateType.Candidate]);
    assert.deepEqual([n1.term, n2.term, n3.term], [3, 2, 3]);
  });

  test('TestDisruptiveFollowerPreVote', () => {
    // etcd turns pre-vote on only after 3 is isolated; 3 never campaigns
    // before that, so configuring it from the start is equivalent (the first
    // election just takes a pre-vote round and still ends at term 2).
    const [n1, n2, n3] = [raft3(1, BOTH), raft3(2, BOTH), raft3(3, BOTH)];
    for (const n of [n1, n2, n3]) n.becomeFollower(1, NONE);
    const nt = newNetwork(n1, n2, n3);
    nt.send(msgHup(1));
    assert.deepEqual([n1.state, n2.state, n3.state], [StateType.Leader, StateType.Follower, StateType.Follower]);
    nt.isolate(3);
    for (let i = 0; i < 3; i++) nt.send(msgProp(1));
    nt.recover();
    nt.send(msgHup(3));
    assert.deepEqual([n1.state, n2.state, n3.state], [StateType.Leader, StateType.Follower, StateType.PreCandidate]);
    assert.deepEqual([n1.term, n2.term, n3.term], [2, 2, 2]);
    // The delayed heartbeat does not make the leader step down.
    nt.send(newMessage({ msgType: MessageType.MsgHeartbeat, from: 1, to: 3, term: n1.term }));
    assert.equal(n1.state, StateType.Leader);
    assert.equal(n3.state, StateType.Follower);
  });
});

describe('check-quorum', () => {
  test('TestLeaderStepdownWhenQuorumActive', () => {
    const sm = raft3(1, CHECK_QUORUM, 5);
    sm.becomeCandidate();
    sm.becomeLeader();
    const m = expectMark('raft: check-quorum failed, leader steps down');
    for (let i = 0; i < sm.electionTimeout + 1; i++) {
      sm.step(newMessage({ msgType: MessageType.MsgHeartbeatResponse, from: 2, term: sm.term }));
      sm.tick();
    }
    m.assertNotHit();
    assert.equal(sm.state, StateType.Leader);
  });

  test('TestLeaderStepdownWhenQuorumLost', () => {
    const sm = raft3(1, CHECK_QUORUM, 5);
    sm.becomeCandidate();
    sm.becomeLeader();
    const m = expectMark('raft: check-quorum failed, leader steps down');
    tickN(sm, sm.electionTimeout + 1);
    m.assertHit();
    assert.equal(sm.state, StateType.Follower);
    assert.equal(sm.lead, NONE);
    // Having stepped down it knows no leader, so it holds no lease: it votes at once.
    sm.readMessages();
    sm.step(newMessage({ msgType: MessageType.MsgRequestVote, from: 2, to: 1, term: sm.term + 1, logTerm: 1, index: 1 }));
    assert.deepEqual(
      sm.readMessages().map((x) => [x.msgType, x.reject]),
      [[MessageType.MsgRequestVoteResponse, false]],
    );
  });

  test('without check-quorum a leader cut off from everyone stays leader', () => {
    const sm = raft3(1, {}, 5);
    sm.becomeCandidate();
    sm.becomeLeader();
    tickN(sm, 3 * sm.electionTimeout);
    assert.equal(sm.state, StateType.Leader);
  });

  test('TestLeaderSupersedingWithCheckQuorum', () => {
    const [a, b, c] = [raft3(1, CHECK_QUORUM), raft3(2, CHECK_QUORUM), raft3(3, CHECK_QUORUM)];
    const nt = newNetwork(a, b, c);
    setRandomizedElectionTimeout(b, b.electionTimeout + 1);
    tickN(b, b.electionTimeout);
    nt.send(msgHup(1));
    assert.equal(a.state, StateType.Leader);
    assert.equal(c.state, StateType.Follower);
    const lease = expectMark('raft: vote request ignored, leader lease');
    nt.send(msgHup(3));
    lease.assertHit();
    // b ignored c's vote request: its electionElapsed has not reached electionTimeout.
    assert.equal(c.state, StateType.Candidate);
    // Once b's electionElapsed reaches electionTimeout it votes.
    tickN(b, b.electionTimeout);
    nt.send(msgHup(3));
    assert.equal(c.state, StateType.Leader);
  });

  test('TestLeaderElectionWithCheckQuorum', () => {
    const [a, b, c] = [raft3(1, CHECK_QUORUM), raft3(2, CHECK_QUORUM), raft3(3, CHECK_QUORUM)];
    const nt = newNetwork(a, b, c);
    setRandomizedElectionTimeout(a, a.electionTimeout + 1);
    setRandomizedElectionTimeout(b, b.electionTimeout + 2);
    // Right after creation no one knows a leader, so votes are cast at once.
    nt.send(msgHup(1));
    assert.equal(a.state, StateType.Leader);
    assert.equal(c.state, StateType.Follower);
    // The randomized timeouts were reset by the state changes: fix them again.
    setRandomizedElectionTimeout(a, a.electionTimeout + 1);
    setRandomizedElectionTimeout(b, b.electionTimeout + 2);
    tickN(a, a.electionTimeout);
    tickN(b, b.electionTimeout);
    nt.send(msgHup(3));
    assert.equal(a.state, StateType.Follower);
    assert.equal(c.state, StateType.Leader);
  });

  test('TestFreeStuckCandidateWithCheckQuorum', () => {
    // A candidate with a higher term can disrupt a leader that still
    // "officially" holds the lease: the leader adopts the term and steps down.
    const [a, b, c] = [raft3(1, CHECK_QUORUM), raft3(2, CHECK_QUORUM), raft3(3, CHECK_QUORUM)];
    const nt = newNetwork(a, b, c);
    setRandomizedElectionTimeout(b, b.electionTimeout + 1);
    tickN(b, b.electionTimeout);
    nt.send(msgHup(1));
    nt.isolate(1);
    nt.send(msgHup(3));
    assert.equal(b.state, StateType.Follower);
    assert.equal(c.state, StateType.Candidate);
    assert.equal(c.term, b.term + 1);
    // Vote again, for safety.
    nt.send(msgHup(3));
    assert.equal(b.state, StateType.Follower);
    assert.equal(c.state, StateType.Candidate);
    assert.equal(c.term, b.term + 2);
    nt.recover();
    nt.send(newMessage({ msgType: MessageType.MsgHeartbeat, from: 1, to: 3, term: a.term }));
    // The stuck candidate's answer disrupts the leader, which frees it.
    assert.equal(a.state, StateType.Follower);
    assert.equal(c.term, a.term);
    // Vote again: this time c wins.
    nt.send(msgHup(3));
    assert.equal(c.state, StateType.Leader);
  });

  test('TestNonPromotableVoterWithCheckQuorum', () => {
    const a = newTestRaft(1, [], 10, 1, newTestMemoryStorage([1, 2]), CHECK_QUORUM);
    const b = newTestRaft(2, [], 10, 1, newTestMemoryStorage([1]), CHECK_QUORUM);
    const nt = newNetwork(a, b);
    setRandomizedElectionTimeout(b, b.electionTimeout + 1);
    // newNetwork reset b's configuration to {1, 2}: remove 2 again to make it non-promotable.
    b.removeNode(2);
    assert.equal(b.promotable(), false);
    tickN(b, b.electionTimeout);
    nt.send(msgHup(1));
    assert.equal(a.state, StateType.Leader);
    assert.equal(b.state, StateType.Follower);
    assert.equal(b.lead, 1);
  });

  test('TestAddNodeCheckQuorum', () => {
    // Adding a node does not trigger a check-quorum failure at once: the new
    // member counts as recently active until the next round.
    const r = newTestRaft(1, [], 10, 1, newTestMemoryStorage([1]), CHECK_QUORUM);
    r.becomeCandidate();
    r.becomeLeader();
    tickN(r, r.electionTimeout - 1);
    r.addNode(2);
    // This tick reaches electionTimeout and runs a quorum check.
    r.tick();
    assert.equal(r.state, StateType.Leader);
    // After another electionTimeout without hearing from 2, 1 steps down.
    tickN(r, r.electionTimeout);
    assert.equal(r.state, StateType.Follower);
  });
});

describe('leader lease (check-quorum)', () => {
  /** A follower of leader 2 at term 1 that heard from it `elapsed` ticks ago. */
  function followerInLease(elapsed: number): Raft {
    const r = raft3(1, CHECK_QUORUM);
    r.becomeFollower(1, 2);
    setRandomizedElectionTimeout(r, 100); // never campaign on its own here
    tickN(r, elapsed);
    r.readMessages();
    return r;
  }

  for (const vt of [MessageType.MsgRequestVote, MessageType.MsgPreVote]) {
    test(`a ${MessageType[vt]} of a higher term within the lease is ignored: no answer, term unchanged`, () => {
      const r = followerInLease(3);
      const m = expectMark('raft: vote request ignored, leader lease');
      r.step(newMessage({ msgType: vt, from: 3, to: 1, term: 5, logTerm: 1, index: 10 }));
      m.assertHit();
      assert.deepEqual(r.readMessages(), []);
      assert.equal(r.term, 1);
      assert.equal(r.lead, 2);
      assert.equal(r.vote, NONE);
      assert.equal(r.state, StateType.Follower);
    });
  }

  test('a leader ignores a higher-term vote request within its own lease', () => {
    const r = raft3(1, CHECK_QUORUM);
    r.becomeCandidate();
    r.becomeLeader();
    r.readMessages();
    const m = expectMark('raft: vote request ignored, leader lease');
    r.step(newMessage({ msgType: MessageType.MsgRequestVote, from: 3, to: 1, term: r.term + 1, logTerm: 9, index: 9 }));
    m.assertHit();
    assert.equal(r.state, StateType.Leader);
    assert.equal(r.term, 1);
    assert.deepEqual(r.readMessages(), []);
  });

  test('a vote request carrying the CampaignTransfer context bypasses the lease', () => {
    const r = followerInLease(3);
    const m = expectMark('raft: vote request ignored, leader lease');
    r.step(newMessage({ msgType: MessageType.MsgRequestVote, from: 3, to: 1, term: 5, logTerm: 1, index: 10, context: CAMPAIGN_TRANSFER }));
    m.assertNotHit();
    const msgs = r.readMessages();
    assert.deepEqual(
      msgs.map((x) => [x.msgType, x.to, x.term, x.reject]),
      [[MessageType.MsgRequestVoteResponse, 3, 5, false]],
    );
    assert.equal(r.term, 5);
    assert.equal(r.vote, 3);
  });

  test('once the lease has expired (electionTimeout ticks without the leader) votes are granted', () => {
    const r = followerInLease(10);
    const m = expectMark('raft: vote request ignored, leader lease');
    r.step(newMessage({ msgType: MessageType.MsgRequestVote, from: 3, to: 1, term: 5, logTerm: 1, index: 10 }));
    m.assertNotHit();
    assert.equal(r.term, 5);
    assert.equal(r.vote, 3);
  });

  test('without check-quorum there is no lease', () => {
    const r = raft3(1);
    r.becomeFollower(1, 2);
    r.step(newMessage({ msgType: MessageType.MsgRequestVote, from: 3, to: 1, term: 5, logTerm: 1, index: 10 }));
    assert.equal(r.term, 5);
    assert.equal(r.vote, 3);
  });

  test('TestLeaderTransferWithCheckQuorum', () => {
    // Leader transfer works while the old leader's lease still holds: the
    // transferee's vote requests carry CampaignTransfer.
    const nt = newNetworkWithConfig(CHECK_QUORUM, null, null, null);
    for (let i = 1; i <= 3; i++) setRandomizedElectionTimeout(nt.raft(i), nt.raft(i).electionTimeout + i);
    // Let 2's electionElapsed reach the timeout so that it can vote for 1.
    const f = nt.raft(2);
    tickN(f, f.electionTimeout);
    nt.send(msgHup(1));
    const lead = nt.raft(1);
    assert.equal(lead.state, StateType.Leader);
    // Transfer leadership to 2.
    nt.send(newMessage({ msgType: MessageType.MsgTransferLeader, from: 2, to: 1 }));
    assert.equal(lead.state, StateType.Follower);
    assert.equal(lead.lead, 2);
    assert.equal(lead.leadTransferee, NONE);
    // After some replication, transfer back to 1.
    nt.send(msgProp(1));
    nt.send(newMessage({ msgType: MessageType.MsgTransferLeader, from: 1, to: 2 }));
    assert.equal(lead.state, StateType.Leader);
    assert.equal(lead.lead, 1);
    assert.equal(lead.leadTransferee, NONE);
  });
});
