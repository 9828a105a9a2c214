/**
 * Goal: the raft KV node works end to end on the simulator: a write is
 * readable, followers answer `notLeader` with a hint, acknowledged writes
 * survive crashes of every node (including a whole-cluster crash that loses
 * all unsynced writes), a node that fell behind a compacted log catches up
 * through a snapshot, and a restarted node rebuilds its state from its disk.
 *
 * Method: a 3-node simulation without the random workload; one client is
 * driven by hand with runOperation, and nodes are crashed and restarted by
 * name. Checks are plain assertions on operation results and replica state.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectMark } from '../util/marks.js';
import { awaitLeader, runOperation, runUntilOk, testOptions } from './_testing.js';
import { Simulation } from './simulation.js';

function started(seed = 1, overrides = {}): Simulation {
  const sim = new Simulation(seed, testOptions(overrides));
  sim.startNodes();
  awaitLeader(sim);
  return sim;
}

test('raft KV: a put then a get returns the value; delete removes it; scan lists it', () => {
  const sim = started();
  const client = sim.clients[0]!;
  assert.equal(runUntilOk(sim, client, { kind: 'put', key: 'k1', value: 'v1' }).status, 'ok');
  assert.deepEqual(runUntilOk(sim, client, { kind: 'get', key: 'k1' }).output, { kind: 'get', value: 'v1' });
  runUntilOk(sim, client, { kind: 'put', key: 'k2', value: 'v2' });
  assert.deepEqual(runUntilOk(sim, client, { kind: 'scan', start: 'k0', limit: 10 }).output, {
    kind: 'scan',
    entries: [['k1', 'v1'], ['k2', 'v2']],
  });
  runUntilOk(sim, client, { kind: 'delete', key: 'k1' });
  assert.deepEqual(runUntilOk(sim, client, { kind: 'get', key: 'k1' }).output, { kind: 'get', value: undefined });
});

test('raft KV: a follower refuses with a leader hint, and the client follows it', () => {
  const sim = started(2);
  const leader = sim.leaderId()!;
  const follower = sim.nodeIds.find((id) => id !== leader)!;
  let answer: unknown;
  sim.network.send({ from: 1000, to: follower, type: 'request', regionId: 0, payload: { kind: 'request', request: { clientId: 0, opId: 999, attempt: 1, input: { kind: 'get', key: 'x' } } } });
  const client = sim.clients[0]!;
  // Intercept the raw answer by running until the client would have seen it.
  const original = client.receive.bind(client);
  client.receive = (e) => {
    if (e.payload.kind === 'response' && e.payload.response.opId === 999) answer = e.payload.response.result;
    else original(e);
  };
  sim.runUntil(sim.clock.nowMs + 100);
  assert.deepEqual(answer, { kind: 'notLeader', leaderHint: leader });
});

test('raft KV: acknowledged writes survive a crash and restart of every node', () => {
  const sim = started(3);
  const client = sim.clients[0]!;
  for (let i = 0; i < 10; i++) runUntilOk(sim, client, { kind: 'put', key: `k${i}`, value: `v${i}` });
  // Crash all nodes at once: every unsynced write is lost; acknowledged ones are in synced raft logs.
  for (const id of sim.nodeIds) sim.crash(id);
  sim.runUntil(sim.clock.nowMs + 200);
  sim.restartAll();
  awaitLeader(sim);
  for (let i = 0; i < 10; i++) {
    assert.deepEqual(runUntilOk(sim, client, { kind: 'get', key: `k${i}` }).output, { kind: 'get', value: `v${i}` });
  }
});

test('raft KV: a node down while the log is compacted catches up through a snapshot', () => {
  const sim = started(4, { raft: { ...testOptions().raft, compactLogEntriesMin: 5 } });
  const client = sim.clients[0]!;
  const leader = sim.leaderId()!;
  const lagging = sim.nodeIds.find((id) => id !== leader)!;
  sim.crash(lagging);
  for (let i = 0; i < 30; i++) runUntilOk(sim, client, { kind: 'put', key: `k${i % 7}`, value: `v${i}` });
  const snapshotSent = expectMark('raft: send snapshot, needed entries compacted');
  sim.restart(lagging);
  const deadline = sim.clock.nowMs + 5000;
  let states = sim.replicaStates();
  while (sim.clock.nowMs < deadline) {
    states = sim.replicaStates();
    if (states !== undefined && states.every((s) => s.appliedIndex === states![0]!.appliedIndex)) break;
    sim.runUntil(sim.clock.nowMs + 10);
  }
  snapshotSent.assertHit();
  assert.ok(states !== undefined);
  const byNode = new Map(states.map((s) => [s.nodeId, s]));
  assert.deepEqual(byNode.get(lagging)!.contents, byNode.get(leader)!.contents);
  assert.equal(byNode.get(lagging)!.appliedIndex, byNode.get(leader)!.appliedIndex);
});

test('raft KV: a restarted node rebuilds its applied state from its disk', () => {
  const sim = started(5);
  const client = sim.clients[0]!;
  for (let i = 0; i < 5; i++) runUntilOk(sim, client, { kind: 'put', key: `k${i}`, value: `v${i}` });
  sim.runUntil(sim.clock.nowMs + 500);
  const follower = sim.nodeIds.find((id) => id !== sim.leaderId())!;
  const before = sim.node(follower).appliedState()!;
  sim.crash(follower);
  sim.restart(follower);
  sim.runUntil(sim.clock.nowMs + 500);
  const after = sim.node(follower).appliedState()!;
  assert.ok(after.appliedIndex >= before.appliedIndex);
  assert.deepEqual(after.contents, before.contents);
});

test('raft KV: a write refused by every node is recorded fail, never indeterminate', () => {
  const sim = new Simulation(6, testOptions({ client: { ...testOptions().client, attemptsMax: 2 } }));
  sim.startNodes();
  // Before any election finishes no node leads: each attempt is refused before proposal.
  const op = runOperation(sim, sim.clients[0]!, { kind: 'put', key: 'k', value: 'v' });
  assert.equal(op.status, 'fail');
});
