/**
 * Goal: every raftstore scenario (TinyKV's 2B/2C tests and the store-level
 * HARD-CASES S1/S2) passes three fixed seeds in `npm test`: TinyKV's own
 * checks, raft safety at every apply, linearizability of the whole history
 * and convergence. `npm run soak:sim` runs 200 seeds each.
 *
 * Method: one test per scenario, seeds 1..3, trace off (speed); a failure
 * prints the kind, the message and the replay command.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { replayCommand, runSeed } from '../runner.js';
import { CLUSTER_SCENARIOS } from './scenarios.js';

const seeds = [1, 2, 3];

for (const scenario of CLUSTER_SCENARIOS) {
  test(`raftstore scenario ${scenario.name} passes seeds ${seeds.join(', ')}`, () => {
    for (const seed of seeds) {
      const result = runSeed(scenario, seed, { traceEnabled: false });
      const why = result.failure === undefined ? '' : `${result.failure.kind}: ${result.failure.message}\nreproduce: ${replayCommand(scenario.name, seed)}`;
      assert.ok(result.passed, why);
      assert.ok((result.stats['operations'] ?? 0) > 0, `${scenario.name} seed ${seed}: no operation recorded`);
    }
  });
}
