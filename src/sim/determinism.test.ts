/**
 * Goal: one seed determines the whole run (STYLE.md principle 6): running a
 * seed twice gives bit-identical event traces, and different seeds give
 * different runs.
 *
 * Method: run scenarios with faults of every kind for a few seeds, twice
 * each, and compare the SHA-256 digests of the event traces (which cover
 * every message delivery and drop, every client operation, fault, crash and
 * election) and the recorded histories.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runSeed } from './runner.js';
import { findScenario } from './scenarios.js';

function scenario(name: string): NonNullable<ReturnType<typeof findScenario>> {
  const s = findScenario(name);
  assert.ok(s !== undefined, `scenario ${name}`);
  return s;
}

test('a seed replays bit-identically (same trace digest and history)', () => {
  for (const name of ['raftkv_swarm', 'raftkv_crash_restart']) {
    const first = runSeed(scenario(name), 11);
    const second = runSeed(scenario(name), 11);
    assert.match(first.traceDigest, /^[0-9a-f]{64}$/);
    assert.equal(first.traceDigest, second.traceDigest, `${name}: digests differ`);
    assert.equal(first.optionsLine, second.optionsLine);
    assert.deepEqual(first.history, second.history);
    assert.deepEqual(first.stats, second.stats);
  }
});

test('different seeds give different runs', () => {
  const digests = new Set<string>();
  for (const seed of [1, 2, 3]) digests.add(runSeed(scenario('raftkv_unreliable'), seed).traceDigest);
  assert.equal(digests.size, 3);
});

test('the options line starts with SEED= and lists every drawn option', () => {
  const result = runSeed(scenario('raftkv_swarm'), 5);
  assert.match(result.optionsLine, /^SEED=5 scenario=raftkv_swarm nodeCount=\d+ clientCount=\d+ /);
  for (const key of ['raft.electionTick=', 'network.dropRatio=', 'faults.partitionMode=', 'faults.crashProbability=', 'disk.writeLatencyMsMax=', 'workload.keyCount=', 'ticksMaxConvergence=']) {
    assert.ok(result.optionsLine.includes(key), `missing ${key}`);
  }
});
