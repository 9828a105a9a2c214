// Goal: log replication works in whole clusters and across leader changes:
// the 2AB (log replication) tests of TinyKV's raft_test.go, ported test for
// test under TinyKV's names (the 2AB tests of raft_paper_test.go are in
// raft_paper.test.ts).
// Method: the deterministic in-memory network of testing/network.ts (or a
// single node driven by hand) replicates proposals through partitions, black
// holes, stale messages and elections; the tests compare logs with TinyKV's
// `ltoa` rendering and check commit indexes, progress and responses.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage } from './storage.js';
import { handleAppendEntries } from './step_follower.js';
import {
  blackHole,
  ltoa,
  msgBeat,
  msgHup,
  msgProp,
  newNetwork,
  newNetworkWithConfig,
  newTestRaft,
  nextEnts,
  storageWithTerms,
} from './testing/network.js';
import type { Network } from './testing/network.js';
import { entsWithConfig, entsWithTerms, expectedLog, idsBySize, votedWithConfig } from './testing/paper_helpers.js';
import { MessageType, newEntry, newMessage, NONE, StateType, STATE_NAMES } from './types.js';
import type { Message } from './types.js';

const name = (s: StateType): string => STATE_NAMES[s];
const data = (s: string): Buffer => Buffer.from(s);
/** A proposal of one empty entry (TinyKV's `Entries: []*pb.Entry{{}}`). */
const emptyProp = (id: number): Message => newMessage({ from: id, to: id, msgType: MessageType.MsgPropose, entries: [newEntry()] });

/** Every Raft peer of `nw` has the log rendered as `want` (black holes are skipped). */
function assertLogs(nw: Network, want: string, what: string): void {
  for (const id of nw.peers.keys()) {
    const p = nw.peers.get(id);
    if (p === undefined || !('raftLog' in p)) continue;
    assert.equal(ltoa(nw.raft(id).raftLog), want, `${what}: node ${id} log diff`);
  }
}

describe('log replication (2AB)', () => {
  test('TestProgressLeader2AB', () => {
    const r = newTestRaft(1, [1, 2], 5, 1, new MemoryStorage());
    r.becomeCandidate();
    r.becomeLeader();
    // Send proposals to r1. The first 5 entries should be appended to the log.
    for (let i = 0; i < 5; i++) {
      const pr = r.prs.progress.get(r.id)!;
      assert.equal(pr.match, i + 1, `#${i}: match`);
      assert.equal(pr.next, pr.match + 1, `#${i}: next`);
      const err = r.step(newMessage({ from: 1, to: 1, msgType: MessageType.MsgPropose, entries: [newEntry({ data: data('foo') })] }));
      assert.equal(err, undefined, `#${i}: proposal resulted in error`);
    }
  });

  // A newly elected leader that does *not* have the newest (highest-term)
  // entries overwrites them with lower-term ones.
  test('TestLeaderElectionOverwriteNewerLogs2AB', () => {
    const peers = idsBySize(5);
    // This network is the result of:
    // - node 1 won the election in term 1;
    // - node 1 replicated an entry to node 2, then died before sending it to others;
    // - node 3 won the second election, in term 2;
    // - node 3 wrote an entry to its log, then died without sending it to anyone.
    // Nodes 1, 2 and 3 all have uncommitted entries and could win at term 3;
    // the winner's entry overwrites the losers'.
    const n = newNetworkWithConfig(
      undefined,
      entsWithConfig(1, peers, {}, 1), // node 1: won the first election
      entsWithConfig(2, peers, {}, 1), // node 2: got the entry from node 1
      entsWithConfig(3, peers, {}, 2), // node 3: won the second election
      votedWithConfig(4, peers, {}, 3, 2), // node 4: voted but got no entries
      votedWithConfig(5, peers, {}, 3, 2), // node 5: voted but got no entries
    );

    // Node 1 campaigns. The election fails because a quorum knows about the
    // election at term 2; node 1's term is pushed to 2.
    n.send(msgHup(1));
    const sm1 = n.raft(1);
    assert.equal(name(sm1.state), name(StateType.Follower), 'state');
    assert.equal(sm1.term, 2, 'term');

    // Node 1 campaigns again at a higher term and wins.
    n.send(msgHup(1));
    assert.equal(name(sm1.state), name(StateType.Leader), 'state');
    assert.equal(sm1.term, 3, 'term');

    // All nodes agree on an entry of term 1 at index 1 and of term 3 at index 2.
    for (const id of peers) {
      const entries = n.raft(id).raftLog.allEntries();
      assert.equal(entries.length, 2, `node ${id}: len(entries)`);
      assert.equal(entries[0]!.term, 1, `node ${id}: term at index 1`);
      assert.equal(entries[1]!.term, 3, `node ${id}: term at index 2`);
    }
  });

  test('TestLogReplication2AB', () => {
    const tests: { nw: Network; msgs: Message[]; wcommitted: number }[] = [
      { nw: newNetwork(null, null, null), msgs: [msgProp(1, 'somedata')], wcommitted: 2 },
      {
        nw: newNetwork(null, null, null),
        msgs: [
          msgProp(1, 'somedata'),
          newMessage({ from: 1, to: 2, msgType: MessageType.MsgHup }),
          newMessage({ from: 1, to: 2, msgType: MessageType.MsgPropose, entries: [newEntry({ data: data('somedata') })] }),
        ],
        wcommitted: 4,
      },
    ];
    tests.forEach((tt, i) => {
      tt.nw.send(msgHup(1));
      for (const m of tt.msgs) tt.nw.send(m);

      const props = tt.msgs.filter((m) => m.msgType === MessageType.MsgPropose);
      for (const j of tt.nw.peers.keys()) {
        const sm = tt.nw.raft(j);
        assert.equal(sm.raftLog.committed, tt.wcommitted, `#${i}.${j}: committed`);
        const ents = nextEnts(sm, tt.nw.storage.get(j)!).filter((e) => e.data.length > 0);
        assert.equal(ents.length, props.length, `#${i}.${j}: applied data entries`);
        props.forEach((m, k) => {
          assert.deepStrictEqual(ents[k]!.data, m.entries[0]!.data, `#${i}.${j}: data`);
        });
      }
    });
  });

  test('TestSingleNodeCommit2AB', () => {
    const tt = newNetwork(null);
    tt.send(msgHup(1));
    tt.send(msgProp(1, 'some data'));
    tt.send(msgProp(1, 'some data'));
    assert.equal(tt.raft(1).raftLog.committed, 3);
  });

  // Entries stuck at a partitioned leader are committed once a new leader's
  // noop entry of its term commits, even without new proposals.
  test('TestCommitWithoutNewTermEntry2AB', () => {
    const tt = newNetwork(null, null, null, null, null);
    tt.send(msgHup(1));

    // 1 cannot reach 3, 4, 5.
    tt.cut(1, 3);
    tt.cut(1, 4);
    tt.cut(1, 5);

    tt.send(msgProp(1, 'some data'));
    tt.send(msgProp(1, 'some data'));

    const sm = tt.raft(1);
    assert.equal(sm.raftLog.committed, 1, 'committed before recovery');

    // Network recovery.
    tt.recover();

    // Elect 2 as the new leader with term 2: once it appends (and commits) an
    // entry of its term, all entries are committed.
    tt.send(msgHup(2));
    assert.equal(sm.raftLog.committed, 4, 'committed after new leader');
  });

  // The leader sends its log to a follower whose heartbeat response shows it
  // is behind.
  test('TestCommitWithHeartbeat2AB', () => {
    const tt = newNetwork(null, null, null, null, null);
    tt.send(msgHup(1));

    // Isolate node 5.
    tt.isolate(5);
    tt.send(msgProp(1, 'some data'));
    tt.send(msgProp(1, 'some data'));

    const sm = tt.raft(5);
    assert.equal(sm.raftLog.committed, 1, 'committed while isolated');

    // Network recovery.
    tt.recover();

    // The leader broadcasts a heartbeat.
    tt.send(msgBeat(1));
    assert.equal(sm.raftLog.committed, 3, 'committed after heartbeat');
  });

  test('TestDuelingCandidates2AB', () => {
    const a = newTestRaft(1, [1, 2, 3], 10, 1, new MemoryStorage());
    const b = newTestRaft(2, [1, 2, 3], 10, 1, new MemoryStorage());
    const c = newTestRaft(3, [1, 2, 3], 10, 1, new MemoryStorage());

    const nt = newNetwork(a, b, c);
    nt.cut(1, 3);

    nt.send(msgHup(1));
    nt.send(msgHup(3));

    // 1 becomes leader: it has the votes of 1 and 2.
    assert.equal(name(nt.raft(1).state), name(StateType.Leader), 'node 1 state');
    // 3 stays candidate: it has its own vote and a rejection from 2.
    assert.equal(name(nt.raft(3).state), name(StateType.Candidate), 'node 3 state');

    nt.recover();

    // Candidate 3 increases its term and campaigns again. It disrupts leader 1
    // with its higher term, but both 1 and 2 reject it (its log is shorter),
    // so it becomes a follower again.
    nt.send(msgHup(3));

    const wlog = expectedLog([newEntry({ term: 1, index: 1 })], 1);
    const tests = [
      { sm: a, state: StateType.Follower, term: 2, raftLog: wlog },
      { sm: b, state: StateType.Follower, term: 2, raftLog: wlog },
      { sm: c, state: StateType.Follower, term: 2, raftLog: expectedLog([], 0) },
    ];
    tests.forEach((tt, i) => {
      assert.equal(name(tt.sm.state), name(tt.state), `#${i}: state`);
      assert.equal(tt.sm.term, tt.term, `#${i}: term`);
      assert.equal(ltoa(nt.raft(i + 1).raftLog), ltoa(tt.raftLog), `#${i}: log diff`);
    });
  });

  test('TestCandidateConcede2AB', () => {
    const tt = newNetwork(null, null, null);
    tt.isolate(1);

    tt.send(msgHup(1));
    tt.send(msgHup(3));

    // Heal the partition.
    tt.recover();
    // Send a heartbeat; reset the wait.
    tt.send(msgBeat(3));

    const payload = data('force follower');
    // A proposal to 3 flushes out a MsgAppend to 1.
    tt.send(newMessage({ from: 3, to: 3, msgType: MessageType.MsgPropose, entries: [newEntry({ data: payload })] }));
    // A heartbeat flushes out the commit index.
    tt.send(msgBeat(3));

    const a = tt.raft(1);
    assert.equal(name(a.state), name(StateType.Follower), 'state');
    assert.equal(a.term, 1, 'term');
    const wantLog = ltoa(expectedLog([newEntry({ term: 1, index: 1 }), newEntry({ term: 1, index: 2, data: payload })], 2));
    assertLogs(tt, wantLog, 'concede');
  });

  test('TestOldMessages2AB', () => {
    const tt = newNetwork(null, null, null);
    // Make 1 leader at term 3.
    tt.send(msgHup(1));
    tt.send(msgHup(2));
    tt.send(msgHup(1));
    // Pretend to be an old leader trying to make progress: this entry must be ignored.
    tt.send(newMessage({ from: 2, to: 1, msgType: MessageType.MsgAppend, term: 2, entries: [newEntry({ index: 3, term: 2 })] }));
    // Commit a new entry.
    tt.send(msgProp(1, 'somedata'));

    const ilog = expectedLog([...entsWithTerms(1, 2, 3), newEntry({ term: 3, index: 4, data: data('somedata') })], 4);
    assertLogs(tt, ltoa(ilog), 'old messages');
  });

  // A proposal succeeds (same log everywhere, committed 2) only when a quorum is reachable.
  test('TestProposal2AB', () => {
    const tests: { nw: Network; success: boolean }[] = [
      { nw: newNetwork(null, null, null), success: true },
      { nw: newNetwork(null, null, blackHole()), success: true },
      { nw: newNetwork(null, blackHole(), blackHole()), success: false },
      { nw: newNetwork(null, blackHole(), blackHole(), null), success: false },
      { nw: newNetwork(null, blackHole(), blackHole(), null, null), success: true },
    ];
    tests.forEach((tt, j) => {
      const payload = data('somedata');
      // Promote 1 to leader.
      tt.nw.send(msgHup(1));
      tt.nw.send(newMessage({ from: 1, to: 1, msgType: MessageType.MsgPropose, entries: [newEntry({ data: payload })] }));

      const wantLog = tt.success ? expectedLog([newEntry({ term: 1, index: 1 }), newEntry({ term: 1, index: 2, data: payload })], 2) : expectedLog([], 0);
      assertLogs(tt.nw, ltoa(wantLog), `#${j}`);
      assert.equal(tt.nw.raft(1).term, 1, `#${j}: term`);
    });
  });

  // handleAppendEntries:
  // 1. reply false if the log has no entry at prevLogIndex whose term matches prevLogTerm;
  // 2. delete an existing entry that conflicts with a new one (same index,
  //    different term) and all that follow; append new entries not in the log;
  // 3. if leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new entry).
  test('TestHandleMessageType_MsgAppend2AB', () => {
    const app = (fields: Partial<Message>): Message => newMessage({ ...fields, msgType: MessageType.MsgAppend, term: 2 });
    const tests: { m: Message; wIndex: number; wCommit: number; wReject: boolean }[] = [
      // Ensure 1.
      { m: app({ logTerm: 3, index: 2, commit: 3 }), wIndex: 2, wCommit: 0, wReject: true }, // previous log mismatch
      { m: app({ logTerm: 3, index: 3, commit: 3 }), wIndex: 2, wCommit: 0, wReject: true }, // previous log nonexistent

      // Ensure 2.
      { m: app({ logTerm: 1, index: 1, commit: 1 }), wIndex: 2, wCommit: 1, wReject: false },
      { m: app({ logTerm: 0, index: 0, commit: 1, entries: [newEntry({ index: 1, term: 2 })] }), wIndex: 1, wCommit: 1, wReject: false },
      {
        m: app({ logTerm: 2, index: 2, commit: 3, entries: [newEntry({ index: 3, term: 2 }), newEntry({ index: 4, term: 2 })] }),
        wIndex: 4,
        wCommit: 3,
        wReject: false,
      },
      { m: app({ logTerm: 2, index: 2, commit: 4, entries: [newEntry({ index: 3, term: 2 })] }), wIndex: 3, wCommit: 3, wReject: false },
      { m: app({ logTerm: 1, index: 1, commit: 4, entries: [newEntry({ index: 2, term: 2 })] }), wIndex: 2, wCommit: 2, wReject: false },

      // Ensure 3.
      { m: app({ logTerm: 1, index: 1, commit: 3 }), wIndex: 2, wCommit: 1, wReject: false }, // match entry 1, commit up to last new entry 1
      { m: app({ logTerm: 1, index: 1, commit: 3, entries: [newEntry({ index: 2, term: 2 })] }), wIndex: 2, wCommit: 2, wReject: false }, // match entry 1, commit up to last new entry 2
      { m: app({ logTerm: 2, index: 2, commit: 3 }), wIndex: 2, wCommit: 2, wReject: false }, // match entry 2, commit up to last new entry 2
      { m: app({ logTerm: 2, index: 2, commit: 4 }), wIndex: 2, wCommit: 2, wReject: false }, // commit up to log.last()
    ];
    tests.forEach((tt, i) => {
      const sm = newTestRaft(1, [1], 10, 1, storageWithTerms(1, 2));
      sm.becomeFollower(2, NONE);

      handleAppendEntries(sm, tt.m);
      assert.equal(sm.raftLog.lastIndex(), tt.wIndex, `#${i}: lastIndex`);
      assert.equal(sm.raftLog.committed, tt.wCommit, `#${i}: committed`);
      const m = sm.readMessages();
      assert.equal(m.length, 1, `#${i}: msgs`);
      assert.equal(m[0]!.reject, tt.wReject, `#${i}: reject`);
    });
  });

  // TinyKV's tree has tagged this test 2AA in some versions; PEER-SUITE.md lists it under 2AB.
  test('TestRecvMessageType_MsgRequestVote2AB', () => {
    const tests: { state: StateType; index: number; logTerm: number; voteFor: number; wreject: boolean }[] = [
      { state: StateType.Follower, index: 0, logTerm: 0, voteFor: NONE, wreject: true },
      { state: StateType.Follower, index: 0, logTerm: 1, voteFor: NONE, wreject: true },
      { state: StateType.Follower, index: 0, logTerm: 2, voteFor: NONE, wreject: true },
      { state: StateType.Follower, index: 0, logTerm: 3, voteFor: NONE, wreject: false },

      { state: StateType.Follower, index: 1, logTerm: 0, voteFor: NONE, wreject: true },
      { state: StateType.Follower, index: 1, logTerm: 1, voteFor: NONE, wreject: true },
      { state: StateType.Follower, index: 1, logTerm: 2, voteFor: NONE, wreject: true },
      { state: StateType.Follower, index: 1, logTerm: 3, voteFor: NONE, wreject: false },

      { state: StateType.Follower, index: 2, logTerm: 0, voteFor: NONE, wreject: true },
      { state: StateType.Follower, index: 2, logTerm: 1, voteFor: NONE, wreject: true },
      { state: StateType.Follower, index: 2, logTerm: 2, voteFor: NONE, wreject: false },
      { state: StateType.Follower, index: 2, logTerm: 3, voteFor: NONE, wreject: false },

      { state: StateType.Follower, index: 3, logTerm: 0, voteFor: NONE, wreject: true },
      { state: StateType.Follower, index: 3, logTerm: 1, voteFor: NONE, wreject: true },
      { state: StateType.Follower, index: 3, logTerm: 2, voteFor: NONE, wreject: false },
      { state: StateType.Follower, index: 3, logTerm: 3, voteFor: NONE, wreject: false },

      { state: StateType.Follower, index: 3, logTerm: 2, voteFor: 2, wreject: false },
      { state: StateType.Follower, index: 3, logTerm: 2, voteFor: 1, wreject: true },

      { state: StateType.Leader, index: 3, logTerm: 3, voteFor: 1, wreject: true },
      { state: StateType.Candidate, index: 3, logTerm: 3, voteFor: 1, wreject: true },
    ];
    tests.forEach((tt, i) => {
      // TinyKV swaps in a log [{1, term 2}, {2, term 2}]; our raftLog is
      // fixed at construction, so the node starts from a storage holding it.
      const sm = newTestRaft(1, [1, 2], 10, 1, storageWithTerms(2, 2));
      // As in TinyKV, only the state field is set: vote requests are handled
      // before any role-specific step function, and a real transition would
      // change the log (a leader's noop) or the vote.
      sm.state = tt.state;
      sm.vote = tt.voteFor;
      // The node's term is at least its last log term; the request has the
      // same term as the node, so only the log comparison and the existing
      // vote decide.
      const term = Math.max(sm.raftLog.lastTerm(), tt.logTerm);
      sm.term = term;
      sm.step(newMessage({ msgType: MessageType.MsgRequestVote, term, from: 2, index: tt.index, logTerm: tt.logTerm }));

      const msgs = sm.readMessages();
      assert.equal(msgs.length, 1, `#${i}: len(msgs)`);
      assert.equal(msgs[0]!.msgType, MessageType.MsgRequestVoteResponse, `#${i}: msgType`);
      assert.equal(msgs[0]!.reject, tt.wreject, `#${i}: reject`);
    });
  });

  // Any role steps down to follower at the term of a higher-term vote request
  // or append; the append's sender becomes the leader.
  test('TestAllServerStepdown2AB', () => {
    const tests = [
      { state: StateType.Follower, wstate: StateType.Follower, wterm: 3, windex: 0 },
      { state: StateType.Candidate, wstate: StateType.Follower, wterm: 3, windex: 0 },
      { state: StateType.Leader, wstate: StateType.Follower, wterm: 3, windex: 1 },
    ];
    const tmsgTypes = [MessageType.MsgRequestVote, MessageType.MsgAppend];
    const tterm = 3;
    tests.forEach((tt, i) => {
      const sm = newTestRaft(1, [1, 2, 3], 10, 1, new MemoryStorage());
      switch (tt.state) {
        case StateType.Follower:
          sm.becomeFollower(1, NONE);
          break;
        case StateType.Candidate:
          sm.becomeCandidate();
          break;
        case StateType.Leader:
          sm.becomeCandidate();
          sm.becomeLeader();
          break;
      }
      tmsgTypes.forEach((msgType, j) => {
        sm.step(newMessage({ from: 2, msgType, term: tterm, logTerm: tterm }));
        assert.equal(name(sm.state), name(tt.wstate), `#${i}.${j}: state`);
        assert.equal(sm.term, tt.wterm, `#${i}.${j}: term`);
        assert.equal(sm.raftLog.lastIndex(), tt.windex, `#${i}.${j}: index`);
        assert.equal(sm.raftLog.allEntries().length, tt.windex, `#${i}.${j}: len(ents)`);
        const wlead = msgType === MessageType.MsgRequestVote ? NONE : 2;
        assert.equal(sm.lead, wlead, `#${i}.${j}: lead`);
      });
    });
  });

  // After healing (with MsgAppend dropped), the new leader's heartbeat must not
  // advance the old leader's commit index past what it is known to have.
  test('TestHeartbeatUpdateCommit2AB', () => {
    const tests = [
      { failCnt: 1, successCnt: 1 },
      { failCnt: 5, successCnt: 3 },
      { failCnt: 5, successCnt: 10 },
    ];
    tests.forEach((tt, i) => {
      // TinyKV creates all three with id 1 and lets the network renumber them.
      const sm1 = newTestRaft(1, [1, 2, 3], 10, 1, new MemoryStorage());
      const sm2 = newTestRaft(2, [1, 2, 3], 10, 1, new MemoryStorage());
      const sm3 = newTestRaft(3, [1, 2, 3], 10, 1, new MemoryStorage());
      const nt = newNetwork(sm1, sm2, sm3);
      nt.send(msgHup(1));
      nt.isolate(1);
      // Proposals to the old leader cannot commit.
      for (let k = 0; k < tt.failCnt; k++) nt.send(emptyProp(1));
      assert.ok(sm1.raftLog.committed <= 1, `#${i}: unexpected commit ${sm1.raftLog.committed}`);

      // Proposals to the rest of the cluster succeed.
      nt.send(msgHup(2));
      for (let k = 0; k < tt.successCnt; k++) nt.send(emptyProp(2));
      const wCommit = 2 + tt.successCnt; // two elections
      assert.equal(sm2.raftLog.committed, wCommit, `#${i}: sm2 commit`);
      assert.equal(sm3.raftLog.committed, wCommit, `#${i}: sm3 commit`);

      nt.recover();
      nt.ignore(MessageType.MsgAppend);
      nt.send(msgBeat(2));
      assert.ok(sm1.raftLog.committed <= 1, `#${i}: expected sm1 commit 1, got ${sm1.raftLog.committed}`);
    });
  });

  test('TestLeaderIncreaseNext2AB', () => {
    const previousEnts = entsWithTerms(1, 1, 1);
    // Previous entries + noop entry + proposal + 1.
    const wnext = previousEnts.length + 1 + 1 + 1;

    const storage = new MemoryStorage();
    storage.append(previousEnts);
    const sm = newTestRaft(1, [1, 2], 10, 1, storage);
    const nt = newNetwork(sm, null, null);
    nt.send(msgHup(1));
    nt.send(msgProp(1, 'somedata'));

    assert.equal(sm.prs.progress.get(2)!.next, wnext, 'next');
  });
});
