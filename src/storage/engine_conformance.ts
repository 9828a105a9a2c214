/**
 * The engine conformance suite: one set of behavioural tests that every
 * {@link Engine} implementation must pass (LMDB in production, the in-memory
 * engine in tests and the simulator). Register it with
 * `describeEngineConformance(name, open)` from a `*.test.ts` file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CF_DEFAULT, CF_LOCK, CF_WRITE, EngineError, ENGINE_ERROR_CODES } from './engine.js';
import type { Engine, KvEntry } from './engine.js';
import { WriteBatch } from './write_batch.js';
import { engineKeyBytesMax } from '../config/limits.js';

export interface EngineHarness {
  readonly engine: Engine;
  /** Closes the engine (if still open) and removes its files. */
  dispose(): Promise<void>;
}

const k = (...bytes: number[]): Uint8Array => new Uint8Array(bytes);
const keysOf = (entries: Iterable<KvEntry>): number[][] => [...entries].map((e) => [...e.key]);

async function withEngine(open: () => Promise<EngineHarness>, body: (engine: Engine) => Promise<void>): Promise<void> {
  const harness = await open();
  try {
    await body(harness.engine);
  } finally {
    await harness.dispose();
  }
}

async function putAll(engine: Engine, cf: 'default' | 'lock' | 'write', keys: number[]): Promise<void> {
  const batch = new WriteBatch();
  for (const key of keys) batch.put(cf, k(key), k(key, key));
  await engine.write(batch, { sync: true });
}

export function describeEngineConformance(name: string, open: () => Promise<EngineHarness>): void {
  describe(`engine conformance: ${name}`, () => {
    test('get returns what put wrote and undefined for missing keys', () =>
      withEngine(open, async (engine) => {
        await putAll(engine, CF_DEFAULT, [1, 2]);
        assert.deepEqual(engine.get(CF_DEFAULT, k(1)), k(1, 1));
        assert.equal(engine.get(CF_DEFAULT, k(3)), undefined);
      }));

    test('column families are independent key spaces', () =>
      withEngine(open, async (engine) => {
        const batch = new WriteBatch().put(CF_DEFAULT, k(7), k(42)).put(CF_WRITE, k(7), k(44));
        await engine.write(batch, { sync: false });
        assert.deepEqual(engine.get(CF_DEFAULT, k(7)), k(42));
        assert.deepEqual(engine.get(CF_WRITE, k(7)), k(44));
        assert.equal(engine.get(CF_LOCK, k(7)), undefined);
        assert.deepEqual(keysOf(engine.scan(CF_WRITE)), [[7]]);
      }));

    test('a batch applies its operations in order, across column families', () =>
      withEngine(open, async (engine) => {
        const batch = new WriteBatch()
          .put(CF_DEFAULT, k(1), k(1))
          .put(CF_DEFAULT, k(1), k(2))
          .put(CF_LOCK, k(2), k(2))
          .delete(CF_LOCK, k(2))
          .put(CF_WRITE, k(3), k(3))
          .deleteRange(CF_WRITE, k(0), k(9))
          .put(CF_WRITE, k(4), k(4));
        await engine.write(batch, { sync: true });
        assert.deepEqual(engine.get(CF_DEFAULT, k(1)), k(2));
        assert.equal(engine.get(CF_LOCK, k(2)), undefined);
        assert.deepEqual(keysOf(engine.scan(CF_WRITE)), [[4]]);
      }));

    test('scan honours inclusive start, exclusive end, limit and reverse', () =>
      withEngine(open, async (engine) => {
        await putAll(engine, CF_DEFAULT, [1, 2, 3, 4, 5]);
        assert.deepEqual(keysOf(engine.scan(CF_DEFAULT)), [[1], [2], [3], [4], [5]]);
        assert.deepEqual(keysOf(engine.scan(CF_DEFAULT, { start: k(2), end: k(4) })), [[2], [3]]);
        assert.deepEqual(keysOf(engine.scan(CF_DEFAULT, { start: k(2), end: k(4), reverse: true })), [[3], [2]]);
        assert.deepEqual(keysOf(engine.scan(CF_DEFAULT, { reverse: true, limit: 2 })), [[5], [4]]);
        assert.deepEqual(keysOf(engine.scan(CF_DEFAULT, { start: k(3), limit: 1 })), [[3]]);
        assert.deepEqual(keysOf(engine.scan(CF_DEFAULT, { start: k(2, 0), end: k(3, 0) })), [[3]]);
        assert.deepEqual(keysOf(engine.scan(CF_DEFAULT, { start: k(9) })), []);
        assert.deepEqual(keysOf(engine.scan(CF_DEFAULT, { end: new Uint8Array() })).length, 5);
        assert.deepEqual(keysOf(engine.scan(CF_DEFAULT, { limit: 0 })), []);
      }));

    test('keys order by unsigned bytes with prefixes first', () =>
      withEngine(open, async (engine) => {
        const batch = new WriteBatch();
        for (const key of [k(0xff), k(1, 0), k(1), k(0x80), k(0, 0xff)]) batch.put(CF_DEFAULT, key, k(0));
        await engine.write(batch, { sync: false });
        assert.deepEqual(keysOf(engine.scan(CF_DEFAULT)), [[0, 0xff], [1], [1, 0], [0x80], [0xff]]);
      }));

    test('a read view is a point-in-time snapshot across column families', () =>
      withEngine(open, async (engine) => {
        await putAll(engine, CF_DEFAULT, [1, 2, 3]);
        await putAll(engine, CF_LOCK, [1]);
        const view = engine.readView();
        try {
          const batch = new WriteBatch()
            .put(CF_DEFAULT, k(2), k(99))
            .delete(CF_DEFAULT, k(3))
            .put(CF_DEFAULT, k(4), k(4))
            .deleteRange(CF_LOCK, new Uint8Array(), new Uint8Array());
          await engine.write(batch, { sync: true });
          assert.deepEqual(view.get(CF_DEFAULT, k(2)), k(2, 2));
          assert.deepEqual(keysOf(view.scan(CF_DEFAULT)), [[1], [2], [3]]);
          assert.deepEqual(keysOf(view.scan(CF_LOCK)), [[1]]);
          assert.deepEqual(engine.get(CF_DEFAULT, k(2)), k(99));
          assert.deepEqual(keysOf(engine.scan(CF_DEFAULT)), [[1], [2], [4]]);
          assert.deepEqual(keysOf(engine.scan(CF_LOCK)), []);
        } finally {
          view.close();
        }
        assert.throws(() => view.get(CF_DEFAULT, k(1)), isEngineError(ENGINE_ERROR_CODES.Closed));
      }));

    test('deleteRange removes exactly [start, end) and accepts open bounds', () =>
      withEngine(open, async (engine) => {
        await putAll(engine, CF_DEFAULT, [1, 2, 3, 4, 5, 6]);
        await engine.write(new WriteBatch().deleteRange(CF_DEFAULT, k(2), k(4)), { sync: true });
        assert.deepEqual(keysOf(engine.scan(CF_DEFAULT)), [[1], [4], [5], [6]]);
        await engine.write(new WriteBatch().deleteRange(CF_DEFAULT, k(5), new Uint8Array()), { sync: true });
        assert.deepEqual(keysOf(engine.scan(CF_DEFAULT)), [[1], [4]]);
        await engine.write(new WriteBatch().deleteRange(CF_DEFAULT, new Uint8Array(), k(4)), { sync: true });
        assert.deepEqual(keysOf(engine.scan(CF_DEFAULT)), [[4]]);
        await engine.write(new WriteBatch().deleteRange(CF_DEFAULT, k(7), k(3)), { sync: true });
        assert.deepEqual(keysOf(engine.scan(CF_DEFAULT)), [[4]]);
      }));

    test('returned keys and values are owned by the caller', () =>
      withEngine(open, async (engine) => {
        const value = k(1, 2, 3);
        await engine.write(new WriteBatch().put(CF_DEFAULT, k(1), value), { sync: false });
        value[0] = 9;
        const got = engine.get(CF_DEFAULT, k(1));
        assert.deepEqual(got, k(1, 2, 3));
        if (got !== undefined) got[1] = 9;
        assert.deepEqual(engine.get(CF_DEFAULT, k(1)), k(1, 2, 3));
        await putAll(engine, CF_DEFAULT, [2, 3, 4]);
        const entries = [...engine.scan(CF_DEFAULT)];
        assert.deepEqual(entries.map((e) => [...e.value]), [[1, 2, 3], [2, 2], [3, 3], [4, 4]]);
      }));

    test('keys that are empty or longer than the engine limit are rejected before writing', () =>
      withEngine(open, async (engine) => {
        assert.throws(() => new WriteBatch().put(CF_DEFAULT, new Uint8Array(), k(1)), isEngineError(ENGINE_ERROR_CODES.InvalidKey));
        const long = new Uint8Array(engineKeyBytesMax + 1);
        assert.throws(() => new WriteBatch().put(CF_DEFAULT, long, k(1)), isEngineError(ENGINE_ERROR_CODES.InvalidKey));
        const longest = new Uint8Array(engineKeyBytesMax).fill(7);
        await engine.write(new WriteBatch().put(CF_DEFAULT, longest, k(1)), { sync: true });
        assert.deepEqual(engine.get(CF_DEFAULT, longest), k(1));
      }));

    test('large values round-trip', () =>
      withEngine(open, async (engine) => {
        const big = new Uint8Array(1024 * 1024).map((_, i) => i % 251);
        await engine.write(new WriteBatch().put(CF_DEFAULT, k(1), big), { sync: true });
        assert.deepEqual(engine.get(CF_DEFAULT, k(1)), big);
      }));

    test('writes submitted together all commit, and the last write of a key wins', () =>
      withEngine(open, async (engine) => {
        const writes: Promise<void>[] = [];
        for (let i = 0; i < 50; i++) {
          writes.push(engine.write(new WriteBatch().put(CF_DEFAULT, k(1), k(i)).put(CF_DEFAULT, k(2, i), k(i)), { sync: i % 2 === 0 }));
        }
        await Promise.all(writes);
        assert.deepEqual(engine.get(CF_DEFAULT, k(1)), k(49));
        assert.equal([...engine.scan(CF_DEFAULT, { start: k(2), end: k(3) })].length, 50);
      }));

    test('an empty batch is a no-op', () =>
      withEngine(open, async (engine) => {
        await engine.write(new WriteBatch(), { sync: true });
        assert.deepEqual(keysOf(engine.scan(CF_DEFAULT)), []);
      }));

    test('a closed engine rejects reads and writes with ENGINE_CLOSED', () =>
      withEngine(open, async (engine) => {
        await engine.close();
        await engine.close();
        assert.throws(() => engine.get(CF_DEFAULT, k(1)), isEngineError(ENGINE_ERROR_CODES.Closed));
        assert.throws(() => engine.readView(), isEngineError(ENGINE_ERROR_CODES.Closed));
        await assert.rejects(engine.write(new WriteBatch().put(CF_DEFAULT, k(1), k(1)), { sync: true }), isEngineError(ENGINE_ERROR_CODES.Closed));
      }));
  });
}

export function isEngineError(code: string): (err: unknown) => boolean {
  return (err: unknown) => err instanceof EngineError && err.code === code;
}
