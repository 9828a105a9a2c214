// Goal: bad input gets a clear, documented error (docs/ERRORS.md), the server
// keeps serving and nothing stored changes (DEVELOPERS.md rule 5). Method:
// a real gRPC server on loopback; each bad request is sent, its answer
// checked, then the store is verified untouched and a good request served.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { scanLimitMax, userKeyBytesMax, userValueBytesMax } from '../config/limits.js';
import { Action, RawGetRequest } from '../pb/kvrpcpb.js';
import type {
  BatchRollbackRequest,
  BatchRollbackResponse,
  CheckTxnStatusRequest,
  CheckTxnStatusResponse,
  GetResponse,
  ResolveLockRequest,
  ResolveLockResponse,
  ScanRequest,
  ScanResponse,
} from '../pb/kvrpcpb.js';
import { CF_DEFAULT } from '../storage/engine.js';
import { startHarness } from './_test_driver.js';
import type { Harness } from './_test_driver.js';

const b = (...bytes: number[]): Buffer => Buffer.from(bytes);

describe('bad input over gRPC', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness('grpc');
    await h.api.rawPut({ context: undefined, key: b(1), value: b(10), cf: '' });
  });
  after(() => h.dispose());

  async function assertUntouched(): Promise<void> {
    const res = await h.api.rawScan({ context: undefined, startKey: Buffer.alloc(0), limit: 100, cf: '' });
    assert.deepEqual(
      res.kvs.map((kv) => [[...kv.key], [...kv.value]]),
      [[[1], [10]]],
    );
  }

  test('empty key', async () => {
    for (const res of [
      await h.api.rawGet({ context: undefined, key: Buffer.alloc(0), cf: '' }),
      await h.api.rawPut({ context: undefined, key: Buffer.alloc(0), value: b(1), cf: '' }),
      await h.api.rawDelete({ context: undefined, key: Buffer.alloc(0), cf: '' }),
    ]) {
      assert.equal(res.error, 'InvalidArgument: key is empty');
    }
    await assertUntouched();
  });

  test('key over the limit', async () => {
    const key = Buffer.alloc(userKeyBytesMax + 1, 7);
    const expected = `InvalidArgument: key is ${userKeyBytesMax + 1} bytes, the limit is ${userKeyBytesMax}`;
    assert.equal((await h.api.rawPut({ context: undefined, key, value: b(1), cf: '' })).error, expected);
    assert.equal((await h.api.rawGet({ context: undefined, key, cf: '' })).error, expected);
    const scan = await h.api.rawScan({ context: undefined, startKey: key, limit: 1, cf: '' });
    assert.match(scan.error, /^InvalidArgument: start key is 1025 bytes/);
    await assertUntouched();
  });

  test('a key at the limit is accepted', async () => {
    const key = Buffer.alloc(userKeyBytesMax, 0xff);
    assert.equal((await h.api.rawPut({ context: undefined, key, value: b(1), cf: '' })).error, '');
    assert.deepEqual([...(await h.api.rawGet({ context: undefined, key, cf: '' })).value], [1]);
    assert.equal((await h.api.rawDelete({ context: undefined, key, cf: '' })).error, '');
  });

  test('value over the limit', async () => {
    const res = await h.api.rawPut({ context: undefined, key: b(1), value: Buffer.alloc(userValueBytesMax + 1), cf: '' });
    assert.equal(res.error, `InvalidArgument: value is ${userValueBytesMax + 1} bytes, the limit is ${userValueBytesMax}`);
    await assertUntouched();
  });

  test('unknown and internal column families', async () => {
    for (const cf of ['bogus', 'raft', 'meta', 'DEFAULT']) {
      const res = await h.api.rawPut({ context: undefined, key: b(1), value: b(2), cf });
      assert.equal(res.error, `InvalidArgument: unknown column family "${cf}" (expected default, lock, write)`);
    }
    await assertUntouched();
  });

  test('scan limit 0 or above the maximum', async () => {
    for (const limit of [0, scanLimitMax + 1]) {
      const res = await h.api.rawScan({ context: undefined, startKey: b(1), limit, cf: CF_DEFAULT });
      assert.equal(res.error, `InvalidArgument: scan limit must be between 1 and ${scanLimitMax}, got ${limit}`);
      assert.equal(res.kvs.length, 0);
    }
  });

  test('undecodable request bytes get INVALID_ARGUMENT', async () => {
    assert.ok(h.client);
    const client = h.client;
    const send = (bytes: Buffer): Promise<grpc.ServiceError | null> =>
      new Promise((resolve) => {
        client.makeUnaryRequest(
          '/tinykvpb.TinyKv/RawPut',
          (x: Buffer) => x,
          (x: Buffer) => x,
          bytes,
          (err) => resolve(err),
        );
      });
    // Field 2 (key) claims 100 bytes but only 3 follow.
    const truncated = await send(Buffer.from([0x12, 100, 1, 2, 3]));
    assert.equal(truncated?.code, grpc.status.INVALID_ARGUMENT);
    assert.match(truncated?.details ?? '', /^Cannot decode RawPut request/);
    await assertUntouched();
  });

  test('an id beyond 2^53 gets INVALID_ARGUMENT', async () => {
    assert.ok(h.client);
    const client = h.client;
    // Encode a RawGetRequest whose context.region_id is 2^60 by hand-patching varints.
    const bytes = Buffer.from(RawGetRequest.encode({ context: { regionId: 1, regionEpoch: undefined, peer: undefined, term: 0 }, key: b(1), cf: '' }).finish());
    const big = Buffer.from([0x0a, 10, 0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10, 0x12, 1, 1]);
    assert.equal(bytes[0], 0x0a);
    const err = await new Promise<grpc.ServiceError | null>((resolve) => {
      client.makeUnaryRequest('/tinykvpb.TinyKv/RawGet', (x: Buffer) => x, (x: Buffer) => x, big, (e) => resolve(e));
    });
    assert.equal(err?.code, grpc.status.INVALID_ARGUMENT);
  });

  test('methods not served yet answer UNIMPLEMENTED naming what is missing', async () => {
    assert.ok(h.client);
    const client = h.client;
    const err = await new Promise<grpc.ServiceError | null>((resolve) => {
      client.coprocessor({ context: undefined, tp: 0, data: Buffer.alloc(0), startTs: 1n, ranges: [] }, (e) => resolve(e));
    });
    assert.equal(err?.code, grpc.status.UNIMPLEMENTED);
    assert.match(err?.details ?? '', /Coprocessor is not implemented/);
  });

  /** One unary call of the gRPC client: its response, or its error status. */
  function call<Req, Res>(
    method: (req: Req, callback: (e: grpc.ServiceError | null, res: Res) => void) => unknown,
    req: Req,
  ): Promise<{ readonly res?: Res; readonly err?: grpc.ServiceError }> {
    return new Promise((resolve) => {
      method(req, (err, res) => resolve(err === null ? { res } : { err }));
    });
  }

  test('KvScan is served: bad input answers one pair carrying KeyError.abort InvalidArgument', async () => {
    assert.ok(h.client);
    const client = h.client;
    const scan = (startKey: Buffer, limit: number): ReturnType<typeof call<ScanRequest, ScanResponse>> =>
      call<ScanRequest, ScanResponse>((r, cb) => client.kvScan(r, cb), { context: undefined, startKey, limit, version: 10n });
    const longKey = await scan(Buffer.alloc(userKeyBytesMax + 1, 7), 1);
    assert.deepEqual(longKey.res?.pairs.map((p) => [p.key.length, p.error?.abort]), [
      [0, `InvalidArgument: start key is ${userKeyBytesMax + 1} bytes, the limit is ${userKeyBytesMax}`],
    ]);
    const bigLimit = await scan(b(1), scanLimitMax + 1);
    assert.equal(bigLimit.res?.pairs[0]?.error?.abort, `InvalidArgument: scan limit must be between 0 and ${scanLimitMax}, got ${scanLimitMax + 1}`);
    // Limit 0 is TinyKV's "no pairs", not an error; the raw pair [1]=[10] is not an MVCC record.
    assert.deepEqual((await scan(b(1), 0)).res?.pairs, []);
    assert.deepEqual((await scan(Buffer.alloc(0), 10)).res?.pairs, []);
    await assertUntouched();
  });

  test('KvCheckTxnStatus is served: bad input answers INVALID_ARGUMENT (its response has no error field)', async () => {
    assert.ok(h.client);
    const client = h.client;
    const check = (primaryKey: Buffer): ReturnType<typeof call<CheckTxnStatusRequest, CheckTxnStatusResponse>> =>
      call<CheckTxnStatusRequest, CheckTxnStatusResponse>((r, cb) => client.kvCheckTxnStatus(r, cb), {
        context: undefined,
        primaryKey,
        lockTs: 5n,
        currentTs: 6n,
      });
    const empty = await check(Buffer.alloc(0));
    assert.equal(empty.err?.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(empty.err?.details, 'InvalidArgument: primary key is empty');
    const long = await check(Buffer.alloc(userKeyBytesMax + 1));
    assert.equal(long.err?.details, `InvalidArgument: primary key is ${userKeyBytesMax + 1} bytes, the limit is ${userKeyBytesMax}`);
    // A good request: txn 5 never prewrote [9], so it is rolled back there (in CF write).
    const good = await check(b(9));
    assert.equal(good.res?.action, Action.LockNotExistRollback);
    await assertUntouched();
  });

  test('KvBatchRollback and KvResolveLock are served: bad input answers KeyError.abort InvalidArgument', async () => {
    assert.ok(h.client);
    const client = h.client;
    const rollback = (keys: Buffer[]): ReturnType<typeof call<BatchRollbackRequest, BatchRollbackResponse>> =>
      call<BatchRollbackRequest, BatchRollbackResponse>((r, cb) => client.kvBatchRollback(r, cb), { context: undefined, startVersion: 5n, keys });
    assert.equal((await rollback([b(9), Buffer.alloc(0)])).res?.error?.abort, 'InvalidArgument: key is empty');
    assert.equal(
      (await rollback([Buffer.alloc(userKeyBytesMax + 1)])).res?.error?.abort,
      `InvalidArgument: key is ${userKeyBytesMax + 1} bytes, the limit is ${userKeyBytesMax}`,
    );
    const resolve = (startVersion: bigint, commitVersion: bigint): ReturnType<typeof call<ResolveLockRequest, ResolveLockResponse>> =>
      call<ResolveLockRequest, ResolveLockResponse>((r, cb) => client.kvResolveLock(r, cb), { context: undefined, startVersion, commitVersion });
    assert.equal((await resolve(5n, 5n)).res?.error?.abort, 'InvalidArgument: commit version 5 must be greater than start version 5');
    // Commit version 0 means "roll back", not a commit before the start.
    assert.deepEqual((await resolve(5n, 0n)).res, { regionError: undefined, error: undefined });
    assert.deepEqual((await rollback([b(9)])).res, { regionError: undefined, error: undefined });
    await assertUntouched();
  });

  test('KvGet is served: bad input answers KeyError.abort InvalidArgument, good input a read', async () => {
    assert.ok(h.client);
    const client = h.client;
    const get = (key: Buffer): Promise<GetResponse> =>
      new Promise((resolve, reject) => {
        client.kvGet({ context: undefined, key, version: 1n }, (e, res) => (e === null ? resolve(res) : reject(e)));
      });
    const bad = await get(Buffer.alloc(0));
    assert.equal(bad.error?.abort, 'InvalidArgument: key is empty');
    // The raw pair [1]=[10] is not an MVCC record, so a transactional read finds nothing.
    const good = await get(b(1));
    assert.equal(good.error, undefined);
    assert.equal(good.notFound, true);
    await assertUntouched();
  });

  test('the server still serves after all of the above', async () => {
    assert.equal((await h.api.rawPut({ context: undefined, key: b(2), value: b(20), cf: '' })).error, '');
    assert.deepEqual([...(await h.api.rawGet({ context: undefined, key: b(2), cf: '' })).value], [20]);
    await h.api.rawDelete({ context: undefined, key: b(2), cf: '' });
    await assertUntouched();
  });
});
