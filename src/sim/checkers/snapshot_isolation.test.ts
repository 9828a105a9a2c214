import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkSnapshotIsolation } from './snapshot_isolation.js';
import type { ResolvedOutcome, TxnOutcome, TxnRead, TxnRecord } from './snapshot_isolation.js';

let nextId = 1;
function txn(startTs: number, commitTs: number | undefined, outcome: TxnOutcome, reads: [string, string | undefined][], writes: [string, string | undefined][]): TxnRecord {
  return {
    id: nextId++, client: 0, startTs: BigInt(startTs), commitTs: commitTs === undefined ? undefined : BigInt(commitTs), outcome,
    reads: reads.map(([key, value]): TxnRead => ({ key, value })), writes: new Map(writes),
  };
}

function check(txns: TxnRecord[], initial: [string, string][] = [], resolved = new Map<number, ResolvedOutcome>()): string[] {
  return checkSnapshotIsolation({ txns, initial: new Map(initial), resolved }).map((v) => `${v.kind}: ${v.message}`);
}

test('a serial history of transfers is snapshot-isolated', () => {
  const t1 = txn(10, 11, 'committed', [['a', 'a0'], ['b', 'b0']], [['a', 'a1'], ['b', 'b1']]);
  const t2 = txn(12, 13, 'committed', [['a', 'a1'], ['b', 'b1']], [['a', 'a2']]);
  const reader = txn(14, undefined, 'committed', [['a', 'a2'], ['b', 'b1'], ['c', undefined]], []);
  assert.deepEqual(check([t1, t2, reader], [['a', 'a0'], ['b', 'b0']]), []);
});

test('concurrent transactions read their own snapshots, not each other', () => {
  const t1 = txn(10, 20, 'committed', [['a', 'a0']], [['a', 'a1']]);
  // Started before t1 committed: must still see a0.
  const t2 = txn(15, 25, 'committed', [['a', 'a0'], ['b', undefined]], [['b', 'b1']]);
  assert.deepEqual(check([t1, t2], [['a', 'a0']]), []);
});

test('a dirty read of an aborted write is reported', () => {
  const t1 = txn(10, undefined, 'aborted', [], [['a', 'a1']]);
  const t2 = txn(12, 13, 'committed', [['a', 'a1']], []);
  const v = check([t1, t2], [['a', 'a0']]);
  assert.equal(v.length, 1);
  assert.match(v[0] as string, /^read: .*dirty read/);
});

test('a read from the future is reported', () => {
  const t1 = txn(10, 20, 'committed', [], [['a', 'a1']]);
  const t2 = txn(15, undefined, 'committed', [['a', 'a1']], []);
  assert.match(check([t1, t2], [['a', 'a0']])[0] as string, /read from the future/);
});

test('a fractured read (one key new, one key old, of the same writer) is reported', () => {
  const t1 = txn(10, 11, 'committed', [], [['a', 'a1'], ['b', 'b1']]);
  const t2 = txn(12, undefined, 'committed', [['a', 'a1'], ['b', 'b0']], []);
  const v = check([t1, t2], [['a', 'a0'], ['b', 'b0']]);
  assert.equal(v.length, 1);
  assert.match(v[0] as string, /read b = "b0"/);
});

test('a stale read of an overwritten value is reported', () => {
  const t1 = txn(10, 11, 'committed', [], [['a', 'a1']]);
  const t2 = txn(12, 13, 'committed', [], [['a', 'a2']]);
  const t3 = txn(14, undefined, 'committed', [['a', 'a1']], []);
  assert.match(check([t1, t2, t3])[0] as string, /stale or fractured/);
});

test('a lost update (two overlapping committed writers of a key) is reported', () => {
  const t1 = txn(10, 20, 'committed', [['a', 'a0']], [['a', 'a1']]);
  const t2 = txn(15, 25, 'committed', [['a', 'a0']], [['a', 'a2']]);
  const v = check([t1, t2], [['a', 'a0']]);
  assert.equal(v.length, 1);
  assert.match(v[0] as string, /^lost-update: lost update on a/);
});

test('unknown outcomes count as resolved by the cluster; an unresolved one is an error', () => {
  const t1 = txn(10, 11, 'unknown', [], [['a', 'a1']]);
  const t2 = txn(12, undefined, 'committed', [['a', 'a1']], []);
  assert.deepEqual(check([t1, t2], [], new Map([[t1.id, { committed: true, commitTs: 11n }]])), []);
  assert.match(check([t1, t2], [], new Map([[t1.id, { committed: false }]]))[0] as string, /dirty read/);
  assert.match(check([t1, t2])[0] as string, /not resolved/);
  assert.match(check([t1, t2], [], new Map([[t1.id, { committed: true, commitTs: 30n }]]))[0] as string, /client chose commit ts 11/);
});

test('timestamp rules: commit after start, unique commit timestamps', () => {
  assert.match(check([txn(10, 10, 'committed', [], [['a', 'x']])])[0] as string, /not after start/);
  const v = check([txn(10, 12, 'committed', [], [['a', 'x']]), txn(11, 12, 'committed', [], [['b', 'y']])]);
  assert.match(v[0] as string, /share commit ts 12/);
});

test('a delete makes the key absent in later snapshots', () => {
  const t1 = txn(10, 11, 'committed', [], [['a', undefined]]);
  const t2 = txn(12, undefined, 'committed', [['a', undefined]], []);
  const t3 = txn(9, undefined, 'committed', [['a', 'a0']], []);
  assert.deepEqual(check([t1, t2, t3], [['a', 'a0']]), []);
  assert.match(check([t1, txn(13, undefined, 'committed', [['a', 'a0']], [])], [['a', 'a0']])[0] as string, /holds <none>/);
});
