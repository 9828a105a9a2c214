/**
 * Rebuilds the tracker's configuration from a ConfState (after a restart or a
 * snapshot) by replaying it as conf changes (etcd's confchange.Restore): the
 * outgoing voters one at a time, then the incoming config as one joint change.
 */
import { assert } from '../../util/assert.js';
import { ConfChangeType } from '../types.js';
import type { ConfChangeSingle, ConfState } from '../types.js';
import type { ProgressTracker } from '../tracker/tracker.js';
import { Changer } from './changer.js';
import type { ChangeResult } from './changer.js';

function single(changeType: ConfChangeType, nodeId: number): ConfChangeSingle {
  return { changeType, nodeId };
}

/** Installs the configuration of `cs` into `tracker`. */
export function restoreConfState(tracker: ProgressTracker, lastIndex: number, cs: ConfState): void {
  // Example (etcd's): voters=(1 2 3) learners=(5) outgoing=(1 2 4 6) learners_next=(4).
  // outgoing = add 1, 2, 4, 6 (one at a time: the config before the joint change);
  // incoming = remove 1, 2, 4, 6, then add 1, 2, 3, add-learner 5, add-learner 4,
  // applied as one joint change: voters=(1 2 3)&&(1 2 4 6) learners=(5) learners_next=(4).
  const outgoing = cs.votersOutgoing.map((id) => single(ConfChangeType.AddNode, id));
  const incoming = [
    // Outgoing voters are removed first, so the incoming half holds exactly cs.nodes.
    ...cs.votersOutgoing.map((id) => single(ConfChangeType.RemoveNode, id)),
    ...cs.nodes.map((id) => single(ConfChangeType.AddNode, id)),
    ...cs.learners.map((id) => single(ConfChangeType.AddLearnerNode, id)),
    ...cs.learnersNext.map((id) => single(ConfChangeType.AddLearnerNode, id)),
  ];
  const install = (res: ChangeResult | Error): void => {
    if (res instanceof Error) assert(false, `cannot restore conf state ${JSON.stringify(cs)}: ${res.message}`);
    tracker.config = res.config;
    tracker.progress = res.progress;
  };
  if (outgoing.length === 0) {
    for (const cc of incoming) install(new Changer(tracker, lastIndex).simple([cc]));
    return;
  }
  for (const cc of outgoing) install(new Changer(tracker, lastIndex).simple([cc]));
  install(new Changer(tracker, lastIndex).enterJoint(cs.autoLeave, incoming));
}
