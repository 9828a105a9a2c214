// Goal: MvccTxn matches TinyKV's 4A tests (kv/transaction/mvcc/transaction_test.go):
// each mutator buffers exactly one Modify with TinyKV's CF, key and bytes, and
// the readers (getLock, getValue, currentWrite, mostRecentWrite) find the right
// version. Plus: rollback records do not hide older values, and corrupt
// entries surface as typed errors. Method: TinyKV's fixtures (singleEntry,
// twoEntries, deleted) written through StandaloneStorage over a MemEngine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CF_DEFAULT, CF_LOCK, CF_WRITE } from '../storage/engine.js';
import type { CfName } from '../storage/engine.js';
import { MemEngine } from '../storage/mem_engine.js';
import { StandaloneStorage } from '../storage/standalone_storage.js';
import type { Modify } from '../storage/storage.js';
import { encodeKey } from './codec.js';
import { MVCC_ERROR_CODES, MvccError } from './errors.js';
import { encodeLock } from './lock.js';
import type { Lock } from './lock.js';
import { MvccTxn } from './mvcc_txn.js';
import { encodeWrite, WriteKind } from './write.js';
import type { Write } from './write.js';

const CTX = { regionId: 1, term: 0 } as const;
const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
const K = bytes(16, 240);

/** TinyKV MemStorage.Set, batched: the fixture writes in `set` order. */
type Init = (set: (cf: CfName, key: Uint8Array, value: Uint8Array) => void) => void;

/** TinyKV testTxn: fresh storage, optional fixture, a txn over a reader. */
async function testTxn(startTs: bigint, init?: Init): Promise<MvccTxn> {
  const storage = new StandaloneStorage(new MemEngine());
  await storage.start();
  const batch: Modify[] = [];
  init?.((cf, key, value) => batch.push({ type: 'put', cf, key, value }));
  if (batch.length > 0) await storage.write(CTX, batch);
  return new MvccTxn(await storage.reader(CTX), startTs);
}

function assertPutInTxn(txn: MvccTxn, key: Uint8Array, value: Uint8Array, cf: CfName): void {
  assert.deepEqual(txn.writes(), [{ type: 'put', cf, key, value }]);
}

function assertDeleteInTxn(txn: MvccTxn, key: Uint8Array, cf: CfName): void {
  assert.deepEqual(txn.writes(), [{ type: 'delete', cf, key }]);
}

const singleEntry: Init = (set) => {
  set(CF_DEFAULT, encodeKey(K, 40n), bytes(1, 2, 3));
  set(CF_WRITE, encodeKey(K, 42n), encodeWrite({ startTs: 40n, kind: WriteKind.Put }));
};

const twoEntries: Init = (set) => {
  singleEntry(set);
  set(CF_DEFAULT, encodeKey(K, 50n), bytes(255, 0, 255));
  set(CF_WRITE, encodeKey(K, 52n), encodeWrite({ startTs: 50n, kind: WriteKind.Put }));
};

const deleted: Init = (set) => {
  singleEntry(set);
  set(CF_WRITE, encodeKey(K, 52n), encodeWrite({ startTs: 50n, kind: WriteKind.Delete }));
};

const LOCK: Lock = { primary: bytes(16), ts: 100n, ttl: 100000n, kind: WriteKind.Rollback };

test('TestPutLock4A', async () => {
  const txn = await testTxn(42n);
  txn.putLock(bytes(1), LOCK);
  assertPutInTxn(txn, bytes(1), encodeLock(LOCK), CF_LOCK);
});

test('TestPutWrite4A', async () => {
  const txn = await testTxn(0n);
  const write: Write = { startTs: 100n, kind: WriteKind.Delete };
  txn.putWrite(K, 0n, write);
  assertPutInTxn(txn, encodeKey(K, 0n), encodeWrite(write), CF_WRITE);
});

test('TestPutValue4A', async () => {
  const txn = await testTxn(453325345n);
  const value = bytes(1, 1, 2, 3, 5, 8, 13);
  txn.putValue(bytes(32), value);
  assertPutInTxn(txn, encodeKey(bytes(32), 453325345n), value, CF_DEFAULT);
});

test('TestGetLock4A', async () => {
  const txn = await testTxn(42n, (set) => set(CF_LOCK, bytes(1), encodeLock(LOCK)));
  assert.deepEqual(txn.getLock(bytes(1)), LOCK);
  assert.equal(txn.getLock(bytes(2)), undefined);
  assert.equal(txn.writes().length, 0);
});

test('TestDeleteLock4A', async () => {
  const txn = await testTxn(42n);
  txn.deleteLock(bytes(1));
  assertDeleteInTxn(txn, bytes(1), CF_LOCK);
});

test('TestDeleteValue4A', async () => {
  const txn = await testTxn(63454245n);
  txn.deleteValue(bytes(17, 255, 0));
  assertDeleteInTxn(txn, encodeKey(bytes(17, 255, 0), 63454245n), CF_DEFAULT);
});

test('TestGetValueSimple4A', async () => {
  const txn = await testTxn(43n, singleEntry);
  assert.deepEqual(txn.getValue(K), bytes(1, 2, 3));
});

test('TestGetValueMissing4A', async () => {
  const txn = await testTxn(43n, singleEntry);
  assert.equal(txn.getValue(bytes(16, 241)), undefined);
});

test('TestGetValueTooEarly4A', async () => {
  const txn = await testTxn(41n, singleEntry);
  assert.equal(txn.getValue(K), undefined);
});

test('TestGetValueOverwritten4A', async () => {
  const txn = await testTxn(52n, twoEntries);
  assert.deepEqual(txn.getValue(K), bytes(255, 0, 255));
});

test('TestGetValueNotOverwritten4A', async () => {
  const txn = await testTxn(50n, twoEntries);
  assert.deepEqual(txn.getValue(K), bytes(1, 2, 3));
});

test('TestGetValueDeleted4A', async () => {
  const txn = await testTxn(500n, deleted);
  assert.equal(txn.getValue(K), undefined);
});

test('TestGetValueNotDeleted4A', async () => {
  const txn = await testTxn(45n, deleted);
  assert.deepEqual(txn.getValue(K), bytes(1, 2, 3));
});

test('TestCurrentWrite4A', async () => {
  // TinyKV reassigns txn.StartTS; startTs is readonly here, so each case gets a txn.
  const at50 = await testTxn(50n, twoEntries);
  assert.deepEqual(at50.currentWrite(K), { write: { startTs: 50n, kind: WriteKind.Put }, commitTs: 52n });
  const at40 = await testTxn(40n, twoEntries);
  assert.deepEqual(at40.currentWrite(K), { write: { startTs: 40n, kind: WriteKind.Put }, commitTs: 42n });
  const at41 = await testTxn(41n, twoEntries);
  assert.equal(at41.currentWrite(K), undefined);
  assert.equal(at41.writes().length, 0);
});

test('TestMostRecentWrite4A', async () => {
  // Empty DB.
  assert.equal((await testTxn(50n)).mostRecentWrite(K), undefined);
  // Key exists; the read buffers nothing.
  const txn = await testTxn(50n, twoEntries);
  assert.deepEqual(txn.mostRecentWrite(K), { write: { startTs: 50n, kind: WriteKind.Put }, commitTs: 52n });
  assert.equal(txn.writes().length, 0);
  // Key does not exist: a prefix of it, and a neighbour of it.
  assert.equal((await testTxn(50n, twoEntries)).mostRecentWrite(bytes(16)), undefined);
  assert.equal((await testTxn(50n, twoEntries)).mostRecentWrite(bytes(16, 241)), undefined);
  // The latest write is a delete.
  const del = await testTxn(50n, deleted);
  assert.deepEqual(del.mostRecentWrite(K), { write: { startTs: 50n, kind: WriteKind.Delete }, commitTs: 52n });
  assert.equal(del.writes().length, 0);
});

test('getValue() skips rollback records to the value committed before them', async () => {
  const rolledBack: Init = (set) => {
    singleEntry(set);
    set(CF_WRITE, encodeKey(K, 60n), encodeWrite({ startTs: 60n, kind: WriteKind.Rollback }));
  };
  const txn = await testTxn(70n, rolledBack);
  assert.deepEqual(txn.getValue(K), bytes(1, 2, 3));
  assert.deepEqual(txn.mostRecentWrite(K), { write: { startTs: 60n, kind: WriteKind.Rollback }, commitTs: 60n });
  const own = await testTxn(60n, rolledBack);
  assert.deepEqual(own.currentWrite(K), { write: { startTs: 60n, kind: WriteKind.Rollback }, commitTs: 60n });
});

test('mutators buffer in call order and reads do not see them', async () => {
  const txn = await testTxn(10n);
  txn.putValue(K, bytes(7));
  txn.putLock(K, { primary: K, ts: 10n, ttl: 5n, kind: WriteKind.Put });
  txn.putWrite(K, 11n, { startTs: 10n, kind: WriteKind.Put });
  assert.deepEqual(
    txn.writes().map((m) => m.cf),
    [CF_DEFAULT, CF_LOCK, CF_WRITE],
  );
  assert.equal(txn.getLock(K), undefined);
  assert.equal(txn.mostRecentWrite(K), undefined);
});

test('corrupt entries surface as typed MvccErrors', async () => {
  const isCode = (code: string) => (e: unknown) => e instanceof MvccError && e.code === code;
  const badLock = await testTxn(10n, (set) => set(CF_LOCK, K, bytes(1, 2, 3)));
  assert.throws(() => badLock.getLock(K), isCode(MVCC_ERROR_CODES.BadLock));
  const badWrite = await testTxn(60n, (set) => set(CF_WRITE, encodeKey(K, 42n), bytes(9)));
  assert.throws(() => badWrite.getValue(K), isCode(MVCC_ERROR_CODES.BadWrite));
  assert.throws(() => badWrite.mostRecentWrite(K), isCode(MVCC_ERROR_CODES.BadWrite));
  // A CF write key that is not an MVCC key (no timestamp), the first key after K's
  // (absent) versions, so the scan decodes it.
  const badKey = await testTxn(60n, (set) => set(CF_WRITE, bytes(16, 240, 0, 0, 0, 0, 0, 0, 250), bytes(1)));
  assert.throws(() => badKey.mostRecentWrite(K), isCode(MVCC_ERROR_CODES.BadKey));
  const missing = await testTxn(60n, (set) =>
    set(CF_WRITE, encodeKey(K, 42n), encodeWrite({ startTs: 40n, kind: WriteKind.Put })),
  );
  assert.throws(() => missing.getValue(K), isCode(MVCC_ERROR_CODES.MissingValue));
});
