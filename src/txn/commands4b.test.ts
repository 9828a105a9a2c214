// Goal: KvGet, KvPrewrite and KvCommit behave exactly as TinyKV Project 4B
// specifies (kv/server/commands4b_test.go, PEER-SUITE.md §2.5), including
// where TinyKV's tests pin a choice (a rollback answers a KeyError; a missing
// prewrite commits nothing without error; a retried commit is idempotent).
// Method: TinyKV's builder ported (_commands_harness.ts): a `Server` over
// StandaloneStorage on a MemEngine, called in-process. Fixtures are written
// raw into the CFs with TinyKV's bytes, timestamps come from `nextTs`
// (starting at 100), and the latch Validation hook asserts that every key a
// command writes was latched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Op } from '../pb/kvrpcpb.js';
import type { CommitRequest } from '../pb/kvrpcpb.js';
import { CF_DEFAULT, CF_LOCK, CF_WRITE } from '../storage/engine.js';
import { buf, lockBytes, mutation, TS_MAX, withBuilder, writeBytes } from './_commands_harness.js';
import type { Builder, Kv } from './_commands_harness.js';

/** key 99: value 42 started at 50, committed at 54. */
const SINGLE_99: readonly Kv[] = [
  { cf: CF_DEFAULT, key: [99], ts: 50, value: [42] },
  { cf: CF_WRITE, key: [99], ts: 54, value: writeBytes(1, 50) },
];

async function getValue(b: Builder, key: number[], version: bigint): Promise<number[] | 'notFound'> {
  const res = await b.server.kvGet(b.getRequest(key, version));
  assert.equal(res.regionError, undefined);
  assert.equal(res.error, undefined);
  return res.notFound ? 'notFound' : [...res.value];
}

test('TestGetValue4B', () => withBuilder(async (b) => {
  await b.init(SINGLE_99);
  assert.deepEqual(await getValue(b, [99], TS_MAX), [42]);
}));

test('TestGetValueTs4B', () => withBuilder(async (b) => {
  await b.init(SINGLE_99);
  for (let i = 0; i < 3; i++) assert.deepEqual(await getValue(b, [99], 100n), [42]);
}));

test('TestGetEmpty4B', () => withBuilder(async (b) => {
  assert.equal(await getValue(b, [100], TS_MAX), 'notFound');
}));

test('TestGetNone4B', () => withBuilder(async (b) => {
  await b.init([
    ...SINGLE_99,
    { cf: CF_DEFAULT, key: [101], ts: 50, value: [42] },
    { cf: CF_WRITE, key: [101], ts: 54, value: writeBytes(1, 50) },
  ]);
  assert.equal(await getValue(b, [100], TS_MAX), 'notFound');
}));

test('TestGetVersions4B', () => withBuilder(async (b) => {
  await b.init([
    ...SINGLE_99,
    { cf: CF_DEFAULT, key: [99], ts: 60, value: [43] },
    { cf: CF_WRITE, key: [99], ts: 66, value: writeBytes(1, 60) },
    { cf: CF_DEFAULT, key: [99], ts: 120, value: [44] },
    { cf: CF_WRITE, key: [99], ts: 122, value: writeBytes(1, 120) },
  ]);
  assert.equal(await getValue(b, [99], 40n), 'notFound');
  for (const v of [56n, 60n, 65n]) assert.deepEqual(await getValue(b, [99], v), [42], `version ${v}`);
  for (const v of [66n, 100n]) assert.deepEqual(await getValue(b, [99], v), [43], `version ${v}`);
  assert.deepEqual(await getValue(b, [99], TS_MAX), [44]);
}));

test('TestGetDeleted4B', () => withBuilder(async (b) => {
  await b.init([
    ...SINGLE_99,
    { cf: CF_DEFAULT, key: [99], ts: 60, value: [43] },
    { cf: CF_WRITE, key: [99], ts: 66, value: writeBytes(2, 60) },
    { cf: CF_DEFAULT, key: [99], ts: 120, value: [44] },
    { cf: CF_WRITE, key: [99], ts: 122, value: writeBytes(1, 120) },
  ]);
  for (const v of [54n, 56n, 60n, 65n]) assert.deepEqual(await getValue(b, [99], v), [42], `version ${v}`);
  for (const v of [66n, 67n]) assert.equal(await getValue(b, [99], v), 'notFound', `version ${v}`);
  assert.deepEqual(await getValue(b, [99], 122n), [44]);
}));

test('TestGetLocked4B', () => withBuilder(async (b) => {
  await b.init([...SINGLE_99, { cf: CF_LOCK, key: [99], value: lockBytes([99], 1, 200) }]);
  assert.deepEqual(await getValue(b, [99], 55n), [42]);
  const res = await b.server.kvGet(b.getRequest([99], 300n));
  assert.equal(res.regionError, undefined);
  assert.deepEqual(res.error?.locked, { primaryLock: buf(99), lockVersion: 200n, key: buf(99), lockTtl: 0 });
}));

test('TestEmptyPrewrite4B', () => withBuilder(async (b) => {
  const res = await b.server.kvPrewrite(b.prewriteRequest());
  assert.deepEqual(res, { regionError: undefined, errors: [] });
  await b.assertLens(0, 0, 0);
}));

test('TestSinglePrewrite4B', () => withBuilder(async (b) => {
  const req = { ...b.prewriteRequest(mutation(3, [42], Op.Put)), lockTtl: 1000 };
  assert.deepEqual(await b.server.kvPrewrite(req), { regionError: undefined, errors: [] });
  await b.assertLens(1, 1, 0);
  await b.assertKvs([
    { cf: CF_DEFAULT, key: [3], ts: 100, value: [42] },
    { cf: CF_LOCK, key: [3], value: lockBytes([1], 1, 100, 1000) },
  ]);
  assert.equal(b.validations, 1);
}));

test('TestPrewriteLocked4B', () => withBuilder(async (b) => {
  const first = await b.server.kvPrewrite(b.prewriteRequest(mutation(3, [42], Op.Put)));
  const second = await b.server.kvPrewrite(b.prewriteRequest(mutation(3, [53], Op.Put)));
  assert.deepEqual(first.errors, []);
  assert.equal(second.errors.length, 1);
  assert.equal(second.errors[0]?.locked?.lockVersion, 100n);
  await b.assertLens(1, 1, 0);
  await b.assertKvs([
    { cf: CF_DEFAULT, key: [3], ts: 100, value: [42] },
    { cf: CF_LOCK, key: [3], value: lockBytes([1], 1, 100) },
  ]);
}));

test('TestPrewriteWritten4B', () => withBuilder(async (b) => {
  await b.init([
    { cf: CF_DEFAULT, key: [3], ts: 80, value: [5] },
    { cf: CF_WRITE, key: [3], ts: 101, value: writeBytes(1, 80) },
  ]);
  const res = await b.server.kvPrewrite(b.prewriteRequest(mutation(3, [42], Op.Put)));
  assert.equal(res.errors.length, 1);
  assert.deepEqual(res.errors[0]?.conflict, { startTs: 100n, conflictTs: 101n, key: buf(3), primary: buf(1) });
  await b.assertLens(1, 0, 1);
  await b.assertKvs([{ cf: CF_DEFAULT, key: [3], ts: 80 }, { cf: CF_WRITE, key: [3], ts: 101 }]);
}));

test('TestPrewriteWrittenNoConflict4B', () => withBuilder(async (b) => {
  await b.init([
    { cf: CF_DEFAULT, key: [3], ts: 80, value: [5] },
    { cf: CF_WRITE, key: [3], ts: 90, value: writeBytes(1, 80) },
  ]);
  const res = await b.server.kvPrewrite(b.prewriteRequest(mutation(3, [42], Op.Put)));
  assert.deepEqual(res.errors, []);
  await b.assertLens(2, 1, 1);
  await b.assertKvs([
    { cf: CF_DEFAULT, key: [3], ts: 80 },
    { cf: CF_WRITE, key: [3], ts: 90 },
    { cf: CF_DEFAULT, key: [3], ts: 100, value: [42] },
    { cf: CF_LOCK, key: [3], value: lockBytes([1], 1, 100) },
  ]);
}));

test('TestMultiplePrewrites4B', () => withBuilder(async (b) => {
  const first = await b.server.kvPrewrite(b.prewriteRequest(mutation(3, [42], Op.Put)));
  const second = await b.server.kvPrewrite(b.prewriteRequest(mutation(4, [53], Op.Put)));
  assert.deepEqual([first.errors, second.errors], [[], []]);
  await b.assertLens(2, 2, 0);
  await b.assertKvs([
    { cf: CF_DEFAULT, key: [3], ts: 100, value: [42] },
    { cf: CF_LOCK, key: [3], value: lockBytes([1], 1, 100) },
    { cf: CF_DEFAULT, key: [4], ts: 101, value: [53] },
    { cf: CF_LOCK, key: [4], value: lockBytes([1], 1, 101) },
  ]);
}));

test('TestPrewriteOverwrite4B', () => withBuilder(async (b) => {
  const res = await b.server.kvPrewrite(b.prewriteRequest(mutation(3, [42], Op.Put), mutation(3, [45], Op.Put)));
  assert.deepEqual(res.errors, []);
  await b.assertLens(1, 1, 0);
  await b.assertKvs([
    { cf: CF_DEFAULT, key: [3], ts: 100, value: [45] },
    { cf: CF_LOCK, key: [3], value: lockBytes([1], 1, 100) },
  ]);
}));

test('TestPrewriteMultiple4B', () => withBuilder(async (b) => {
  const res = await b.server.kvPrewrite(b.prewriteRequest(
    mutation(3, [42], Op.Put),
    mutation(4, [43], Op.Put),
    mutation(5, [44], Op.Put),
    mutation(4, [], Op.Del),
    mutation(4, [1, 3, 5], Op.Put),
    mutation(255, [45], Op.Put),
  ));
  assert.deepEqual(res.errors, []);
  await b.assertLens(4, 4, 0);
  await b.assertKvs([{ cf: CF_DEFAULT, key: [4], ts: 100, value: [1, 3, 5] }]);
}));

test('TestEmptyCommit4B', () => withBuilder(async (b) => {
  assert.deepEqual(await b.server.kvCommit(b.commitRequest()), { regionError: undefined, error: undefined });
  await b.assertLens(0, 0, 0);
}));

test('TestSingleCommit4B', () => withBuilder(async (b) => {
  await b.init([
    { cf: CF_DEFAULT, key: [3], ts: 100, value: [42] },
    { cf: CF_LOCK, key: [3], value: lockBytes([], 1, 100) },
  ]);
  assert.deepEqual(await b.server.kvCommit(b.commitRequest([3])), { regionError: undefined, error: undefined });
  await b.assertLens(1, 0, 1);
  await b.assertKvs([
    { cf: CF_WRITE, key: [3], ts: 110, value: writeBytes(1, 100) },
    { cf: CF_DEFAULT, key: [3], ts: 100 },
  ]);
}));

test('TestCommitOverwrite4B', () => withBuilder(async (b) => {
  await b.init([
    { cf: CF_DEFAULT, key: [3], ts: 80, value: [15] },
    { cf: CF_WRITE, key: [3], ts: 90, value: writeBytes(1, 80) },
    { cf: CF_DEFAULT, key: [3], ts: 100, value: [42] },
    { cf: CF_LOCK, key: [3], value: lockBytes([], 1, 100) },
  ]);
  assert.equal((await b.server.kvCommit(b.commitRequest([3]))).error, undefined);
  await b.assertLens(2, 0, 2);
  await b.assertKvs([
    { cf: CF_WRITE, key: [3], ts: 110, value: writeBytes(1, 100) },
    { cf: CF_WRITE, key: [3], ts: 90 },
    { cf: CF_DEFAULT, key: [3], ts: 100 },
    { cf: CF_DEFAULT, key: [3], ts: 80 },
  ]);
}));

test('TestCommitMultipleKeys4B', () => withBuilder(async (b) => {
  await b.init([
    // Prewritten by txn 100: committed by the request.
    { cf: CF_DEFAULT, key: [3], ts: 100, value: [42] },
    { cf: CF_LOCK, key: [3], value: lockBytes([1], 1, 100) },
    { cf: CF_DEFAULT, key: [12, 4, 0], ts: 100, value: [1, 1, 0, 0, 1, 5] },
    { cf: CF_LOCK, key: [12, 4, 0], value: lockBytes([1], 1, 100) },
    { cf: CF_DEFAULT, key: [15], ts: 100, value: [0] },
    { cf: CF_LOCK, key: [15], value: lockBytes([1], 1, 100) },
    // Unrelated committed data.
    { cf: CF_DEFAULT, key: [44], ts: 80, value: [42] },
    { cf: CF_WRITE, key: [44], ts: 85, value: writeBytes(1, 80) },
    { cf: CF_DEFAULT, key: [4], ts: 70, value: [4] },
    { cf: CF_WRITE, key: [4], ts: 75, value: writeBytes(1, 70) },
    // Another transaction's locks (ts 99).
    { cf: CF_DEFAULT, key: [7], ts: 99, value: [2, 2, 2] },
    { cf: CF_LOCK, key: [7], value: lockBytes([7], 1, 99) },
    { cf: CF_DEFAULT, key: [8], ts: 99, value: [8] },
    { cf: CF_LOCK, key: [8], value: lockBytes([7], 1, 99) },
  ]);
  assert.equal((await b.server.kvCommit(b.commitRequest([3], [12, 4, 0], [15]))).error, undefined);
  await b.assertLens(7, 2, 5);
  await b.assertKvs([
    { cf: CF_WRITE, key: [3], ts: 110, value: writeBytes(1, 100) },
    { cf: CF_WRITE, key: [12, 4, 0], ts: 110, value: writeBytes(1, 100) },
    { cf: CF_WRITE, key: [15], ts: 110, value: writeBytes(1, 100) },
    { cf: CF_WRITE, key: [44], ts: 85 },
    { cf: CF_WRITE, key: [4], ts: 75 },
    { cf: CF_LOCK, key: [7] },
    { cf: CF_LOCK, key: [8] },
    { cf: CF_DEFAULT, key: [7], ts: 99 },
  ]);
}));

test('TestRecommitKey4B', () => withBuilder(async (b) => {
  await b.init([
    { cf: CF_DEFAULT, key: [3], ts: 100, value: [42] },
    { cf: CF_LOCK, key: [3], value: lockBytes([1], 1, 100) },
  ]);
  assert.equal((await b.server.kvCommit(b.commitRequest([3], [3]))).error, undefined);
  await b.assertLens(1, 0, 1);
  await b.assertKvs([{ cf: CF_WRITE, key: [3], ts: 110, value: writeBytes(1, 100) }]);
}));

test('TestCommitConflictRollback4B', () => withBuilder(async (b) => {
  await b.init([
    { cf: CF_DEFAULT, key: [3], ts: 100, value: [42] },
    { cf: CF_WRITE, key: [3], ts: 110, value: writeBytes(3, 100) },
  ]);
  const res = await b.server.kvCommit(b.commitRequest([3]));
  assert.equal(res.regionError, undefined);
  assert.ok(res.error !== undefined && res.error.abort !== '', 'a rolled back txn cannot commit: KeyError.abort');
  await b.assertLens(1, 0, 1);
  await b.assertKvs([{ cf: CF_DEFAULT, key: [3], ts: 100 }, { cf: CF_WRITE, key: [3], ts: 110 }]);
}));

test('TestCommitConflictRace4B', () => withBuilder(async (b) => {
  await b.init([
    { cf: CF_DEFAULT, key: [3], ts: 90, value: [110] },
    { cf: CF_LOCK, key: [3], value: lockBytes([3], 1, 90) },
  ]);
  const res = await b.server.kvCommit(b.commitRequest([3]));
  assert.equal(res.regionError, undefined);
  assert.notEqual(res.error?.retryable ?? '', '');
  await b.assertLens(1, 1, 0);
  await b.assertKvs([{ cf: CF_DEFAULT, key: [3], ts: 90 }, { cf: CF_LOCK, key: [3] }]);
}));

test('TestCommitConflictRepeat4B', () => withBuilder(async (b) => {
  await b.init([
    { cf: CF_DEFAULT, key: [3], ts: 100, value: [42] },
    { cf: CF_WRITE, key: [3], ts: 110, value: writeBytes(1, 100) },
  ]);
  assert.deepEqual(await b.server.kvCommit(b.commitRequest([3])), { regionError: undefined, error: undefined });
  await b.assertLens(1, 0, 1);
  await b.assertKvs([{ cf: CF_DEFAULT, key: [3], ts: 100 }, { cf: CF_WRITE, key: [3], ts: 110 }]);
}));

test('TestCommitMissingPrewrite4B', () => withBuilder(async (b) => {
  await b.init([
    { cf: CF_DEFAULT, key: [3], ts: 90, value: [5] },
    { cf: CF_WRITE, key: [3], ts: 95, value: writeBytes(1, 90) },
  ]);
  assert.deepEqual(await b.server.kvCommit(b.commitRequest([3])), { regionError: undefined, error: undefined });
  await b.assertLens(1, 0, 1);
  await b.assertKvs([{ cf: CF_DEFAULT, key: [3], ts: 90 }, { cf: CF_WRITE, key: [3], ts: 95 }]);
}));

// Beyond TinyKV: end-to-end, concurrency under latches, and bad input.

test('prewrite, commit, then get sees the value at and after commitTs only', () => withBuilder(async (b) => {
  assert.deepEqual((await b.server.kvPrewrite(b.prewriteRequest(mutation(3, [42], Op.Put)))).errors, []);
  const locked = await b.server.kvGet(b.getRequest([3], 105n));
  assert.equal(locked.error?.locked?.lockVersion, 100n);
  const commit: CommitRequest = { context: undefined, startVersion: 100n, keys: [buf(3)], commitVersion: 110n };
  assert.equal((await b.server.kvCommit(commit)).error, undefined);
  assert.equal(await getValue(b, [3], 109n), 'notFound');
  assert.deepEqual(await getValue(b, [3], 110n), [42]);
}));

test('two concurrent prewrites of one key: the latches let exactly one through', () => withBuilder(async (b) => {
  const [r1, r2] = await Promise.all([
    b.server.kvPrewrite(b.prewriteRequest(mutation(3, [1], Op.Put))),
    b.server.kvPrewrite(b.prewriteRequest(mutation(3, [2], Op.Put))),
  ]);
  assert.deepEqual([r1.errors.length, r2.errors.length], [0, 1]);
  await b.assertLens(1, 1, 0);
  assert.equal(b.server.latches.heldCount(), 0);
}));

test('bad input is answered as KeyError.abort InvalidArgument without touching storage', () => withBuilder(async (b) => {
  const get = await b.server.kvGet(b.getRequest([], 1n));
  assert.equal(get.error?.abort, 'InvalidArgument: key is empty');
  const pre = await b.server.kvPrewrite({ ...b.prewriteRequest(mutation(3, [1], Op.Put)), lockTtl: -1 });
  assert.match(pre.errors[0]?.abort ?? '', /^InvalidArgument: lock ttl/);
  const op = await b.server.kvPrewrite(b.prewriteRequest(mutation(3, [1], Op.Lock)));
  assert.match(op.errors[0]?.abort ?? '', /^InvalidArgument: mutation op 3/);
  const commit = await b.server.kvCommit({ context: undefined, startVersion: 100n, keys: [buf(3)], commitVersion: 100n });
  assert.match(commit.error?.abort ?? '', /^InvalidArgument: commit version 100 must be greater/);
  await b.assertLens(0, 0, 0);
}));
