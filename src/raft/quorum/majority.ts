/**
 * Majority quorums (etcd raft/quorum): the commit index a majority has
 * acknowledged and the result of a vote. An empty configuration commits
 * everything and wins every vote, so that a joint configuration whose
 * outgoing half is empty behaves like its incoming half alone.
 */
export enum VoteResult {
  Pending = 1,
  Lost = 2,
  Won = 3,
}

export const INDEX_MAX = Number.MAX_SAFE_INTEGER;

/** Looks up the acknowledged index of a voter; undefined when unknown. */
export type AckedIndexer = (id: number) => number | undefined;

/** Reused between calls: this runs on every acknowledgement, keep it allocation-free. */
const scratch: number[] = [];

export function majorityCommittedIndex(voters: ReadonlySet<number>, acked: AckedIndexer): number {
  const n = voters.size;
  if (n === 0) return INDEX_MAX;
  // Insertion sort into the scratch array, ascending: groups are small.
  let len = 0;
  for (const id of voters) {
    const v = acked(id) ?? 0;
    let j = len++;
    while (j > 0 && (scratch[j - 1] as number) > v) {
      scratch[j] = scratch[j - 1] as number;
      j--;
    }
    scratch[j] = v;
  }
  // The (n/2+1)-th largest index is acknowledged by a majority.
  return scratch[n - (Math.floor(n / 2) + 1)] as number;
}

export function majorityVoteResult(voters: ReadonlySet<number>, votes: ReadonlyMap<number, boolean>): VoteResult {
  if (voters.size === 0) return VoteResult.Won;
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) granted++;
  }
  const q = Math.floor(voters.size / 2) + 1;
  if (granted >= q) return VoteResult.Won;
  if (granted + missing >= q) return VoteResult.Pending;
  return VoteResult.Lost;
}
