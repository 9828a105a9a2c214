/**
 * Goal: the simulator's quick slice: every scenario passes a few fixed seeds
 * (safety phase with its faults, liveness phase with convergence, and the
 * linearizability check of the whole history). `tinykv sim run all --seeds
 * a..b` runs more; this slice keeps `npm test` fast.
 *
 * Method: run seeds 1..2 of each scenario (3 for swarm) with the trace off
 * (speed); a failure shows the kind, message and the replay command.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { replayCommand, runSeed } from './runner.js';
import { RAFTKV_SCENARIOS } from './scenarios.js';

for (const scenario of RAFTKV_SCENARIOS) {
  const seeds = scenario.name === 'raftkv_swarm' ? [1, 2, 3] : [1, 2];
  test(`sim scenario ${scenario.name} passes seeds ${seeds.join(', ')}`, () => {
    for (const seed of seeds) {
      const result = runSeed(scenario, seed, { traceEnabled: false });
      const why = result.failure === undefined ? '' : `${result.failure.kind}: ${result.failure.message}\nreproduce: ${replayCommand(scenario.name, seed)}`;
      assert.ok(result.passed, why);
      assert.ok((result.stats['ok'] ?? 0) > 0, `${scenario.name} seed ${seed}: no operation succeeded`);
    }
  });
}
