// Goal: MemEngine-specific guarantees beyond the shared engine conformance
// suite: read views and running scans are frozen at their start even across
// range deletes, a batch naming an unopened column family changes nothing,
// writes are visible synchronously, buffers are copied in and out, and a
// closed engine or view refuses every read. Method: small deterministic examples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fromUtf8, utf8 } from '../util/bytes.js';
import { CF_DEFAULT, CF_LOCK, CF_RAFT, CF_WRITE, ENGINE_ERROR_CODES, EngineError } from './engine.js';
import type { CfName, KvEntry, Reader, ScanOptions } from './engine.js';
import { MemEngine } from './mem_engine.js';
import { WriteBatch } from './write_batch.js';

const SYNC = { sync: true } as const;

function keys(reader: Reader, cf: CfName, options?: ScanOptions): string[] {
  return Array.from(reader.scan(cf, options), (e: KvEntry) => fromUtf8(e.key));
}

function isEngineError(code: string): (error: unknown) => boolean {
  return (error) => error instanceof EngineError && error.code === code;
}

async function seeded(): Promise<MemEngine> {
  const engine = new MemEngine();
  const batch = new WriteBatch();
  for (const k of ['a', 'b', 'c', 'd', 'e']) batch.put(CF_DEFAULT, utf8(k), utf8(`v${k}`));
  batch.put(CF_LOCK, utf8('b'), utf8('lock-b'));
  await engine.write(batch, SYNC);
  return engine;
}

test('a read view is unaffected by later puts, deletes and range deletes', async () => {
  const engine = await seeded();
  const view = engine.readView();
  await engine.write(
    new WriteBatch()
      .deleteRange(CF_DEFAULT, utf8('b'), utf8('d'))
      .delete(CF_DEFAULT, utf8('a'))
      .put(CF_DEFAULT, utf8('e'), utf8('new'))
      .deleteRange(CF_LOCK, new Uint8Array(), new Uint8Array()),
    SYNC,
  );
  assert.deepEqual(keys(engine, CF_DEFAULT), ['d', 'e']);
  assert.equal(fromUtf8(engine.get(CF_DEFAULT, utf8('e')) ?? new Uint8Array()), 'new');
  assert.deepEqual(keys(engine, CF_LOCK), []);

  assert.deepEqual(keys(view, CF_DEFAULT), ['a', 'b', 'c', 'd', 'e']);
  assert.equal(fromUtf8(view.get(CF_DEFAULT, utf8('e')) ?? new Uint8Array()), 've');
  assert.equal(fromUtf8(view.get(CF_LOCK, utf8('b')) ?? new Uint8Array()), 'lock-b');
  assert.equal(engine.openViewCount, 1);
  view.close();
  view.close();
  assert.equal(engine.openViewCount, 0);
  assert.throws(() => view.get(CF_DEFAULT, utf8('a')), isEngineError(ENGINE_ERROR_CODES.Closed));
  assert.throws(() => view.scan(CF_DEFAULT), isEngineError(ENGINE_ERROR_CODES.Closed));
});

test('a scan keeps seeing the state it started with', async () => {
  const engine = await seeded();
  const iterator = engine.scan(CF_DEFAULT);
  assert.equal(fromUtf8(iterator.next().value?.key ?? new Uint8Array()), 'a');
  await engine.write(new WriteBatch().deleteRange(CF_DEFAULT, new Uint8Array(), new Uint8Array()), SYNC);
  assert.deepEqual(Array.from(iterator, (e) => fromUtf8(e.key)), ['b', 'c', 'd', 'e']);
  assert.deepEqual(keys(engine, CF_DEFAULT), []);
});

test('a batch naming an unopened column family is rejected and applies nothing', async () => {
  const engine = new MemEngine({ cfs: [CF_DEFAULT, CF_WRITE] });
  await engine.write(new WriteBatch().put(CF_DEFAULT, utf8('k'), utf8('old')), SYNC);
  const batch = new WriteBatch()
    .put(CF_DEFAULT, utf8('k'), utf8('new'))
    .put(CF_WRITE, utf8('w'), utf8('w'))
    .put(CF_RAFT, utf8('r'), utf8('r'));
  await assert.rejects(engine.write(batch, SYNC), isEngineError(ENGINE_ERROR_CODES.UnknownCf));
  assert.equal(fromUtf8(engine.get(CF_DEFAULT, utf8('k')) ?? new Uint8Array()), 'old');
  assert.deepEqual(keys(engine, CF_WRITE), []);
  assert.throws(() => engine.get(CF_RAFT, utf8('r')), isEngineError(ENGINE_ERROR_CODES.UnknownCf));
  assert.throws(() => engine.scan(CF_RAFT), isEngineError(ENGINE_ERROR_CODES.UnknownCf));
});

test('a write is visible before its promise is awaited', async () => {
  const engine = new MemEngine();
  const pending = engine.write(new WriteBatch().put(CF_DEFAULT, utf8('k'), utf8('v')), { sync: false });
  assert.equal(fromUtf8(engine.get(CF_DEFAULT, utf8('k')) ?? new Uint8Array()), 'v');
  await pending;
});

test('keys and values are copied on write and on read', async () => {
  const engine = new MemEngine();
  const key = utf8('k');
  const value = utf8('v');
  await engine.write(new WriteBatch().put(CF_DEFAULT, key, value), SYNC);
  key[0] = 0x78;
  value[0] = 0x78;
  const read = engine.get(CF_DEFAULT, utf8('k'));
  assert.deepEqual(read, utf8('v'));
  read?.fill(0);
  const [entry] = engine.scan(CF_DEFAULT);
  assert.deepEqual(entry?.value, utf8('v'));
  entry?.key.fill(0);
  assert.deepEqual(keys(engine, CF_DEFAULT), ['k']);
});

test('scan honours bounds, reverse and limit', async () => {
  const engine = await seeded();
  assert.deepEqual(keys(engine, CF_DEFAULT, { start: utf8('b'), end: utf8('d') }), ['b', 'c']);
  assert.deepEqual(keys(engine, CF_DEFAULT, { start: utf8('b'), end: utf8('d'), reverse: true }), ['c', 'b']);
  assert.deepEqual(keys(engine, CF_DEFAULT, { end: new Uint8Array(), reverse: true, limit: 2 }), ['e', 'd']);
  assert.deepEqual(keys(engine, CF_DEFAULT, { start: utf8('bb'), limit: 0 }), []);
  assert.deepEqual(keys(engine, CF_DEFAULT, { start: utf8('d'), end: utf8('b') }), []);
});

test('a closed engine rejects writes and refuses reads, also from open views and scans', async () => {
  const engine = await seeded();
  const view = engine.readView();
  const iterator = engine.scan(CF_DEFAULT);
  iterator.next();
  await engine.close();
  await engine.close();
  const late = new WriteBatch().put(CF_DEFAULT, utf8('x'), utf8('x'));
  await assert.rejects(engine.write(late, SYNC), isEngineError(ENGINE_ERROR_CODES.Closed));
  assert.throws(() => engine.get(CF_DEFAULT, utf8('a')), isEngineError(ENGINE_ERROR_CODES.Closed));
  assert.throws(() => engine.scan(CF_DEFAULT), isEngineError(ENGINE_ERROR_CODES.Closed));
  assert.throws(() => engine.readView(), isEngineError(ENGINE_ERROR_CODES.Closed));
  assert.throws(() => view.get(CF_DEFAULT, utf8('a')), isEngineError(ENGINE_ERROR_CODES.Closed));
  assert.throws(() => iterator.next(), isEngineError(ENGINE_ERROR_CODES.Closed));
  view.close();
});
