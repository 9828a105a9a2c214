/**
 * Goal: the transactional scenarios `txnBank` and `txnCycle` pass seeds
 * 1..3 in `npm test` (their invariants, the snapshot-isolation checker,
 * liveness after healing, convergence), and a seed replays bit for bit.
 * `npm run soak:sim` and `tinykv sim run txnBank --seeds 1..500` run more.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { replayCommand, runSeedAsync } from '../runner.js';
import { TXN_SCENARIOS } from './txn_scenarios.js';

const seeds = [1, 2, 3];

for (const scenario of TXN_SCENARIOS) {
  test(`txn scenario ${scenario.name} passes seeds ${seeds.join(', ')}`, async () => {
    for (const seed of seeds) {
      const result = await runSeedAsync(scenario, seed, { traceEnabled: false });
      const why = result.failure === undefined ? '' : `${result.failure.kind}: ${result.failure.message}\nreproduce: ${replayCommand(scenario.name, seed)}`;
      assert.ok(result.passed, why);
    }
  });
}

test('a txnBank seed replays bit for bit', async () => {
  const scenario = TXN_SCENARIOS[0];
  assert.ok(scenario !== undefined);
  const a = await runSeedAsync(scenario, 7, {});
  const b = await runSeedAsync(scenario, 7, {});
  assert.ok(a.passed && b.passed);
  assert.equal(a.traceDigest, b.traceDigest);
  assert.equal(a.virtualMs, b.virtualMs);
});
