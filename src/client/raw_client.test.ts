// Goal: RawClient's contract: round trips, scans that stay complete when the
// server cuts a response at its byte budget, bounded batch helpers, typed
// errors for bad input, unreachable servers and closed clients. Method: an
// in-process standalone server on loopback port 0 over a temp LMDB dir.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { userKeyBytesMax, userValueBytesMax } from '../config/limits.js';
import { startStandalone } from '../server/standalone.js';
import type { RunningStandalone } from '../server/standalone.js';
import { silentLogger } from '../util/log.js';
import { ClientError, CLIENT_ERROR_CODES } from './errors.js';
import { RawClient } from './raw_client.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
const isCode = (code: string) => (err: unknown) => err instanceof ClientError && err.code === code;

describe('RawClient', () => {
  let dataDir: string;
  let node: RunningStandalone;
  let client: RawClient;
  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinykv-client-'));
    node = await startStandalone({ dataDir, addr: '127.0.0.1:0', logger: silentLogger() });
    client = new RawClient({ addr: node.addr });
  });
  after(async () => {
    client.close();
    await node.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('put, get, delete round-trip per column family', async () => {
    await client.put(enc('k'), enc('v-default'));
    await client.put(enc('k'), enc('v-lock'), { cf: 'lock' });
    assert.equal(dec((await client.get(enc('k'))) ?? new Uint8Array()), 'v-default');
    assert.equal(dec((await client.get(enc('k'), { cf: 'lock' })) ?? new Uint8Array()), 'v-lock');
    await client.delete(enc('k'));
    assert.equal(await client.get(enc('k')), undefined);
    await client.delete(enc('k'));
    await client.delete(enc('k'), { cf: 'lock' });
  });

  test('an empty value is stored and is distinct from absence', async () => {
    await client.put(enc('empty'), new Uint8Array());
    assert.deepEqual(await client.get(enc('empty')), new Uint8Array());
    await client.delete(enc('empty'));
  });

  test('batch helpers keep input order', async () => {
    const keys = Array.from({ length: 100 }, (_, i) => enc(`b${String(i).padStart(3, '0')}`));
    await client.batchPut(keys.map((key, i) => ({ key, value: enc(String(i)) })));
    const values = await client.batchGet([...keys, enc('b-missing')]);
    assert.deepEqual(values.map((v) => (v === undefined ? undefined : dec(v))), [...keys.map((_, i) => String(i)), undefined]);
    const scanned = await client.scan(enc('b'), 1000);
    assert.equal(scanned.length, 100);
    await client.batchDelete(keys);
    assert.equal((await client.scan(enc('b'), 1000)).length, 0);
  });

  test('scan continues past responses cut at the byte budget', async () => {
    // 20 values of 1 MiB exceed the 16 MiB response budget, so the server
    // answers in several responses and the client must stitch them.
    const big = new Uint8Array(userValueBytesMax).fill(1);
    const keys = Array.from({ length: 20 }, (_, i) => enc(`big${String(i).padStart(2, '0')}`));
    for (const key of keys) await client.put(key, big);
    const entries = await client.scan(enc('big'), 25);
    assert.deepEqual(entries.map((e) => dec(e.key)), keys.map(dec));
    assert.ok(entries.every((e) => e.value.length === userValueBytesMax));
    const limited = await client.scan(enc('big'), 17);
    assert.equal(limited.length, 17);
    await client.batchDelete(keys);
  });

  test('bad input fails fast with INVALID_ARGUMENT before any call', async () => {
    await assert.rejects(client.get(new Uint8Array()), isCode(CLIENT_ERROR_CODES.InvalidArgument));
    await assert.rejects(client.put(new Uint8Array(userKeyBytesMax + 1), enc('v')), isCode(CLIENT_ERROR_CODES.InvalidArgument));
    await assert.rejects(client.put(enc('k'), new Uint8Array(userValueBytesMax + 1)), isCode(CLIENT_ERROR_CODES.InvalidArgument));
    await assert.rejects(client.get(enc('k'), { cf: 'raft' }), isCode(CLIENT_ERROR_CODES.InvalidArgument));
    await assert.rejects(client.scan(enc('k'), 0), isCode(CLIENT_ERROR_CODES.InvalidArgument));
  });

  test('an unreachable server fails within the deadline', async () => {
    const lost = new RawClient({ addr: '127.0.0.1:1', deadlineMs: 300 });
    try {
      await assert.rejects(lost.get(enc('k')), (err: unknown) =>
        err instanceof ClientError && (err.code === CLIENT_ERROR_CODES.Unavailable || err.code === CLIENT_ERROR_CODES.DeadlineExceeded),
      );
    } finally {
      lost.close();
    }
  });

  test('a closed client rejects calls', async () => {
    const c = new RawClient({ addr: node.addr });
    c.close();
    await assert.rejects(c.get(enc('k')), isCode(CLIENT_ERROR_CODES.Closed));
  });

  test('invalid options are rejected at construction', () => {
    assert.throws(() => new RawClient({ addr: node.addr, deadlineMs: 0 }), RangeError);
  });
});
