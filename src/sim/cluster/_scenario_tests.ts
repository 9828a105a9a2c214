/**
 * Test support: one node:test per raftstore scenario, seeds 1..3, trace off.
 * The scenarios are split over two test files (alternating), so the test
 * runner's two workers share them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { replayCommand, runSeed } from '../runner.js';
import { CLUSTER_SCENARIOS } from './scenarios.js';

const seeds = [1, 2, 3];

/** Defines the tests of the scenarios at even (`half` 0) or odd (`half` 1) positions. */
export function defineScenarioTests(half: 0 | 1): void {
  CLUSTER_SCENARIOS.forEach((scenario, i) => {
    if (i % 2 !== half) return;
    test(`raftstore scenario ${scenario.name} passes seeds ${seeds.join(', ')}`, () => {
      for (const seed of seeds) {
        const result = runSeed(scenario, seed, { traceEnabled: false });
        const why = result.failure === undefined ? '' : `${result.failure.kind}: ${result.failure.message}\nreproduce: ${replayCommand(scenario.name, seed)}`;
        assert.ok(result.passed, why);
        assert.ok((result.stats['operations'] ?? 0) > 0, `${scenario.name} seed ${seed}: no operation recorded`);
      }
    });
  });
}
