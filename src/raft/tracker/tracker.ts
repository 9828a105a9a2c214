/**
 * The leader's progress for every member, the active configuration (voters,
 * possibly joint, learners) and the votes of an election (etcd's
 * ProgressTracker).
 */
import { assert } from '../../util/assert.js';
import { jointCommittedIndex, jointIds, jointVoteResult } from '../quorum/joint.js';
import type { JointConfig } from '../quorum/joint.js';
import { VoteResult } from '../quorum/majority.js';
import type { ConfState } from '../types.js';
import { sortedIds } from '../util.js';
import type { Progress } from './progress.js';

export interface TrackerConfig {
  /** [incoming, outgoing]; outgoing is non-empty only while joint. */
  voters: JointConfig;
  /** Non-voting members. Invariant: disjoint from both voter sets. */
  learners: Set<number>;
  /**
   * Outgoing voters that become learners when the joint configuration is
   * left (they cannot be learners and voters at once meanwhile).
   */
  learnersNext: Set<number>;
  /** Leave the joint configuration automatically once it is committed. */
  autoLeave: boolean;
}

export type ProgressMap = Map<number, Progress>;

export function emptyConfig(): TrackerConfig {
  return { voters: [new Set(), new Set()], learners: new Set(), learnersNext: new Set(), autoLeave: false };
}

export function cloneConfig(c: TrackerConfig): TrackerConfig {
  return {
    voters: [new Set(c.voters[0]), new Set(c.voters[1])],
    learners: new Set(c.learners),
    learnersNext: new Set(c.learnersNext),
    autoLeave: c.autoLeave,
  };
}

export function isJoint(c: TrackerConfig): boolean {
  return c.voters[1].size > 0;
}

export function configToString(c: TrackerConfig): string {
  let s = `voters=(${sortedIds(c.voters[0]).join(' ')})`;
  if (isJoint(c)) s += `&&(${sortedIds(c.voters[1]).join(' ')})`;
  if (c.learners.size > 0) s += ` learners=(${sortedIds(c.learners).join(' ')})`;
  if (c.learnersNext.size > 0) s += ` learners_next=(${sortedIds(c.learnersNext).join(' ')})`;
  if (c.autoLeave) s += ' autoleave';
  return s;
}

export class ProgressTracker {
  config: TrackerConfig = emptyConfig();
  progress: ProgressMap = new Map();
  votes = new Map<number, boolean>();

  constructor(
    readonly maxInflight: number,
    readonly maxInflightBytes: number,
  ) {}

  confState(): ConfState {
    return {
      nodes: sortedIds(this.config.voters[0]),
      votersOutgoing: sortedIds(this.config.voters[1]),
      learners: sortedIds(this.config.learners),
      learnersNext: sortedIds(this.config.learnersNext),
      autoLeave: this.config.autoLeave,
    };
  }

  isSingleton(): boolean {
    return this.config.voters[0].size === 1 && this.config.voters[1].size === 0;
  }

  /** The largest index acknowledged by a (joint) quorum of voters. */
  committed(): number {
    return jointCommittedIndex(this.config.voters, (id) => this.progress.get(id)?.match);
  }

  /** Calls fn for every member in ascending id order (deterministic output). */
  visit(fn: (id: number, pr: Progress) => void): void {
    for (const id of sortedIds(this.progress.keys())) fn(id, this.progress.get(id) as Progress);
  }

  /** True when a quorum of voters was recently active (check-quorum). */
  quorumActive(): boolean {
    const votes = new Map<number, boolean>();
    this.visit((id, pr) => {
      if (!pr.isLearner) votes.set(id, pr.recentActive);
    });
    return jointVoteResult(this.config.voters, votes) === VoteResult.Won;
  }

  voterNodes(): number[] {
    return sortedIds(jointIds(this.config.voters));
  }

  learnerNodes(): number[] {
    return sortedIds(this.config.learners);
  }

  isVoter(id: number): boolean {
    return this.config.voters[0].has(id) || this.config.voters[1].has(id);
  }

  resetVotes(): void {
    this.votes = new Map();
  }

  /** Records the first vote of `id` in this election; later ones are ignored. */
  recordVote(id: number, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    this.visit((id, pr) => {
      if (pr.isLearner) return;
      const v = this.votes.get(id);
      if (v === undefined) return;
      if (v) granted++;
      else rejected++;
    });
    return { granted, rejected, result: jointVoteResult(this.config.voters, this.votes) };
  }

  /** Asserts the configuration and the progress map agree. */
  checkInvariants(): void {
    const c = this.config;
    for (const id of jointIds(c.voters)) assert(this.progress.has(id), `no progress for voter ${id}`);
    for (const id of c.learners) {
      if (!(this.progress.has(id))) assert(false, `no progress for learner ${id}`);
      if (!(!c.voters[0].has(id) && !c.voters[1].has(id))) assert(false, `${id} is a learner and a voter`);
    }
    for (const id of c.learnersNext) {
      if (!(this.progress.has(id))) assert(false, `no progress for learner-next ${id}`);
      if (!(c.voters[1].has(id))) assert(false, `${id} is in learnersNext but not an outgoing voter`);
    }
    if (!isJoint(c)) {
      assert(c.learnersNext.size === 0, 'learnersNext must be empty outside joint');
      assert(!c.autoLeave, 'autoLeave must be false outside joint');
    }
    for (const [id, pr] of this.progress) {
      if (!(pr.isLearner === c.learners.has(id))) assert(false, `progress ${id} isLearner=${pr.isLearner} disagrees with config`);
    }
  }
}
