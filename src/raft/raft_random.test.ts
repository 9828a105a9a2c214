/**
 * Randomized network safety and liveness test of the raft core.
 *
 * Goal: find schedules of message loss, duplication, reordering, partitions,
 * crashes/restarts, compactions (snapshots) and leader transfers under which
 * raft breaks election safety, log matching, leader completeness,
 * state-machine safety or monotonic apply, or fails to make progress once the
 * network heals.
 *
 * Method: testing/random_cluster.ts runs a deterministic in-memory cluster of
 * RawNodes (3 or 5 voters, pre-vote / check-quorum drawn from the seed) on
 * virtual ticks, driven by one seeded Prng; invariants are checked after
 * every step. Seeds: `SEED=n` runs one, `SEEDS=a..b` a range, default 1..500
 * (`npm run soak:raft` runs 1..20000). A failure prints the seed, a one-line
 * replay command and the tail of the event trace. Two more tests check that a
 * seed's full trace is reproducible (SHA-256) and that seeds differ.
 */
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RaftInvariantError, runRandomCluster, seedsFromEnv } from './testing/random_cluster.js';

const DEFAULT_SEEDS: readonly [number, number] = [1, 500];
const [first, last] = seedsFromEnv(process.env, DEFAULT_SEEDS);

function traceHash(seed: number): string {
  const res = runRandomCluster(seed);
  const h = createHash('sha256');
  for (const line of res.trace) h.update(line).update('\n');
  return h.digest('hex');
}

describe('raft randomized cluster', () => {
  test(`random schedules, seeds ${first}..${last}`, () => {
    const failures: string[] = [];
    const totals: Record<string, number> = {};
    let configs = 0;
    for (let seed = first; seed <= last; seed++) {
      try {
        const res = runRandomCluster(seed);
        for (const [k, v] of Object.entries(res.stats)) totals[k] = (totals[k] ?? 0) + v;
        if (res.preVote && res.checkQuorum) configs++;
      } catch (err: unknown) {
        if (!(err instanceof RaftInvariantError)) throw err;
        failures.push(err.message);
        console.error(`\n${err.message}\n`);
        if (failures.length >= 20) break;
      }
    }
    const seeds = last - first + 1;
    console.log(`# raft random: ${seeds} seeds, ${failures.length} failures, ${configs} with pre-vote+check-quorum; totals ${JSON.stringify(totals)}`);
    if (failures.length > 0) {
      const seedsFailed = failures.map((f) => /seed (\d+)/.exec(f)?.[1] ?? '?').join(', ');
      assert.fail(`${failures.length} failing seed(s): ${seedsFailed}\n\nfirst failure:\n${failures[0]}`);
    }
  });

  test('a seed replays to the identical event trace (SHA-256)', () => {
    const a = traceHash(first);
    const b = traceHash(first);
    assert.equal(a, b);
  });

  test('different seeds give different traces', () => {
    assert.notEqual(traceHash(first), traceHash(first + 1));
  });
});

describe('raft randomized cluster: the checks catch broken applications', () => {
  // Testing the tester: deliberately broken persistence/apply in the
  // simulated application must be reported as violations for some seed.
  const firstViolation = (mutation: 'forgetVote' | 'applyUncommitted'): string | undefined => {
    for (let seed = 1; seed <= 300; seed++) {
      try {
        runRandomCluster(seed, { mutation });
      } catch (err: unknown) {
        if (err instanceof RaftInvariantError) return err.message;
        throw err;
      }
    }
    return undefined;
  };

  test('forgetting the vote on restart breaks election safety', () => {
    const msg = firstViolation('forgetVote');
    assert.ok(msg !== undefined, 'no violation found');
    assert.match(msg, /ELECTION SAFETY|LOG MATCHING|COMMITTED PREFIX|LEADER COMPLETENESS|STATE MACHINE SAFETY/);
  });

  test('applying uncommitted entries breaks state-machine safety', () => {
    const msg = firstViolation('applyUncommitted');
    assert.ok(msg !== undefined, 'no violation found');
    assert.match(msg, /STATE MACHINE SAFETY|snapshot|applied/);
  });
});
