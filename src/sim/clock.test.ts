/**
 * Goal: the virtual clock runs events in (time, scheduling order) order, so
 * ties are deterministic; single events and all events of an owner (a
 * crashed node) can be cancelled; runUntil stops at its horizon.
 *
 * Method: schedule events with chosen times and owners, run them, and
 * compare the order they ran in with the expected order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../util/prng.js';
import { SimClock, WORLD } from './clock.js';

test('SimClock runs events by time, then in scheduling order for ties', () => {
  const clock = new SimClock();
  const ran: string[] = [];
  clock.schedule(10, WORLD, 'a', () => ran.push('a@10'));
  clock.schedule(5, WORLD, 'b', () => ran.push('b@5'));
  clock.schedule(10, WORLD, 'c', () => ran.push('c@10'));
  clock.schedule(5, WORLD, 'd', () => ran.push('d@5'));
  clock.schedule(0, WORLD, 'e', () => ran.push('e@0'));
  while (clock.runNext());
  assert.deepEqual(ran, ['e@0', 'b@5', 'd@5', 'a@10', 'c@10']);
  assert.equal(clock.nowMs, 10);
  assert.equal(clock.executed, 5);
});

test('SimClock keeps the order of many random events (heap property)', () => {
  const clock = new SimClock();
  const prng = new Prng(7);
  const ran: [number, number][] = [];
  for (let i = 0; i < 2000; i++) {
    const t = prng.intInclusive(0, 100);
    clock.schedule(t, WORLD, 'x', () => ran.push([t, i]));
  }
  while (clock.runNext());
  assert.equal(ran.length, 2000);
  for (let i = 1; i < ran.length; i++) {
    const [t0, s0] = ran[i - 1] as [number, number];
    const [t1, s1] = ran[i] as [number, number];
    assert.ok(t0 < t1 || (t0 === t1 && s0 < s1), `event ${i} out of order`);
  }
});

test('SimClock events scheduled while running at the same time run after those already queued', () => {
  const clock = new SimClock();
  const ran: string[] = [];
  clock.schedule(1, WORLD, 'a', () => {
    ran.push('a');
    clock.schedule(0, WORLD, 'a2', () => ran.push('a2'));
  });
  clock.schedule(1, WORLD, 'b', () => ran.push('b'));
  clock.runUntil(1, 100);
  assert.deepEqual(ran, ['a', 'b', 'a2']);
});

test('SimClock.cancel drops one event; cancelling twice or after it ran is harmless', () => {
  const clock = new SimClock();
  const ran: string[] = [];
  const a = clock.schedule(1, WORLD, 'a', () => ran.push('a'));
  const b = clock.schedule(2, WORLD, 'b', () => ran.push('b'));
  clock.cancel(a);
  clock.cancel(a);
  assert.equal(clock.pendingCount, 1);
  while (clock.runNext());
  clock.cancel(b);
  assert.deepEqual(ran, ['b']);
  assert.equal(clock.pendingCount, 0);
});

test('SimClock.cancelOwner drops every pending event of a crashed node, and only those', () => {
  const clock = new SimClock();
  const ran: string[] = [];
  clock.schedule(1, 1, 'n1 tick', () => ran.push('n1'));
  clock.schedule(2, 2, 'n2 tick', () => ran.push('n2'));
  clock.schedule(3, 1, 'n1 disk', () => ran.push('n1 disk'));
  clock.schedule(4, WORLD, 'deliver', () => ran.push('world'));
  assert.equal(clock.pendingOf(1), 2);
  assert.equal(clock.cancelOwner(1), 2);
  assert.equal(clock.pendingOf(1), 0);
  // Events the owner schedules after its restart are live again.
  clock.schedule(5, 1, 'n1 restarted', () => ran.push('n1 again'));
  while (clock.runNext());
  assert.deepEqual(ran, ['n2', 'world', 'n1 again']);
  assert.throws(() => clock.cancelOwner(WORLD), /world/);
});

test('SimClock.runUntil runs due events only, then sets the time to the horizon', () => {
  const clock = new SimClock();
  const ran: number[] = [];
  for (const t of [5, 10, 15]) clock.schedule(t, WORLD, 'x', () => ran.push(t));
  assert.equal(clock.runUntil(10, 100), 2);
  assert.deepEqual(ran, [5, 10]);
  assert.equal(clock.nowMs, 10);
  assert.equal(clock.peekTimeMs(), 15);
  assert.throws(() => clock.schedule(-1, WORLD, 'past', () => {}), /bad delay/);
  assert.throws(() => clock.scheduleAt(9, WORLD, 'past', () => {}), /in the past/);
});

test('SimClock.runUntil refuses to run more than its event budget (livelock guard)', () => {
  const clock = new SimClock();
  const loop = (): void => {
    clock.schedule(0, WORLD, 'loop', loop);
  };
  loop();
  assert.throws(() => clock.runUntil(0, 1000), /more than 1000 events/);
});
