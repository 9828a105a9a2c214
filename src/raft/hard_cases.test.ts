// Goal: the HARD-CASES rules that belong to the raft core hold under the
// exact fault each one describes: S1 (snapshot while applying), S2 (follower
// compacted prevLogIndex), T1/T2 (leader transfer), C3 (second conf change
// while one is pending), C4 (leader removal).
// Method: one named test per case, scripting the fault with the Raft-level
// network (testing/network.ts) or RawNodes (testing/rawnode_cluster.ts), then
// asserting the rule's outcome AND its coverage mark (util/marks.ts): a
// passing test alone does not prove the rule's code path ran; a hit mark does.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectMark } from '../util/marks.js';
import { ConfChange } from '../pb/eraftpb.js';
import { decodeConfChangeEntry, encodeConfChange } from './conf_change_codec.js';
import { RawNode } from './raw_node.js';
import type { Status } from './raw_node.js';
import { MemoryStorage } from './storage.js';
import { msgBeat, msgHup, msgProp, newNetwork, newTestConfig, nextEnts, persistReady } from './testing/network.js';
import { RawNodeCluster } from './testing/rawnode_cluster.js';
import {
  ConfChangeType,
  emptyConfState,
  EntryType,
  MessageType,
  newEntry,
  newMessage,
  NONE,
  RaftError,
  RAFT_ERROR_CODES,
  StateType,
} from './types.js';
import type { Message } from './types.js';

const MAX = Number.MAX_SAFE_INTEGER;
const transfer = (from: number, to: number): Message => newMessage({ msgType: MessageType.MsgTransferLeader, from, to });

function confChange(changeType: ConfChangeType, nodeId: number): ConfChange {
  return { changeType, nodeId, context: Buffer.alloc(0) };
}


function assertRaftError(err: RaftError | undefined, code: string): void {
  assert.ok(err instanceof RaftError, `expected ${code}, got ${String(err)}`);
  assert.equal(err.code, code);
}

describe('HARD-CASES: raft core', () => {
  // S1: while the application applies a snapshot (it took the Ready carrying
  // it and has not called advance), a second snapshot or an append would
  // replace or extend a log the application is still rewriting. They are
  // ignored; the leader retries after the follower's answer.
  test('S1 snapshot while applying', () => {
    const c = new RawNodeCluster([1, 2, 3]);
    c.node(1).campaign();
    c.stabilize();
    const leader = c.node(1).raft;
    const follower = c.node(3).raft;
    assert.equal(leader.state, StateType.Leader);

    // Node 3 misses 10 entries, which the leader then compacts away.
    c.filter = (m) => m.from !== 3 && m.to !== 3;
    for (let i = 0; i < 10; i++) assert.equal(c.propose(1, `a${i}`), undefined);
    c.stabilize();
    assert.equal(leader.raftLog.applied, 11);
    c.compact(1, 11);

    // Heal; the next heartbeat round makes the leader send snapshot@11. The
    // application on node 3 takes the Ready carrying it and keeps it.
    c.filter = undefined;
    c.holdReadyWhen(3, (rn) => rn.raft.raftLog.hasPendingSnapshot());
    c.tick(1);
    c.stabilize();
    const held = c.heldReady(3);
    assert.ok(held !== undefined, 'node 3 should be applying a snapshot');
    assert.equal(held.snapshot?.metadata?.index, 11);
    // Its answer is in that Ready: it leaves only once the snapshot is persisted.
    assert.ok(held.messages.some((m) => m.msgType === MessageType.MsgAppendResponse && m.index === 11));

    // Meanwhile the group moves on: 5 more entries, committed by 1 and 2.
    for (let i = 0; i < 5; i++) assert.equal(c.propose(1, `b${i}`), undefined);
    c.stabilize();
    assert.equal(leader.raftLog.committed, 16);

    const mk = expectMark('raft: ignore append/snapshot, pending snapshot not applied');
    // A MsgAppend that extends snapshot@11 (as the leader sends once it knows
    // node 3 has it; here a delayed one) arrives while it is being applied...
    const append = newMessage({
      msgType: MessageType.MsgAppend,
      from: 1,
      to: 3,
      term: leader.term,
      index: 11,
      logTerm: leader.raftLog.term(11),
      entries: leader.raftLog.slice(12, 17, MAX),
      commit: leader.raftLog.committed,
    });
    assert.equal(c.inject(append), undefined);
    // ...and a newer snapshot (the leader compacted again and re-sent, as after
    // a reported snapshot failure).
    c.compact(1, 16);
    const snap2 = c.storage(1).snapshot();
    assert.equal(c.inject(newMessage({ msgType: MessageType.MsgSnapshot, from: 1, to: 3, term: leader.term, snapshot: snap2 })), undefined);
    // Both are ignored: no answer, the log is still exactly snapshot@11.
    assert.equal(mk.hits(), 2);
    mk.assertHit();
    assert.equal(follower.msgs.length, 0, 'an ignored message gets no answer');
    assert.equal(follower.raftLog.lastIndex(), 11);
    assert.equal(follower.raftLog.unstable.snapshot?.metadata?.index, 11);
    assert.equal(follower.raftLog.committed, 11);

    // The application finishes; node 3 accepts snapshots and appends again
    // and catches up (the leader now needs snapshot@16, then appends).
    c.completeReady(3);
    c.stabilize();
    assert.equal(c.propose(1, 'after'), undefined);
    c.stabilize();
    assert.equal(follower.raftLog.lastIndex(), leader.raftLog.lastIndex());
    assert.equal(follower.raftLog.committed, leader.raftLog.committed);
    assert.equal(follower.raftLog.committed, 17);
    assert.equal(c.storage(3).lastIndex(), 17);
    assert.deepEqual(c.appliedSnapshots.get(3)?.map((d) => d.toString()), ['snap@11', 'snap@16']);
    assert.deepEqual(c.appliedData(3), ['after']);
    assert.equal(leader.prs.progress.get(3)?.match, 17);
  });

  describe('S2 follower compacted prevLogIndex', () => {
    // (a) The leader's prevLogIndex is below the follower's commit index, and
    // the follower has compacted that entry: it cannot check its term, but
    // everything up to its commit index matches the leader's log, so it says
    // so instead of rejecting (a rejection could never be resolved: every
    // lower probe is compacted too).
    test('(a) append below the follower\'s committed index is answered with the committed index', () => {
      const nt = newNetwork(null, null);
      const log: Message[] = [];
      nt.msgHook = (m) => {
        log.push(m);
        return true;
      };
      nt.send(msgHup(1));
      // Capture the first MsgAppend carrying data, to replay it later as a
      // delayed duplicate.
      nt.send(msgProp(1, 'e0'));
      const early = log.find((m) => m.msgType === MessageType.MsgAppend && m.to === 2 && m.entries.length > 0);
      assert.ok(early !== undefined);
      for (let i = 1; i < 9; i++) nt.send(msgProp(1, `e${i}`));
      const lead = nt.raft(1);
      const follower = nt.raft(2);
      assert.equal(lead.raftLog.committed, 10);
      assert.equal(follower.raftLog.committed, 10);

      // The follower applies everything and compacts its log up to 8.
      const fs = nt.storage.get(2);
      assert.ok(fs !== undefined);
      nextEnts(follower, fs);
      fs.createSnapshot(8, { ...emptyConfState(), nodes: [1, 2] }, Buffer.from('snap@8'));
      fs.compact(8);
      assert.equal(follower.raftLog.firstIndex(), 9);
      assert.ok(early.index < 8, 'the duplicate\'s prevLogIndex is compacted on the follower');

      const mk = expectMark('raft: append below committed, answer with committed index');
      // A delayed duplicate of the early MsgAppend arrives.
      log.length = 0;
      nt.send(early);
      const dupAnswer = log.find((m) => m.from === 2 && m.msgType === MessageType.MsgAppendResponse);
      assert.equal(dupAnswer?.reject, false);
      assert.equal(dupAnswer?.index, 10);

      // In a 2-member group: the leader's view of follower 2 regresses (as for
      // a leader that lost track of it; scripted as TinyKV's TestProvideSnap2C
      // sets Prs[2].Next): probing from next=3, i.e. prevLogIndex 2, which the
      // follower compacted. The leader's match must still advance and new
      // entries commit.
      const pr = lead.prs.progress.get(2);
      assert.ok(pr !== undefined);
      pr.becomeProbe();
      pr.match = 0;
      pr.next = 3;
      log.length = 0;
      nt.send(msgProp(1, 'new'));
      mk.assertHit();
      const probe = log.find((m) => m.msgType === MessageType.MsgAppend && m.to === 2);
      assert.equal(probe?.index, 2);
      const answer = log.find((m) => m.from === 2 && m.msgType === MessageType.MsgAppendResponse);
      assert.equal(answer?.reject, false);
      assert.equal(answer?.index, 10, 'the follower answers with its committed index');
      assert.ok(!log.some((m) => m.from === 2 && m.reject), 'no rejection');
      assert.equal(pr.match, 11);
      assert.equal(lead.raftLog.committed, 11);
      assert.equal(follower.raftLog.committed, 11);
      assert.equal(follower.raftLog.lastIndex(), 11);
    });

    // (b) The follower's rejection hint (its last index) is below the
    // leader's first index: the entries it needs are compacted on the
    // leader, which sends its snapshot instead.
    test('(b) a rejection hint behind the leader\'s first index makes the leader send a snapshot', () => {
      const nt = newNetwork(null, null, null);
      nt.send(msgHup(1));
      nt.isolate(3);
      for (let i = 0; i < 10; i++) nt.send(msgProp(1, `e${i}`));
      const lead = nt.raft(1);
      const ls = nt.storage.get(1);
      assert.ok(ls !== undefined);
      nextEnts(lead, ls);
      ls.createSnapshot(lead.raftLog.applied, { ...emptyConfState(), nodes: [1, 2, 3] }, Buffer.from('snap@11'));
      ls.compact(lead.raftLog.applied);
      assert.equal(lead.raftLog.firstIndex(), 12);
      nt.recover();

      const log: Message[] = [];
      nt.msgHook = (m) => {
        log.push(m);
        return true;
      };
      const mk = expectMark('raft: send snapshot, needed entries compacted');
      nt.send(msgBeat(1));
      mk.assertHit();
      const rejectAt = log.findIndex((m) => m.from === 3 && m.msgType === MessageType.MsgAppendResponse && m.reject);
      assert.ok(rejectAt >= 0, 'node 3 rejects the leader\'s append');
      const rejection = log[rejectAt];
      assert.equal(rejection?.rejectHint, 1, 'the hint is node 3\'s last index');
      assert.ok((rejection?.rejectHint ?? 0) + 1 < lead.raftLog.firstIndex(), 'the needed entries are compacted on the leader');
      const snapAt = log.findIndex((m) => m.msgType === MessageType.MsgSnapshot && m.to === 3);
      assert.ok(snapAt > rejectAt, 'the snapshot answers the rejection');
      assert.equal(log[snapAt]?.snapshot?.metadata?.index, 11);
      assert.equal(log.filter((m) => m.msgType === MessageType.MsgSnapshot).length, 1);

      nt.send(msgProp(1, 'after'));
      const follower = nt.raft(3);
      assert.equal(follower.raftLog.committed, lead.raftLog.committed);
      assert.equal(follower.raftLog.lastIndex(), 12);
      assert.equal(lead.prs.progress.get(3)?.match, 12);
    });
  });

  // T1: a leader that kept accepting proposals during a transfer would grow
  // its log past the transferee's, which could then never win.
  test('T1 leader refuses proposals while transferring', () => {
    const nt = newNetwork(null, null, null);
    nt.send(msgHup(1));
    nt.isolate(3);
    nt.send(msgProp(1, 'x'));
    const lead = nt.raft(1);
    assert.equal(lead.raftLog.lastIndex(), 2);
    assert.equal(lead.prs.progress.get(3)?.match, 1);

    // The transfer to lagging node 3 starts: the leader brings it up to date
    // first; no MsgTimeoutNow yet.
    assert.equal(lead.step(transfer(3, 1)), undefined);
    assert.equal(lead.leadTransferee, 3);
    const out = lead.readMessages();
    assert.ok(out.some((m) => m.msgType === MessageType.MsgAppend && m.to === 3));
    assert.ok(!out.some((m) => m.msgType === MessageType.MsgTimeoutNow), 'MsgTimeoutNow before the transferee caught up');

    const mk = expectMark('raft: proposal refused, leader transfer in progress');
    assertRaftError(lead.step(msgProp(1, 'refused')), RAFT_ERROR_CODES.TransferringLeader);
    mk.assertHit();
    assert.equal(lead.raftLog.lastIndex(), 2, 'a refused proposal is not appended');

    // Node 3 becomes reachable and catches up; only then MsgTimeoutNow.
    nt.recover();
    const log: Message[] = [];
    nt.msgHook = (m) => {
      log.push(m);
      return true;
    };
    nt.send(...out);
    const timeoutAt = log.findIndex((m) => m.msgType === MessageType.MsgTimeoutNow);
    assert.ok(timeoutAt >= 0, 'the leader sends MsgTimeoutNow');
    assert.equal(log.filter((m) => m.msgType === MessageType.MsgTimeoutNow).length, 1);
    assert.equal(log[timeoutAt]?.to, 3);
    const acks = log.slice(0, timeoutAt).filter((m) => m.from === 3 && m.msgType === MessageType.MsgAppendResponse);
    assert.ok(acks.some((m) => m.reject), 'node 3 was behind when the transfer started');
    const lastAck = acks[acks.length - 1];
    assert.equal(lastAck?.reject, false);
    assert.equal(lastAck?.index, 2, 'MsgTimeoutNow only once the transferee\'s log matches');

    // The transferee wins; the old leader follows it.
    const n3 = nt.raft(3);
    assert.equal(n3.state, StateType.Leader);
    assert.equal(lead.state, StateType.Follower);
    assert.equal(lead.lead, 3);
    assert.equal(lead.leadTransferee, NONE);
    nt.send(msgProp(3, 'y'));
    assert.equal(lead.raftLog.committed, n3.raftLog.lastIndex());
  });

  // T2: a transfer to an unreachable member must not block proposals forever.
  test('T2 unreachable transfer target', () => {
    const nt = newNetwork(null, null, null);
    nt.send(msgHup(1));
    const lead = nt.raft(1);
    nt.isolate(3);
    nt.send(transfer(3, 1));
    assert.equal(lead.leadTransferee, 3);

    const mk = expectMark('raft: leader transfer timed out, aborted');
    // One tick short of an election timeout: still transferring, still refusing.
    for (let i = 0; i < lead.electionTimeout - 1; i++) {
      lead.tick();
      nt.send(...lead.readMessages());
    }
    assert.equal(lead.leadTransferee, 3);
    assert.equal(mk.hits(), 0);
    assertRaftError(lead.step(msgProp(1, 'refused')), RAFT_ERROR_CODES.TransferringLeader);

    // The election timeout elapses: the transfer is abandoned.
    lead.tick();
    nt.send(...lead.readMessages());
    mk.assertHit();
    assert.equal(lead.leadTransferee, NONE);
    assert.equal(lead.state, StateType.Leader);

    // Proposals are accepted again and commit (with node 2).
    const before = lead.raftLog.lastIndex();
    assert.equal(lead.step(msgProp(1, 'accepted')), undefined);
    nt.send(...lead.readMessages());
    assert.equal(lead.raftLog.lastIndex(), before + 1);
    assert.equal(lead.raftLog.committed, before + 1);
    assert.equal(nt.raft(2).raftLog.committed, before + 1);
  });

  // C3: at most one unapplied conf change; a refused one is reported, never
  // silently dropped; the pending index clears once the change is applied.
  test('C3 second conf change while one is pending', () => {
    const s = new MemoryStorage();
    const rn = new RawNode(newTestConfig(1, [1], 10, 1, s));
    rn.campaign();
    let rd = rn.ready();
    persistReady(s, rd);
    rn.advance(rd);
    assert.equal(rn.raft.state, StateType.Leader);

    assert.equal(rn.proposeConfChange(confChange(ConfChangeType.AddNode, 2)), undefined);
    const ccIndex = rn.raft.raftLog.lastIndex();

    const mk = expectMark('raft: conf change refused, another is pending');
    assertRaftError(rn.proposeConfChange(confChange(ConfChangeType.AddNode, 3)), RAFT_ERROR_CODES.ConfChangePending);
    assert.equal(rn.raft.raftLog.lastIndex(), ccIndex, 'the refused change is not appended');
    // A batch holding a conf change is refused as a whole.
    const { entryType, data } = encodeConfChange(confChange(ConfChangeType.AddNode, 3));
    const batch = newMessage({
      msgType: MessageType.MsgPropose,
      from: 1,
      entries: [newEntry({ data: Buffer.from('n') }), newEntry({ entryType, data })],
    });
    assertRaftError(rn.raft.step(batch), RAFT_ERROR_CODES.ConfChangePending);
    assert.equal(rn.raft.raftLog.lastIndex(), ccIndex);
    // Normal proposals are not blocked by a pending conf change.
    assert.equal(rn.propose(Buffer.from('normal')), undefined);
    const lastBeforeApply = rn.raft.raftLog.lastIndex();

    // The first change is committed and handed to the application, but not
    // applied yet: still pending.
    rd = rn.ready();
    persistReady(s, rd);
    const cc = rd.committedEntries.find((e) => e.index === ccIndex);
    assert.equal(cc?.entryType, EntryType.EntryConfChange);
    assertRaftError(rn.proposeConfChange(confChange(ConfChangeType.AddNode, 3)), RAFT_ERROR_CODES.ConfChangePending);
    mk.assertHit();

    // Applied (advance): a new conf change is accepted and appended.
    for (const e of rd.committedEntries) {
      if (e.entryType !== EntryType.EntryNormal) assert.ok(!(rn.applyConfChange(decodeConfChangeEntry(e)) instanceof RaftError));
    }
    rn.advance(rd);
    assert.deepEqual(rn.status().confState.nodes, [1, 2]);
    assert.equal(rn.proposeConfChange(confChange(ConfChangeType.AddNode, 3)), undefined);
    assert.equal(rn.raft.raftLog.lastIndex(), lastBeforeApply + 1);
    const last = rn.raft.raftLog.allEntries().at(-1);
    assert.equal(last?.entryType, EntryType.EntryConfChange);
    assert.deepEqual(last === undefined ? undefined : decodeConfChangeEntry(last).changes, [{ changeType: ConfChangeType.AddNode, nodeId: 3 }]);
  });

  // C4: a leader that applies its own removal must tell the remaining members
  // the commit index of that entry before it steps down; otherwise, on a
  // lossy network, they may never learn it committed and can never elect a
  // leader without the removed node's vote.
  test('C4 leader removal', () => {
    const c = new RawNodeCluster([1, 2]);
    c.node(1).campaign();
    c.stabilize();
    assert.equal(c.node(1).raft.state, StateType.Leader);

    // What a raftstore needs to refuse proposing the leader's own removal
    // (and transfer leadership first): id, lead and membership.
    const mayProposeRemoval = (st: Status, nodeId: number): boolean => !(st.softState.lead === st.id && nodeId === st.id);
    const st = c.node(1).status();
    assert.equal(st.id, 1);
    assert.equal(st.softState.lead, 1);
    assert.equal(st.softState.raftState, StateType.Leader);
    assert.deepEqual(st.confState.nodes, [1, 2]);
    assert.equal(mayProposeRemoval(st, 1), false);
    assert.equal(mayProposeRemoval(st, 2), true);
    assert.equal(mayProposeRemoval(c.node(2).status(), 1), true, 'a follower is not the leader');

    // The raw raft layer itself accepts it; its step-down rule is under test.
    const ccIndex = c.node(1).raft.raftLog.lastIndex() + 1;
    assert.equal(c.node(1).proposeConfChange(confChange(ConfChangeType.RemoveNode, 1)), undefined);
    // Lossy network: the leader's first message announcing the commit of the
    // removal is lost.
    let dropped = 0;
    c.filter = (m) => {
      const announcesCommit = m.from === 1 && m.to === 2 && m.msgType === MessageType.MsgAppend && m.commit >= ccIndex;
      if (announcesCommit && dropped === 0) {
        dropped++;
        return false;
      }
      return true;
    };
    const mk = expectMark('raft: leader removed, step down after broadcasting commit');
    c.stabilize();
    mk.assertHit();
    assert.equal(dropped, 1);
    const n1 = c.node(1).raft;
    const n2 = c.node(2).raft;
    assert.equal(n1.state, StateType.Follower, 'the removed leader stepped down');
    assert.ok(n2.raftLog.committed >= ccIndex, 'node 2 learned that the removal committed');
    assert.deepEqual(c.node(2).status().confState.nodes, [2], 'node 2 applied the removal');
    assert.ok(
      c.log.some((e) => e.delivered && e.m.from === 1 && e.m.to === 2 && e.m.msgType === MessageType.MsgAppend && e.m.commit >= ccIndex),
      'the commit index was broadcast on removal',
    );

    // The remaining member elects itself.
    for (let i = 0; i < 3 * n2.electionTimeout && n2.state !== StateType.Leader; i++) c.tickAll();
    assert.equal(n2.state, StateType.Leader);
    assert.equal(n1.state, StateType.Follower, 'a removed node never campaigns');
    assert.equal(c.propose(2, 'after'), undefined);
    c.stabilize();
    assert.deepEqual(c.appliedData(2), ['after']);
    const st2 = c.node(2).status();
    assert.equal(st2.id, 2);
    assert.equal(st2.softState.lead, 2);
    assert.deepEqual(st2.confState.nodes, [2]);
  });
});
