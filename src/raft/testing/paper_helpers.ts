/**
 * Helpers for the ported TinyKV paper and election/replication tests, beyond
 * testing/network.ts: TinyKV's commitNoopEntry/acceptAndReply (raft_paper_test.go),
 * entsWithConfig/votedWithConfig/idsBySize (raft_test.go), a stable message
 * order (TinyKV's messageSlice) and expected-log construction for `ltoa`
 * comparisons (TinyKV's newLog(newMemoryStorageWithEnts(...))).
 * Used by tests only.
 */
import { assert } from '../../util/assert.js';
import { describeMessage } from '../describe.js';
import type { Raft } from '../raft.js';
import { RaftLog } from '../raft_log.js';
import { MemoryStorage } from '../storage.js';
import { MessageType, newEntry, newMessage, StateType } from '../types.js';
import type { Entry, Message } from '../types.js';
import { newTestRaft } from './network.js';
import type { ConfigOverrides } from './network.js';

/** [1, 2, ..., size]. */
export function idsBySize(size: number): number[] {
  return Array.from({ length: size }, (_, i) => i + 1);
}

/** Messages in a stable order (TinyKV sorts by their printed form): by recipient, then rendering. */
export function sortMessages(msgs: readonly Message[]): Message[] {
  return [...msgs].sort((a, b) => a.to - b.to || (describeMessage(a) < describeMessage(b) ? -1 : describeMessage(a) > describeMessage(b) ? 1 : 0));
}

/**
 * TinyKV's acceptAndReply: the MsgAppendResponse a follower sends after
 * accepting `m` (no LogTerm).
 */
export function acceptAndReply(m: Message): Message {
  assert(m.msgType === MessageType.MsgAppend, `type should be MsgAppend, got ${MessageType[m.msgType]}`);
  return newMessage({ msgType: MessageType.MsgAppendResponse, from: m.to, to: m.from, term: m.term, index: m.index + m.entries.length });
}

/**
 * TinyKV's commitNoopEntry: replicates and commits the new leader's empty
 * entry on every follower, then persists the log to `s` and applies it.
 */
export function commitNoopEntry(r: Raft, s: MemoryStorage): void {
  assert(r.state === StateType.Leader, 'it should only be used when it is the leader');
  for (const id of r.prs.progress.keys()) {
    if (id !== r.id) r.sendAppend(id);
  }
  // Simulate the responses to the MsgAppend.
  for (const m of r.readMessages()) {
    assert(
      m.msgType === MessageType.MsgAppend && m.entries.length === 1 && m.entries[0]!.data.length === 0,
      `not a message to append the noop entry: ${describeMessage(m)}`,
    );
    r.step(acceptAndReply(m));
  }
  // Ignore further messages that refresh the followers' commit index.
  r.readMessages();
  s.append(r.raftLog.unstableEntries());
  r.raftLog.appliedTo(r.raftLog.committed);
  r.raftLog.stableTo(r.raftLog.lastIndex(), r.raftLog.lastTerm());
}

/** Entries at indexes 1.. with the given terms. */
export function entsWithTerms(...terms: number[]): Entry[] {
  return terms.map((term, i) => newEntry({ term, index: i + 1 }));
}

/**
 * TinyKV's newLog(newMemoryStorageWithEnts(...)) with `committed` set: the
 * expected log of a ltoa comparison (applied stays 0).
 */
export function expectedLog(entries: readonly Entry[], committed: number): RaftLog {
  const s = new MemoryStorage();
  s.append(entries);
  const l = new RaftLog(s);
  l.committed = committed;
  return l;
}

/**
 * TinyKV's entsWithConfig: a raft (election 5, heartbeat 1) whose storage
 * holds entries with the given terms and whose term is the last of them.
 * TinyKV creates every such node with id 1 and lets the network renumber it;
 * our network requires the final id up front.
 */
export function entsWithConfig(id: number, peers: readonly number[], overrides: ConfigOverrides, ...terms: number[]): Raft {
  const s = new MemoryStorage();
  s.append(entsWithTerms(...terms));
  const r = newTestRaft(id, peers, 5, 1, s, overrides);
  r.term = terms[terms.length - 1] ?? 0;
  return r;
}

/**
 * TinyKV's votedWithConfig: a raft with Vote and Term set (persisted in its
 * HardState) but no log entries: it voted in `term` but got no entries.
 */
export function votedWithConfig(id: number, peers: readonly number[], overrides: ConfigOverrides, vote: number, term: number): Raft {
  const s = new MemoryStorage();
  s.setHardState({ term, vote, commit: 0 });
  const r = newTestRaft(id, peers, 5, 1, s, overrides);
  r.term = term;
  return r;
}
