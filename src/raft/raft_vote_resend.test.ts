/**
 * Goal: a campaign survives the loss of vote requests within one election
 * timeout. With `voteResendTick` set, a (pre-)candidate re-sends the same
 * vote request to voters that have not answered; voters that answered are
 * not asked again; a re-sent request is identical to the first (same term,
 * last index/term, CampaignTransfer context); and a voter grants the same
 * candidate twice in one term, so the resend is idempotent. Off by default
 * (etcd's behaviour, which the ported etcd tests pin).
 *
 * Method: single nodes driven by tick and step, reading their outbox.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectMark } from '../util/marks.js';
import { CAMPAIGN_TRANSFER, CampaignType } from './raft.js';
import type { Raft } from './raft.js';
import { MessageType, newMessage, StateType } from './types.js';
import type { Message } from './types.js';
import { newTestMemoryStorage, newTestRaft } from './testing/network.js';
import type { ConfigOverrides } from './testing/network.js';

function raft5(id: number, overrides: ConfigOverrides): Raft {
  const r = newTestRaft(id, [], 10, 1, newTestMemoryStorage([1, 2, 3, 4, 5]), overrides);
  // Fixed timeout so the ticks below never start a new campaign.
  r.randomizedElectionTimeout = 19;
  return r;
}

function votesTo(msgs: Message[], type: MessageType): number[] {
  return msgs.filter((m) => m.msgType === type).map((m) => m.to).sort((a, b) => a - b);
}

function tickN(r: Raft, n: number): void {
  for (let i = 0; i < n; i++) r.tick();
}

describe('vote resend', () => {
  test('a candidate re-asks only the voters that have not answered', () => {
    const r = raft5(1, { voteResendTick: 3 });
    r.campaign(CampaignType.Election);
    assert.equal(r.state, StateType.Candidate);
    const first = r.readMessages();
    assert.deepEqual(votesTo(first, MessageType.MsgRequestVote), [2, 3, 4, 5]);
    // Voter 2 grants, voter 3 rejects; 4 and 5 stay silent (their requests were lost).
    r.step(newMessage({ msgType: MessageType.MsgRequestVoteResponse, from: 2, to: 1, term: r.term }));
    r.step(newMessage({ msgType: MessageType.MsgRequestVoteResponse, from: 3, to: 1, term: r.term, reject: true }));
    r.readMessages();
    r.randomizedElectionTimeout = 19;
    tickN(r, 2);
    assert.deepEqual(r.readMessages(), [], 'nothing before voteResendTick ticks');
    const resent = expectMark('raft: vote request re-sent to silent voters');
    tickN(r, 1);
    resent.assertHit();
    const again = r.readMessages();
    assert.deepEqual(votesTo(again, MessageType.MsgRequestVote), [4, 5]);
    const orig = first.find((m) => m.to === 4);
    const copy = again.find((m) => m.to === 4);
    assert.ok(orig && copy);
    assert.deepEqual({ ...copy }, { ...orig }, 'the re-sent request equals the first');
    // Voter 4 answers the re-sent request: the candidate wins.
    r.step(newMessage({ msgType: MessageType.MsgRequestVoteResponse, from: 4, to: 1, term: r.term }));
    assert.equal(r.state, StateType.Leader);
  });

  test('a pre-candidate re-sends pre-votes for the next term without moving to it', () => {
    const r = raft5(1, { preVote: true, voteResendTick: 2 });
    const term = r.term;
    r.campaign(CampaignType.PreElection);
    assert.equal(r.state, StateType.PreCandidate);
    r.readMessages();
    r.step(newMessage({ msgType: MessageType.MsgPreVoteResponse, from: 5, to: 1, term: term + 1 }));
    tickN(r, 2);
    const again = r.readMessages();
    assert.deepEqual(votesTo(again, MessageType.MsgPreVote), [2, 3, 4]);
    assert.ok(again.every((m) => m.term === term + 1));
    assert.equal(r.term, term, 'pre-candidate keeps its term');
  });

  test('a transfer campaign re-sends with the CampaignTransfer context', () => {
    const r = raft5(1, { preVote: true, checkQuorum: true, voteResendTick: 2 });
    r.campaign(CampaignType.Transfer);
    assert.equal(r.state, StateType.Candidate);
    r.readMessages();
    tickN(r, 2);
    const again = r.readMessages();
    assert.deepEqual(votesTo(again, MessageType.MsgRequestVote), [2, 3, 4, 5]);
    assert.ok(again.every((m) => Buffer.from(m.context).equals(CAMPAIGN_TRANSFER)));
  });

  test('a voter grants the same candidate again in the same term (resend is idempotent)', () => {
    const v = raft5(2, {});
    const req = newMessage({ msgType: MessageType.MsgRequestVote, from: 1, to: 2, term: 2, index: 0, logTerm: 0 });
    v.step(req);
    v.step(req);
    const answers = v.readMessages().filter((m) => m.msgType === MessageType.MsgRequestVoteResponse);
    assert.equal(answers.length, 2);
    assert.ok(answers.every((m) => !m.reject));
    assert.equal(v.vote, 1);
  });

  test('off by default: a lost request waits for the next election timeout', () => {
    const r = raft5(1, {});
    r.campaign(CampaignType.Election);
    r.randomizedElectionTimeout = 19;
    r.readMessages();
    tickN(r, 18);
    assert.deepEqual(r.readMessages(), []);
  });
});
