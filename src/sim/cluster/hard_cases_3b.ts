/**
 * HARD-CASES rows S3, T1, T2, C1-C4 and P1-P7 (../shared/docs/HARD-CASES.md)
 * as named, deterministic, scripted scenarios at the store level, in the
 * manner of hard_cases.ts (S1, S2). Each scenario:
 *
 * - builds the row's situation with a fixed fault schedule (partitions,
 *   message-type filters, slow links, crashes, scheduler operators, admin
 *   commands sent straight to a leader, splits with small split sizes);
 * - arms the coverage marks of the row's rule and fails the seed if the
 *   fault did not make that code run (a passing seed alone proves nothing);
 * - checks explicitly that the row's "what goes wrong" did not happen;
 * - ends with the usual liveness phase of `runClusterScenario`: heal,
 *   converge (every replica equal, no stray region or key), linearizability
 *   of the recorded history, raft safety at every apply.
 *
 * The rows' bodies are in hard_cases_membership.ts (S3, T1, T2, C1-C4, P6)
 * and hard_cases_ranges.ts (P1-P5, P7), their scaffolding (marks, admin
 * commands, cluster helpers) in hard_cases_support.ts; this module names
 * each row and gives its setup and marks.
 */
import type { CustomScenario } from '../scenario.js';
import { c1Body, c2Body, c3Body, c4Body, p6Body, s3Body, t1Body, t2Body } from './hard_cases_membership.js';
import { p1Body, p2Body, p3Body, p4Body, p5Body, p7Body } from './hard_cases_ranges.js';
import { hardCase } from './hard_cases_support.js';
import type { CaseSetup } from './hard_cases_support.js';

// ---- the list ------------------------------------------------------------

const SMALL: CaseSetup = { stores: 3, maxraftlog: -1, smallRegions: true };
const PLAIN: CaseSetup = { stores: 3, maxraftlog: -1 };

export const HARD_CASE_3B_SCENARIOS: readonly CustomScenario[] = [
  hardCase('S3', 'HARD-CASES S3: a new member stays uninitialized (snapshots dropped), then the quorum needs it: it must take heartbeats and the snapshot',
    { stores: 3, maxraftlog: 5 }, ['raftstore: uninitialized peer created'], s3Body),
  hardCase('T1', 'HARD-CASES T1: leadership moves to a lagging follower under a steady writer: proposals are refused until the transferee is up to date',
    PLAIN, ['raft: proposal refused, leader transfer in progress'], t1Body),
  hardCase('T2', 'HARD-CASES T2: leadership transfer to an isolated follower aborts after one election timeout; the leader serves again',
    PLAIN, ['raft: leader transfer timed out, aborted', 'raft: proposal refused, leader transfer in progress'], t2Body),
  hardCase('C1', 'HARD-CASES C1: conf changes that do not fit the region (peer already on the store, wrong store) are refused at apply; re-sent operators apply once',
    PLAIN, ['raftstore: conf change refused at apply'], c1Body),
  hardCase('C2', 'HARD-CASES C2: a removed peer leaves store metadata once, on its destroy path (own removal, then a removal learnt after a partition; restarts)',
    PLAIN, ['raftstore: stale peer destroyed on a gc message', 'raftstore: peer destroyed'], c2Body),
  hardCase('C3', 'HARD-CASES C3: a second conf change while one is pending answers ServerIsBusy; the next one after the apply is accepted',
    PLAIN, ['raftstore: conf change refused, another is pending'], c3Body),
  hardCase('C4', 'HARD-CASES C4: removing the leader of a 2-member group on a lossy network: leadership moves first, the survivor serves',
    { stores: 2, maxraftlog: -1 }, ['raftstore: leader removal refused, transferring leadership first'], c4Body),
  hardCase('P1', 'HARD-CASES P1: a scan (Snap, no key) of regions not starting at "" passes the region checks',
    SMALL, ['raftstore: split applied'], p1Body),
  hardCase('P2', 'HARD-CASES P2: a Snap answer keeps the region of its read view while a split applies before it is delivered',
    PLAIN, ['raftstore: split applied'], p2Body),
  hardCase('P3', 'HARD-CASES P3: put-only load splits regions repeatedly (size delta of applied puts drives the checker)',
    SMALL, ['raftstore: split key found'], p3Body),
  hardCase('P4', 'HARD-CASES P4: stale split requests (same epoch twice, racing a removal, old epoch, 3 ids for 2 peers, key outside) answer errors',
    PLAIN, ['raftstore: split refused at apply'], p4Body),
  hardCase('P5', 'HARD-CASES P5: a lagging store applies a split of a region whose new half removed it: only its own stale peer, then destroyed',
    PLAIN, ['raftstore: peer not created, its range is owned by a region here', 'raftstore: split applied'], p5Body),
  hardCase('P6', 'HARD-CASES P6: old messages for a removed peer are dropped; re-added peers (new ids) are created, also over a stale one',
    PLAIN, ['raftstore: message for a destroyed peer dropped (P6)', 'raftstore: local peer superseded by a newer peer id'], p6Body),
  hardCase('P7', 'HARD-CASES P7: a delayed snapshot of the unsplit region reaches a store that holds the split-off half: refused until a fitting one comes',
    PLAIN, ['raftstore: snapshot refused, its range overlaps another region here (P7)'], p7Body),
];
