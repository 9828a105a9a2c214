/**
 * Goal: the convergence checker accepts identical replicas, reports the
 * first difference in applied index or contents, and `awaitConvergence`
 * fails with "no liveness" when replicas do not agree by the deadline.
 *
 * Method: hand-made replica states, and a fake simulation whose replicas
 * agree from a chosen virtual time on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { awaitConvergence, compareReplicas } from './convergence.js';
import type { ReplicaState } from './convergence.js';

const replica = (nodeId: number, appliedIndex: number, contents: [string, string][]): ReplicaState => ({ nodeId, appliedIndex, contents });

test('compareReplicas accepts identical replicas', () => {
  const kv: [string, string][] = [['a', '1'], ['b', '2']];
  assert.deepEqual(compareReplicas([replica(2, 7, kv), replica(1, 7, kv), replica(3, 7, kv)]), { verdict: 'converged', appliedIndex: 7 });
});

test('compareReplicas reports a different applied index', () => {
  const result = compareReplicas([replica(1, 7, []), replica(2, 6, [])]);
  assert.equal(result.verdict, 'diverged');
  assert.match(result.verdict === 'diverged' ? result.report : '', /n1 at 7, n2 at 6/);
});

test('compareReplicas reports the first differing key: changed, missing or extra', () => {
  const base: [string, string][] = [['a', '1'], ['b', '2'], ['c', '3']];
  const cases: [[string, string][], RegExp][] = [
    [[['a', '1'], ['b', 'X'], ['c', '3']], /key "b" is "2" on n1 but "X" on n2/],
    [[['a', '1'], ['c', '3']], /key "b" is "2" on n1 but absent on n2/],
    [[['a', '1'], ['b', '2'], ['bb', '9'], ['c', '3']], /key "bb" is absent on n1 but "9" on n2/],
    [[['a', '1'], ['b', '2']], /key "c" is "3" on n1 but absent on n2/],
  ];
  for (const [other, expected] of cases) {
    const result = compareReplicas([replica(1, 5, base), replica(2, 5, other)]);
    assert.equal(result.verdict, 'diverged');
    assert.match(result.verdict === 'diverged' ? result.report : '', expected);
  }
});

function fakeSimulation(convergesAtMs: number): { now: number; options: Parameters<typeof awaitConvergence>[0] } {
  const fake = { now: 0, options: undefined as unknown as Parameters<typeof awaitConvergence>[0] };
  fake.options = {
    nowMs: () => fake.now,
    runUntil: (t) => {
      fake.now = t;
    },
    replicas: () => [replica(1, 10, [['k', 'v']]), replica(2, fake.now >= convergesAtMs ? 10 : 9, [['k', 'v']])],
    deadlineMs: 1000,
    pollMs: 10,
  };
  return fake;
}

test('awaitConvergence steps time until the replicas agree', () => {
  const fake = fakeSimulation(300);
  const result = awaitConvergence(fake.options);
  assert.deepEqual(result, { verdict: 'converged', atMs: 300, appliedIndex: 10 });
});

test('awaitConvergence fails with "no liveness" when the deadline passes first', () => {
  const fake = fakeSimulation(5000);
  const result = awaitConvergence(fake.options);
  assert.equal(result.verdict, 'no liveness');
  assert.match(result.verdict === 'no liveness' ? result.report : '', /^no liveness: .*n1 at 10, n2 at 9/);
  assert.equal(fake.now, 1000);
});

test('awaitConvergence treats a down replica as not converged', () => {
  const result = awaitConvergence({ nowMs: () => 0, runUntil: () => {}, replicas: () => undefined, deadlineMs: 0, pollMs: 10 });
  assert.equal(result.verdict, 'no liveness');
  assert.match(result.verdict === 'no liveness' ? result.report : '', /some replica is down/);
});
