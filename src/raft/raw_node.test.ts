// Goal: RawNode, the application's handle on the raft core, hands out Readys
// that follow the documented contract and accepts proposals and conf changes
// (TinyKV project 2AC, TestRawNodeRestartFromSnapshot2C and the RawNode tests
// of 3A), plus etcd-style checks of the Ready contract: mustSync, what a
// restart's first Ready carries, hasReady after advance, local-message refusal.
// Method: port of TinyKV's raft/rawnode_test.go behaviour for behaviour, with
// TinyKV's test names; single RawNodes on MemoryStorage, driven by hand.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChange } from '../pb/eraftpb.js';
import { RawNode } from './raw_node.js';
import { isEmptyReady } from './ready.js';
import type { Ready } from './ready.js';
import { MemoryStorage } from './storage.js';
import { newTestConfig, persistReady } from './testing/network.js';
import {
  ConfChangeType,
  EntryType,
  MessageType,
  newEntry,
  newMessage,
  RaftError,
  RAFT_ERROR_CODES,
  StateType,
} from './types.js';
import type { Entry } from './types.js';

function confChange(changeType: ConfChangeType, nodeId: number): ConfChange {
  return { changeType, nodeId, context: Buffer.alloc(0) };
}



/**
 * A Ready without its absent fields: ready() builds one fixed object shape
 * (absent fields hold undefined, which is faster for V8), while TinyKV's tests
 * compare against a Ready that simply lacks them.
 */
function presentFields(rd: Ready): Ready {
  return Object.fromEntries(Object.entries(rd).filter(([, v]) => v !== undefined)) as unknown as Ready;
}

describe('2AC: RawNode', () => {
  // TestRawNodeStart ensures that a node can be started correctly, and can
  // accept and commit proposals.
  test('TestRawNodeStart2AC', () => {
    const storage = new MemoryStorage();
    const rawNode = new RawNode(newTestConfig(1, [1], 10, 1, storage));
    assert.equal(rawNode.campaign(), undefined);
    let rd = rawNode.ready();
    storage.append(rd.entries);
    rawNode.advance(rd);

    assert.equal(rawNode.propose(Buffer.from('foo')), undefined);
    rd = rawNode.ready();
    assert.equal(rd.entries.length, 1);
    assert.equal(rd.committedEntries.length, 1);
    assert.deepEqual(rd.entries[0]?.data, rd.committedEntries[0]?.data);
    assert.deepEqual(rd.entries[0]?.data, Buffer.from('foo'));
    storage.append(rd.entries);
    rawNode.advance(rd);

    assert.equal(rawNode.hasReady(), false, 'unexpected Ready after advance');
  });

  // TestRawNodeRestart ensures that a node restores its HardState from stable
  // storage on init.
  test('TestRawNodeRestart2AC', () => {
    const entries = [newEntry({ term: 1, index: 1 }), newEntry({ term: 1, index: 2, data: Buffer.from('foo') })];
    const st = { term: 1, vote: 0, commit: 1 };
    const storage = new MemoryStorage();
    storage.setHardState(st);
    storage.append(entries);
    const rawNode = new RawNode(newTestConfig(1, [], 10, 1, storage));
    const rd = rawNode.ready();
    // Commit up to the commit index of the HardState; nothing else (no
    // softState, no hardState: both are what the node started with).
    const want: Ready = { readStates: [], entries: [], committedEntries: entries.slice(0, st.commit), messages: [], mustSync: false };
    assert.deepEqual(presentFields(rd), want);
    rawNode.advance(rd);
    assert.equal(rawNode.hasReady(), false, 'unexpected Ready after advance');
  });
});

describe('2C: RawNode restart from snapshot', () => {
  test('TestRawNodeRestartFromSnapshot2C', () => {
    const snap = { data: Buffer.alloc(0), metadata: { confState: { nodes: [1, 2], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false }, index: 2, term: 1 } };
    const entries = [newEntry({ term: 1, index: 3, data: Buffer.from('foo') })];
    const st = { term: 1, vote: 0, commit: 3 };
    const s = new MemoryStorage();
    s.setHardState(st);
    s.applySnapshot(snap);
    s.append(entries);
    const rawNode = new RawNode(newTestConfig(1, [], 10, 1, s));
    const rd = rawNode.ready();
    const want: Ready = { readStates: [], entries: [], committedEntries: entries, messages: [], mustSync: false };
    assert.deepEqual(presentFields(rd), want);
    rawNode.advance(rd);
    assert.equal(rawNode.hasReady(), false, 'unexpected Ready after advance');
    // The restarted node knows the snapshot's membership and its applied index.
    assert.deepEqual(rawNode.status().confState.nodes, [1, 2]);
    assert.equal(rawNode.status().applied, 3);
  });
});

describe('3A: RawNode proposals and conf changes', () => {
  // TestRawNodeProposeAndConfChange ensures that RawNode.propose and
  // RawNode.proposeConfChange send the given proposal and ConfChange to the
  // underlying raft.
  test('TestRawNodeProposeAndConfChange3A', () => {
    const s = new MemoryStorage();
    const rawNode = new RawNode(newTestConfig(1, [1], 10, 1, s));
    let rd = rawNode.ready();
    s.append(rd.entries);
    rawNode.advance(rd);

    const d = rawNode.ready();
    assert.equal(d.hardState, undefined, 'expected empty hard state');
    assert.equal(d.entries.length, 0);

    assert.equal(rawNode.campaign(), undefined);
    rd = rawNode.ready();
    assert.equal(rd.softState?.lead, rawNode.raft.id, 'expected to become leader');

    // Propose a command and a ConfChange.
    assert.equal(rawNode.propose(Buffer.from('somedata')), undefined);
    const cc = confChange(ConfChangeType.AddNode, 1);
    const ccdata = Buffer.from(ConfChange.encode(cc).finish());
    assert.equal(rawNode.proposeConfChange(cc), undefined);

    const all = rawNode.raft.raftLog.allEntries();
    assert.ok(all.length >= 2, `len(entries) = ${all.length}, want >= 2`);
    const [data, conf] = all.slice(-2) as [Entry, Entry];
    assert.deepEqual(data.data, Buffer.from('somedata'));
    assert.equal(conf.entryType, EntryType.EntryConfChange);
    assert.deepEqual(conf.data, ccdata);
  });

  // TestRawNodeProposeAddDuplicateNode ensures that two proposals to add the
  // same node do not affect the later proposal to add a new node.
  test('TestRawNodeProposeAddDuplicateNode3A', () => {
    const s = new MemoryStorage();
    const rawNode = new RawNode(newTestConfig(1, [1], 10, 1, s));
    let rd = rawNode.ready();
    s.append(rd.entries);
    rawNode.advance(rd);

    assert.equal(rawNode.campaign(), undefined);
    for (let i = 0; ; i++) {
      assert.ok(i < 10, 'never became leader');
      rd = rawNode.ready();
      s.append(rd.entries);
      rawNode.advance(rd);
      if (rd.softState?.lead === rawNode.raft.id) break;
    }

    const proposeConfChangeAndApply = (cc: ConfChange): void => {
      // Each change is applied before the next is proposed: none may be refused.
      assert.equal(rawNode.proposeConfChange(cc), undefined);
      rd = rawNode.ready();
      s.append(rd.entries);
      for (const e of rd.committedEntries) {
        if (e.entryType === EntryType.EntryConfChange) {
          const res = rawNode.applyConfChange(ConfChange.decode(e.data));
          assert.ok(!(res instanceof RaftError), `apply refused: ${String(res)}`);
        }
      }
      rawNode.advance(rd);
    };

    const cc1 = confChange(ConfChangeType.AddNode, 1);
    const ccdata1 = Buffer.from(ConfChange.encode(cc1).finish());
    proposeConfChangeAndApply(cc1);
    // Try to add the same node again.
    proposeConfChangeAndApply(cc1);
    // The new node joining should be ok.
    const cc2 = confChange(ConfChangeType.AddNode, 2);
    const ccdata2 = Buffer.from(ConfChange.encode(cc2).finish());
    proposeConfChangeAndApply(cc2);

    // The last three entries should be: ConfChange cc1, cc1, cc2.
    const lastIndex = s.lastIndex();
    const entries = s.entries(lastIndex - 2, lastIndex + 1, Number.MAX_SAFE_INTEGER);
    assert.equal(entries.length, 3);
    assert.deepEqual(entries[0]?.data, ccdata1);
    assert.deepEqual(entries[1]?.data, ccdata1);
    assert.deepEqual(entries[2]?.data, ccdata2);
    assert.deepEqual(rawNode.status().confState.nodes, [1, 2]);
  });
});

describe('etcd-style checks of the Ready contract', () => {
  test('a restart\'s first Ready carries no softState and no hardState', () => {
    const s = new MemoryStorage();
    s.append([newEntry({ term: 2, index: 1 }), newEntry({ term: 3, index: 2 })]);
    s.setHardState({ term: 3, vote: 1, commit: 2 });
    const rn = new RawNode(newTestConfig(1, [1, 2, 3], 10, 1, s, { applied: 2 }));
    // Everything is applied and persisted already: nothing to do.
    assert.equal(rn.hasReady(), false);
    const rd = rn.ready();
    assert.ok(isEmptyReady(rd), 'expected an empty Ready');
    assert.equal(rd.softState, undefined);
    assert.equal(rd.hardState, undefined);
    assert.equal(rd.mustSync, false);
    // The restarted node is a follower of nobody at its persisted term.
    assert.deepEqual(rn.status().softState, { lead: 0, raftState: StateType.Follower });
    assert.deepEqual(rn.status().hardState, { term: 3, vote: 1, commit: 2 });
  });

  test('mustSync is set for new entries, term or vote, and not for a commit-only change', () => {
    const s = new MemoryStorage();
    const rn = new RawNode(newTestConfig(2, [1, 2], 10, 1, s));
    // A vote for candidate 1 at term 1: term and vote change, must be durable
    // before the vote response leaves (a node must never vote twice in a term).
    rn.step(newMessage({ msgType: MessageType.MsgRequestVote, from: 1, to: 2, term: 1 }));
    let rd = rn.ready();
    assert.deepEqual(rd.hardState, { term: 1, vote: 1, commit: 0 });
    assert.equal(rd.mustSync, true);
    assert.equal(rd.messages[0]?.msgType, MessageType.MsgRequestVoteResponse);
    persistReady(s, rd);
    rn.advance(rd);

    // Entries from leader 1: must be durable before they are acknowledged.
    const ents = [newEntry({ term: 1, index: 1 }), newEntry({ term: 1, index: 2, data: Buffer.from('a') })];
    rn.step(newMessage({ msgType: MessageType.MsgAppend, from: 1, to: 2, term: 1, index: 0, logTerm: 0, entries: ents, commit: 0 }));
    rd = rn.ready();
    assert.equal(rd.mustSync, true);
    assert.deepEqual(rd.entries.map((e) => e.index), [1, 2]);
    // The acknowledgment names the last entry of this very Ready: it may be
    // sent only once those entries are persisted (ready.ts steps 1 then 3).
    const ack = rd.messages.find((m) => m.msgType === MessageType.MsgAppendResponse);
    assert.equal(ack?.index, 2);
    assert.equal(ack?.reject, false);
    persistReady(s, rd);
    rn.advance(rd);

    // Only the commit index moves: the HardState is written but need not be synced.
    rn.step(newMessage({ msgType: MessageType.MsgHeartbeat, from: 1, to: 2, term: 1, commit: 2 }));
    rd = rn.ready();
    assert.deepEqual(rd.hardState, { term: 1, vote: 1, commit: 2 });
    assert.equal(rd.mustSync, false);
    assert.deepEqual(rd.entries, []);
    assert.deepEqual(rd.committedEntries.map((e) => e.index), [1, 2]);
    persistReady(s, rd);
    rn.advance(rd);
    assert.equal(rn.hasReady(), false);
    assert.equal(rn.status().applied, 2);
  });

  test('hasReady is false after advance, and true again only for new work', () => {
    const s = new MemoryStorage();
    const rn = new RawNode(newTestConfig(1, [1], 10, 1, s));
    assert.equal(rn.hasReady(), false, 'a fresh node has nothing to do');
    rn.campaign();
    assert.equal(rn.hasReady(), true);
    const rd = rn.ready();
    assert.deepEqual(rd.softState, { lead: 1, raftState: StateType.Leader });
    assert.equal(rd.hardState?.term, 1);
    persistReady(s, rd);
    rn.advance(rd);
    assert.equal(rn.hasReady(), false);
    rn.tick();
    // A single-node leader has no one to heartbeat: a tick creates no work.
    assert.equal(rn.hasReady(), false);
    rn.propose(Buffer.from('x'));
    assert.equal(rn.hasReady(), true);
  });

  test('entries committed in the Ready that carries them are handed out once', () => {
    const s = new MemoryStorage();
    const rn = new RawNode(newTestConfig(1, [1], 10, 1, s));
    rn.campaign();
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      rn.propose(Buffer.from(`p${i}`));
      const rd = rn.ready();
      // Single voter: the new entry is both to persist and committed.
      assert.deepEqual(
        rd.committedEntries.map((e) => e.index),
        rd.entries.map((e) => e.index),
      );
      persistReady(s, rd);
      seen.push(...rd.committedEntries.map((e) => e.index));
      rn.advance(rd);
    }
    assert.deepEqual(seen, [1, 2, 3, 4]);
    assert.equal(s.lastIndex(), 4);
    assert.equal(rn.hasReady(), false);
  });

  test('step refuses local messages and responses from unknown peers', () => {
    const rn = new RawNode(newTestConfig(1, [1, 2], 10, 1, new MemoryStorage()));
    for (const t of [MessageType.MsgHup, MessageType.MsgBeat, MessageType.MsgUnreachable, MessageType.MsgSnapStatus]) {
      const err = rn.step(newMessage({ msgType: t, from: 1, to: 1 }));
      assert.ok(err instanceof RaftError, `${MessageType[t]} must be refused`);
      assert.equal(err.code, RAFT_ERROR_CODES.StepLocalMsg);
    }
    const err = rn.step(newMessage({ msgType: MessageType.MsgAppendResponse, from: 9, to: 1, term: 1 }));
    assert.ok(err instanceof RaftError);
    assert.equal(err.code, RAFT_ERROR_CODES.StepPeerNotFound);
    assert.equal(rn.raft.state, StateType.Follower);
    assert.equal(rn.raft.term, 0, 'a refused message must not change the term');
  });

  test('a follower without a leader refuses proposals with a value, not silence', () => {
    const rn = new RawNode(newTestConfig(1, [1, 2, 3], 10, 1, new MemoryStorage()));
    const err = rn.propose(Buffer.from('x'));
    assert.ok(err instanceof RaftError);
    assert.equal(err.code, RAFT_ERROR_CODES.ProposalDropped);
    assert.equal(rn.raft.raftLog.lastIndex(), 0);
  });
});
