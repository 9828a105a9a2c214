/**
 * Goal: membership changes beyond TinyKV's one-at-a-time AddNode/RemoveNode:
 * joint consensus (raft thesis §4.3, etcd's ConfChangeV2) and learners
 * (non-voting members). Entering a joint configuration with a ConfChangeV2,
 * leaving it automatically (JointImplicit) or explicitly (JointExplicit), a
 * commit needing a majority of both halves, learners receiving the log
 * without voting or counting toward any quorum, demoting an outgoing voter
 * through learners_next, and a leader removed by leaving the joint
 * configuration stepping down after it broadcast the commit index (C4).
 *
 * Method: RawNode scenarios driven by RawCluster (every Ready persisted,
 * sent, applied, advanced, as an application does), plus ports of etcd-io/raft
 * raft_test.go learner tests (TestLearnerElectionTimeout,
 * TestLearnerPromotion, TestLearnerCanVote, TestLearnerLogReplication,
 * TestLearnerCampaign, TestAddLearner) on Raft objects. Learner tests build
 * their Network by hand: `newNetwork` re-configures every peer as a voter.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectMark } from '../util/marks.js';
import { decodeConfChangeEntry } from './conf_change_codec.js';
import type { Raft } from './raft.js';
import {
  ConfChangeTransition,
  EntryType,
  MessageType,
  newMessage,
  NONE,
  RaftError,
  RAFT_ERROR_CODES,
  StateType,
} from './types.js';
import type { ConfState } from './types.js';
import { msgBeat, msgHup, msgProp, Network, newTestMemoryStorage, newTestRaft } from './testing/network.js';
import { confChangeV2, l, leaveJoint, r, RawCluster, v } from './testing/extension_helpers.js';

const { Auto, JointImplicit, JointExplicit } = ConfChangeTransition;

function cs(fields: Partial<ConfState>): ConfState {
  return { nodes: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false, ...fields };
}

/** A five-node cluster whose initial voters are 1, 2, 3 (4 and 5 start as non-members), with 1 leading. */
function cluster123(): RawCluster {
  const c = new RawCluster({ ids: [1, 2, 3, 4, 5], voters: [1, 2, 3] });
  c.elect(1);
  assert.equal(c.raft(1).state, StateType.Leader);
  return c;
}

function isLeaveJoint(e: { entryType: EntryType; data: Buffer }): boolean {
  return e.entryType === EntryType.EntryConfChangeV2 && decodeConfChangeEntry({ ...e, term: 0, index: 0 }).changes.length === 0;
}

function setRandomizedElectionTimeout(x: Raft, t: number): void {
  x.randomizedElectionTimeout = t;
}

function tickN(x: Raft, n: number): void {
  for (let i = 0; i < n; i++) x.tick();
}

describe('joint consensus (RawNode)', () => {
  test('JointImplicit: entering joint, then the leader leaves it automatically', () => {
    const c = cluster123();
    // Replace 2 by 4 atomically: incoming {1,3,4}, outgoing {1,2,3}.
    assert.equal(c.proposeConfChange(1, confChangeV2(JointImplicit, v(4), r(2))), undefined);
    c.stabilize();
    const joint = cs({ nodes: [1, 3, 4], votersOutgoing: [1, 2, 3], autoLeave: true });
    const left = cs({ nodes: [1, 3, 4] });
    for (const id of [1, 3, 4]) {
      assert.deepEqual(c.confStates.get(id), [joint, left], `node ${id}`);
      // The second conf change is the empty leave-joint entry the leader proposed itself.
      assert.ok(isLeaveJoint(c.appliedConfChanges.get(id)![1]!), `node ${id}`);
    }
    assert.equal(c.raft(1).isJoint(), false);
    assert.deepEqual(c.raft(1).prs.voterNodes(), [1, 3, 4]);
    // The new configuration commits on its own majority.
    c.isolate(3);
    assert.equal(c.propose(1, 'after'), undefined);
    c.stabilize();
    assert.deepEqual(c.applied.get(4), ['after']);
  });

  test('a new leader that inherits an auto-leave joint config leaves it itself', () => {
    const c = cluster123();
    // The old leader's leave-joint entry never gets out: appends from 1 are
    // cut just before it (a prefix of the entries is still a valid MsgAppend).
    c.msgHook = (m) => {
      const cut = m.entries.findIndex(isLeaveJoint);
      if (m.from === 1 && m.msgType === MessageType.MsgAppend && cut >= 0) m.entries = m.entries.slice(0, cut);
      return true;
    };
    assert.equal(c.proposeConfChange(1, confChangeV2(JointImplicit, v(4), r(2))), undefined);
    c.stabilize();
    const joint = cs({ nodes: [1, 3, 4], votersOutgoing: [1, 2, 3], autoLeave: true });
    for (const id of [2, 3, 4]) assert.deepEqual(c.confStates.get(id), [joint], `node ${id}`);
    // The old leader proposed the leave (in its log only), then is lost.
    assert.ok(c.raft(1).raftLog.allEntries().some(isLeaveJoint));
    c.isolate(1);
    c.msgHook = undefined;
    // 3 wins with 4 (incoming majority) and 2 (outgoing majority), commits
    // an entry of its term, applies it, and proposes the leave on its own.
    c.elect(3);
    assert.equal(c.raft(3).state, StateType.Leader);
    for (const id of [3, 4]) assert.deepEqual(c.lastConfState(id), cs({ nodes: [1, 3, 4] }), `node ${id}`);
    assert.equal(c.raft(3).isJoint(), false);
    // The leave-joint entry applied is the new leader's own (its term), not 1's.
    const leave = c.appliedConfChanges.get(3)!.find(isLeaveJoint);
    assert.equal(leave?.term, c.raft(3).term);
    assert.ok(c.raft(3).term > c.raft(1).term);
  });

  test('a multi-change Auto ConfChangeV2 is joint with auto-leave too', () => {
    const c = cluster123();
    assert.equal(c.proposeConfChange(1, confChangeV2(Auto, v(4), v(5))), undefined);
    c.stabilize();
    assert.deepEqual(c.confStates.get(1), [
      cs({ nodes: [1, 2, 3, 4, 5], votersOutgoing: [1, 2, 3], autoLeave: true }),
      cs({ nodes: [1, 2, 3, 4, 5] }),
    ]);
  });

  test('a single-change Auto ConfChangeV2 is a simple change (no joint state)', () => {
    const c = cluster123();
    assert.equal(c.proposeConfChange(1, confChangeV2(Auto, v(4))), undefined);
    c.stabilize();
    assert.deepEqual(c.confStates.get(1), [cs({ nodes: [1, 2, 3, 4] })]);
  });

  test('JointExplicit: the joint state lasts until an explicit leave-joint', () => {
    const c = cluster123();
    assert.equal(c.proposeConfChange(1, confChangeV2(JointExplicit, v(4), r(2))), undefined);
    c.stabilize();
    const joint = cs({ nodes: [1, 3, 4], votersOutgoing: [1, 2, 3] });
    assert.deepEqual(c.confStates.get(1), [joint]);
    assert.equal(c.raft(1).isJoint(), true);
    // No other change may start while joint ...
    const refused = c.proposeConfChange(1, confChangeV2(Auto, v(5)));
    assert.ok(refused instanceof RaftError);
    assert.equal(refused.code, RAFT_ERROR_CODES.InvalidConfChange);
    // ... only the explicit leave.
    assert.equal(c.proposeConfChange(1, leaveJoint()), undefined);
    c.stabilize();
    for (const id of [1, 3, 4]) assert.deepEqual(c.confStates.get(id), [joint, cs({ nodes: [1, 3, 4] })], `node ${id}`);
  });

  test('leave-joint outside a joint configuration is refused at proposal', () => {
    const c = cluster123();
    const err = c.proposeConfChange(1, leaveJoint());
    assert.ok(err instanceof RaftError);
    assert.equal(err.code, RAFT_ERROR_CODES.InvalidConfChange);
  });

  test('a second conf change while one is unapplied is refused (C3)', () => {
    const c = cluster123();
    assert.equal(c.proposeConfChange(1, confChangeV2(JointExplicit, v(4), v(5))), undefined);
    const m = expectMark('raft: conf change refused, another is pending');
    const err = c.proposeConfChange(1, confChangeV2(JointExplicit, v(4)));
    m.assertHit();
    assert.ok(err instanceof RaftError);
    assert.equal(err.code, RAFT_ERROR_CODES.ConfChangePending);
  });

  for (const [label, cutOff, ackers] of [
    ['only the incoming majority acks', [2, 3], 'incoming {1,4,5}'],
    ['only the outgoing majority acks', [4, 5], 'outgoing {1,2,3}'],
  ] as const) {
    test(`a joint commit needs both majorities: nothing commits when ${label}`, () => {
      const c = cluster123();
      // Incoming {1,4,5}, outgoing {1,2,3}: the halves share only the leader.
      assert.equal(c.proposeConfChange(1, confChangeV2(JointExplicit, v(4), v(5), r(2), r(3))), undefined);
      c.stabilize();
      assert.deepEqual(c.lastConfState(1), cs({ nodes: [1, 4, 5], votersOutgoing: [1, 2, 3] }));
      for (const id of cutOff) c.cut(1, id);
      const before = c.raft(1).raftLog.committed;
      assert.equal(c.propose(1, 'x'), undefined);
      c.stabilize();
      const leader = c.raft(1);
      // The followers of the reachable half have the entry ...
      assert.equal(leader.raftLog.lastIndex(), before + 1);
      for (const id of [2, 3, 4, 5].filter((i) => !(cutOff as readonly number[]).includes(i))) {
        assert.equal(leader.prs.progress.get(id)!.match, before + 1, `match of ${id} (${ackers})`);
      }
      // ... yet it is not committed: the other half has no majority.
      assert.equal(leader.raftLog.committed, before);
      assert.deepEqual(c.applied.get(1), []);
      // Heal: the next heartbeat round brings the cut half along and it commits.
      c.recover();
      c.tick(1, leader.heartbeatTimeout);
      c.stabilize();
      assert.equal(leader.raftLog.committed, before + 1);
      assert.deepEqual(c.applied.get(1), ['x']);
    });
  }

  test('Raft level: in a joint config, acks of the incoming majority alone do not commit', () => {
    const x = newTestRaft(1, [], 10, 1, newTestMemoryStorage([1, 2, 3]));
    x.becomeCandidate();
    x.becomeLeader();
    assert.ok(!(x.applyConfChange(confChangeV2(JointExplicit, v(4), v(5), r(2), r(3))) instanceof RaftError));
    assert.equal(x.isJoint(), true);
    x.readMessages();
    const last = x.raftLog.lastIndex();
    for (const from of [4, 5]) x.step(newMessage({ msgType: MessageType.MsgAppendResponse, from, to: 1, term: x.term, index: last }));
    assert.equal(x.raftLog.committed, 0);
    x.step(newMessage({ msgType: MessageType.MsgAppendResponse, from: 2, to: 1, term: x.term, index: last }));
    assert.equal(x.raftLog.committed, last);
  });

  test('AddLearnerNode of an outgoing voter goes to learners_next, and becomes a learner on leave', () => {
    const c = cluster123();
    assert.equal(c.proposeConfChange(1, confChangeV2(JointImplicit, v(4), l(3))), undefined);
    c.stabilize();
    assert.deepEqual(c.confStates.get(1), [
      cs({ nodes: [1, 2, 4], votersOutgoing: [1, 2, 3], learnersNext: [3], autoLeave: true }),
      cs({ nodes: [1, 2, 4], learners: [3] }),
    ]);
    // Node 3 knows it is a learner now; it keeps receiving the log.
    assert.equal(c.raft(3).isLearner, true);
    assert.equal(c.propose(1, 'y'), undefined);
    c.stabilize();
    assert.deepEqual(c.applied.get(3), ['y']);
    // A learner does not campaign.
    c.node(3).campaign();
    c.stabilize();
    assert.equal(c.raft(3).state, StateType.Follower);
    assert.equal(c.raft(1).state, StateType.Leader);
  });

  test('a leader demoted to learner through a joint config leads until the leave, then steps down', () => {
    const c = cluster123();
    const m = expectMark('raft: leader removed, step down after broadcasting commit');
    assert.equal(c.proposeConfChange(1, confChangeV2(JointImplicit, l(1), v(4))), undefined);
    c.stabilize();
    m.assertHit();
    assert.deepEqual(c.confStates.get(1), [
      cs({ nodes: [2, 3, 4], votersOutgoing: [1, 2, 3], learnersNext: [1], autoLeave: true }),
      cs({ nodes: [2, 3, 4], learners: [1] }),
    ]);
    const old = c.raft(1);
    assert.equal(old.state, StateType.Follower);
    assert.equal(old.isLearner, true);
    c.elect(4);
    assert.equal(c.raft(4).state, StateType.Leader);
    // The demoted node still follows the log as a learner.
    assert.equal(c.propose(4, 'w'), undefined);
    c.stabilize();
    assert.deepEqual(c.applied.get(1), ['w']);
    assert.equal(old.lead, 4);
  });

  test('leaving the joint config that removes the leader makes it step down after broadcasting the commit (C4)', () => {
    const c = cluster123();
    const m = expectMark('raft: leader removed, step down after broadcasting commit');
    assert.equal(c.proposeConfChange(1, confChangeV2(JointImplicit, r(1), v(4))), undefined);
    c.stabilize();
    m.assertHit();
    const old = c.raft(1);
    assert.equal(old.state, StateType.Follower);
    assert.equal(old.lead, NONE);
    assert.equal(old.promotable(), false);
    // The remaining members learned that the leave-joint entry committed, and applied it.
    for (const id of [2, 3, 4]) {
      assert.deepEqual(c.lastConfState(id), cs({ nodes: [2, 3, 4] }), `node ${id}`);
      assert.equal(c.raft(id).raftLog.committed, old.raftLog.committed, `node ${id}`);
    }
    // They elect a new leader among themselves.
    c.elect(2);
    assert.equal(c.raft(2).state, StateType.Leader);
    assert.equal(c.propose(2, 'z'), undefined);
    c.stabilize();
    for (const id of [2, 3, 4]) assert.deepEqual(c.applied.get(id), ['z'], `node ${id}`);
  });
});

describe('learners', () => {
  function learnerPair(): [Raft, Raft, Network] {
    const n1 = newTestRaft(1, [], 10, 1, newTestMemoryStorage([1], [2]));
    const n2 = newTestRaft(2, [], 10, 1, newTestMemoryStorage([1], [2]));
    n1.becomeFollower(1, NONE);
    n2.becomeFollower(1, NONE);
    const nt = new Network();
    nt.peers.set(1, n1);
    nt.peers.set(2, n2);
    return [n1, n2, nt];
  }

  test('TestLearnerElectionTimeout', () => {
    const [, n2] = learnerPair();
    // A learner does not start an election even when it times out.
    setRandomizedElectionTimeout(n2, n2.electionTimeout);
    tickN(n2, n2.electionTimeout);
    assert.equal(n2.state, StateType.Follower);
    assert.deepEqual(n2.readMessages(), []);
  });

  test('TestLearnerPromotion', () => {
    const [n1, n2, nt] = learnerPair();
    assert.notEqual(n1.state, StateType.Leader);
    // n1 becomes leader.
    setRandomizedElectionTimeout(n1, n1.electionTimeout);
    tickN(n1, n1.electionTimeout);
    assert.equal(n1.state, StateType.Leader);
    assert.equal(n2.state, StateType.Follower);
    nt.send(msgBeat(1));
    // Promote 2.
    n1.addNode(2);
    n2.addNode(2);
    assert.equal(n2.isLearner, false);
    // 2 can campaign now, and wins.
    setRandomizedElectionTimeout(n2, n2.electionTimeout);
    tickN(n2, n2.electionTimeout);
    nt.send(msgBeat(2));
    assert.equal(n1.state, StateType.Follower);
    assert.equal(n2.state, StateType.Leader);
  });

  test('TestLearnerCanVote', () => {
    // As in etcd, a learner answers a vote request: it may be a voter in a
    // configuration it has not applied yet, and its vote can be needed then.
    const n2 = newTestRaft(2, [], 10, 1, newTestMemoryStorage([1], [2]));
    n2.becomeFollower(1, NONE);
    n2.step(newMessage({ msgType: MessageType.MsgRequestVote, from: 1, to: 2, term: 2, logTerm: 11, index: 11 }));
    const msgs = n2.readMessages();
    assert.equal(msgs.length, 1);
    assert.equal(msgs[0]!.msgType, MessageType.MsgRequestVoteResponse);
    assert.equal(msgs[0]!.reject, false);
  });

  test('TestLearnerLogReplication', () => {
    const [n1, n2, nt] = learnerPair();
    setRandomizedElectionTimeout(n1, n1.electionTimeout);
    tickN(n1, n1.electionTimeout);
    nt.send(msgBeat(1));
    assert.equal(n1.state, StateType.Leader);
    assert.equal(n2.isLearner, true);
    // The single voter commits alone; the learner gets the entries and the commit index.
    nt.send(msgProp(1));
    assert.equal(n1.raftLog.committed, 2);
    assert.equal(n2.raftLog.committed, n1.raftLog.committed);
    assert.equal(n1.prs.progress.get(2)!.match, n2.raftLog.committed);
  });

  test('TestLearnerCampaign', () => {
    const n1 = newTestRaft(1, [], 10, 1, newTestMemoryStorage([1]));
    n1.applyConfChange(confChangeV2(Auto, l(2)));
    const n2 = newTestRaft(2, [], 10, 1, newTestMemoryStorage([1]));
    n2.applyConfChange(confChangeV2(Auto, l(2)));
    const nt = new Network();
    nt.peers.set(1, n1);
    nt.peers.set(2, n2);
    nt.send(msgHup(2));
    assert.equal(n2.isLearner, true);
    assert.equal(n2.state, StateType.Follower);
    nt.send(msgHup(1));
    assert.equal(n1.state, StateType.Leader);
    assert.equal(n1.lead, 1);
    // A MsgTimeoutNow reaching a learner (demoted after the transfer was checked) is ignored.
    nt.send(newMessage({ msgType: MessageType.MsgTimeoutNow, from: 1, to: 2, term: n1.term }));
    assert.equal(n2.state, StateType.Follower);
  });

  test('TestAddLearner', () => {
    const x = newTestRaft(1, [], 10, 1, newTestMemoryStorage([1]));
    x.applyConfChange(confChangeV2(Auto, l(2)));
    assert.equal(x.isLearner, false);
    assert.deepEqual(x.prs.learnerNodes(), [2]);
    assert.equal(x.prs.progress.get(2)!.isLearner, true);
    // Promote 2.
    x.applyConfChange(confChangeV2(Auto, v(2)));
    assert.equal(x.prs.progress.get(2)!.isLearner, false);
    // Demote 1 (simple: one voter changes).
    x.applyConfChange(confChangeV2(Auto, l(1)));
    assert.equal(x.prs.progress.get(1)!.isLearner, true);
    assert.equal(x.isLearner, true);
    // Promote 1 again.
    x.applyConfChange(confChangeV2(Auto, v(1)));
    assert.equal(x.prs.progress.get(1)!.isLearner, false);
    assert.equal(x.isLearner, false);
  });

  test('a learner neither votes in the tally nor counts toward the commit quorum', () => {
    const c = new RawCluster({ ids: [1, 2, 3, 4], voters: [1, 2, 3], learners: [4] });
    c.elect(1);
    // Votes: the leader never asks the learner.
    assert.equal(c.raft(1).prs.voterNodes().includes(4), false);
    c.cut(1, 2);
    c.cut(1, 3);
    assert.equal(c.propose(1, 'x'), undefined);
    c.stabilize();
    // The learner has the entry, but leader + learner is no quorum of {1,2,3}.
    assert.equal(c.raft(1).prs.progress.get(4)!.match, c.raft(1).raftLog.lastIndex());
    assert.deepEqual(c.applied.get(1), []);
    c.recover();
    c.tick(1, 1);
    c.stabilize();
    for (const id of [1, 2, 3, 4]) assert.deepEqual(c.applied.get(id), ['x'], `node ${id}`);
  });

  test('a learner added by a conf change catches up, and is promoted by AddNode', () => {
    const c = new RawCluster({ ids: [1, 2, 3, 4], voters: [1, 2, 3] });
    c.elect(1);
    assert.equal(c.propose(1, 'before'), undefined);
    c.stabilize();
    assert.equal(c.proposeConfChange(1, confChangeV2(Auto, l(4))), undefined);
    c.stabilize();
    assert.deepEqual(c.lastConfState(4), cs({ nodes: [1, 2, 3], learners: [4] }));
    assert.deepEqual(c.applied.get(4), ['before']);
    assert.equal(c.raft(4).isLearner, true);
    assert.equal(c.proposeConfChange(1, confChangeV2(Auto, v(4))), undefined);
    c.stabilize();
    assert.deepEqual(c.lastConfState(4), cs({ nodes: [1, 2, 3, 4] }));
    assert.equal(c.raft(4).isLearner, false);
    // Now 4 is a voter and can be elected.
    c.elect(4);
    assert.equal(c.raft(4).state, StateType.Leader);
  });
});
