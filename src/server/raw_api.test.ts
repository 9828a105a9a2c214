// Goal: TinyKV Project 1's acceptance tests (kv/server/server_test.go, the
// ten *1 tests) hold for our raw API. Method: each test runs four times:
// handlers called directly and through the real gRPC server on loopback port 0,
// each on LMDB and on the in-memory engine. Set/Get/Iter go to Storage
// directly, as in TinyKV's harness.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CF_DEFAULT, CF_WRITE } from '../storage/engine.js';
import type { CfName } from '../storage/engine.js';
import type { Storage } from '../storage/storage.js';
import { startHarness } from './_test_driver.js';
import type { EngineKind, Harness, Mode } from './_test_driver.js';

const b = (...bytes: number[]): Buffer => Buffer.from(bytes);
const CTX = { regionId: 0, term: 0 };

async function set(storage: Storage, cf: CfName, key: Buffer, value: Buffer): Promise<void> {
  await storage.write(CTX, [{ type: 'put', cf, key, value }]);
}

async function get(storage: Storage, cf: CfName, key: Buffer): Promise<Uint8Array | undefined> {
  const reader = await storage.reader(CTX);
  try {
    return reader.getCF(cf, key);
  } finally {
    reader.close();
  }
}

async function seedScanData(storage: Storage): Promise<void> {
  for (let i = 1; i <= 5; i++) await set(storage, CF_DEFAULT, b(i), b(233, i));
}

function suite(mode: Mode, engine: EngineKind): void {
  describe(`Project 1 raw API (${mode}, ${engine})`, () => {
    const run = (name: string, body: (h: Harness) => Promise<void>): void => {
      test(name, async () => {
        const h = await startHarness(mode, engine);
        try {
          await body(h);
        } finally {
          await h.dispose();
        }
      });
    };

    run('TestRawGet1', async ({ storage, api }) => {
      await set(storage, CF_DEFAULT, b(99), b(42));
      const res = await api.rawGet({ context: undefined, key: b(99), cf: CF_DEFAULT });
      assert.equal(res.error, '');
      assert.equal(res.notFound, false);
      assert.deepEqual([...res.value], [42]);
    });

    run('TestRawGetNotFound1', async ({ api }) => {
      const res = await api.rawGet({ context: undefined, key: b(99), cf: CF_DEFAULT });
      assert.equal(res.error, '');
      assert.equal(res.notFound, true);
    });

    run('TestRawPut1', async ({ storage, api }) => {
      const res = await api.rawPut({ context: undefined, key: b(99), value: b(42), cf: CF_DEFAULT });
      assert.equal(res.error, '');
      assert.deepEqual(await get(storage, CF_DEFAULT, b(99)), new Uint8Array([42]));
    });

    run('TestRawGetAfterRawPut1', async ({ api }) => {
      await api.rawPut({ context: undefined, key: b(99), value: b(42), cf: CF_DEFAULT });
      await api.rawPut({ context: undefined, key: b(99), value: b(44), cf: CF_WRITE });
      const d = await api.rawGet({ context: undefined, key: b(99), cf: CF_DEFAULT });
      const w = await api.rawGet({ context: undefined, key: b(99), cf: CF_WRITE });
      assert.deepEqual([...d.value], [42]);
      assert.deepEqual([...w.value], [44]);
    });

    run('TestRawGetAfterRawDelete1', async ({ storage, api }) => {
      await set(storage, CF_DEFAULT, b(99), b(42));
      const del = await api.rawDelete({ context: undefined, key: b(99), cf: CF_DEFAULT });
      assert.equal(del.error, '');
      const res = await api.rawGet({ context: undefined, key: b(99), cf: CF_DEFAULT });
      assert.equal(res.notFound, true);
    });

    run('TestRawDelete1', async ({ storage, api }) => {
      await set(storage, CF_DEFAULT, b(99), b(42));
      await api.rawDelete({ context: undefined, key: b(99), cf: CF_DEFAULT });
      assert.equal(await get(storage, CF_DEFAULT, b(99)), undefined);
    });

    run('TestRawScan1', async ({ storage, api }) => {
      await seedScanData(storage);
      const res = await api.rawScan({ context: undefined, startKey: b(1), limit: 3, cf: CF_DEFAULT });
      assert.equal(res.error, '');
      assert.deepEqual(
        res.kvs.map((kv) => [[...kv.key], [...kv.value]]),
        [1, 2, 3].map((i) => [[i], [233, i]]),
      );
    });

    run('TestRawScanAfterRawPut1', async ({ storage, api }) => {
      for (let i = 1; i <= 4; i++) await set(storage, CF_DEFAULT, b(i), b(233, i));
      await api.rawPut({ context: undefined, key: b(5), value: b(233, 5), cf: CF_DEFAULT });
      const res = await api.rawScan({ context: undefined, startKey: b(1), limit: 10, cf: CF_DEFAULT });
      assert.deepEqual(
        res.kvs.map((kv) => [...kv.key]),
        [[1], [2], [3], [4], [5]],
      );
    });

    run('TestRawScanAfterRawDelete1', async ({ storage, api }) => {
      for (let i = 1; i <= 4; i++) await set(storage, CF_DEFAULT, b(i), b(233, i));
      await api.rawDelete({ context: undefined, key: b(3), cf: CF_DEFAULT });
      const res = await api.rawScan({ context: undefined, startKey: b(1), limit: 10, cf: CF_DEFAULT });
      assert.deepEqual(
        res.kvs.map((kv) => [...kv.key]),
        [[1], [2], [4]],
      );
    });

    run('TestIterWithRawDelete1', async ({ storage, api }) => {
      for (let i = 1; i <= 4; i++) await set(storage, CF_DEFAULT, b(i), b(233, i));
      const reader = await storage.reader(CTX);
      try {
        const it = reader.iterCF(CF_DEFAULT);
        await api.rawDelete({ context: undefined, key: b(3), cf: CF_DEFAULT });
        const keys: number[][] = [];
        for (it.seek(b(1)); it.valid(); it.next()) keys.push([...it.item().key]);
        assert.deepEqual(keys, [[1], [2], [3], [4]]);
      } finally {
        reader.close();
      }
    });
  });
}

for (const mode of ['direct', 'grpc'] as const) {
  for (const engine of ['lmdb', 'memory'] as const) suite(mode, engine);
}
