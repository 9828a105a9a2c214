/**
 * Goal: the simulated network's faults behave as specified: loss close to
 * its ratio, duplication, partitions (symmetric, asymmetric, isolate),
 * one-way cuts and healing, filters, clogs that hold and release messages,
 * and swizzle-clog restoring every link at the end.
 *
 * Method: a network of numbered servers and one client address over a
 * virtual clock, with string payloads; send messages, run the clock, and
 * count what arrived. Seeds are fixed, so the statistical bounds are checked
 * on one deterministic sample.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimClock } from './clock.js';
import { directionFilter, dropFilter, partitionFilter, RELIABLE_FAULTS, SimNetwork } from './network.js';
import type { Envelope, NetworkFaults } from './network.js';
import { Prng, ratio } from './prng.js';
import { Trace } from './trace.js';

interface Harness {
  readonly clock: SimClock;
  readonly net: SimNetwork<string>;
  readonly delivered: Envelope<string>[];
  send(from: number, to: number, type?: string): void;
}

const CLIENT = 1000;

function harness(faults: NetworkFaults = RELIABLE_FAULTS, seed = 1): Harness {
  const clock = new SimClock();
  const delivered: Envelope<string>[] = [];
  const net = new SimNetwork<string>(
    {
      clock, prng: new Prng(seed), trace: new Trace({ nowMs: () => clock.nowMs }), serverIds: [1, 2, 3, 4, 5],
      deliver: (e) => delivered.push(e), clone: (p) => p, describe: (e) => `${e.from}->${e.to} ${e.payload}`, fingerprint: (p) => p.length,
    },
    faults,
  );
  return {
    clock, net, delivered,
    send: (from, to, type = 'MsgAppend') => net.send({ from, to, type, regionId: 1, payload: `${from}->${to}` }),
  };
}

function drain(h: Harness): void {
  h.clock.runUntil(h.clock.nowMs + 100_000, 1_000_000);
}

test('SimNetwork drops close to its drop ratio (fixed seed, 10,000 messages, 10%)', () => {
  const h = harness({ ...RELIABLE_FAULTS, dropRatio: ratio(1, 10) }, 42);
  for (let i = 0; i < 10_000; i++) h.send(1, 2);
  drain(h);
  const lost = 10_000 - h.delivered.length;
  // Binomial(10000, 0.1): mean 1000, sd 30; 5 sd either side.
  assert.ok(lost > 850 && lost < 1150, `lost ${lost} of 10000`);
  assert.equal(h.net.stats.droppedLoss, lost);
});

test('SimNetwork duplicates server messages but never client messages', () => {
  const h = harness({ ...RELIABLE_FAULTS, duplicateRatio: ratio(1, 2) }, 3);
  for (let i = 0; i < 1000; i++) h.send(1, 2);
  for (let i = 0; i < 1000; i++) h.net.send({ from: CLIENT, to: 1, type: 'request', regionId: 0, payload: 'req' });
  drain(h);
  const serverCopies = h.delivered.filter((e) => e.from === 1).length;
  const clientCopies = h.delivered.filter((e) => e.from === CLIENT).length;
  assert.ok(serverCopies > 1400 && serverCopies < 1600, `server copies ${serverCopies}`);
  assert.equal(clientCopies, 1000);
});

test('SimNetwork reorders messages through random delays', () => {
  const h = harness({ ...RELIABLE_FAULTS, delay: { minMs: 1, maxMs: 50 } });
  for (let i = 0; i < 100; i++) h.net.send({ from: 1, to: 2, type: 'm', regionId: 1, payload: String(i) });
  drain(h);
  const order = h.delivered.map((e) => Number(e.payload));
  assert.equal(order.length, 100);
  assert.notDeepEqual(order, [...order].sort((a, b) => a - b));
});

test('SimNetwork symmetric partition cuts both ways, asymmetric one way, heal restores', () => {
  const h = harness();
  h.net.partition([1, 2], [3, 4, 5], true);
  h.send(1, 3);
  h.send(3, 1);
  h.send(1, 2);
  h.send(CLIENT, 3); // clients are not partitioned
  drain(h);
  assert.deepEqual(h.delivered.map((e) => `${e.from}->${e.to}`).sort(), ['1->2', `${CLIENT}->3`]);
  h.net.heal();
  h.net.partition([1], [2], false);
  h.delivered.length = 0;
  h.send(1, 2);
  h.send(2, 1);
  drain(h);
  assert.deepEqual(h.delivered.map((e) => `${e.from}->${e.to}`), ['2->1']);
  h.net.heal();
  assert.equal(h.net.isPartitioned(), false);
});

test('SimNetwork isolate and one-way cut; messages in flight when a partition starts are lost', () => {
  const h = harness({ ...RELIABLE_FAULTS, delay: { minMs: 10, maxMs: 10 } });
  h.send(1, 2);
  h.clock.runUntil(5, 100);
  h.net.isolate(1);
  h.send(2, 1);
  h.send(2, 3);
  drain(h);
  assert.deepEqual(h.delivered.map((e) => `${e.from}->${e.to}`), ['2->3']);
  assert.equal(h.net.stats.droppedPartition, 2);
  h.net.heal();
  h.delivered.length = 0;
  h.net.cutOneWay(4, 5);
  h.send(4, 5);
  h.send(5, 4);
  drain(h);
  assert.deepEqual(h.delivered.map((e) => `${e.from}->${e.to}`), ['5->4']);
});

test('SimNetwork random partitions always split the servers into two non-empty sides', () => {
  for (const mode of ['uniform_size', 'uniform_partition', 'isolate_single'] as const) {
    for (let seed = 1; seed <= 20; seed++) {
      const h = harness(RELIABLE_FAULTS, seed);
      h.net.partitionRandom(mode, true);
      let cut = 0;
      for (const a of [1, 2, 3, 4, 5]) for (const b of [1, 2, 3, 4, 5]) if (h.net.isBlocked(a, b)) cut++;
      assert.ok(cut > 0, `${mode} seed ${seed}: nothing cut`);
      assert.ok(cut < 20, `${mode} seed ${seed}: everything cut`);
    }
  }
});

test('SimNetwork filters: TinyKV PartitionFilter, DropFilter by type, direction filter', () => {
  const h = harness();
  h.net.addFilter(partitionFilter('p', [1], [2]));
  h.net.addFilter(dropFilter('no snapshots to 3', { to: 3, types: ['MsgSnapshot'] }));
  h.net.addFilter(directionFilter('4 deaf', { store: 4, direction: 'recv' }));
  h.send(1, 2);
  h.send(2, 1);
  h.send(1, 3, 'MsgSnapshot');
  h.send(1, 3, 'MsgAppend');
  h.send(1, 4);
  h.send(4, 1);
  drain(h);
  assert.deepEqual(h.delivered.map((e) => `${e.from}->${e.to} ${e.type}`), ['1->3 MsgAppend', '4->1 MsgAppend']);
  assert.equal(h.net.stats.droppedFilter, 4);
  h.net.removeFilter('p');
  h.delivered.length = 0;
  h.send(1, 2);
  drain(h);
  assert.equal(h.delivered.length, 1);
});

test('SimNetwork clogged links hold messages and release them when the clog ends', () => {
  const h = harness({ ...RELIABLE_FAULTS, delay: { minMs: 1, maxMs: 1 } });
  h.net.clogNode(2, 100);
  h.send(1, 2);
  h.send(2, 3);
  h.send(1, 3);
  h.clock.runUntil(50, 1000);
  assert.deepEqual(h.delivered.map((e) => `${e.from}->${e.to}`), ['1->3']);
  assert.ok(h.net.hasClogs());
  h.clock.runUntil(200, 1000);
  assert.deepEqual(h.delivered.map((e) => `${e.from}->${e.to}`).sort(), ['1->2', '1->3', '2->3']);
  assert.equal(h.net.hasClogs(), false);
  h.net.clogLink(3, 4);
  h.send(3, 4);
  h.send(4, 3);
  h.clock.runUntil(300, 1000);
  assert.equal(h.delivered.filter((e) => e.from === 3 && e.to === 4).length, 0);
  h.net.unclogLink(3, 4);
  drain(h);
  assert.equal(h.delivered.filter((e) => e.from === 3 && e.to === 4).length, 1);
});

test('SimNetwork swizzle-clog clogs a subset one by one and restores every link afterwards', () => {
  for (let seed = 1; seed <= 10; seed++) {
    const h = harness(RELIABLE_FAULTS, seed);
    const endsAt = h.net.swizzleClog({ stepMs: 10, holdMs: 50 });
    h.clock.runUntil(endsAt - 1, 10_000);
    let clogged = 0;
    for (const a of [1, 2, 3, 4, 5]) for (const b of [1, 2, 3, 4, 5]) if (a !== b && h.net.isClogged(a, b)) clogged++;
    assert.ok(clogged > 0, `seed ${seed}: nothing clogged just before the end`);
    for (const a of [1, 2, 3, 4, 5]) for (const b of [1, 2, 3, 4, 5]) if (a !== b) h.send(a, b);
    h.clock.runUntil(endsAt, 10_000);
    for (const a of [1, 2, 3, 4, 5]) for (const b of [1, 2, 3, 4, 5]) assert.equal(h.net.isClogged(a, b), false, `seed ${seed}: ${a}->${b} still clogged`);
    drain(h);
    assert.equal(h.delivered.length, 20, `seed ${seed}: held messages not all released`);
    assert.equal(h.net.hasClogs(), false);
  }
});

test('SimNetwork healAll removes partitions, clogs, filters, loss and duplication', () => {
  const h = harness({ ...RELIABLE_FAULTS, dropRatio: ratio(1, 1), duplicateRatio: ratio(1, 2) });
  h.net.isolate(3);
  h.net.clogNode(1);
  h.net.addFilter(dropFilter('all', {}));
  h.net.healAll();
  for (const a of [1, 2, 3]) for (const b of [1, 2, 3]) if (a !== b) h.send(a, b);
  drain(h);
  assert.equal(h.delivered.length, 6);
});
