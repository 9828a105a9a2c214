// Goal: leader election works in whole clusters and from every role: the 2AA
// (leader election) tests of TinyKV's raft_test.go, ported test for test under
// TinyKV's names (the 2AA tests of raft_paper_test.go are in raft_paper.test.ts).
// Method: the deterministic in-memory network of testing/network.ts (or a
// single node driven by hand) runs elections with partitions and black holes;
// the tests check roles, terms, votes and the messages sent. Pre-vote and
// check-quorum are off, as TinyKV assumes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Raft } from './raft.js';
import { MemoryStorage } from './storage.js';
import { blackHole, msgHup, newNetwork, newNetworkWithConfig, newTestConfig, newTestRaft, storageWithTerms } from './testing/network.js';
import { MessageType, newMessage, StateType, STATE_NAMES } from './types.js';

const name = (s: StateType): string => STATE_NAMES[s];

function assertState(r: Raft, want: StateType, what: string): void {
  assert.equal(name(r.state), name(want), `${what}: state`);
}

describe('leader election (2AA)', () => {
  test('TestLeaderElection2AA', () => {
    const tests = [
      { nw: newNetworkWithConfig(undefined, null, null, null), state: StateType.Leader, expTerm: 1 },
      { nw: newNetworkWithConfig(undefined, null, null, blackHole()), state: StateType.Leader, expTerm: 1 },
      { nw: newNetworkWithConfig(undefined, null, blackHole(), blackHole()), state: StateType.Candidate, expTerm: 1 },
      { nw: newNetworkWithConfig(undefined, null, blackHole(), blackHole(), null), state: StateType.Candidate, expTerm: 1 },
      { nw: newNetworkWithConfig(undefined, null, blackHole(), blackHole(), null, null), state: StateType.Leader, expTerm: 1 },
    ];
    tests.forEach((tt, i) => {
      tt.nw.send(msgHup(1));
      const sm = tt.nw.raft(1);
      assertState(sm, tt.state, `#${i}`);
      assert.equal(sm.term, tt.expTerm, `#${i}: term`);
    });
  });

  // Each node of a cluster can campaign and be elected in turn: elections
  // work when not starting from a clean slate.
  test('TestLeaderCycle2AA', () => {
    const n = newNetworkWithConfig(undefined, null, null, null);
    for (let campaignerID = 1; campaignerID <= 3; campaignerID++) {
      n.send(msgHup(campaignerID));
      for (const id of [1, 2, 3]) {
        const sm = n.raft(id);
        assertState(sm, id === campaignerID ? StateType.Leader : StateType.Follower, `after campaign of node ${campaignerID}, node ${id}`);
      }
    }
  });

  // A follower, candidate or leader grants a vote request of a higher term and
  // becomes a follower of that term that voted for the candidate.
  test('TestVoteFromAnyState2AA', () => {
    for (const st of [StateType.Follower, StateType.Candidate, StateType.Leader]) {
      const r = newTestRaft(1, [1, 2, 3], 10, 1, new MemoryStorage());
      r.term = 1;
      switch (st) {
        case StateType.Follower:
          r.becomeFollower(r.term, 3);
          break;
        case StateType.Candidate:
          r.becomeCandidate();
          break;
        case StateType.Leader:
          r.becomeCandidate();
          r.becomeLeader();
          break;
      }
      r.readMessages(); // clear messages

      // Setting the state above may have advanced the term past its initial value.
      const newTerm = r.term + 1;
      const err = r.step(newMessage({ from: 2, to: 1, msgType: MessageType.MsgRequestVote, term: newTerm, logTerm: newTerm, index: 42 }));
      assert.equal(err, undefined, `${name(st)}: step failed`);
      assert.equal(r.msgs.length, 1, `${name(st)}: response messages`);
      const resp = r.msgs[0]!;
      assert.equal(resp.msgType, MessageType.MsgRequestVoteResponse, `${name(st)}: response type`);
      assert.equal(resp.reject, false, `${name(st)}: unexpected rejection`);
      assertState(r, StateType.Follower, name(st));
      assert.equal(r.term, newTerm, `${name(st)}: term`);
      assert.equal(r.vote, 2, `${name(st)}: vote`);
    }
  });

  test('TestSingleNodeCandidate2AA', () => {
    const tt = newNetwork(null);
    tt.send(msgHup(1));
    assertState(tt.raft(1), StateType.Leader, 'node 1');
  });

  // A candidate that receives a MsgHeartbeat or MsgAppend from the leader
  // reverts to follower and adopts the leader's term.
  function testCandidateResetTerm(mt: MessageType): void {
    const a = newTestRaft(1, [1, 2, 3], 10, 1, new MemoryStorage());
    const b = newTestRaft(2, [1, 2, 3], 10, 1, new MemoryStorage());
    const c = newTestRaft(3, [1, 2, 3], 10, 1, new MemoryStorage());
    const nt = newNetwork(a, b, c);

    nt.send(msgHup(1));
    assertState(a, StateType.Leader, 'a');
    assertState(b, StateType.Follower, 'b');
    assertState(c, StateType.Follower, 'c');

    // Isolate 3 and increase the term in the rest.
    nt.isolate(3);
    nt.send(msgHup(2));
    nt.send(msgHup(1));
    assertState(a, StateType.Leader, 'a');
    assertState(b, StateType.Follower, 'b');

    for (let ticks = 0; c.state !== StateType.Candidate; ticks++) {
      assert.ok(ticks < 100, 'c never campaigned');
      c.tick();
    }

    nt.recover();

    // The leader sends to the isolated candidate, which reverts to follower.
    nt.send(newMessage({ from: 1, to: 3, term: a.term, msgType: mt }));
    assertState(c, StateType.Follower, 'c');
    // The follower's term is reset to the leader's.
    assert.equal(c.term, a.term, 'follower term expected same term as leader');
  }

  test('TestCandidateResetTermMessageType_MsgHeartbeat2AA', () => testCandidateResetTerm(MessageType.MsgHeartbeat));
  test('TestCandidateResetTermMessageType_MsgAppend2AA', () => testCandidateResetTerm(MessageType.MsgAppend));

  // An isolated follower whose election times out becomes a candidate of a
  // higher term; when the leader's delayed heartbeat finally reaches it, what
  // it sends back makes the leader step down to the candidate's term.
  test('TestDisruptiveFollower2AA', () => {
    const n1 = newTestRaft(1, [1, 2, 3], 10, 1, new MemoryStorage());
    const n2 = newTestRaft(2, [1, 2, 3], 10, 1, new MemoryStorage());
    const n3 = newTestRaft(3, [1, 2, 3], 10, 1, new MemoryStorage());
    n1.becomeFollower(1, 0);
    n2.becomeFollower(1, 0);
    n3.becomeFollower(1, 0);
    const nt = newNetwork(n1, n2, n3);

    nt.send(msgHup(1));
    assertState(n1, StateType.Leader, 'node 1');
    assertState(n2, StateType.Follower, 'node 2');
    assertState(n3, StateType.Follower, 'node 3');

    // Leader messages are delayed while n3's ticks elapse (as etcd's server
    // does with "advanceTicksForElection" on restart).
    for (let ticks = 0; n3.state !== StateType.Candidate; ticks++) {
      assert.ok(ticks < 100, 'n3 never campaigned');
      n3.tick();
    }

    // n1 is still leader while its heartbeat to candidate n3 is delayed.
    assertState(n1, StateType.Leader, 'node 1');
    assertState(n2, StateType.Follower, 'node 2');
    assertState(n3, StateType.Candidate, 'node 3');
    assert.equal(n1.term, 2, 'node 1 term');
    assert.equal(n2.term, 2, 'node 2 term');
    assert.equal(n3.term, 3, 'node 3 term');

    // While n3's vote requests are still queued, the leader's heartbeat
    // arrives with a term lower than the candidate's.
    nt.send(newMessage({ from: 1, to: 3, term: n1.term, msgType: MessageType.MsgHeartbeat }));

    // n3's answer carries the higher term: the leader steps down, so that the
    // candidate with the higher term can be elected later. (With pre-vote and
    // check-quorum off, this etcd-style core ignores the stale heartbeat
    // itself; what reaches n1 is n3's queued term-3 MsgRequestVote, flushed
    // with it. TinyKV's assertions only fix the outcome, which is the same.)
    assertState(n1, StateType.Follower, 'node 1');
    assert.equal(n1.term, 3, 'node 1 term');
  });

  // MsgBeat makes a leader send heartbeats; candidates and followers ignore it.
  // TinyKV sets `State` directly on a node whose log is [{1, term 0}, {2, term 1}]
  // at term 1. Our step function is chosen by the become* transitions (as in
  // etcd, whose version of this test also sets the step function), so the
  // node is put in its role through them; the term is 1 in every case.
  test('TestRecvMessageType_MsgBeat2AA', () => {
    const tests = [
      { state: StateType.Leader, wMsg: 2 },
      // Candidates and followers ignore MsgBeat.
      { state: StateType.Candidate, wMsg: 0 },
      { state: StateType.Follower, wMsg: 0 },
    ];
    tests.forEach((tt, i) => {
      const sm = newTestRaft(1, [1, 2, 3], 10, 1, storageWithTerms(0, 1));
      switch (tt.state) {
        case StateType.Follower:
          sm.becomeFollower(1, 0);
          break;
        case StateType.Candidate:
          sm.becomeCandidate();
          break;
        case StateType.Leader:
          sm.becomeCandidate();
          sm.becomeLeader();
          break;
      }
      assert.equal(sm.term, 1, `#${i}: term`);
      sm.readMessages();
      sm.step(newMessage({ from: 1, to: 1, msgType: MessageType.MsgBeat }));
      const msgs = sm.readMessages();
      assert.equal(msgs.length, tt.wMsg, `#${i}: len(msgs)`);
      for (const m of msgs) assert.equal(m.msgType, MessageType.MsgHeartbeat, `#${i}: msgType`);
    });
  });

  test('TestCampaignWhileLeader2AA', () => {
    const r = new Raft(newTestConfig(1, [1], 5, 1, new MemoryStorage()));
    assertState(r, StateType.Follower, 'new node');
    // Step MsgHup rather than calling campaign(): the state check comes first.
    r.step(msgHup(1));
    assertState(r, StateType.Leader, 'single-node election');
    const term = r.term;
    r.step(msgHup(1));
    assertState(r, StateType.Leader, 'remain leader');
    assert.equal(r.term, term, 'remain in term');
  });

  // After a split vote the cluster completes the election in the next round.
  test('TestSplitVote2AA', () => {
    const n1 = newTestRaft(1, [1, 2, 3], 10, 1, new MemoryStorage());
    const n2 = newTestRaft(2, [1, 2, 3], 10, 1, new MemoryStorage());
    const n3 = newTestRaft(3, [1, 2, 3], 10, 1, new MemoryStorage());
    n1.becomeFollower(1, 0);
    n2.becomeFollower(1, 0);
    n3.becomeFollower(1, 0);
    const nt = newNetwork(n1, n2, n3);
    nt.send(msgHup(1));

    // The leader goes down; the followers split the vote.
    nt.isolate(1);
    nt.send(msgHup(2), msgHup(3));

    assert.equal(nt.raft(2).term, 3, 'peer 2 term');
    assert.equal(nt.raft(3).term, 3, 'peer 3 term');
    assertState(nt.raft(2), StateType.Candidate, 'peer 2');
    assertState(nt.raft(3), StateType.Candidate, 'peer 3');

    // Node 2's election times out first.
    nt.send(msgHup(2));

    assert.equal(nt.raft(2).term, 4, 'peer 2 term');
    assert.equal(nt.raft(3).term, 4, 'peer 3 term');
    assertState(nt.raft(2), StateType.Leader, 'peer 2');
    assertState(nt.raft(3), StateType.Follower, 'peer 3');
  });
});
