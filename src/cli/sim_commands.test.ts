/**
 * Goal: `tinykv sim` works as a user runs it: `list` names every scenario,
 * `run` ends with the `N passed, M failed` line and exit status 0 when all
 * seeds pass, a single seed prints its SEED= line first, and bad arguments
 * are usage errors.
 *
 * Method: run the built `bin/tinykv.js` as a child process (the repository
 * builds to dist/ before tests run) and check its stdout and exit code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runTinykv } from '../testing/child_server.js';
import { parseSeeds } from './sim_commands.js';

test('tinykv sim run raftkv_basic --seeds 1..2 passes both seeds', async () => {
  const result = await runTinykv(['sim', 'run', 'raftkv_basic', '--seeds', '1..2'], 60_000);
  const lines = result.stdout.trim().split('\n');
  assert.equal(lines[lines.length - 1], '2 passed, 0 failed', result.stdout + result.stderr);
  assert.equal(result.code, 0);
});

test('tinykv sim run with one seed prints the SEED= line first', async () => {
  const result = await runTinykv(['sim', 'run', 'raftkv_basic', '--seeds', '3'], 60_000);
  const lines = result.stdout.trim().split('\n');
  assert.match(lines[0] ?? '', /^SEED=3 scenario=raftkv_basic nodeCount=/);
  assert.equal(lines[lines.length - 1], '1 passed, 0 failed');
  assert.equal(result.code, 0);
});

test('a failing seed prints one reproduce line and exits 1 (deliberate stale follower reads)', async () => {
  const result = await runTinykv(['sim', 'run', 'raftkv_partitions', '--seeds', '1..1', '--buggy-follower-reads'], 60_000);
  const lines = result.stdout.trim().split('\n');
  assert.equal(lines[lines.length - 1], '0 passed, 1 failed');
  assert.equal(result.code, 1);
  const failures = lines.filter((l) => l.startsWith('FAIL '));
  assert.equal(failures.length, 1);
  assert.match(failures[0] ?? '', /linearizability: .*\| reproduce: npx tinykv sim run raftkv_partitions --seeds 1\.\.1 --buggy-follower-reads$/);
});

test('tinykv sim list names every scenario; an unknown scenario is a usage error', async () => {
  const list = await runTinykv(['sim', 'list']);
  for (const name of ['raftkv_basic', 'raftkv_unreliable', 'raftkv_partitions', 'raftkv_crash_restart', 'raftkv_swizzle_clog', 'raftkv_swarm']) {
    assert.match(list.stdout, new RegExp(`^${name} `, 'm'));
  }
  const bad = await runTinykv(['sim', 'run', 'nope', '--seeds', '1']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /unknown scenario "nope"/);
});

test('parseSeeds accepts a..b and n, and refuses the rest', () => {
  assert.deepEqual(parseSeeds('1..50'), { first: 1, last: 50 });
  assert.deepEqual(parseSeeds('7'), { first: 7, last: 7 });
  for (const bad of ['', 'a..b', '5..1', '-1', '1..', '1...2']) assert.throws(() => parseSeeds(bad), /--seeds/);
});
