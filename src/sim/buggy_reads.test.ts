/**
 * Goal: test the tester. With the deliberate bug `buggyFollowerReads`
 * (followers answer reads from their local state without ReadIndex) and
 * clients sending reads to random nodes, the linearizability checker must
 * find a stale read; without the bug the same seeds must pass.
 *
 * Method: search seeds 1..5 of the partitions scenario deterministically for
 * one whose history the checker rejects, and check the report shows a
 * minimal sub-history; then rerun that seed without the bug.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSeed, withBuggyFollowerReads } from './runner.js';
import { findScenario } from './scenarios.js';

test('the linearizability checker catches stale follower reads (buggyFollowerReads)', () => {
  const scenario = findScenario('raftkv_partitions');
  assert.ok(scenario !== undefined);
  let caught: { seed: number; message: string } | undefined;
  for (let seed = 1; seed <= 5 && caught === undefined; seed++) {
    const result = runSeed(scenario, seed, { traceEnabled: false, adjust: withBuggyFollowerReads });
    if (result.failure?.kind === 'linearizability') caught = { seed, message: result.failure.message };
  }
  assert.ok(caught !== undefined, 'no stale read found in seeds 1..5');
  assert.match(caught.message, /not linearizable at key/);
  assert.match(caught.message, /operations suffice/);
  const honest = runSeed(scenario, caught.seed, { traceEnabled: false, adjust: (o) => ({ ...o, client: { ...o.client, readsAtRandomNode: true } }) });
  assert.ok(honest.passed, `seed ${caught.seed} fails without the bug: ${honest.failure?.message ?? ''}`);
});
