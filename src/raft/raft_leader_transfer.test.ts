// Goal: leadership transfer (raft thesis §3.10) hands leadership to an
// up-to-date, slow or snapshot-needing member, and is a no-op or is cancelled
// in the cases TinyKV project 3A lists; MsgTimeoutNow to a non-member does
// nothing (all TestLeaderTransfer*3A and TestTransferNonMember3A).
// Method: port of TinyKV's raft/raft_test.go behaviour for behaviour, with
// TinyKV's names, on the in-memory network of testing/network.ts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Raft } from './raft.js';
import { MemoryStorage } from './storage.js';
import { msgHup, newNetwork, newTestRaft, nextEnts } from './testing/network.js';
import { emptyConfState, MessageType, newEntry, newMessage, NONE, STATE_NAMES, StateType } from './types.js';
import type { Message } from './types.js';

const transfer = (from: number, to: number) => newMessage({ msgType: MessageType.MsgTransferLeader, from, to });
const propEmpty = (id: number) => newMessage({ msgType: MessageType.MsgPropose, from: id, to: id, entries: [newEntry()] });

function checkLeaderTransferState(r: Raft, state: StateType, lead: number): void {
  assert.ok(
    r.state === state && r.lead === lead,
    `after transferring, node has state ${STATE_NAMES[r.state]} lead ${r.lead}, want state ${STATE_NAMES[state]} lead ${lead}`,
  );
  // Whatever the outcome, no transfer is left pending.
  assert.equal(r.leadTransferee, NONE);
}

describe('3A: leader transfer', () => {
  // Transferring should succeed if the transferee has the most up-to-date log
  // entries when the transfer starts.
  test('TestLeaderTransferToUpToDateNode3A', () => {
    const nt = newNetwork(null, null, null);
    nt.send(msgHup(1));
    const lead = nt.raft(1);
    assert.equal(lead.lead, 1, 'after election leader is not 1');

    // Transfer leadership to 2.
    nt.send(transfer(2, 1));
    checkLeaderTransferState(lead, StateType.Follower, 2);

    // After some log replication, transfer leadership back to 1.
    nt.send(propEmpty(1));
    nt.send(transfer(1, 2));
    checkLeaderTransferState(lead, StateType.Leader, 1);
  });

  // As above, but every MsgTransferLeader is stepped on a follower (the
  // transferee), which forwards it to the leader.
  test('TestLeaderTransferToUpToDateNodeFromFollower3A', () => {
    const nt = newNetwork(null, null, null);
    nt.send(msgHup(1));
    const lead = nt.raft(1);
    assert.equal(lead.lead, 1, 'after election leader is not 1');

    // Transfer leadership to 2.
    nt.send(transfer(2, 2));
    checkLeaderTransferState(lead, StateType.Follower, 2);

    // After some log replication, transfer leadership back to 1.
    nt.send(propEmpty(1));
    nt.send(transfer(1, 1));
    checkLeaderTransferState(lead, StateType.Leader, 1);
  });

  test('TestLeaderTransferToSlowFollower3A', () => {
    const nt = newNetwork(null, null, null);
    nt.send(msgHup(1));

    nt.isolate(3);
    nt.send(propEmpty(1));

    nt.recover();
    const lead = nt.raft(1);
    assert.equal(lead.prs.progress.get(3)?.match, 1, 'node 1 should have match 1 for node 3');

    // Transfer leadership to 3 when node 3 lacks log entries.
    nt.send(transfer(3, 1));
    checkLeaderTransferState(lead, StateType.Follower, 3);
  });

  test('TestLeaderTransferAfterSnapshot3A', () => {
    const nt = newNetwork(null, null, null);
    nt.send(msgHup(1));

    nt.isolate(3);

    nt.send(propEmpty(1));
    const lead = nt.raft(1);
    const storage = nt.storage.get(1);
    assert.ok(storage !== undefined);
    nextEnts(lead, storage);
    storage.createSnapshot(lead.raftLog.applied, { ...emptyConfState(), nodes: lead.prs.voterNodes() }, Buffer.alloc(0));
    storage.compact(lead.raftLog.applied);

    nt.recover();
    assert.equal(lead.prs.progress.get(3)?.match, 1, 'node 1 should have match 1 for node 3');

    // etcd-vs-TinyKV: a node cannot campaign (not even on MsgTimeoutNow)
    // while it holds a snapshot it has not persisted yet (etcd's promotable()).
    // Through a RawNode that never happens: node 3's answer to the snapshot
    // leaves in the same Ready as the snapshot, i.e. only after the snapshot
    // is persisted, and the leader sends MsgTimeoutNow only on that answer.
    // The network harness bypasses Readys, so, as etcd's version of this test
    // does, hold node 3's answer back until it has persisted the snapshot.
    let filtered: Message | undefined;
    nt.msgHook = (m) => {
      if (m.msgType !== MessageType.MsgAppendResponse || m.from !== 3 || m.reject) return true;
      filtered = m;
      return false;
    };

    // Transfer leadership to 3 when node 3 lacks the snapshot.
    nt.send(transfer(3, 1));
    // A MsgHeartbeatResponse to the leader triggers the snapshot for node 3
    // (if the transfer did not send it already).
    nt.send(newMessage({ msgType: MessageType.MsgHeartbeatResponse, from: 3, to: 1, term: lead.term }));
    assert.equal(lead.state, StateType.Leader, 'node 1 should still be leader as the snapshot is not applied');
    assert.equal(lead.leadTransferee, 3);
    assert.ok(filtered !== undefined, 'node 3 should answer the snapshot');

    // Node 3 persists and applies the snapshot; its answer goes out.
    const follower = nt.raft(3);
    const snap = follower.raftLog.unstable.snapshot;
    assert.ok(snap !== undefined);
    nt.storage.get(3)?.applySnapshot(snap);
    follower.raftLog.stableSnapTo(snap.metadata?.index ?? 0);
    follower.raftLog.appliedTo(snap.metadata?.index ?? 0);
    nt.msgHook = undefined;
    nt.send(filtered);

    checkLeaderTransferState(lead, StateType.Follower, 3);
    assert.equal(follower.state, StateType.Leader);
  });

  test('TestLeaderTransferToSelf3A', () => {
    const nt = newNetwork(null, null, null);
    nt.send(msgHup(1));
    const lead = nt.raft(1);
    // Transfer leadership to self: a no-op.
    nt.send(transfer(1, 1));
    checkLeaderTransferState(lead, StateType.Leader, 1);
  });

  test('TestLeaderTransferToNonExistingNode3A', () => {
    const nt = newNetwork(null, null, null);
    nt.send(msgHup(1));
    const lead = nt.raft(1);
    // Transfer leadership to a non-existing node: a no-op.
    nt.send(transfer(4, 1));
    checkLeaderTransferState(lead, StateType.Leader, 1);
  });

  test('TestLeaderTransferReceiveHigherTermVote3A', () => {
    const nt = newNetwork(null, null, null);
    nt.send(msgHup(1));

    nt.isolate(3);
    const lead = nt.raft(1);

    // Transfer leadership to the isolated node to leave the transfer pending.
    nt.send(transfer(3, 1));
    assert.equal(lead.leadTransferee, 3);
    nt.send(newMessage({ msgType: MessageType.MsgHup, from: 2, to: 2, index: 1, term: 2 }));

    checkLeaderTransferState(lead, StateType.Follower, 2);
  });

  test('TestLeaderTransferRemoveNode3A', () => {
    const nt = newNetwork(null, null, null);
    nt.send(msgHup(1));
    const lead = nt.raft(1);
    lead.removeNode(3);

    nt.send(transfer(3, 1));
    checkLeaderTransferState(lead, StateType.Leader, 1);
  });

  // Leadership can transfer back to self while the last transfer is pending.
  test('TestLeaderTransferBack3A', () => {
    const nt = newNetwork(null, null, null);
    nt.send(msgHup(1));

    nt.isolate(3);
    const lead = nt.raft(1);

    nt.send(transfer(3, 1));
    assert.equal(lead.leadTransferee, 3);

    // Transfer leadership back to self.
    nt.send(transfer(1, 1));
    checkLeaderTransferState(lead, StateType.Leader, 1);
  });

  // The leader can transfer to another node while the last transfer is pending.
  test('TestLeaderTransferSecondTransferToAnotherNode3A', () => {
    const nt = newNetwork(null, null, null);
    nt.send(msgHup(1));

    nt.isolate(3);
    const lead = nt.raft(1);

    nt.send(transfer(3, 1));
    assert.equal(lead.leadTransferee, 3);
    // Transfer leadership to another node.
    nt.send(transfer(2, 1));
    checkLeaderTransferState(lead, StateType.Follower, 2);
  });

  // When a MsgTimeoutNow arrives at a node that is not in its own
  // configuration, nothing happens (previously, if the node also got votes, it
  // would panic as it transitioned to leader).
  test('TestTransferNonMember3A', () => {
    const r = newTestRaft(1, [2, 3, 4], 5, 1, new MemoryStorage());
    r.step(newMessage({ msgType: MessageType.MsgTimeoutNow, from: 2, to: 1, term: r.term }));
    r.step(newMessage({ msgType: MessageType.MsgRequestVoteResponse, from: 2, to: 1, term: r.term }));
    r.step(newMessage({ msgType: MessageType.MsgRequestVoteResponse, from: 3, to: 1, term: r.term }));
    assert.equal(r.state, StateType.Follower);
    assert.equal(r.term, 0, 'a non-member must not campaign');
    assert.equal(r.readMessages().length, 0);
  });
});
