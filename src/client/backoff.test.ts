// Goal: Backoff doubles up to its bound and restarts on reset; pause()
// ends early when its signal aborts. Method: the functions directly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Backoff, pause } from './backoff.js';

test('Backoff doubles from baseMs up to maxMs and restarts on reset', () => {
  const b = new Backoff({ baseMs: 100, maxMs: 400 });
  assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 400, 400]);
  b.reset();
  assert.equal(b.next(), 100);
  for (let i = 0; i < 100; i++) assert.ok(b.next() <= 400, 'bounded however long it runs');
});

test('Backoff rejects pauses that are not positive or a max below the base', () => {
  assert.throws(() => new Backoff({ baseMs: 0, maxMs: 10 }), RangeError);
  assert.throws(() => new Backoff({ baseMs: 10, maxMs: 5 }), RangeError);
  assert.throws(() => new Backoff({ baseMs: 10, maxMs: Infinity }), RangeError);
});

test('pause() resolves early when its signal aborts', async () => {
  const abort = new AbortController();
  const start = Date.now();
  const waiting = pause(10_000, abort.signal);
  abort.abort();
  await waiting;
  assert.ok(Date.now() - start < 1_000);
  await pause(10_000, abort.signal); // already aborted: at once
});
