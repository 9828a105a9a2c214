// Goal: applying membership changes updates the voter set and the quorum
// (TinyKV project 3A: TestAddNode3A, TestRemoveNode3A, TestCommitAfterRemoveNode3A).
// Method: port of TinyKV's raft/raft_test.go behaviour for behaviour, with
// TinyKV's names, on single Raft instances; one documented deviation
// (removing the last voter is refused, see TestRemoveNode3A).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChange } from '../pb/eraftpb.js';
import type { Raft } from './raft.js';
import { MemoryStorage } from './storage.js';
import { newTestRaft, nextEnts } from './testing/network.js';
import { ConfChangeType, EntryType, MessageType, newEntry, newMessage, RaftError, RAFT_ERROR_CODES } from './types.js';

/** Voter ids of r, ascending (TinyKV's nodes(r)). */
function nodes(r: Raft): number[] {
  return r.prs.voterNodes();
}

describe('3A: conf change', () => {
  // TestAddNode tests that addNode updates nodes correctly.
  test('TestAddNode3A', () => {
    const r = newTestRaft(1, [1], 10, 1, new MemoryStorage());
    const cs = r.addNode(2);
    assert.ok(!(cs instanceof RaftError));
    assert.deepEqual(nodes(r), [1, 2]);
    assert.deepEqual(cs.nodes, [1, 2]);
    assert.ok(r.prs.progress.has(2), 'the new voter has a Progress');
  });

  // TestRemoveNode tests that removeNode updates nodes correctly.
  test('TestRemoveNode3A', () => {
    const r = newTestRaft(1, [1, 2], 10, 1, new MemoryStorage());
    const cs = r.removeNode(2);
    assert.ok(!(cs instanceof RaftError));
    assert.deepEqual(nodes(r), [1]);
    assert.equal(r.prs.progress.has(2), false);

    // Deliberate deviation from TinyKV, which lets `removeNode(1)` leave an
    // empty configuration (nodes = []): a group without voters can never
    // commit or elect again, so this core (like etcd's confchange) refuses to
    // remove the last voter with RAFT_INVALID_CONF_CHANGE and changes nothing.
    const err = r.removeNode(1);
    assert.ok(err instanceof RaftError, 'removing the last voter must be refused');
    assert.equal(err.code, RAFT_ERROR_CODES.InvalidConfChange);
    assert.deepEqual(nodes(r), [1]);
  });

  // TestCommitAfterRemoveNode verifies that pending commands can become
  // committed when a config change reduces the quorum requirements.
  test('TestCommitAfterRemoveNode3A', () => {
    // Create a cluster with two nodes.
    const s = new MemoryStorage();
    const r = newTestRaft(1, [1, 2], 5, 1, s);
    r.becomeCandidate();
    r.becomeLeader();

    // Begin to remove the second node.
    const cc: ConfChange = { changeType: ConfChangeType.RemoveNode, nodeId: 2, context: Buffer.alloc(0) };
    const ccData = Buffer.from(ConfChange.encode(cc).finish());
    assert.equal(r.step(newMessage({ msgType: MessageType.MsgPropose, entries: [newEntry({ entryType: EntryType.EntryConfChange, data: ccData })] })), undefined);
    // Stabilize the log and make sure nothing is committed yet.
    assert.deepEqual(nextEnts(r, s), []);
    const ccIndex = r.raftLog.lastIndex();

    // While the config change is pending, make another proposal.
    assert.equal(r.step(newMessage({ msgType: MessageType.MsgPropose, entries: [newEntry({ data: Buffer.from('hello') })] })), undefined);

    // Node 2 acknowledges the config change, committing it.
    r.step(newMessage({ msgType: MessageType.MsgAppendResponse, from: 2, index: ccIndex, term: r.term }));
    let ents = nextEnts(r, s);
    assert.equal(ents.length, 2, `expected two committed entries, got ${ents.length}`);
    assert.equal(ents[0]?.entryType, EntryType.EntryNormal);
    assert.equal(ents[0]?.data.length, 0, 'expected ents[0] to be the empty entry');
    assert.equal(ents[1]?.entryType, EntryType.EntryConfChange);

    // Apply the config change. This reduces quorum requirements so the
    // pending command can now commit.
    assert.ok(!(r.removeNode(2) instanceof RaftError));
    ents = nextEnts(r, s);
    assert.equal(ents.length, 1);
    assert.equal(ents[0]?.entryType, EntryType.EntryNormal);
    assert.equal(ents[0]?.data.toString(), 'hello');
  });
});
