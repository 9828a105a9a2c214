// Goal: KvBatchRollback, KvCheckTxnStatus, KvResolveLock and KvScan behave
// exactly as TinyKV Project 4C specifies (kv/transaction/commands4c_test.go,
// PEER-SUITE.md §2.5), and hold where TinyKV's tests do not look: a scan
// reports locks, stays within its reader's region, resolve works in rounds
// and re-checks its locks under the latches.
// Method: TinyKV's builder (_commands_harness.ts): a `Server` over
// StandaloneStorage on a MemEngine, called in-process, fixtures written raw
// with TinyKV's bytes, `nextTs` from 100, and the latch Validation hook
// asserting every written key was latched. The region test serves from a
// reader bounded like RaftStorage's RegionReader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Action, Op } from '../pb/kvrpcpb.js';
import type { ScanResponse } from '../pb/kvrpcpb.js';
import { CF_DEFAULT, CF_LOCK, CF_WRITE } from '../storage/engine.js';
import type { CfName, Engine } from '../storage/engine.js';
import { EngineIterator } from '../storage/engine_iterator.js';
import type { DBIterator, Modify, Storage, StorageContext, StorageReader } from '../storage/storage.js';
import { buf, lockBytes, withBuilder, writeBytes } from './_commands_harness.js';
import type { Builder, Kv } from './_commands_harness.js';
import { resolveLockBatchKeysMax } from './commands/resolve_lock.js';

const ROLLBACK = 3;

/** TinyKV's lock fixture of TestRollback4C: primary [1], kind Put, ts = the request's start. */
const ownLock = (b: Builder): number[] => lockBytes([1], 1, b.ts());

// --- KvBatchRollback ---

test('TestEmptyRollback4C', () => withBuilder(async (b) => {
  const res = await b.server.kvBatchRollback(b.rollbackRequest());
  assert.deepEqual(res, { regionError: undefined, error: undefined });
  await b.assertLens(0, 0, 0);
}));

test('TestRollback4C', () => withBuilder(async (b) => {
  const req = b.rollbackRequest([3]);
  await b.init([
    { cf: CF_DEFAULT, key: [3], value: [42] },
    { cf: CF_LOCK, key: [3], value: ownLock(b) },
  ]);
  assert.deepEqual(await b.server.kvBatchRollback(req), { regionError: undefined, error: undefined });
  await b.assertLens(0, 0, 1);
  await b.assertKvs([{ cf: CF_WRITE, key: [3], value: writeBytes(ROLLBACK, b.ts()) }]);
}));

test('TestRollbackDuplicateKeys4C', () => withBuilder(async (b) => {
  const req = b.rollbackRequest([3], [15], [3]);
  await b.init([
    { cf: CF_DEFAULT, key: [3], value: [42] },
    { cf: CF_LOCK, key: [3], value: ownLock(b) },
    { cf: CF_DEFAULT, key: [15], value: [0] },
    { cf: CF_LOCK, key: [15], value: ownLock(b) },
  ]);
  assert.deepEqual(await b.server.kvBatchRollback(req), { regionError: undefined, error: undefined });
  await b.assertLens(0, 0, 2);
  await b.assertKvs([
    { cf: CF_WRITE, key: [3], value: writeBytes(ROLLBACK, b.ts()) },
    { cf: CF_WRITE, key: [15], value: writeBytes(ROLLBACK, b.ts()) },
  ]);
}));

test('TestRollbackMissingPrewrite4C', () => withBuilder(async (b) => {
  const res = await b.server.kvBatchRollback(b.rollbackRequest([3]));
  assert.deepEqual(res, { regionError: undefined, error: undefined });
  await b.assertLens(0, 0, 1);
  await b.assertKvs([{ cf: CF_WRITE, key: [3], value: writeBytes(ROLLBACK, b.ts()) }]);
}));

test('TestRollbackCommitted4C', () => withBuilder(async (b) => {
  const req = b.rollbackRequest([3]);
  await b.init([
    { cf: CF_DEFAULT, key: [3], value: [42] },
    { cf: CF_WRITE, key: [3], ts: 110, value: writeBytes(1, b.ts()) },
  ]);
  const res = await b.server.kvBatchRollback(req);
  assert.equal(res.regionError, undefined);
  assert.ok(res.error !== undefined && res.error.abort !== '', 'a committed txn cannot be rolled back: KeyError.abort');
  await b.assertLens(1, 0, 1);
  await b.assertKvs([{ cf: CF_DEFAULT, key: [3] }, { cf: CF_WRITE, key: [3], ts: 110 }]);
}));

test('TestRollbackDuplicate4C', () => withBuilder(async (b) => {
  const req = b.rollbackRequest([3]);
  await b.init([{ cf: CF_WRITE, key: [3], ts: 100, value: writeBytes(ROLLBACK, b.ts()) }]);
  assert.deepEqual(await b.server.kvBatchRollback(req), { regionError: undefined, error: undefined });
  await b.assertLens(0, 0, 1);
  await b.assertKvs([{ cf: CF_WRITE, key: [3], ts: 100 }]);
  assert.equal(b.validations, 1);
}));

test('TestRollbackOtherTxn4C', () => withBuilder(async (b) => {
  const req = b.rollbackRequest([3]);
  await b.init([
    { cf: CF_DEFAULT, key: [3], ts: 80, value: [42] },
    { cf: CF_LOCK, key: [3], value: lockBytes([1], 1, 80) },
  ]);
  assert.deepEqual(await b.server.kvBatchRollback(req), { regionError: undefined, error: undefined });
  await b.assertLens(1, 1, 1);
  await b.assertKvs([
    { cf: CF_DEFAULT, key: [3], ts: 80 },
    { cf: CF_LOCK, key: [3] },
    { cf: CF_WRITE, key: [3], ts: 100, value: writeBytes(ROLLBACK, b.ts()) },
  ]);
}));

// --- KvCheckTxnStatus ---

test('TestCheckTxnStatusTtlExpired4C', () => withBuilder(async (b) => {
  const req = b.checkTxnStatusRequest([3]);
  await b.init([
    { cf: CF_DEFAULT, key: [3], ts: req.lockTs, value: [42] },
    { cf: CF_LOCK, key: [3], value: lockBytes([3], 1, req.lockTs, 8) },
  ]);
  const res = await b.server.kvCheckTxnStatus(req);
  assert.equal(res.regionError, undefined);
  assert.equal(res.action, Action.TTLExpireRollback);
  await b.assertLens(0, 0, 1);
  await b.assertKvs([{ cf: CF_WRITE, key: [3], ts: req.lockTs, value: writeBytes(ROLLBACK, req.lockTs) }]);
}));

test('TestCheckTxnStatusTtlNotExpired4C', () => withBuilder(async (b) => {
  const req = b.checkTxnStatusRequest([3]);
  await b.init([
    { cf: CF_DEFAULT, key: [3], ts: req.lockTs, value: [42] },
    { cf: CF_LOCK, key: [3], value: lockBytes([3], 1, req.lockTs, 0x1_0000_0008n) },
  ]);
  const res = await b.server.kvCheckTxnStatus(req);
  assert.equal(res.regionError, undefined);
  assert.equal(res.action, Action.NoAction);
  assert.equal(res.lockTtl, 0x1_0000_0008);
  await b.assertLens(1, 1, 0);
  await b.assertKvs([{ cf: CF_DEFAULT, key: [3], ts: req.lockTs }, { cf: CF_LOCK, key: [3] }]);
}));

test('TestCheckTxnStatusRolledBack4C', () => withBuilder(async (b) => {
  const req = b.checkTxnStatusRequest([3]);
  await b.init([
    { cf: CF_DEFAULT, key: [3], ts: req.lockTs, value: [42] },
    { cf: CF_WRITE, key: [3], ts: req.lockTs, value: writeBytes(ROLLBACK, req.lockTs) },
    // Another txn's lock (ts BE(0,0,8,0,0,0,0,ts)), not the one asked about.
    { cf: CF_LOCK, key: [3], value: lockBytes([3], 1, (8n << 40n) | BigInt(b.ts()), 8) },
  ]);
  const res = await b.server.kvCheckTxnStatus(req);
  assert.equal(res.regionError, undefined);
  assert.equal(res.action, Action.NoAction);
  assert.equal(res.commitVersion, 0n);
  await b.assertLens(1, 1, 1);
  await b.assertKvs([
    { cf: CF_DEFAULT, key: [3], ts: req.lockTs },
    { cf: CF_WRITE, key: [3], ts: req.lockTs },
    { cf: CF_LOCK, key: [3] },
  ]);
}));

test('TestCheckTxnStatusCommitted4C', () => withBuilder(async (b) => {
  const req = b.checkTxnStatusRequest([3]);
  await b.init([
    { cf: CF_DEFAULT, key: [3], ts: req.lockTs, value: [42] },
    { cf: CF_WRITE, key: [3], ts: req.lockTs, value: writeBytes(1, req.lockTs) },
  ]);
  const res = await b.server.kvCheckTxnStatus(req);
  assert.equal(res.regionError, undefined);
  assert.equal(res.action, Action.NoAction);
  assert.equal(res.commitVersion, req.lockTs);
  await b.assertLens(1, 0, 1);
  await b.assertKvs([{ cf: CF_DEFAULT, key: [3], ts: req.lockTs }, { cf: CF_WRITE, key: [3], ts: req.lockTs }]);
}));

test('TestCheckTxnStatusNoLockNoWrite4C', () => withBuilder(async (b) => {
  const req = b.checkTxnStatusRequest([3]);
  const res = await b.server.kvCheckTxnStatus(req);
  assert.equal(res.regionError, undefined);
  assert.equal(res.action, Action.LockNotExistRollback);
  await b.assertLens(0, 0, 1);
  await b.assertKvs([{ cf: CF_WRITE, key: [3], ts: req.lockTs, value: writeBytes(ROLLBACK, req.lockTs) }]);
}));

// --- KvResolveLock ---

test('TestEmptyResolve4C', () => withBuilder(async (b) => {
  assert.deepEqual(await b.server.kvResolveLock(b.resolveRequest(0n, 0n)), { regionError: undefined, error: undefined });
  await b.assertLens(0, 0, 0);
}));

/** TinyKV's resolve fixture: txn 100 locked keys 3 and 7 (empty primary), txn 110 locked key 200. */
const RESOLVE_LOCKED: readonly Kv[] = [
  { cf: CF_DEFAULT, key: [3], ts: 100, value: [42] },
  { cf: CF_LOCK, key: [3], value: lockBytes([], 1, 100) },
  { cf: CF_DEFAULT, key: [7], ts: 100, value: [43] },
  { cf: CF_LOCK, key: [7], value: lockBytes([], 1, 100) },
  { cf: CF_DEFAULT, key: [200], ts: 110, value: [44] },
  { cf: CF_LOCK, key: [200], value: lockBytes([], 1, 110) },
];

/** The same, with txn 100 already resolved on key 201 (committed at 120 and rolled back at 100). */
const RESOLVE_WRITTEN: readonly Kv[] = [
  { cf: CF_DEFAULT, key: [3], ts: 100, value: [42] },
  { cf: CF_WRITE, key: [201], ts: 120, value: writeBytes(1, 100) },
  { cf: CF_DEFAULT, key: [7], ts: 100, value: [43] },
  { cf: CF_WRITE, key: [201], ts: 100, value: writeBytes(ROLLBACK, 100) },
  { cf: CF_DEFAULT, key: [200], ts: 110, value: [44] },
  { cf: CF_LOCK, key: [200], value: lockBytes([], 1, 110) },
];

test('TestResolveCommit4C', () => withBuilder(async (b) => {
  await b.init(RESOLVE_LOCKED);
  assert.deepEqual(await b.server.kvResolveLock(b.resolveRequest(100n, 120n)), { regionError: undefined, error: undefined });
  await b.assertLens(3, 1, 2);
  await b.assertKvs([
    { cf: CF_DEFAULT, key: [3], ts: 100 },
    { cf: CF_WRITE, key: [3], ts: 120, value: writeBytes(1, 100) },
    { cf: CF_DEFAULT, key: [7], ts: 100 },
    { cf: CF_WRITE, key: [7], ts: 120, value: writeBytes(1, 100) },
    { cf: CF_DEFAULT, key: [200], ts: 110 },
    { cf: CF_LOCK, key: [200] },
  ]);
}));

test('TestResolveRollback4C', () => withBuilder(async (b) => {
  await b.init(RESOLVE_LOCKED);
  assert.deepEqual(await b.server.kvResolveLock(b.resolveRequest(100n, 0n)), { regionError: undefined, error: undefined });
  await b.assertLens(1, 1, 2);
  await b.assertKvs([
    { cf: CF_WRITE, key: [3], ts: 100, value: writeBytes(ROLLBACK, 100) },
    { cf: CF_WRITE, key: [7], ts: 100, value: writeBytes(ROLLBACK, 100) },
    { cf: CF_DEFAULT, key: [200], ts: 110 },
    { cf: CF_LOCK, key: [200] },
  ]);
}));

for (const [name, commitVersion] of [['TestResolveCommitWritten4C', 120n], ['TestResolveRollbackWritten4C', 0n]] as const) {
  test(name, () => withBuilder(async (b) => {
    await b.init(RESOLVE_WRITTEN);
    assert.deepEqual(await b.server.kvResolveLock(b.resolveRequest(100n, commitVersion)), { regionError: undefined, error: undefined });
    await b.assertLens(3, 1, 2);
    await b.assertKvs([
      { cf: CF_DEFAULT, key: [3], ts: 100 },
      { cf: CF_WRITE, key: [201], ts: 120 },
      { cf: CF_DEFAULT, key: [7], ts: 100 },
      { cf: CF_WRITE, key: [201], ts: 100 },
      { cf: CF_DEFAULT, key: [200], ts: 110 },
      { cf: CF_LOCK, key: [200] },
    ]);
  }));
}

// --- KvScan ---

const put = (startTs: number): number[] => writeBytes(1, startTs);

/** TinyKV builderForScan. */
const SCAN_FIXTURE: readonly Kv[] = [
  // Committed before 100.
  ...[[1, 50], [1, 23, 55], [3, 51], [3, 45, 56], [3, 46, 57], [3, 47, 58], [3, 48, 59], [4, 52], [120, 53], [199, 54]].flatMap(
    (kv): Kv[] => [
      { cf: CF_DEFAULT, key: kv.slice(0, -1), ts: 80, value: kv.slice(-1) },
      { cf: CF_WRITE, key: kv.slice(0, -1), ts: 99, value: put(80) },
    ],
  ),
  // Committed after 100.
  ...[[4, 45, 58], [4, 46, 57], [4, 47, 58], [4, 48, 59]].flatMap((kv): Kv[] => [
    { cf: CF_DEFAULT, key: kv.slice(0, -1), ts: 110, value: kv.slice(-1) },
    { cf: CF_WRITE, key: kv.slice(0, -1), ts: 116, value: put(110) },
  ]),
  // Committed after 100, but started before.
  ...[[5, 45, 60], [5, 46, 61], [5, 47, 62], [5, 48, 63]].flatMap((kv): Kv[] => [
    { cf: CF_DEFAULT, key: kv.slice(0, -1), ts: 97, value: kv.slice(-1) },
    { cf: CF_WRITE, key: kv.slice(0, -1), ts: 101, value: put(97) },
  ]),
  // A deleted value and replaced value.
  { cf: CF_DEFAULT, key: [150], ts: 80, value: [42] },
  { cf: CF_WRITE, key: [150], ts: 99, value: put(80) },
  { cf: CF_WRITE, key: [150], ts: 101, value: writeBytes(2, 97) },
  { cf: CF_DEFAULT, key: [150], ts: 110, value: [64] },
  { cf: CF_WRITE, key: [150], ts: 116, value: put(110) },
];

/** The pairs of a scan as [key, value] (an error pair as [key, 'locked by <ts>']). */
function pairsOf(res: ScanResponse): [number[], number[] | string][] {
  assert.equal(res.regionError, undefined);
  return res.pairs.map((p) => [[...p.key], p.error === undefined ? [...p.value] : `locked by ${p.error.locked?.lockVersion}`]);
}

const withScanBuilder = (body: (b: Builder) => Promise<void>): Promise<void> => withBuilder(async (b) => {
  await b.init(SCAN_FIXTURE);
  await body(b);
});

test('TestScanEmpty4C', () => withScanBuilder(async (b) => {
  assert.deepEqual(pairsOf(await b.server.kvScan(b.scanRequest([200], 10000))), []);
}));

test('TestScanLimitZero4C', () => withScanBuilder(async (b) => {
  assert.deepEqual(pairsOf(await b.server.kvScan(b.scanRequest([3], 0))), []);
}));

test('TestScanAll4C', () => withScanBuilder(async (b) => {
  const pairs = pairsOf(await b.server.kvScan(b.scanRequest([0], 10000)));
  assert.equal(pairs.length, 11);
  assert.deepEqual(pairs[0], [[1], [50]]);
  assert.deepEqual(pairs[10], [[199], [54]]);
}));

test('TestScanLimit4C', () => withScanBuilder(async (b) => {
  const pairs = pairsOf(await b.server.kvScan(b.scanRequest([2], 6)));
  assert.equal(pairs.length, 6);
  assert.deepEqual(pairs[0], [[3], [51]]);
  assert.deepEqual(pairs[5], [[4], [52]]);
}));

test('TestScanDeleted4C', () => withScanBuilder(async (b) => {
  const at = (version: bigint): ReturnType<Builder['scanRequest']> => ({ ...b.scanRequest([100], 10000), version });
  const [r1, r2, r3] = [at(100n), at(105n), at(120n)];
  assert.deepEqual(pairsOf(await b.server.kvScan(r1)), [[[120], [53]], [[150], [42]], [[199], [54]]]);
  assert.deepEqual(pairsOf(await b.server.kvScan(r2)), [[[120], [53]], [[199], [54]]]);
  assert.deepEqual(pairsOf(await b.server.kvScan(r3)), [[[120], [53]], [[150], [64]], [[199], [54]]]);
}));

// --- Beyond TinyKV ---

test('scan across locks: a lock at or below the version answers a locked KeyError pair, a newer lock is ignored', () => withScanBuilder(async (b) => {
  await b.init([
    // On a committed key: hides its value.
    { cf: CF_LOCK, key: [3], value: lockBytes([3], 1, 90, 5) },
    // On a key with no committed version yet (a first prewrite).
    { cf: CF_DEFAULT, key: [3, 50], ts: 95, value: [7] },
    { cf: CF_LOCK, key: [3, 50], value: lockBytes([3], 1, 95) },
    // Newer than the scan: cannot commit at or before it.
    { cf: CF_LOCK, key: [4], value: lockBytes([4], 1, 150) },
  ]);
  const res = await b.server.kvScan({ ...b.scanRequest([3], 4), version: 100n });
  assert.deepEqual(pairsOf(res), [[[3], 'locked by 90'], [[3, 45], [56]], [[3, 46], [57]], [[3, 47], [58]]]);
  assert.deepEqual(res.pairs[0]?.error?.locked, { primaryLock: buf(3), lockVersion: 90n, key: buf(3), lockTtl: 5 });
  const after = await b.server.kvScan({ ...b.scanRequest([3, 48], 3), version: 100n });
  assert.deepEqual(pairsOf(after), [[[3, 48], [59]], [[3, 50], 'locked by 95'], [[4], [52]]]);
}));

test('scan skips keys whose only writes are rollbacks, and rollbacks newer than a committed value', () => withBuilder(async (b) => {
  await b.init([
    { cf: CF_WRITE, key: [1], ts: 90, value: writeBytes(ROLLBACK, 90) },
    { cf: CF_DEFAULT, key: [2], ts: 80, value: [20] },
    { cf: CF_WRITE, key: [2], ts: 85, value: put(80) },
    { cf: CF_WRITE, key: [2], ts: 95, value: writeBytes(ROLLBACK, 95) },
  ]);
  assert.deepEqual(pairsOf(await b.server.kvScan({ ...b.scanRequest([], 10), version: 100n })), [[[2], [20]]]);
}));

/** A reader bounded to [start, end) like RaftStorage's RegionReader (iterators only: the scan never point-reads outside). */
class RegionBoundStorage implements Storage {
  constructor(
    private readonly engine: Engine,
    private readonly fixtures: Storage,
    private readonly region: { readonly start: Uint8Array; readonly end: Uint8Array },
  ) {}

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  write(ctx: StorageContext, batch: readonly Modify[]): Promise<void> {
    return this.fixtures.write(ctx, batch);
  }

  async reader(): Promise<StorageReader> {
    const view = this.engine.readView();
    const iterators: DBIterator[] = [];
    return {
      getCF: (cf: CfName, key: Uint8Array) => view.get(cf, key),
      iterCF: (cf: CfName) => {
        const it = new EngineIterator(view, cf, this.region);
        iterators.push(it);
        return it;
      },
      close: () => {
        for (const it of iterators) it.close();
        view.close();
      },
    };
  }
}

test('scan stays within the region its reader covers', () => withBuilder(async (b) => {
  await b.init([...SCAN_FIXTURE, { cf: CF_LOCK, key: [150], value: lockBytes([150], 1, 90) }]);
  // From before the region's start: begins at the region's first key, ends before [120].
  const res = await b.server.kvScan({ ...b.scanRequest([0], 10000), version: 200n });
  assert.deepEqual(pairsOf(res).map(([key]) => key), [[3], [3, 45], [3, 46], [3, 47], [3, 48], [4], [4, 45], [4, 46], [4, 47], [4, 48], [5, 45], [5, 46], [5, 47], [5, 48]]);
  assert.deepEqual(pairsOf(await b.server.kvScan({ ...b.scanRequest([5, 48], 10000), version: 200n })), [[[5, 48], [63]]]);
}, { serverStorage: (engine, fixtures) => new RegionBoundStorage(engine, fixtures, { start: buf(3), end: buf(120) }) }));

test('resolve commits many locks in latched rounds, leaving other txns alone', () => withBuilder(async (b) => {
  const n = 2 * resolveLockBatchKeysMax + 88;
  const key = (i: number): number[] => [Math.floor(i / 256), i % 256, 1];
  const fixtures: Kv[] = [];
  for (let i = 0; i < n; i++) {
    fixtures.push({ cf: CF_DEFAULT, key: key(i), ts: 100, value: [i % 256] }, { cf: CF_LOCK, key: key(i), value: lockBytes([0, 0, 1], 1, 100) });
    // Every tenth key also has a lock of txn 90 next to it.
    if (i % 10 === 0) fixtures.push({ cf: CF_LOCK, key: [...key(i), 9], value: lockBytes([9], 2, 90) });
  }
  await b.init(fixtures);
  const others = Math.ceil(n / 10);
  assert.deepEqual(await b.server.kvResolveLock(b.resolveRequest(100n, 130n)), { regionError: undefined, error: undefined });
  assert.equal(b.validations, Math.ceil(n / resolveLockBatchKeysMax));
  await b.assertLens(n, others, n);
  await b.assertKvs(Array.from({ length: n }, (_, i): Kv => ({ cf: CF_WRITE, key: key(i), ts: 130, value: writeBytes(1, 100) })));
  // Resolved: a second resolve finds nothing to do.
  assert.deepEqual(await b.server.kvResolveLock(b.resolveRequest(100n, 130n)), { regionError: undefined, error: undefined });
  await b.assertLens(n, others, n);
  assert.equal(b.server.latches.heldCount(), 0);
}));

test('resolve re-checks each lock under the latches: a commit that lands between its scan and its latch wins', () => withBuilder(async (b) => {
  await b.init([
    { cf: CF_DEFAULT, key: [3], ts: 100, value: [42] },
    { cf: CF_LOCK, key: [3], value: lockBytes([3], 1, 100) },
  ]);
  // The resolve takes its candidate read view at once; the commit, called
  // next, takes the latch of [3] before the resolve asks for it.
  const resolve = b.server.kvResolveLock(b.resolveRequest(100n, 0n));
  const commit = b.server.kvCommit({ context: undefined, startVersion: 100n, keys: [buf(3)], commitVersion: 110n });
  assert.deepEqual(await commit, { regionError: undefined, error: undefined });
  assert.deepEqual(await resolve, { regionError: undefined, error: undefined });
  // Committed, and the resolve wrote nothing: no rollback record, the value kept.
  await b.assertLens(1, 0, 1);
  await b.assertKvs([{ cf: CF_DEFAULT, key: [3], ts: 100 }, { cf: CF_WRITE, key: [3], ts: 110, value: writeBytes(1, 100) }]);
}));

test('check-txn-status with another txn\'s lock on the primary: decided by the txn\'s own write, the lock untouched', () => withBuilder(async (b) => {
  const other = lockBytes([3], 1, 90, 0x1_0000_0000n);
  // No write of the txn: it never prewrote here, so it is rolled back at lockTs.
  const req = b.checkTxnStatusRequest([3]);
  await b.init([{ cf: CF_DEFAULT, key: [3], ts: 90, value: [1] }, { cf: CF_LOCK, key: [3], value: other }]);
  const res = await b.server.kvCheckTxnStatus(req);
  assert.deepEqual(res, { regionError: undefined, lockTtl: 0, commitVersion: 0n, action: Action.LockNotExistRollback });
  await b.assertLens(1, 1, 1);
  await b.assertKvs([{ cf: CF_LOCK, key: [3], value: other }, { cf: CF_WRITE, key: [3], ts: req.lockTs, value: writeBytes(ROLLBACK, req.lockTs) }]);
  // Committed earlier (write at lockTs + 5): reported with its commit ts, nothing written.
  const next = b.checkTxnStatusRequest([3]);
  await b.init([{ cf: CF_WRITE, key: [3], ts: next.lockTs + 5n, value: writeBytes(1, next.lockTs) }]);
  const committed = await b.server.kvCheckTxnStatus(next);
  assert.deepEqual(committed, { regionError: undefined, lockTtl: 0, commitVersion: next.lockTs + 5n, action: Action.NoAction });
  await b.assertLens(1, 1, 2);
}));

test('check-txn-status: a live lock with TTL 0 answers lockTtl 1, never the "rolled back" encoding', () => withBuilder(async (b) => {
  const req = { ...b.checkTxnStatusRequest([3]) };
  await b.init([{ cf: CF_LOCK, key: [3], value: lockBytes([3], 1, req.lockTs, 0) }]);
  const res = await b.server.kvCheckTxnStatus({ ...req, currentTs: req.lockTs });
  assert.deepEqual(res, { regionError: undefined, lockTtl: 1, commitVersion: 0n, action: Action.NoAction });
  await b.assertLens(0, 1, 0);
}));

test('rollback keeps another txn\'s commit record stored at its start ts', () => withBuilder(async (b) => {
  const req = b.rollbackRequest([3]);
  // Txn 90 committed at 100, our start ts: a hand-picked collision a TSO never makes.
  await b.init([{ cf: CF_DEFAULT, key: [3], ts: 90, value: [9] }, { cf: CF_WRITE, key: [3], ts: 100, value: writeBytes(1, 90) }]);
  assert.deepEqual(await b.server.kvBatchRollback(req), { regionError: undefined, error: undefined });
  await b.assertLens(1, 0, 1);
  await b.assertKvs([{ cf: CF_WRITE, key: [3], ts: 100 }]);
}));

test('rollback, then the late prewrite and commit of that txn are refused', () => withBuilder(async (b) => {
  const rollback = b.rollbackRequest([3]);
  assert.equal((await b.server.kvBatchRollback(rollback)).error, undefined);
  const pre = await b.server.kvPrewrite({ context: undefined, mutations: [{ op: Op.Put, key: buf(3), value: buf(1) }], primaryLock: buf(3), startVersion: rollback.startVersion, lockTtl: 10 });
  assert.equal(pre.errors[0]?.conflict?.conflictTs, rollback.startVersion);
  const commit = await b.server.kvCommit({ context: undefined, startVersion: rollback.startVersion, keys: [buf(3)], commitVersion: 120n });
  assert.notEqual(commit.error?.abort ?? '', '');
  await b.assertLens(0, 0, 1);
}));
