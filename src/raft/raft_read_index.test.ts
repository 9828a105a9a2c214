/**
 * Goal: linearizable reads without a log entry (raft thesis §6.4, etcd's
 * ReadIndex). In Safe mode the leader records its commit index and serves the
 * read only after a heartbeat round carrying the request context is
 * acknowledged by a quorum; a new leader answers nothing before it has
 * committed an entry of its own term. LeaseBased mode answers at once and is
 * only allowed with check-quorum. Followers forward MsgReadIndex to the
 * leader and get a MsgReadIndexResponse; the answer reaches the application
 * as a ReadState in a Ready.
 *
 * Method: ports of etcd-io/raft raft_test.go (TestReadOnlyOptionSafe,
 * TestReadOnlyWithLearner, TestReadOnlyOptionLease, TestReadOnlyForNewLeader,
 * TestRaftFreesReadOnlyMem) on the test network, message-level unit tests of
 * the heartbeat round, and RawNode scenarios through the RawCluster driver.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionError } from '../util/assert.js';
import type { Raft } from './raft.js';
import { RawNode } from './raw_node.js';
import { ReadOnlyOption } from './read_only.js';
import type { ReadState } from './read_only.js';
import { MessageType, newEntry, newMessage, NONE, StateType } from './types.js';
import type { Message } from './types.js';
import {
  msgHup,
  Network,
  newNetwork,
  newTestConfig,
  newTestMemoryStorage,
  newTestRaft,
  nextEnts,
} from './testing/network.js';
import type { ConfigOverrides } from './testing/network.js';
import { RawCluster } from './testing/extension_helpers.js';

function raft3(id: number, overrides: ConfigOverrides = {}): Raft {
  return newTestRaft(id, [], 10, 1, newTestMemoryStorage([1, 2, 3]), overrides);
}

function readIndexMsg(from: number, to: number, ctx: string): Message {
  return newMessage({ msgType: MessageType.MsgReadIndex, from, to, entries: [newEntry({ data: Buffer.from(ctx) })] });
}

const emptyProp = (id: number): Message => newMessage({ msgType: MessageType.MsgPropose, from: id, to: id, entries: [newEntry()] });

const rsView = (rs: readonly ReadState[]): [number, string][] => rs.map((s) => [s.index, s.requestCtx.toString()]);

/** A leader of {1,2,3} at term 1 whose empty entry is committed (so it can serve reads). */
function committedLeader(overrides: ConfigOverrides = {}): Raft {
  const r = raft3(1, overrides);
  r.becomeCandidate();
  r.becomeLeader();
  r.step(newMessage({ msgType: MessageType.MsgAppendResponse, from: 2, to: 1, term: 1, index: 1 }));
  assert.equal(r.raftLog.committed, 1);
  r.readMessages();
  return r;
}

describe('ReadIndex, Safe', () => {
  test('TestReadOnlyOptionSafe', () => {
    const [a, b, c] = [raft3(1), raft3(2), raft3(3)];
    const nt = newNetwork(a, b, c);
    b.randomizedElectionTimeout = b.electionTimeout + 1;
    for (let i = 0; i < b.electionTimeout; i++) b.tick();
    nt.send(msgHup(1));
    assert.equal(a.state, StateType.Leader);
    const cases: [Raft, number, number, string][] = [
      [a, 10, 11, 'ctx1'],
      [b, 10, 21, 'ctx2'],
      [c, 10, 31, 'ctx3'],
      [a, 10, 41, 'ctx4'],
      [b, 10, 51, 'ctx5'],
      [c, 10, 61, 'ctx6'],
    ];
    for (const [i, [sm, proposals, wri, wctx]] of cases.entries()) {
      for (let j = 0; j < proposals; j++) nt.send(emptyProp(1));
      nt.send(readIndexMsg(sm.id, sm.id, wctx));
      assert.deepEqual(rsView(sm.readStates), [[wri, wctx]], `#${i}`);
      sm.readStates = [];
    }
  });

  test('TestReadOnlyWithLearner', () => {
    // Built by hand: newNetwork would turn the learner into a voter.
    const s = newTestMemoryStorage([1], [2]);
    const a = newTestRaft(1, [], 10, 1, s);
    const b = newTestRaft(2, [], 10, 1, newTestMemoryStorage([1], [2]));
    const nt = new Network();
    nt.peers.set(1, a);
    nt.peers.set(2, b);
    b.randomizedElectionTimeout = b.electionTimeout + 1;
    for (let i = 0; i < b.electionTimeout; i++) b.tick();
    nt.send(msgHup(1));
    assert.equal(a.state, StateType.Leader);
    const cases: [Raft, number, number, string][] = [
      [a, 10, 11, 'ctx1'],
      [b, 10, 21, 'ctx2'],
      [a, 10, 31, 'ctx3'],
      [b, 10, 41, 'ctx4'],
    ];
    for (const [i, [sm, proposals, wri, wctx]] of cases.entries()) {
      for (let j = 0; j < proposals; j++) {
        nt.send(emptyProp(1));
        nextEnts(a, s);
      }
      nt.send(readIndexMsg(sm.id, sm.id, wctx));
      assert.deepEqual(rsView(sm.readStates), [[wri, wctx]], `#${i}`);
      sm.readStates = [];
    }
  });

  test('a read is served only after a quorum acknowledged the heartbeat round carrying its context', () => {
    const r = committedLeader();
    r.step(readIndexMsg(1, 1, 'ctx'));
    // No read yet: the leader first confirms it still leads.
    assert.deepEqual(r.readStates, []);
    const msgs = r.readMessages();
    assert.deepEqual(
      msgs.map((m) => [m.msgType, m.to, m.context.toString()]),
      [
        [MessageType.MsgHeartbeat, 2, 'ctx'],
        [MessageType.MsgHeartbeat, 3, 'ctx'],
      ],
    );
    // A heartbeat response without the context confirms nothing.
    r.step(newMessage({ msgType: MessageType.MsgHeartbeatResponse, from: 2, to: 1, term: 1 }));
    assert.deepEqual(r.readStates, []);
    // A response for another context confirms nothing either.
    r.step(newMessage({ msgType: MessageType.MsgHeartbeatResponse, from: 2, to: 1, term: 1, context: Buffer.from('other') }));
    assert.deepEqual(r.readStates, []);
    // The leader plus one follower are a quorum of three: the read is served
    // at the commit index recorded when it arrived.
    r.step(newMessage({ msgType: MessageType.MsgHeartbeatResponse, from: 3, to: 1, term: 1, context: Buffer.from('ctx') }));
    assert.deepEqual(rsView(r.readStates), [[1, 'ctx']]);
    assert.equal(r.readOnly.pendingCount(), 0);
  });

  test('a learner acknowledgement does not count toward the read quorum', () => {
    const r = newTestRaft(1, [], 10, 1, newTestMemoryStorage([1, 2, 3], [4]));
    r.becomeCandidate();
    r.becomeLeader();
    r.step(newMessage({ msgType: MessageType.MsgAppendResponse, from: 2, to: 1, term: 1, index: 1 }));
    r.readMessages();
    r.step(readIndexMsg(1, 1, 'ctx'));
    r.step(newMessage({ msgType: MessageType.MsgHeartbeatResponse, from: 4, to: 1, term: 1, context: Buffer.from('ctx') }));
    assert.deepEqual(r.readStates, []);
    r.step(newMessage({ msgType: MessageType.MsgHeartbeatResponse, from: 2, to: 1, term: 1, context: Buffer.from('ctx') }));
    assert.deepEqual(rsView(r.readStates), [[1, 'ctx']]);
  });

  test('a quorum for a later request also releases the earlier ones, in order', () => {
    const r = committedLeader();
    r.step(readIndexMsg(1, 1, 'a'));
    r.step(emptyProp(1));
    r.step(readIndexMsg(1, 1, 'b'));
    r.readMessages();
    assert.equal(r.readOnly.pendingCount(), 2);
    r.step(newMessage({ msgType: MessageType.MsgHeartbeatResponse, from: 2, to: 1, term: 1, context: Buffer.from('b') }));
    // 'a' was recorded at commit index 1; so was 'b' (entry 2 is not committed yet).
    assert.deepEqual(rsView(r.readStates), [
      [1, 'a'],
      [1, 'b'],
    ]);
    assert.equal(r.readOnly.pendingCount(), 0);
  });

  test('TestRaftFreesReadOnlyMem', () => {
    const sm = newTestRaft(1, [], 5, 1, newTestMemoryStorage([1, 2]));
    sm.becomeCandidate();
    sm.becomeLeader();
    sm.raftLog.commitTo(sm.raftLog.lastIndex());
    // The leader starts a read for follower 2 (thesis 6.4, step 2).
    sm.step(readIndexMsg(2, 1, 'ctx'));
    const msgs = sm.readMessages();
    assert.equal(msgs.length, 1);
    assert.equal(msgs[0]!.msgType, MessageType.MsgHeartbeat);
    assert.equal(msgs[0]!.context.toString(), 'ctx');
    assert.equal(sm.readOnly.pendingCount(), 1);
    // A majority (here the single follower) acknowledges (step 3): the
    // pending request is freed and the answer goes to 2.
    sm.step(newMessage({ msgType: MessageType.MsgHeartbeatResponse, from: 2, to: 1, term: 1, context: Buffer.from('ctx') }));
    assert.equal(sm.readOnly.pendingCount(), 0);
    const resp = sm.readMessages().filter((m) => m.msgType === MessageType.MsgReadIndexResponse);
    assert.deepEqual(
      resp.map((m) => [m.to, m.index, m.entries[0]!.data.toString()]),
      [[2, 1, 'ctx']],
    );
  });

  test('TestReadOnlyForNewLeader', () => {
    // Node 1 saw entries 1-2 but only knows 1 committed; 2 and 3 compacted up to 2.
    const nodeConfigs = [
      { id: 1, committed: 1, applied: 1, compactIndex: 0 },
      { id: 2, committed: 2, applied: 2, compactIndex: 2 },
      { id: 3, committed: 2, applied: 2, compactIndex: 2 },
    ];
    const peers = nodeConfigs.map((c) => {
      const storage = newTestMemoryStorage([1, 2, 3]);
      storage.append([newEntry({ index: 1, term: 1 }), newEntry({ index: 2, term: 1 })]);
      storage.setHardState({ term: 1, vote: 0, commit: c.committed });
      if (c.compactIndex !== 0) storage.compact(c.compactIndex);
      return newTestRaft(c.id, [], 10, 1, storage, { applied: c.applied });
    });
    const nt = newNetwork(...peers);
    // Drop MsgAppend so that the new leader cannot commit an entry of its term.
    nt.ignore(MessageType.MsgAppend);
    nt.send(msgHup(1));
    const sm = nt.raft(1);
    assert.equal(sm.state, StateType.Leader);
    // The read is held back: the leader does not know the commit index of earlier terms.
    nt.send(readIndexMsg(1, 1, 'ctx'));
    assert.deepEqual(sm.readStates, []);
    assert.equal(sm.pendingReadIndexMessages.length, 1);
    nt.recover();
    // Let the leader commit an entry of its own term.
    for (let i = 0; i < sm.heartbeatTimeout; i++) sm.tick();
    nt.send(emptyProp(1));
    assert.equal(sm.raftLog.committed, 4);
    assert.equal(sm.raftLog.term(sm.raftLog.committed), sm.term);
    // The postponed read was answered after the commit.
    assert.deepEqual(rsView(sm.readStates), [[4, 'ctx']]);
    // New reads are accepted directly now.
    nt.send(readIndexMsg(1, 1, 'ctx'));
    assert.deepEqual(rsView(sm.readStates), [
      [4, 'ctx'],
      [4, 'ctx'],
    ]);
  });

  test('reads pending when the leader steps down are dropped (their callers retry)', () => {
    const r = committedLeader();
    r.step(readIndexMsg(1, 1, 'ctx'));
    r.step(newMessage({ msgType: MessageType.MsgHeartbeat, from: 2, to: 1, term: 2 }));
    assert.equal(r.state, StateType.Follower);
    assert.equal(r.readOnly.pendingCount(), 0);
    r.step(newMessage({ msgType: MessageType.MsgHeartbeatResponse, from: 3, to: 1, term: 2, context: Buffer.from('ctx') }));
    assert.deepEqual(r.readStates, []);
  });
});

describe('ReadIndex, LeaseBased', () => {
  test('TestReadOnlyOptionLease', () => {
    const cfg: ConfigOverrides = { readOnlyOption: ReadOnlyOption.LeaseBased, checkQuorum: true };
    const [a, b, c] = [raft3(1, cfg), raft3(2, cfg), raft3(3, cfg)];
    const nt = newNetwork(a, b, c);
    b.randomizedElectionTimeout = b.electionTimeout + 1;
    for (let i = 0; i < b.electionTimeout; i++) b.tick();
    nt.send(msgHup(1));
    assert.equal(a.state, StateType.Leader);
    const cases: [Raft, number, number, string][] = [
      [a, 10, 11, 'ctx1'],
      [b, 10, 21, 'ctx2'],
      [c, 10, 31, 'ctx3'],
      [a, 10, 41, 'ctx4'],
      [b, 10, 51, 'ctx5'],
      [c, 10, 61, 'ctx6'],
    ];
    for (const [i, [sm, proposals, wri, wctx]] of cases.entries()) {
      for (let j = 0; j < proposals; j++) nt.send(emptyProp(1));
      nt.send(readIndexMsg(sm.id, sm.id, wctx));
      assert.deepEqual(rsView(sm.readStates), [[wri, wctx]], `#${i}`);
      sm.readStates = [];
    }
  });

  test('a LeaseBased leader answers at once, without a heartbeat round', () => {
    const r = committedLeader({ readOnlyOption: ReadOnlyOption.LeaseBased, checkQuorum: true });
    r.step(readIndexMsg(1, 1, 'local'));
    assert.deepEqual(rsView(r.readStates), [[1, 'local']]);
    r.step(readIndexMsg(2, 1, 'remote'));
    const msgs = r.readMessages();
    assert.deepEqual(
      msgs.map((m) => [m.msgType, m.to, m.index, m.entries[0]?.data.toString()]),
      [[MessageType.MsgReadIndexResponse, 2, 1, 'remote']],
    );
  });

  test('LeaseBased without checkQuorum is refused at construction', () => {
    assert.throws(() => raft3(1, { readOnlyOption: ReadOnlyOption.LeaseBased }), AssertionError);
    assert.throws(() => new RawNode(newTestConfig(1, [], 10, 1, newTestMemoryStorage([1]), { readOnlyOption: ReadOnlyOption.LeaseBased })), AssertionError);
    assert.doesNotThrow(() => raft3(1, { readOnlyOption: ReadOnlyOption.LeaseBased, checkQuorum: true }));
  });
});

describe('ReadIndex forwarded by followers', () => {
  test('a follower forwards MsgReadIndex to its leader and turns the response into a ReadState', () => {
    const f = raft3(2);
    f.becomeFollower(1, 1);
    f.step(readIndexMsg(2, 2, 'ctx'));
    const fwd = f.readMessages();
    assert.equal(fwd.length, 1);
    assert.equal(fwd[0]!.msgType, MessageType.MsgReadIndex);
    assert.equal(fwd[0]!.to, 1);
    assert.equal(fwd[0]!.from, 2);
    // Forwarded as a local message (term 0), like a proposal.
    assert.equal(fwd[0]!.term, 0);
    // The leader answers.
    const leader = committedLeader();
    leader.step(fwd[0]!);
    for (const hb of leader.readMessages()) {
      leader.step(newMessage({ msgType: MessageType.MsgHeartbeatResponse, from: hb.to, to: 1, term: 1, context: hb.context }));
    }
    const resp = leader.readMessages().filter((m) => m.msgType === MessageType.MsgReadIndexResponse);
    assert.equal(resp.length, 1);
    assert.equal(resp[0]!.to, 2);
    f.step(resp[0]!);
    assert.deepEqual(rsView(f.readStates), [[1, 'ctx']]);
  });

  test('a follower without a leader drops the read request', () => {
    const f = raft3(2);
    f.step(readIndexMsg(2, 2, 'ctx'));
    assert.equal(f.lead, NONE);
    assert.deepEqual(f.readMessages(), []);
    assert.deepEqual(f.readStates, []);
  });
});

describe('RawNode.readIndex', () => {
  test('a single-voter leader answers in the next Ready', () => {
    const s = newTestMemoryStorage([1]);
    const rn = new RawNode(newTestConfig(1, [], 10, 1, s));
    rn.campaign();
    // Persist and apply the leader's empty entry.
    let rd = rn.ready();
    s.append(rd.entries);
    rn.advance(rd);
    assert.equal(rn.raft.state, StateType.Leader);
    assert.equal(rn.readIndex(Buffer.from('rctx')), undefined);
    assert.ok(rn.hasReady());
    rd = rn.ready();
    assert.deepEqual(rsView(rd.readStates), [[1, 'rctx']]);
    rn.advance(rd);
    // Handed out once only.
    assert.equal(rn.hasReady(), false);
  });

  test('through a cluster: leader-local and follower reads come back as ReadStates in Readys', () => {
    const c = new RawCluster({ ids: [1, 2, 3], voters: [1, 2, 3] });
    c.elect(1);
    assert.equal(c.raft(1).state, StateType.Leader);
    assert.equal(c.propose(1, 'x'), undefined);
    c.stabilize();
    const committed = c.raft(1).raftLog.committed;
    assert.equal(committed, 2);
    c.node(1).readIndex(Buffer.from('on-leader'));
    c.node(3).readIndex(Buffer.from('on-follower'));
    c.stabilize();
    assert.deepEqual(rsView(c.readStates.get(1)!), [[committed, 'on-leader']]);
    assert.deepEqual(rsView(c.readStates.get(3)!), [[committed, 'on-follower']]);
    assert.deepEqual(c.readStates.get(2), []);
    // Every node has applied up to the read index, so both reads may be served.
    assert.ok(c.raft(3).raftLog.applied >= committed);
  });

  test('through a cluster: no read is answered while the leader cannot reach a quorum', () => {
    const c = new RawCluster({ ids: [1, 2, 3], voters: [1, 2, 3] });
    c.elect(1);
    c.isolate(1);
    c.node(1).readIndex(Buffer.from('r'));
    c.stabilize();
    assert.deepEqual(c.readStates.get(1), []);
    c.recover();
    // The next heartbeat carries the pending context and completes the round.
    c.tick(1, c.raft(1).heartbeatTimeout);
    c.stabilize();
    assert.deepEqual(rsView(c.readStates.get(1)!), [[1, 'r']]);
  });
});
