/**
 * Goal: freeze the text renderings of raft values. The golden interaction
 * scripts (testdata/*.txt) and the logs compare these strings verbatim, so a
 * format change must be deliberate: it fails here first, with the exact
 * difference, before it silently rewrites every golden file.
 *
 * Method: golden strings for a few representative values of each renderer
 * (entries of every type and payload kind, messages with and without the
 * optional parts, a full and an empty Ready, a joint snapshot, a leader's
 * state with a learner). Each expected string was checked by hand against
 * the format documented in describe.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeConfChange } from './conf_change_codec.js';
import {
  describeConfState,
  describeEntries,
  describeEntry,
  describeHardState,
  describeMessage,
  describeRaftState,
  describeReady,
  describeSnapshot,
  describeSoftState,
} from './describe.js';
import type { Ready } from './ready.js';
import { ConfChangeTransition, ConfChangeType, emptyConfState, MessageType, newEntry, newMessage, StateType } from './types.js';
import type { Snapshot } from './types.js';
import { newTestMemoryStorage, newTestRaft } from './testing/network.js';

const data = (s: string): Buffer => Buffer.from(s);

const appendMsg = newMessage({
  msgType: MessageType.MsgAppend,
  from: 1,
  to: 2,
  term: 3,
  logTerm: 3,
  index: 11,
  commit: 11,
  entries: [newEntry({ term: 3, index: 12, data: data('data') })],
});

const jointSnapshot: Snapshot = {
  data: Buffer.alloc(0),
  metadata: { index: 10, term: 2, confState: { ...emptyConfState(), nodes: [3, 1, 2], votersOutgoing: [1, 2, 4], learnersNext: [4], autoLeave: true } },
};

describe('describeEntry', () => {
  test('normal entries: printable payloads quoted, binary ones in hex, empty ones bare', () => {
    assert.equal(describeEntry(newEntry({ term: 3, index: 12, data: data('data') })), '3/12 EntryNormal "data"');
    assert.equal(describeEntry(newEntry({ term: 3, index: 12 })), '3/12 EntryNormal');
    assert.equal(describeEntry(newEntry({ term: 3, index: 12, data: Buffer.from([0, 1, 255]) })), '3/12 EntryNormal 0x0001ff');
    assert.equal(describeEntry(newEntry({ term: 1, index: 2, data: data('say "hi"') })), '1/2 EntryNormal "say \\"hi\\""');
  });

  test('conf change entries: v (voter), r (remove), l (learner), or leave-joint', () => {
    const v2 = encodeConfChange({
      transition: ConfChangeTransition.JointExplicit,
      changes: [
        { changeType: ConfChangeType.AddNode, nodeId: 4 },
        { changeType: ConfChangeType.RemoveNode, nodeId: 2 },
        { changeType: ConfChangeType.AddLearnerNode, nodeId: 3 },
      ],
      context: Buffer.alloc(0),
    });
    assert.equal(describeEntry(newEntry({ term: 3, index: 13, ...v2 })), '3/13 EntryConfChangeV2 v4 r2 l3');
    const v1 = encodeConfChange({ changeType: ConfChangeType.RemoveNode, nodeId: 3, context: data('ctx') });
    assert.equal(describeEntry(newEntry({ term: 3, index: 14, ...v1 })), '3/14 EntryConfChange r3');
    const leave = encodeConfChange({ transition: ConfChangeTransition.Auto, changes: [], context: Buffer.alloc(0) });
    assert.equal(describeEntry(newEntry({ term: 3, index: 15, ...leave })), '3/15 EntryConfChangeV2 leave-joint');
  });

  test('describeEntries joins with commas', () => {
    assert.equal(describeEntries([newEntry({ term: 1, index: 1 }), newEntry({ term: 1, index: 2, data: data('x') })]), '1/1 EntryNormal, 1/2 EntryNormal "x"');
    assert.equal(describeEntries([]), '');
  });
});

describe('describeMessage', () => {
  test('MsgAppend with log position, commit and entries', () => {
    assert.equal(describeMessage(appendMsg), '1->2 MsgAppend term:3 log:3/11 commit:11 entries:[3/12 EntryNormal "data"]');
  });

  test('a rejected MsgAppendResponse shows its hint', () => {
    const m = newMessage({ msgType: MessageType.MsgAppendResponse, from: 2, to: 1, term: 3, index: 11, reject: true, rejectHint: 7, logTerm: 2 });
    assert.equal(describeMessage(m), '2->1 MsgAppendResponse term:3 log:2/11 rejected (hint: 7)');
  });

  test('a heartbeat with a ReadIndex context', () => {
    const m = newMessage({ msgType: MessageType.MsgHeartbeat, from: 1, to: 3, term: 3, commit: 5, context: data('rctx') });
    assert.equal(describeMessage(m), '1->3 MsgHeartbeat term:3 commit:5 context:"rctx"');
  });

  test('a pre-vote carries the future term and the last log position', () => {
    const m = newMessage({ msgType: MessageType.MsgPreVote, from: 1, to: 3, term: 4, logTerm: 3, index: 12 });
    assert.equal(describeMessage(m), '1->3 MsgPreVote term:4 log:3/12');
  });

  test('a snapshot message shows the snapshot metadata (voters sorted)', () => {
    const m = newMessage({
      msgType: MessageType.MsgSnapshot,
      from: 1,
      to: 3,
      term: 3,
      snapshot: { data: Buffer.alloc(0), metadata: { index: 10, term: 2, confState: { ...emptyConfState(), nodes: [3, 1, 2], learners: [4] } } },
    });
    assert.equal(describeMessage(m), '1->3 MsgSnapshot term:3 snapshot:{index:10 term:2 voters=[1 2 3] learners=[4]}');
  });

  test('zero fields are omitted', () => {
    assert.equal(describeMessage(newMessage({ msgType: MessageType.MsgHup })), '0->0 MsgHup term:0');
    assert.equal(describeMessage(newMessage({ msgType: MessageType.MsgTimeoutNow, from: 1, to: 2, term: 5 })), '1->2 MsgTimeoutNow term:5');
  });
});

describe('describeReady', () => {
  test('every part, in processing order', () => {
    const rd: Ready = {
      softState: { lead: 1, raftState: StateType.Leader },
      hardState: { term: 3, vote: 1, commit: 11 },
      readStates: [{ index: 11, requestCtx: data('r1') }],
      entries: [newEntry({ term: 3, index: 12, data: data('data') })],
      committedEntries: [newEntry({ term: 3, index: 11 })],
      messages: [appendMsg],
      mustSync: true,
    };
    assert.equal(
      describeReady(rd),
      [
        'lead:1 state:StateLeader',
        'HardState term:3 vote:1 commit:11',
        'ReadStates 11:"r1"',
        'Entries:',
        '3/12 EntryNormal "data"',
        'CommittedEntries:',
        '3/11 EntryNormal',
        'Messages:',
        '1->2 MsgAppend term:3 log:3/11 commit:11 entries:[3/12 EntryNormal "data"]',
      ].join('\n'),
    );
  });

  test('an empty Ready', () => {
    assert.equal(describeReady({ readStates: [], entries: [], committedEntries: [], messages: [], mustSync: false }), '<empty Ready>');
  });

  test('a Ready with a joint snapshot', () => {
    const rd: Ready = { readStates: [], entries: [], committedEntries: [], messages: [], mustSync: false, snapshot: jointSnapshot };
    assert.equal(describeReady(rd), 'Snapshot index:10 term:2 voters=[1 2 3]&&[1 2 4] learners_next=[4] autoleave');
  });
});

describe('small renderers', () => {
  test('describeConfState, describeSnapshot, describeHardState, describeSoftState', () => {
    assert.equal(describeConfState({ ...emptyConfState(), nodes: [2, 1], learners: [5] }), 'voters=[1 2] learners=[5]');
    assert.equal(describeConfState(emptyConfState()), 'voters=[]');
    assert.equal(describeSnapshot(jointSnapshot), 'index:10 term:2 voters=[1 2 3]&&[1 2 4] learners_next=[4] autoleave');
    assert.equal(describeHardState({ term: 1, vote: 2, commit: 3 }), 'term:1 vote:2 commit:3');
    assert.equal(describeSoftState({ lead: 0, raftState: StateType.PreCandidate }), 'lead:0 state:StatePreCandidate');
  });

  test('describeRaftState: a new leader with a learner', () => {
    const r = newTestRaft(1, [], 10, 1, newTestMemoryStorage([1, 2, 3], [4]));
    r.becomeCandidate();
    r.becomeLeader();
    assert.equal(
      describeRaftState(r),
      [
        '1 StateLeader term:1 vote:1 lead:1 commit:0 applied:0 last:1',
        'config: voters=(1 2 3) learners=(4)',
        '1: StateReplicate match=1 next=2',
        '2: StateProbe match=0 next=1 inactive',
        '3: StateProbe match=0 next=1 inactive',
        '4: StateProbe match=0 next=1 learner inactive',
      ].join('\n'),
    );
  });
});
