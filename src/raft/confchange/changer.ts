/**
 * Applies configuration changes to a copy of the tracker's configuration and
 * progress map (etcd's confchange.Changer): simple changes (at most one voter
 * changed, raft thesis §4.1), entering a joint configuration with any set of
 * changes (§4.3), and leaving it. Invalid changes return a RaftError value;
 * the live tracker is untouched until the caller installs the result.
 */
import { ConfChangeType, RaftError, RAFT_ERROR_CODES } from '../types.js';
import type { ConfChangeSingle } from '../types.js';
import { Inflights } from '../tracker/inflights.js';
import { Progress } from '../tracker/progress.js';
import { cloneConfig, isJoint } from '../tracker/tracker.js';
import type { ProgressMap, ProgressTracker, TrackerConfig } from '../tracker/tracker.js';

export interface ChangeResult {
  readonly config: TrackerConfig;
  readonly progress: ProgressMap;
}

export class Changer {
  constructor(
    private readonly tracker: ProgressTracker,
    /** The leader's last index: new members start probing from here. */
    private readonly lastIndex: number,
  ) {}

  enterJoint(autoLeave: boolean, ccs: readonly ConfChangeSingle[]): ChangeResult | RaftError {
    const { config, progress } = this.copy();
    if (isJoint(config)) return invalid('config is already joint');
    if (config.voters[0].size === 0) return invalid("can't make a zero-voter config joint");
    // The outgoing half starts as a copy of the current voters.
    for (const id of config.voters[0]) config.voters[1].add(id);
    const err = this.apply(config, progress, ccs);
    if (err !== undefined) return err;
    config.autoLeave = autoLeave;
    return { config, progress };
  }

  leaveJoint(): ChangeResult | RaftError {
    const { config, progress } = this.copy();
    if (!isJoint(config)) return invalid("can't leave a non-joint config");
    for (const id of config.learnersNext) {
      config.learners.add(id);
      (progress.get(id) as Progress).isLearner = true;
    }
    config.learnersNext = new Set();
    for (const id of config.voters[1]) {
      if (!config.voters[0].has(id) && !config.learners.has(id)) progress.delete(id);
    }
    config.voters = [config.voters[0], new Set()];
    config.autoLeave = false;
    return { config, progress };
  }

  /** At most one voter may change; otherwise use joint consensus. */
  simple(ccs: readonly ConfChangeSingle[]): ChangeResult | RaftError {
    const { config, progress } = this.copy();
    if (isJoint(config)) return invalid("can't apply simple config change in joint config");
    const err = this.apply(config, progress, ccs);
    if (err !== undefined) return err;
    if (symmetricDifference(this.tracker.config.voters[0], config.voters[0]) > 1) {
      return invalid('more than one voter changed without entering joint config');
    }
    return { config, progress };
  }

  private apply(config: TrackerConfig, progress: ProgressMap, ccs: readonly ConfChangeSingle[]): RaftError | undefined {
    for (const cc of ccs) {
      if (cc.nodeId === 0) continue; // etcd: id 0 is a no-op change
      switch (cc.changeType) {
        case ConfChangeType.AddNode:
          this.makeVoter(config, progress, cc.nodeId);
          break;
        case ConfChangeType.AddLearnerNode:
          this.makeLearner(config, progress, cc.nodeId);
          break;
        case ConfChangeType.RemoveNode:
          remove(config, progress, cc.nodeId);
          break;
        default:
          return invalid(`unexpected conf change type ${String(cc.changeType)}`);
      }
    }
    if (config.voters[0].size === 0) return invalid('removed all voters');
    return undefined;
  }

  private makeVoter(config: TrackerConfig, progress: ProgressMap, id: number): void {
    const pr = progress.get(id);
    if (pr === undefined) {
      this.initProgress(config, progress, id, false);
      return;
    }
    pr.isLearner = false;
    config.learners.delete(id);
    config.learnersNext.delete(id);
    config.voters[0].add(id);
  }

  /**
   * A voter of the outgoing config cannot be a learner yet: it goes to
   * learnersNext and becomes a learner when the joint config is left.
   */
  private makeLearner(config: TrackerConfig, progress: ProgressMap, id: number): void {
    const pr = progress.get(id);
    if (pr === undefined) {
      this.initProgress(config, progress, id, true);
      return;
    }
    if (pr.isLearner) return;
    remove(config, progress, id);
    progress.set(id, pr);
    if (config.voters[1].has(id)) {
      config.learnersNext.add(id);
    } else {
      pr.isLearner = true;
      config.learners.add(id);
    }
  }

  private initProgress(config: TrackerConfig, progress: ProgressMap, id: number, isLearner: boolean): void {
    if (isLearner) config.learners.add(id);
    else config.voters[0].add(id);
    // New members are probed from the leader's last index, and count as active
    // so check-quorum does not step the leader down right after adding them.
    progress.set(
      id,
      new Progress({
        next: Math.max(this.lastIndex, 1),
        inflights: new Inflights(this.tracker.maxInflight, this.tracker.maxInflightBytes),
        isLearner,
        recentActive: true,
      }),
    );
  }

  private copy(): { config: TrackerConfig; progress: ProgressMap } {
    const progress: ProgressMap = new Map();
    for (const [id, pr] of this.tracker.progress) progress.set(id, pr.clone());
    return { config: cloneConfig(this.tracker.config), progress };
  }
}

function remove(config: TrackerConfig, progress: ProgressMap, id: number): void {
  if (!progress.has(id)) return;
  config.voters[0].delete(id);
  config.learners.delete(id);
  config.learnersNext.delete(id);
  // An outgoing voter keeps its progress until the joint config is left.
  if (!config.voters[1].has(id)) progress.delete(id);
}

function symmetricDifference(a: ReadonlySet<number>, b: ReadonlySet<number>): number {
  let n = 0;
  for (const id of a) if (!b.has(id)) n++;
  for (const id of b) if (!a.has(id)) n++;
  return n;
}

function invalid(message: string): RaftError {
  return new RaftError(RAFT_ERROR_CODES.InvalidConfChange, message);
}
