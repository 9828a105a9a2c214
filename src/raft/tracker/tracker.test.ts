/**
 * Goal: the leader's per-follower bookkeeping. Inflights bounds the MsgAppend
 * window by count and by bytes (a ring buffer that must survive wraparound);
 * Progress moves between Probe, Replicate and Snapshot and decides what to
 * send next (maybeUpdate, maybeDecrTo, isPaused); ProgressTracker tallies
 * votes and answers check-quorum's "was a quorum recently active?".
 *
 * Method: ports of etcd-io/raft tracker/inflights_test.go and
 * tracker/progress_test.go (observing the ring only through its public
 * surface: size, full(), freeLE, freeFirstOne), plus table tests of
 * ProgressTracker on hand-built configurations.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionError } from '../../util/assert.js';
import { VoteResult } from '../quorum/majority.js';
import { Inflights } from './inflights.js';
import { Progress, ProgressState } from './progress.js';
import { ProgressTracker } from './tracker.js';

function addRange(inf: Inflights, from: number, to: number): void {
  for (let i = from; i < to; i++) inf.add(i, 100 + i);
}

describe('Inflights', () => {
  test('TestInflightsAdd: fills up to capacity, then refuses', () => {
    const inf = new Inflights(10);
    addRange(inf, 0, 5);
    assert.equal(inf.size, 5);
    assert.equal(inf.full(), false);
    addRange(inf, 5, 10);
    assert.equal(inf.size, 10);
    assert.equal(inf.full(), true);
    assert.throws(() => inf.add(10, 110), AssertionError);
  });

  test('TestInflightFreeTo: frees everything up to an index, across the ring wraparound', () => {
    const inf = new Inflights(10);
    addRange(inf, 0, 10);
    inf.freeLE(0);
    assert.equal(inf.size, 9);
    inf.freeLE(4);
    assert.equal(inf.size, 5);
    inf.freeLE(8);
    assert.equal(inf.size, 1);
    // Rotating: the new entries wrap around to the start of the buffer.
    addRange(inf, 10, 15);
    assert.equal(inf.size, 6);
    inf.freeLE(12);
    assert.equal(inf.size, 2);
    // Only 13 and 14 remain: freeing up to 12 again changes nothing.
    inf.freeLE(12);
    assert.equal(inf.size, 2);
    inf.freeLE(14);
    assert.equal(inf.size, 0);
    // Empty again: the full window is available.
    addRange(inf, 15, 25);
    assert.equal(inf.full(), true);
    inf.freeLE(24);
    assert.equal(inf.size, 0);
  });

  test('freeLE below the first in-flight index, and on an empty window, is a no-op', () => {
    const inf = new Inflights(4);
    inf.freeLE(100);
    assert.equal(inf.size, 0);
    inf.add(5, 1);
    inf.add(7, 1);
    inf.freeLE(4);
    assert.equal(inf.size, 2);
    inf.freeLE(6);
    assert.equal(inf.size, 1);
  });

  test('TestInflightFreeFirstOne', () => {
    const inf = new Inflights(10);
    addRange(inf, 0, 10);
    inf.freeFirstOne();
    assert.equal(inf.size, 9);
    assert.equal(inf.full(), false);
    // Wrapped: free the oldest one at a time.
    inf.add(10, 110);
    assert.equal(inf.full(), true);
    for (let i = 9; i > 0; i--) {
      inf.freeFirstOne();
      assert.equal(inf.size, i);
    }
    // The survivor is the newest (10): freeLE(9) leaves it, freeLE(10) frees it.
    inf.freeLE(9);
    assert.equal(inf.size, 1);
    inf.freeLE(10);
    assert.equal(inf.size, 0);
    inf.freeFirstOne();
    assert.equal(inf.size, 0);
  });

  // etcd's TestInflightsFull, without its "always-full" (capacity 0) case: a
  // zero capacity is refused here (see the next test).
  const fullCases = [
    { name: 'single-entry', size: 1, maxBytes: 0, fullAt: 1, freeLE: 1, againAt: 2 },
    { name: 'single-entry-overflow', size: 1, maxBytes: 10, fullAt: 1, freeLE: 1, againAt: 2 },
    { name: 'multi-entry', size: 15, maxBytes: 0, fullAt: 15, freeLE: 6, againAt: 22 },
    { name: 'slight-overflow', size: 8, maxBytes: 400, fullAt: 4, freeLE: 2, againAt: 7 },
    { name: 'exact-max-bytes', size: 8, maxBytes: 406, fullAt: 4, freeLE: 3, againAt: 8 },
    { name: 'larger-overflow', size: 15, maxBytes: 408, fullAt: 5, freeLE: 1, againAt: 6 },
  ];
  for (const tc of fullCases) {
    test(`TestInflightsFull/${tc.name}`, () => {
      const inf = new Inflights(tc.size, tc.maxBytes);
      const addUntilFull = (begin: number, end: number): void => {
        for (let i = begin; i < end; i++) {
          assert.equal(inf.full(), false, `full at ${i}, want ${end}`);
          inf.add(i, 100 + i);
        }
        assert.equal(inf.full(), true, `not full at ${end}`);
      };
      addUntilFull(0, tc.fullAt);
      inf.freeLE(tc.freeLE);
      addUntilFull(tc.fullAt, tc.againAt);
      assert.throws(() => inf.add(100, 1024), AssertionError);
    });
  }

  test('a zero capacity is refused', () => {
    assert.throws(() => new Inflights(0), AssertionError);
  });

  test('clone is independent; reset empties', () => {
    const inf = new Inflights(3, 1000);
    addRange(inf, 0, 2);
    const c = inf.clone();
    inf.add(2, 1);
    assert.equal(inf.size, 3);
    assert.equal(c.size, 2);
    c.freeLE(0);
    assert.equal(c.size, 1);
    assert.equal(inf.size, 3);
    inf.reset();
    assert.equal(inf.size, 0);
    assert.equal(inf.full(), false);
  });
});

function progress(fields: { state?: ProgressState; match?: number; next: number; pendingSnapshot?: number; probeSent?: boolean; cap?: number }): Progress {
  const p = new Progress({ next: fields.next, match: fields.match ?? 0, inflights: new Inflights(fields.cap ?? 256), isLearner: false });
  p.state = fields.state ?? ProgressState.Probe;
  p.pendingSnapshot = fields.pendingSnapshot ?? 0;
  p.probeSent = fields.probeSent ?? false;
  return p;
}

describe('Progress', () => {
  test('TestProgressIsPaused', () => {
    const cases: [ProgressState, boolean, boolean][] = [
      [ProgressState.Probe, false, false],
      [ProgressState.Probe, true, true],
      [ProgressState.Replicate, false, false],
      [ProgressState.Replicate, true, false],
      [ProgressState.Snapshot, false, true],
      [ProgressState.Snapshot, true, true],
    ];
    for (const [state, probeSent, want] of cases) {
      const p = progress({ state, next: 1, probeSent });
      assert.equal(p.isPaused(), want, `${ProgressState[state]} probeSent=${probeSent}`);
    }
  });

  test('a Replicate progress is paused exactly when its window is full', () => {
    const p = progress({ state: ProgressState.Replicate, next: 1, cap: 2 });
    p.inflights.add(1, 0);
    assert.equal(p.isPaused(), false);
    p.inflights.add(2, 0);
    assert.equal(p.isPaused(), true);
    p.inflights.freeLE(1);
    assert.equal(p.isPaused(), false);
  });

  test('TestProgressResume: an accepted or rejected answer unpauses a probe', () => {
    const p = progress({ next: 2, probeSent: true });
    p.maybeDecrTo(1, 1);
    assert.equal(p.probeSent, false);
    p.probeSent = true;
    p.maybeUpdate(2);
    assert.equal(p.probeSent, false);
  });

  test('TestProgressBecomeProbe', () => {
    const match = 1;
    const cases: [Progress, number][] = [
      [progress({ state: ProgressState.Replicate, match, next: 5 }), 2],
      // Snapshot finished: resume after the snapshot.
      [progress({ state: ProgressState.Snapshot, match, next: 5, pendingSnapshot: 10 }), 11],
      // Snapshot failed (pending cleared): resume after match.
      [progress({ state: ProgressState.Snapshot, match, next: 5, pendingSnapshot: 0 }), 2],
    ];
    for (const [i, [p, wnext]] of cases.entries()) {
      p.becomeProbe();
      assert.equal(p.state, ProgressState.Probe, `#${i}`);
      assert.equal(p.match, match, `#${i}`);
      assert.equal(p.next, wnext, `#${i}`);
      assert.equal(p.pendingSnapshot, 0, `#${i}`);
    }
  });

  test('TestProgressBecomeReplicate', () => {
    const p = progress({ match: 1, next: 5 });
    p.inflights.add(3, 0);
    p.becomeReplicate();
    assert.equal(p.state, ProgressState.Replicate);
    assert.equal(p.match, 1);
    assert.equal(p.next, 2);
    assert.equal(p.inflights.size, 0);
  });

  test('TestProgressBecomeSnapshot', () => {
    const p = progress({ match: 1, next: 5 });
    p.becomeSnapshot(10);
    assert.equal(p.state, ProgressState.Snapshot);
    assert.equal(p.match, 1);
    assert.equal(p.pendingSnapshot, 10);
    assert.equal(p.isPaused(), true);
  });

  test('TestProgressUpdate', () => {
    const [prevM, prevN] = [3, 5];
    const cases: [number, number, number, boolean][] = [
      [prevM - 1, prevM, prevN, false], // do not decrease match, next
      [prevM, prevM, prevN, false], // do not decrease next
      [prevM + 1, prevM + 1, prevN, true], // increase match, do not decrease next
      [prevM + 2, prevM + 2, prevN + 1, true], // increase match, next
    ];
    for (const [i, [update, wm, wn, wok]] of cases.entries()) {
      const p = progress({ match: prevM, next: prevN });
      assert.equal(p.maybeUpdate(update), wok, `#${i}`);
      assert.equal(p.match, wm, `#${i}`);
      assert.equal(p.next, wn, `#${i}`);
    }
  });

  test('TestProgressMaybeDecr', () => {
    // [state, match, next, rejected, hint (last), wok, wnext]
    const cases: [ProgressState, number, number, number, number, boolean, number][] = [
      // Replicate: a rejection at or below match is stale.
      [ProgressState.Replicate, 5, 10, 5, 5, false, 10],
      [ProgressState.Replicate, 5, 10, 4, 4, false, 10],
      // Replicate: above match, fall back to match+1.
      [ProgressState.Replicate, 5, 10, 9, 9, true, 6],
      // Probe: only the rejection of next-1 counts.
      [ProgressState.Probe, 0, 0, 0, 0, false, 0],
      [ProgressState.Probe, 0, 10, 5, 5, false, 10],
      // next-1 rejected: decrement ...
      [ProgressState.Probe, 0, 10, 9, 9, true, 9],
      [ProgressState.Probe, 0, 2, 1, 1, true, 1],
      // ... never below 1 ...
      [ProgressState.Probe, 0, 1, 0, 0, true, 1],
      // ... and to min(rejected, hint+1).
      [ProgressState.Probe, 0, 10, 9, 2, true, 3],
      [ProgressState.Probe, 0, 10, 9, 0, true, 1],
    ];
    for (const [i, [state, m, n, rejected, last, wok, wn]] of cases.entries()) {
      const p = progress({ state, match: m, next: n });
      assert.equal(p.maybeDecrTo(rejected, last), wok, `#${i}`);
      assert.equal(p.match, m, `#${i}`);
      assert.equal(p.next, wn, `#${i}`);
    }
  });

  test('toString', () => {
    const p = progress({ state: ProgressState.Replicate, match: 3, next: 4 });
    p.inflights.add(4, 0);
    assert.equal(p.toString(), 'StateReplicate match=3 next=4 inactive inflight=1');
    const q = new Progress({ next: 7, inflights: new Inflights(1), isLearner: true, recentActive: true });
    q.becomeSnapshot(9);
    assert.equal(q.toString(), 'StateSnapshot match=0 next=7 learner paused pendingSnap=9');
  });
});

/** A tracker with the given voters (incoming, outgoing) and learners, all progress fresh. */
function tracker(incoming: number[], outgoing: number[] = [], learners: number[] = []): ProgressTracker {
  const t = new ProgressTracker(256, 0);
  t.config = { voters: [new Set(incoming), new Set(outgoing)], learners: new Set(learners), learnersNext: new Set(), autoLeave: false };
  for (const id of new Set([...incoming, ...outgoing, ...learners])) {
    t.progress.set(id, new Progress({ next: 1, inflights: new Inflights(256), isLearner: learners.includes(id) }));
  }
  t.checkInvariants();
  return t;
}

describe('ProgressTracker', () => {
  test('tallyVotes counts voters only, first vote wins', () => {
    const t = tracker([1, 2, 3], [], [4]);
    t.recordVote(1, true);
    assert.deepEqual(t.tallyVotes(), { granted: 1, rejected: 0, result: VoteResult.Pending });
    // A learner's vote is not counted.
    t.recordVote(4, true);
    assert.deepEqual(t.tallyVotes(), { granted: 1, rejected: 0, result: VoteResult.Pending });
    t.recordVote(2, false);
    // A second vote of the same node is ignored.
    t.recordVote(2, true);
    assert.deepEqual(t.tallyVotes(), { granted: 1, rejected: 1, result: VoteResult.Pending });
    t.recordVote(3, true);
    assert.deepEqual(t.tallyVotes(), { granted: 2, rejected: 1, result: VoteResult.Won });
    t.resetVotes();
    assert.deepEqual(t.tallyVotes(), { granted: 0, rejected: 0, result: VoteResult.Pending });
    t.recordVote(2, false);
    t.recordVote(3, false);
    assert.equal(t.tallyVotes().result, VoteResult.Lost);
  });

  test('tallyVotes in a joint config needs both halves', () => {
    const t = tracker([1, 2, 3], [1, 4, 5]);
    t.recordVote(1, true);
    t.recordVote(2, true);
    assert.equal(t.tallyVotes().result, VoteResult.Pending);
    t.recordVote(4, true);
    assert.deepEqual(t.tallyVotes(), { granted: 3, rejected: 0, result: VoteResult.Won });
    const u = tracker([1, 2, 3], [1, 4, 5]);
    u.recordVote(4, false);
    u.recordVote(5, false);
    assert.equal(u.tallyVotes().result, VoteResult.Lost);
  });

  test('quorumActive', () => {
    const cases: [number[], number[], number[], number[], boolean][] = [
      // [incoming, outgoing, learners, active, want]
      [[1, 2, 3], [], [], [1], false],
      [[1, 2, 3], [], [], [1, 3], true],
      [[1, 2, 3], [], [4, 5], [1, 4, 5], false], // learners do not count
      [[1, 2, 3], [3, 4, 5], [], [1, 2], false], // outgoing half inactive
      [[1, 2, 3], [3, 4, 5], [], [1, 3, 4], true],
      [[1], [], [], [1], true],
    ];
    for (const [inc, out, learners, active, want] of cases) {
      const t = tracker(inc, out, learners);
      for (const id of active) t.progress.get(id)!.recentActive = true;
      assert.equal(t.quorumActive(), want, JSON.stringify({ inc, out, learners, active }));
    }
  });

  test('committed is the joint quorum over match', () => {
    const t = tracker([1, 2, 3], [3, 4, 5]);
    const match = new Map([
      [1, 10],
      [2, 9],
      [3, 5],
      [4, 7],
      [5, 4],
    ]);
    for (const [id, m] of match) t.progress.get(id)!.match = m;
    // incoming commits 9, outgoing commits 5.
    assert.equal(t.committed(), 5);
  });

  test('queries: voterNodes, learnerNodes, isVoter, isSingleton, confState', () => {
    const t = tracker([3, 1, 2], [2, 5], [7, 6]);
    assert.deepEqual(t.voterNodes(), [1, 2, 3, 5]);
    assert.deepEqual(t.learnerNodes(), [6, 7]);
    assert.equal(t.isVoter(5), true);
    assert.equal(t.isVoter(6), false);
    assert.equal(t.isSingleton(), false);
    assert.equal(tracker([1]).isSingleton(), true);
    assert.equal(tracker([1], [1]).isSingleton(), false);
    assert.deepEqual(t.confState(), { nodes: [1, 2, 3], votersOutgoing: [2, 5], learners: [6, 7], learnersNext: [], autoLeave: false });
    const visited: number[] = [];
    t.visit((id) => visited.push(id));
    assert.deepEqual(visited, [1, 2, 3, 5, 6, 7]);
  });

  test('checkInvariants rejects inconsistent configurations', () => {
    const t = tracker([1, 2]);
    t.config.learners.add(2);
    assert.throws(() => t.checkInvariants(), AssertionError); // learner and voter
    const u = tracker([1, 2]);
    u.config.voters[0].add(3);
    assert.throws(() => u.checkInvariants(), AssertionError); // voter without progress
    const w = tracker([1, 2]);
    w.config.autoLeave = true;
    assert.throws(() => w.checkInvariants(), AssertionError); // autoLeave outside joint
    const x = tracker([1, 2], [1, 2, 3]);
    x.config.learnersNext.add(1);
    x.config.voters[1].delete(1);
    assert.throws(() => x.checkInvariants(), AssertionError); // learnersNext not outgoing
  });
});
