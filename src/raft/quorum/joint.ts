/**
 * Joint quorums (raft thesis §4.3): a decision needs a majority of the
 * incoming and of the outgoing configuration.
 */
import { majorityCommittedIndex, majorityVoteResult, VoteResult } from './majority.js';
import type { AckedIndexer } from './majority.js';

export type JointConfig = readonly [incoming: Set<number>, outgoing: Set<number>];

export function jointCommittedIndex(c: JointConfig, acked: AckedIndexer): number {
  return Math.min(majorityCommittedIndex(c[0], acked), majorityCommittedIndex(c[1], acked));
}

export function jointVoteResult(c: JointConfig, votes: ReadonlyMap<number, boolean>): VoteResult {
  const r1 = majorityVoteResult(c[0], votes);
  const r2 = majorityVoteResult(c[1], votes);
  if (r1 === r2) return r1;
  if (r1 === VoteResult.Lost || r2 === VoteResult.Lost) return VoteResult.Lost;
  return VoteResult.Pending;
}

export function jointIds(c: JointConfig): Set<number> {
  const ids = new Set(c[0]);
  for (const id of c[1]) ids.add(id);
  return ids;
}
