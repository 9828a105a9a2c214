// Goal: the raft core does what the Raft paper (§5.1–§5.4) says, sentence by
// sentence: TinyKV's raft_paper_test.go (project 2AA leader election, 2AB log
// replication), ported test for test under TinyKV's names.
// Method: each test builds a node in a given state (newTestRaft + become*),
// steps hand-made messages or ticks it, and checks the outgoing messages
// (exactly, field by field, with every unspecified field zero) and the
// resulting state. Randomized election timeouts use each node's seeded Prng
// (seed = node id), so every run is identical.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Raft } from './raft.js';
import { MemoryStorage } from './storage.js';
import { ltoa, newNetwork, newTestRaft, blackHole } from './testing/network.js';
import {
  acceptAndReply,
  commitNoopEntry,
  entsWithTerms,
  idsBySize,
  sortMessages,
} from './testing/paper_helpers.js';
import { MessageType, newEntry, newMessage, NONE, StateType, STATE_NAMES } from './types.js';
import type { Entry, Message } from './types.js';

const data = (s: string): Buffer => Buffer.from(s);

function storageWith(ents: readonly Entry[]): MemoryStorage {
  const s = new MemoryStorage();
  s.append(ents);
  return s;
}

function become(r: Raft, state: StateType, followerTerm: number, followerLead: number): void {
  switch (state) {
    case StateType.Follower:
      r.becomeFollower(followerTerm, followerLead);
      break;
    case StateType.Candidate:
      r.becomeCandidate();
      break;
    case StateType.Leader:
      r.becomeCandidate();
      r.becomeLeader();
      break;
    default:
      assert.fail(`unexpected state ${state}`);
  }
}

const stateName = (s: StateType): string => STATE_NAMES[s];

describe('raft paper: leader election (2AA)', () => {
  // §5.1: a server whose term is smaller than another's adopts the larger
  // term; a candidate or leader that learns its term is stale reverts to follower.
  function testUpdateTermFromMessage(state: StateType): void {
    const r = newTestRaft(1, [1, 2, 3], 10, 1, new MemoryStorage());
    become(r, state, 1, 2);
    r.step(newMessage({ msgType: MessageType.MsgAppend, term: 2 }));
    assert.equal(r.term, 2, 'term');
    assert.equal(stateName(r.state), stateName(StateType.Follower), 'state');
  }

  test('TestFollowerUpdateTermFromMessage2AA', () => testUpdateTermFromMessage(StateType.Follower));
  test('TestCandidateUpdateTermFromMessage2AA', () => testUpdateTermFromMessage(StateType.Candidate));
  test('TestLeaderUpdateTermFromMessage2AA', () => testUpdateTermFromMessage(StateType.Leader));

  // §5.2: servers start up as followers.
  test('TestStartAsFollower2AA', () => {
    const r = newTestRaft(1, [1, 2, 3], 10, 1, new MemoryStorage());
    assert.equal(stateName(r.state), stateName(StateType.Follower));
  });

  // §5.2: on a heartbeat tick the leader sends a MsgHeartbeat with Index 0,
  // LogTerm 0 and no entries to every follower.
  test('TestLeaderBcastBeat2AA', () => {
    const hi = 1; // heartbeat interval
    const r = newTestRaft(1, [1, 2, 3], 10, hi, new MemoryStorage());
    r.becomeCandidate();
    r.becomeLeader();
    assert.equal(r.step(newMessage({ msgType: MessageType.MsgPropose, entries: [newEntry()] })), undefined);
    r.readMessages(); // clear messages
    for (let i = 0; i < hi; i++) r.tick();
    const msgs = sortMessages(r.readMessages());
    assert.deepStrictEqual(msgs, [
      newMessage({ from: 1, to: 2, term: 1, msgType: MessageType.MsgHeartbeat }),
      newMessage({ from: 1, to: 3, term: 1, msgType: MessageType.MsgHeartbeat }),
    ]);
  });

  // §5.2: a follower that hears nothing for an election timeout increments
  // its term, becomes candidate, votes for itself and asks every other server
  // for its vote; a candidate that times out starts a new election the same way.
  function testNonleaderStartElection(state: StateType): void {
    const et = 10; // election timeout
    const r = newTestRaft(1, [1, 2, 3], et, 1, new MemoryStorage());
    become(r, state, 1, 2);
    for (let i = 1; i < 2 * et; i++) r.tick();
    assert.equal(r.term, 2, 'term');
    assert.equal(stateName(r.state), stateName(StateType.Candidate), 'state');
    assert.equal(r.prs.votes.get(r.id), true, 'vote for self');
    const msgs = sortMessages(r.readMessages());
    assert.deepStrictEqual(msgs, [
      newMessage({ from: 1, to: 2, term: 2, msgType: MessageType.MsgRequestVote }),
      newMessage({ from: 1, to: 3, term: 2, msgType: MessageType.MsgRequestVote }),
    ]);
  }

  test('TestFollowerStartElection2AA', () => testNonleaderStartElection(StateType.Follower));
  test('TestCandidateStartNewElection2AA', () => testNonleaderStartElection(StateType.Candidate));

  // §5.2: in one round of RequestVote a candidate (a) wins with a majority,
  // (b) loses, or (c) stays undecided.
  test('TestLeaderElectionInOneRoundRPC2AA', () => {
    const tests: { size: number; votes: [number, boolean][]; state: StateType }[] = [
      // Win the election when receiving votes from a majority of the servers.
      { size: 1, votes: [], state: StateType.Leader },
      { size: 3, votes: [[2, true], [3, true]], state: StateType.Leader },
      { size: 3, votes: [[2, true]], state: StateType.Leader },
      { size: 5, votes: [[2, true], [3, true], [4, true], [5, true]], state: StateType.Leader },
      { size: 5, votes: [[2, true], [3, true], [4, true]], state: StateType.Leader },
      { size: 5, votes: [[2, true], [3, true]], state: StateType.Leader },
      // Stay candidate without a majority.
      { size: 3, votes: [], state: StateType.Candidate },
      { size: 5, votes: [[2, true]], state: StateType.Candidate },
      { size: 5, votes: [[2, false], [3, false]], state: StateType.Candidate },
      { size: 5, votes: [], state: StateType.Candidate },
    ];
    tests.forEach((tt, i) => {
      const r = newTestRaft(1, idsBySize(tt.size), 10, 1, new MemoryStorage());
      r.step(newMessage({ from: 1, to: 1, msgType: MessageType.MsgHup }));
      for (const [id, vote] of tt.votes) {
        r.step(newMessage({ from: id, to: 1, term: r.term, msgType: MessageType.MsgRequestVoteResponse, reject: !vote }));
      }
      assert.equal(stateName(r.state), stateName(tt.state), `#${i}: state`);
      assert.equal(r.term, 1, `#${i}: term`);
    });
  });

  // §5.2: each follower votes for at most one candidate per term, first come first served.
  test('TestFollowerVote2AA', () => {
    const tests = [
      { vote: NONE, nvote: 1, wreject: false },
      { vote: NONE, nvote: 2, wreject: false },
      { vote: 1, nvote: 1, wreject: false },
      { vote: 2, nvote: 2, wreject: false },
      { vote: 1, nvote: 2, wreject: true },
      { vote: 2, nvote: 1, wreject: true },
    ];
    tests.forEach((tt, i) => {
      const r = newTestRaft(1, [1, 2, 3], 10, 1, new MemoryStorage());
      r.term = 1;
      r.vote = tt.vote;
      r.step(newMessage({ from: tt.nvote, to: 1, term: 1, msgType: MessageType.MsgRequestVote }));
      assert.deepStrictEqual(
        r.readMessages(),
        [newMessage({ from: 1, to: tt.nvote, term: 1, msgType: MessageType.MsgRequestVoteResponse, reject: tt.wreject })],
        `#${i}`,
      );
    });
  });

  // §5.2: a candidate that receives AppendEntries from a leader whose term is
  // at least its own recognizes it and returns to follower.
  test('TestCandidateFallback2AA', () => {
    const tests = [
      newMessage({ from: 2, to: 1, term: 1, msgType: MessageType.MsgAppend }),
      newMessage({ from: 2, to: 1, term: 2, msgType: MessageType.MsgAppend }),
    ];
    tests.forEach((tt, i) => {
      const r = newTestRaft(1, [1, 2, 3], 10, 1, new MemoryStorage());
      r.step(newMessage({ from: 1, to: 1, msgType: MessageType.MsgHup }));
      assert.equal(stateName(r.state), stateName(StateType.Candidate), `#${i}: unexpected state`);
      const wterm = tt.term;
      r.step(tt);
      assert.equal(stateName(r.state), stateName(StateType.Follower), `#${i}: state`);
      assert.equal(r.term, wterm, `#${i}: term`);
    });
  });

  // §5.2: the election timeout of a follower or candidate is randomized: over
  // 50*et rounds every timeout in [et+1, 2et-1] ticks occurs.
  function testNonleaderElectionTimeoutRandomized(state: StateType): void {
    const et = 10;
    const r = newTestRaft(1, [1, 2, 3], et, 1, new MemoryStorage());
    const timeouts = new Set<number>();
    for (let round = 0; round < 50 * et; round++) {
      if (state === StateType.Follower) r.becomeFollower(r.term + 1, 2);
      else r.becomeCandidate();
      let time = 0;
      while (r.readMessages().length === 0) {
        r.tick();
        time++;
        assert.ok(time < 2 * et + 1, `no timeout after ${time} ticks`);
      }
      timeouts.add(time);
    }
    for (let d = et + 1; d < 2 * et; d++) assert.ok(timeouts.has(d), `timeout in ${d} ticks should happen`);
  }

  test('TestFollowerElectionTimeoutRandomized2AA', () => testNonleaderElectionTimeoutRandomized(StateType.Follower));
  test('TestCandidateElectionTimeoutRandomized2AA', () => testNonleaderElectionTimeoutRandomized(StateType.Candidate));

  // §5.2: randomized timeouts make it likely that a single server times out
  // first (fewer split votes). Each node has its own seeded Prng (seed = id).
  function testNonleadersElectionTimeoutNonconflict(state: StateType): void {
    const et = 10;
    const size = 5;
    const ids = idsBySize(size);
    const rs = ids.map((id) => newTestRaft(id, ids, et, 1, new MemoryStorage()));
    let conflicts = 0;
    for (let round = 0; round < 1000; round++) {
      for (const r of rs) {
        if (state === StateType.Follower) r.becomeFollower(r.term + 1, NONE);
        else r.becomeCandidate();
      }
      let timeoutNum = 0;
      while (timeoutNum === 0) {
        for (const r of rs) {
          r.tick();
          if (r.readMessages().length > 0) timeoutNum++;
        }
      }
      // Several rafts time out at the same tick.
      if (timeoutNum > 1) conflicts++;
    }
    const g = conflicts / 1000;
    assert.ok(g <= 0.3, `probability of conflicts = ${g}, want <= 0.3`);
  }

  test('TestFollowersElectionTimeoutNonconflict2AA', () => testNonleadersElectionTimeoutNonconflict(StateType.Follower));
  test('TestCandidatesElectionTimeoutNonconflict2AA', () => testNonleadersElectionTimeoutNonconflict(StateType.Candidate));
});

describe('raft paper: log replication (2AB)', () => {
  // §5.3: the leader appends a proposal to its log, then sends AppendEntries
  // with the index and term of the preceding entry to every follower; the new
  // entry is unstable (to be written to stable storage).
  test('TestLeaderStartReplication2AB', () => {
    const s = new MemoryStorage();
    const r = newTestRaft(1, [1, 2, 3], 10, 1, s);
    r.becomeCandidate();
    r.becomeLeader();
    commitNoopEntry(r, s);
    const li = r.raftLog.lastIndex();

    r.step(newMessage({ from: 1, to: 1, msgType: MessageType.MsgPropose, entries: [newEntry({ data: data('some data') })] }));

    assert.equal(r.raftLog.lastIndex(), li + 1, 'lastIndex');
    assert.equal(r.raftLog.committed, li, 'committed');
    const msgs = sortMessages(r.readMessages());
    const ent = newEntry({ index: li + 1, term: 1, data: data('some data') });
    assert.deepStrictEqual(msgs, [
      newMessage({ from: 1, to: 2, term: 1, msgType: MessageType.MsgAppend, index: li, logTerm: 1, entries: [ent], commit: li }),
      newMessage({ from: 1, to: 3, term: 1, msgType: MessageType.MsgAppend, index: li, logTerm: 1, entries: [ent], commit: li }),
    ]);
    assert.deepStrictEqual(r.raftLog.unstableEntries(), [ent]);
  });

  // §5.3: once the entry is safely replicated the leader hands it out to be
  // applied, and sends the new commit index in later AppendEntries.
  test('TestLeaderCommitEntry2AB', () => {
    const s = new MemoryStorage();
    const r = newTestRaft(1, [1, 2, 3], 10, 1, s);
    r.becomeCandidate();
    r.becomeLeader();
    commitNoopEntry(r, s);
    const li = r.raftLog.lastIndex();
    r.step(newMessage({ from: 1, to: 1, msgType: MessageType.MsgPropose, entries: [newEntry({ data: data('some data') })] }));

    for (const m of r.readMessages()) r.step(acceptAndReply(m));

    assert.equal(r.raftLog.committed, li + 1, 'committed');
    assert.deepStrictEqual(r.raftLog.nextEnts(), [newEntry({ index: li + 1, term: 1, data: data('some data') })]);
    const msgs = sortMessages(r.readMessages());
    assert.equal(msgs.length, 2, 'one MsgAppend per follower');
    msgs.forEach((m, i) => {
      assert.equal(m.to, i + 2, 'to');
      assert.equal(m.msgType, MessageType.MsgAppend, 'type');
      assert.equal(m.commit, li + 1, 'commit');
    });
  });

  // §5.3: an entry is committed once the leader that created it has
  // replicated it on a majority of the servers.
  test('TestLeaderAcknowledgeCommit2AB', () => {
    const tests: { size: number; acceptors: number[]; wack: boolean }[] = [
      { size: 1, acceptors: [], wack: true },
      { size: 3, acceptors: [], wack: false },
      { size: 3, acceptors: [2], wack: true },
      { size: 3, acceptors: [2, 3], wack: true },
      { size: 5, acceptors: [], wack: false },
      { size: 5, acceptors: [2], wack: false },
      { size: 5, acceptors: [2, 3], wack: true },
      { size: 5, acceptors: [2, 3, 4], wack: true },
      { size: 5, acceptors: [2, 3, 4, 5], wack: true },
    ];
    tests.forEach((tt, i) => {
      const s = new MemoryStorage();
      const r = newTestRaft(1, idsBySize(tt.size), 10, 1, s);
      r.becomeCandidate();
      r.becomeLeader();
      commitNoopEntry(r, s);
      const li = r.raftLog.lastIndex();
      r.step(newMessage({ from: 1, to: 1, msgType: MessageType.MsgPropose, entries: [newEntry({ data: data('some data') })] }));
      for (const m of r.readMessages()) {
        if (tt.acceptors.includes(m.to)) r.step(acceptAndReply(m));
      }
      assert.equal(r.raftLog.committed > li, tt.wack, `#${i}: ack commit`);
    });
  });

  // §5.3: committing an entry commits all preceding entries, including those
  // of previous leaders, and they are applied in log order.
  test('TestLeaderCommitPrecedingEntries2AB', () => {
    const tests: Entry[][] = [[], entsWithTerms(2), entsWithTerms(1, 2), entsWithTerms(1)];
    tests.forEach((tt, i) => {
      const r = newTestRaft(1, [1, 2, 3], 10, 1, storageWith(tt));
      r.term = 2;
      r.becomeCandidate();
      r.becomeLeader();
      r.step(newMessage({ from: 1, to: 1, msgType: MessageType.MsgPropose, entries: [newEntry({ data: data('some data') })] }));

      for (const m of r.readMessages()) r.step(acceptAndReply(m));

      const li = tt.length;
      const wents = [...tt, newEntry({ term: 3, index: li + 1 }), newEntry({ term: 3, index: li + 2, data: data('some data') })];
      assert.deepStrictEqual(r.raftLog.nextEnts(), wents, `#${i}`);
    });
  });

  // §5.3: once a follower learns an entry is committed it applies it (and
  // everything before it) in log order.
  test('TestFollowerCommitEntry2AB', () => {
    const tests: { ents: Entry[]; commit: number }[] = [
      { ents: [newEntry({ term: 1, index: 1, data: data('some data') })], commit: 1 },
      {
        ents: [newEntry({ term: 1, index: 1, data: data('some data') }), newEntry({ term: 1, index: 2, data: data('some data2') })],
        commit: 2,
      },
      {
        ents: [newEntry({ term: 1, index: 1, data: data('some data2') }), newEntry({ term: 1, index: 2, data: data('some data') })],
        commit: 2,
      },
      {
        ents: [newEntry({ term: 1, index: 1, data: data('some data') }), newEntry({ term: 1, index: 2, data: data('some data2') })],
        commit: 1,
      },
    ];
    tests.forEach((tt, i) => {
      const r = newTestRaft(1, [1, 2, 3], 10, 1, new MemoryStorage());
      r.becomeFollower(1, 2);
      const wents = tt.ents.slice(0, tt.commit).map((e) => ({ ...e }));
      r.step(newMessage({ from: 2, to: 1, msgType: MessageType.MsgAppend, term: 1, entries: tt.ents, commit: tt.commit }));
      assert.equal(r.raftLog.committed, tt.commit, `#${i}: committed`);
      assert.deepStrictEqual(r.raftLog.nextEnts(), wents, `#${i}: nextEnts`);
    });
  });

  // §5.3: a follower refuses AppendEntries unless its log has an entry with
  // the index and term preceding the new entries.
  test('TestFollowerCheckMessageType_MsgAppend2AB', () => {
    const ents = entsWithTerms(1, 2);
    const tests = [
      // Match with committed entries.
      { term: 0, index: 0, wreject: false },
      { term: 1, index: 1, wreject: false },
      // Match with uncommitted entries.
      { term: 2, index: 2, wreject: false },
      // Mismatch with an existing entry.
      { term: 1, index: 2, wreject: true },
      // Nonexistent entry.
      { term: 3, index: 3, wreject: true },
    ];
    tests.forEach((tt, i) => {
      const r = newTestRaft(1, [1, 2, 3], 10, 1, storageWith(ents));
      r.raftLog.committed = 1;
      r.becomeFollower(2, 2);
      r.readMessages(); // clear messages

      r.step(newMessage({ from: 2, to: 1, msgType: MessageType.MsgAppend, term: 2, logTerm: tt.term, index: tt.index }));

      const msgs = r.readMessages();
      assert.equal(msgs.length, 1, `#${i}: len(msgs)`);
      assert.equal(msgs[0]!.msgType, MessageType.MsgAppendResponse, `#${i}: type`);
      assert.equal(msgs[0]!.term, 2, `#${i}: term`);
      assert.equal(msgs[0]!.reject, tt.wreject, `#${i}: reject`);
    });
  });

  // §5.3: on a valid AppendEntries the follower deletes a conflicting entry
  // and everything after it, appends the new entries, and they are unstable
  // (to be written to stable storage).
  test('TestFollowerAppendEntries2AB', () => {
    const tests: { index: number; term: number; lterm: number; ents: Entry[]; wents: Entry[]; wunstable: Entry[] }[] = [
      {
        index: 2,
        term: 2,
        lterm: 3,
        ents: [newEntry({ term: 3, index: 3 })],
        wents: entsWithTerms(1, 2, 3),
        wunstable: [newEntry({ term: 3, index: 3 })],
      },
      {
        index: 1,
        term: 1,
        lterm: 4,
        ents: [newEntry({ term: 3, index: 2 }), newEntry({ term: 4, index: 3 })],
        wents: entsWithTerms(1, 3, 4),
        wunstable: [newEntry({ term: 3, index: 2 }), newEntry({ term: 4, index: 3 })],
      },
      {
        index: 0,
        term: 0,
        lterm: 2,
        ents: [newEntry({ term: 1, index: 1 })],
        wents: entsWithTerms(1, 2),
        wunstable: [],
      },
      {
        index: 0,
        term: 0,
        lterm: 3,
        ents: [newEntry({ term: 3, index: 1 })],
        wents: entsWithTerms(3),
        wunstable: [newEntry({ term: 3, index: 1 })],
      },
    ];
    tests.forEach((tt, i) => {
      const r = newTestRaft(1, [1, 2, 3], 10, 1, storageWith(entsWithTerms(1, 2)));
      r.becomeFollower(2, 2);
      r.step(newMessage({ from: 2, to: 1, msgType: MessageType.MsgAppend, term: tt.lterm, logTerm: tt.term, index: tt.index, entries: tt.ents }));
      assert.deepStrictEqual(r.raftLog.allEntries(), tt.wents, `#${i}: ents`);
      assert.deepStrictEqual(r.raftLog.unstableEntries(), tt.wunstable, `#${i}: unstableEnts`);
    });
  });

  // §5.3, figure 7: the leader brings a follower's log into agreement with its own.
  test('TestLeaderSyncFollowerLog2AB', () => {
    const ents = entsWithTerms(1, 1, 1, 4, 4, 5, 5, 6, 6, 6);
    const term = 8;
    const tests: Entry[][] = [
      entsWithTerms(1, 1, 1, 4, 4, 5, 5, 6, 6),
      entsWithTerms(1, 1, 1, 4),
      entsWithTerms(1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6),
      entsWithTerms(1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7),
      entsWithTerms(1, 1, 1, 4, 4, 4, 4),
      entsWithTerms(1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3),
    ];
    tests.forEach((tt, i) => {
      const lead = newTestRaft(1, [1, 2, 3], 10, 1, storageWith(ents));
      lead.term = term;
      lead.raftLog.committed = lead.raftLog.lastIndex();
      const follower = newTestRaft(2, [1, 2, 3], 10, 1, storageWith(tt));
      follower.term = term - 1;
      // A three-node cluster: the follower may have a more up-to-date log than
      // the leader, so the leader needs the vote of the third node.
      const n = newNetwork(lead, follower, blackHole());
      n.send(newMessage({ from: 1, to: 1, msgType: MessageType.MsgHup }));
      // The election happens in the term after the one loaded above.
      n.send(newMessage({ from: 3, to: 1, msgType: MessageType.MsgRequestVoteResponse, term: term + 1 }));
      n.send(newMessage({ from: 1, to: 1, msgType: MessageType.MsgPropose, entries: [newEntry()] }));
      assert.equal(ltoa(follower.raftLog), ltoa(lead.raftLog), `#${i}: log diff`);
    });
  });

  // §5.4.1: a vote request carries the candidate's last log index and term
  // and goes to every other node.
  test('TestVoteRequest2AB', () => {
    const tests = [
      { ents: entsWithTerms(1), wterm: 2 },
      { ents: entsWithTerms(1, 2), wterm: 3 },
    ];
    tests.forEach((tt, j) => {
      const r = newTestRaft(1, [1, 2, 3], 10, 1, new MemoryStorage());
      r.step(newMessage({ from: 2, to: 1, msgType: MessageType.MsgAppend, term: tt.wterm - 1, logTerm: 0, index: 0, entries: tt.ents }));
      r.readMessages();

      for (let ticks = 0; r.state !== StateType.Candidate; ticks++) {
        assert.ok(ticks < 100, 'no election');
        r.tick();
      }

      const msgs = sortMessages(r.readMessages());
      assert.equal(msgs.length, 2, `#${j}: len(msgs)`);
      const last = tt.ents[tt.ents.length - 1]!;
      msgs.forEach((m, i) => {
        assert.equal(m.msgType, MessageType.MsgRequestVote, `#${j}.${i}: msgType`);
        assert.equal(m.to, i + 2, `#${j}.${i}: to`);
        assert.equal(m.term, tt.wterm, `#${j}.${i}: term`);
        assert.equal(m.index, last.index, `#${j}.${i}: index`);
        assert.equal(m.logTerm, last.term, `#${j}.${i}: logTerm`);
      });
    });
  });

  // §5.4.1: a voter denies its vote if its own log is more up to date.
  test('TestVoter2AB', () => {
    const tests = [
      // Same log term.
      { ents: entsWithTerms(1), logterm: 1, index: 1, wreject: false },
      { ents: entsWithTerms(1), logterm: 1, index: 2, wreject: false },
      { ents: entsWithTerms(1, 1), logterm: 1, index: 1, wreject: true },
      // Candidate has a higher log term.
      { ents: entsWithTerms(1), logterm: 2, index: 1, wreject: false },
      { ents: entsWithTerms(1), logterm: 2, index: 2, wreject: false },
      { ents: entsWithTerms(1, 1), logterm: 2, index: 1, wreject: false },
      // Voter has a higher log term.
      { ents: entsWithTerms(2), logterm: 1, index: 1, wreject: true },
      { ents: entsWithTerms(2), logterm: 1, index: 2, wreject: true },
      { ents: entsWithTerms(2, 1), logterm: 1, index: 1, wreject: true },
    ];
    tests.forEach((tt, i) => {
      const r = newTestRaft(1, [1, 2], 10, 1, storageWith(tt.ents));
      r.step(newMessage({ from: 2, to: 1, msgType: MessageType.MsgRequestVote, term: 3, logTerm: tt.logterm, index: tt.index }));
      const msgs: Message[] = r.readMessages();
      assert.equal(msgs.length, 1, `#${i}: len(msgs)`);
      assert.equal(msgs[0]!.msgType, MessageType.MsgRequestVoteResponse, `#${i}: msgType`);
      assert.equal(msgs[0]!.reject, tt.wreject, `#${i}: reject`);
    });
  });

  // §5.4.2: only entries of the leader's current term are committed by
  // counting replicas.
  test('TestLeaderOnlyCommitsLogFromCurrentTerm2AB', () => {
    const ents = entsWithTerms(1, 2);
    const tests = [
      // Do not commit entries of previous terms.
      { index: 1, wcommit: 0 },
      { index: 2, wcommit: 0 },
      // Commit an entry of the current term.
      { index: 3, wcommit: 3 },
    ];
    tests.forEach((tt, i) => {
      const r = newTestRaft(1, [1, 2], 10, 1, storageWith(ents));
      r.term = 2;
      // Become leader at term 3.
      r.becomeCandidate();
      r.becomeLeader();
      r.readMessages();
      // Propose an entry in the current term.
      r.step(newMessage({ from: 1, to: 1, msgType: MessageType.MsgPropose, entries: [newEntry()] }));
      r.step(newMessage({ from: 2, to: 1, msgType: MessageType.MsgAppendResponse, term: r.term, index: tt.index }));
      assert.equal(r.raftLog.committed, tt.wcommit, `#${i}: commit`);
    });
  });
});
