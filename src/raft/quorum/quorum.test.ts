/**
 * Goal: the quorum arithmetic every commit and election rests on. A majority
 * configuration commits the largest index acknowledged by a majority and wins
 * a vote with a majority of grants; a joint configuration (raft thesis §4.3)
 * needs both halves, so it commits the minimum of the two and loses as soon
 * as either half loses. The empty configuration commits "everything" and wins
 * every vote, which makes a non-joint config the joint config with an empty
 * outgoing half.
 *
 * Method: the cases of etcd-io/raft quorum/testdata/{majority,joint}_commit.txt
 * as tables (`undefined` for an unknown index, etcd's `_`), vote tables of our
 * own, and fast-check properties (seed 1, 500 runs) comparing the optimized
 * majorityCommittedIndex with a naive definition and the joint functions
 * with the min / combination of their halves.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { jointCommittedIndex, jointVoteResult } from './joint.js';
import type { JointConfig } from './joint.js';
import { INDEX_MAX, majorityCommittedIndex, majorityVoteResult, VoteResult } from './majority.js';

const FC = { seed: 1, numRuns: 500 } as const;

/** etcd's datadriven input: the i-th index belongs to the i-th smallest id of the union. */
function ackedOf(ids: readonly number[], idx: readonly (number | undefined)[]): (id: number) => number | undefined {
  const all = [...new Set(ids)].sort((a, b) => a - b);
  assert.equal(all.length, idx.length, 'one index per voter');
  const m = new Map<number, number | undefined>(all.map((id, i) => [id, idx[i]]));
  return (id) => m.get(id);
}

/** The naive definition: the largest index that at least a majority of voters acknowledged. */
function naiveCommitted(voters: readonly number[], acked: (id: number) => number | undefined): number {
  if (voters.length === 0) return INDEX_MAX;
  const q = Math.floor(voters.length / 2) + 1;
  const candidates = [0, ...voters.map((id) => acked(id) ?? 0)];
  let best = 0;
  for (const c of candidates) {
    const n = voters.filter((id) => (acked(id) ?? 0) >= c).length;
    if (n >= q && c > best) best = c;
  }
  return best;
}

const _ = undefined;

describe('majority quorum', () => {
  test('committed index (etcd majority_commit.txt)', () => {
    const cases: [number[], (number | undefined)[], number][] = [
      [[1], [_], 0],
      [[1], [12], 12],
      [[1, 2], [_, _], 0],
      [[1, 2], [12, _], 0],
      [[1, 2], [12, 5], 5],
      [[1, 2, 3], [_, _, _], 0],
      [[1, 2, 3], [12, _, _], 0],
      [[1, 2, 3], [12, 5, _], 5],
      [[1, 2, 3], [12, 5, 6], 6],
      [[1, 2, 3], [12, 5, 4], 5],
      [[1, 2, 3], [5, 5, _], 5],
      [[1, 2, 3], [5, 5, 12], 5],
      [[1, 2, 3], [100, 101, 103], 101],
      [[1, 2, 3, 4, 5], [101, 104, 103, 103, _], 103],
      [[1, 2, 3, 4, 5], [101, 102, 103, 103, _], 102],
    ];
    for (const [cfg, idx, want] of cases) {
      const acked = ackedOf(cfg, idx);
      assert.equal(majorityCommittedIndex(new Set(cfg), acked), want, `cfg=(${cfg}) idx=(${idx.map((i) => i ?? '_')})`);
      assert.equal(naiveCommitted(cfg, acked), want);
    }
  });

  test('the empty configuration commits everything', () => {
    assert.equal(majorityCommittedIndex(new Set(), () => 5), INDEX_MAX);
  });

  test('vote result', () => {
    const y = true;
    const n = false;
    const cases: [number[], (boolean | undefined)[], VoteResult][] = [
      [[], [], VoteResult.Won],
      [[1], [_], VoteResult.Pending],
      [[1], [y], VoteResult.Won],
      [[1], [n], VoteResult.Lost],
      [[1, 2], [y, _], VoteResult.Pending],
      [[1, 2], [y, n], VoteResult.Lost],
      [[1, 2], [y, y], VoteResult.Won],
      [[1, 2, 3], [y, _, _], VoteResult.Pending],
      [[1, 2, 3], [y, y, _], VoteResult.Won],
      [[1, 2, 3], [y, n, _], VoteResult.Pending],
      [[1, 2, 3], [n, n, _], VoteResult.Lost],
      [[1, 2, 3], [y, n, n], VoteResult.Lost],
      [[1, 2, 3, 4], [y, y, n, _], VoteResult.Pending],
      [[1, 2, 3, 4], [y, y, n, n], VoteResult.Lost],
      [[1, 2, 3, 4], [y, y, y, n], VoteResult.Won],
      [[1, 2, 3, 4, 5], [y, y, n, n, _], VoteResult.Pending],
      [[1, 2, 3, 4, 5], [y, y, y, n, n], VoteResult.Won],
      [[1, 2, 3, 4, 5], [n, n, n, _, _], VoteResult.Lost],
    ];
    for (const [cfg, vs, want] of cases) {
      const votes = new Map<number, boolean>();
      cfg.forEach((id, i) => {
        const vote = vs[i];
        if (vote !== undefined) votes.set(id, vote);
      });
      assert.equal(majorityVoteResult(new Set(cfg), votes), want, `cfg=(${cfg}) votes=(${vs.map((x) => (x === undefined ? '_' : x ? 'y' : 'n'))})`);
    }
  });

  test('votes of non-members are not counted', () => {
    const votes = new Map([
      [4, true],
      [5, true],
      [1, true],
    ]);
    assert.equal(majorityVoteResult(new Set([1, 2, 3]), votes), VoteResult.Pending);
  });

  test('property: majorityCommittedIndex agrees with the naive definition', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: 9 }), { maxLength: 7 }), fc.array(fc.option(fc.nat({ max: 20 }), { nil: undefined }), { minLength: 7, maxLength: 7 }), (ids, idxs) => {
        const m = new Map<number, number | undefined>(ids.map((id, i) => [id, idxs[i]]));
        const acked = (id: number): number | undefined => m.get(id);
        assert.equal(majorityCommittedIndex(new Set(ids), acked), naiveCommitted(ids, acked));
      }),
      FC,
    );
  });
});

describe('joint quorum', () => {
  test('committed index (etcd joint_commit.txt)', () => {
    // [incoming, outgoing, idx (by sorted union of ids), want]
    const cases: [number[], number[], (number | undefined)[], number][] = [
      [[1, 2, 3], [], [100, 101, 99], 100],
      [[1], [2], [_, _], 0],
      [[1], [2], [100, _], 0],
      [[1], [2], [13, 100], 13],
      [[1], [1], [_], 0],
      [[1], [1], [100], 100],
      [[1, 3], [2], [_, _, _], 0],
      [[1, 3], [2], [100, _, _], 0],
      [[1, 3], [2], [100, _, 50], 0],
      [[1, 3], [2], [100, 45, 50], 45],
      [[1, 2], [2], [_, _], 0],
      [[1, 2], [2], [100, _], 0],
      [[1, 2], [2], [_, 100], 0],
      [[1, 2], [2], [50, 100], 50],
      [[1, 2], [2], [100, 50], 50],
      [[1, 2], [3, 4], [50, _, _, _], 0],
      [[1, 2], [3, 4], [50, _, 49, _], 0],
      [[1, 2], [3, 4], [50, 48, 49, _], 0],
      [[1, 2], [3, 4], [50, 48, 49, 47], 47],
      [[1, 2], [2, 3], [_, _, _], 0],
      [[1, 2], [2, 3], [100, _, _], 0],
      [[1, 2], [2, 3], [_, 100, _], 0],
      [[1, 2], [2, 3], [_, 100, 99], 0],
      [[1, 2], [2, 3], [101, 100, 99], 99],
      [[1, 2], [1, 2], [_, _], 0],
      [[1, 2], [1, 2], [_, 40], 0],
      [[1, 2], [1, 2], [41, 40], 40],
      [[1, 2, 3], [4, 5, 6], [_, _, _, _, _, _], 0],
      [[1, 2, 3], [4, 5, 6], [100, _, _, _, _, _], 0],
      [[1, 2, 3], [4, 5, 6], [100, _, _, 90, _, _], 0],
      [[1, 2, 3], [4, 5, 6], [100, 99, _, _, _, _], 0],
      [[1, 2, 3], [4, 5, 6], [_, 99, 90, 97, 95, _], 90],
      [[1, 2, 3], [4, 5, 6], [92, 99, 90, 97, 95, _], 92],
      [[1, 2, 3], [4, 5, 6], [92, 99, 90, 97, 95, 77], 92],
      [[1, 2, 3], [1, 4, 5], [_, _, _, _, _], 0],
      [[1, 2, 3], [1, 4, 5], [100, _, _, _, _], 0],
      [[1, 2, 3], [1, 4, 5], [100, 101, _, _, _], 0],
      [[1, 2, 3], [1, 4, 5], [100, 101, 100, _, _], 0],
      [[1, 2, 3], [1, 4, 5], [_, 100, _, 99, 98], 0],
      [[1, 2, 3], [1, 4, 5], [_, 100, 99, 99, 98], 98],
      [[1, 2, 3], [1, 4, 5], [1, 100, 99, 99, 98], 98],
      [[1, 2, 3], [1, 4, 5], [100, 100, 99, 99, 98], 99],
      [[1, 2, 3], [2, 3, 4], [_, _, _, _], 0],
      [[1, 2, 3], [2, 3, 4], [_, 100, 99, _], 99],
      [[1, 2, 3], [2, 3, 4], [98, 100, 99, _], 99],
      [[1, 2, 3], [2, 3, 4], [100, 100, 99, _], 99],
      [[1, 2, 3], [2, 3, 4], [100, 100, 99, 98], 99],
      [[1, 2, 3], [2, 3, 4], [100, _, _, 101], 0],
      [[1, 2, 3], [2, 3, 4], [100, 99, _, 101], 99],
      [[1, 2, 3], [1, 2, 3], [50, 45, _], 45],
    ];
    for (const [cfg, cfgj, idx, want] of cases) {
      const acked = ackedOf([...cfg, ...cfgj], idx);
      const c: JointConfig = [new Set(cfg), new Set(cfgj)];
      const label = `cfg=(${cfg}) cfgj=(${cfgj}) idx=(${idx.map((i) => i ?? '_')})`;
      assert.equal(jointCommittedIndex(c, acked), want, label);
      // Joint with an empty half, or with itself, is the majority config alone.
      if (cfgj.length === 0) assert.equal(majorityCommittedIndex(new Set(cfg), acked), want, label);
    }
  });

  test('vote result: both halves must win; one lost half loses', () => {
    const W = VoteResult.Won;
    const P = VoteResult.Pending;
    const L = VoteResult.Lost;
    const c: JointConfig = [new Set([1, 2, 3]), new Set([3, 4, 5])];
    const cases: [[number, boolean][], VoteResult][] = [
      [[], P],
      [[[3, true]], P],
      [[[1, true], [2, true]], P], // incoming won, outgoing pending
      [[[1, true], [2, true], [4, true]], P],
      [[[1, true], [2, true], [4, true], [5, true]], W],
      [[[1, true], [3, true], [4, true]], W], // 3 counts in both halves
      [[[4, false], [5, false]], L], // outgoing lost decides
      [[[1, true], [2, true], [4, false], [5, false]], L],
      [[[1, false], [2, false], [4, true], [5, true]], L],
    ];
    for (const [vs, want] of cases) {
      assert.equal(jointVoteResult(c, new Map(vs)), want, JSON.stringify(vs));
    }
    // A joint config with an empty outgoing half votes like its incoming half.
    assert.equal(jointVoteResult([new Set([1, 2, 3]), new Set()], new Map([[1, true], [2, true]])), W);
    assert.equal(jointVoteResult([new Set([1, 2, 3]), new Set()], new Map([[1, false], [2, false]])), L);
  });

  const voterSet = fc.uniqueArray(fc.integer({ min: 1, max: 8 }), { maxLength: 6 });
  const ackedIdx = fc.array(fc.option(fc.nat({ max: 20 }), { nil: undefined }), { minLength: 8, maxLength: 8 });

  test('property: jointCommittedIndex is the min of its halves, and the naive joint definition', () => {
    fc.assert(
      fc.property(voterSet, voterSet, ackedIdx, (inc, out, idx) => {
        const acked = (id: number): number | undefined => idx[id - 1];
        const got = jointCommittedIndex([new Set(inc), new Set(out)], acked);
        assert.equal(got, Math.min(majorityCommittedIndex(new Set(inc), acked), majorityCommittedIndex(new Set(out), acked)));
        assert.equal(got, Math.min(naiveCommitted(inc, acked), naiveCommitted(out, acked)));
      }),
      FC,
    );
  });

  test('property: jointVoteResult is Won iff both win, Lost iff either loses', () => {
    const voteArb = fc.array(fc.option(fc.boolean(), { nil: undefined }), { minLength: 8, maxLength: 8 });
    fc.assert(
      fc.property(voterSet, voterSet, voteArb, (inc, out, vs) => {
        const votes = new Map<number, boolean>();
        vs.forEach((x, i) => {
          if (x !== undefined) votes.set(i + 1, x);
        });
        const r1 = majorityVoteResult(new Set(inc), votes);
        const r2 = majorityVoteResult(new Set(out), votes);
        const want = r1 === VoteResult.Lost || r2 === VoteResult.Lost ? VoteResult.Lost : r1 === VoteResult.Won && r2 === VoteResult.Won ? VoteResult.Won : VoteResult.Pending;
        assert.equal(jointVoteResult([new Set(inc), new Set(out)], votes), want);
      }),
      FC,
    );
  });
});
