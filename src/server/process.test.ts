// Goal: the server as an operator runs it: an acknowledged put survives
// SIGKILL, a data dir cannot be opened by two live servers, and SIGTERM
// shuts down cleanly. Method: `tinykv server --standalone` as a real child
// process on loopback, driven by the RawClient.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RawClient } from '../client/raw_client.js';
import { spawnServer, runTinykv } from '../testing/child_server.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('server process', () => {
  const dirs: string[] = [];
  const tempDir = (): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tinykv-proc-'));
    dirs.push(d);
    return d;
  };
  after(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test('every acknowledged put survives SIGKILL and restart', async () => {
    const dataDir = tempDir();
    const first = await spawnServer(dataDir);
    const client = new RawClient({ addr: first.addr });
    const keys = Array.from({ length: 300 }, (_, i) => `key-${String(i).padStart(4, '0')}`);
    // Concurrent puts: each is acknowledged only once durable.
    await client.batchPut(keys.map((k) => ({ key: enc(k), value: enc(`value-of-${k}`) })));
    await client.delete(enc(keys[0] as string));
    client.close();
    first.child.kill('SIGKILL');
    assert.equal(await first.exited, 'SIGKILL');

    const second = await spawnServer(dataDir);
    const reader = new RawClient({ addr: second.addr });
    try {
      const entries = await reader.scan(new Uint8Array(), 1000);
      assert.equal(entries.length, keys.length - 1);
      for (const [i, e] of entries.entries()) {
        const k = keys[i + 1] as string;
        assert.equal(new TextDecoder().decode(e.key), k);
        assert.equal(new TextDecoder().decode(e.value), `value-of-${k}`);
      }
      assert.equal(await reader.get(enc(keys[0] as string)), undefined);
    } finally {
      reader.close();
      second.child.kill('SIGTERM');
      assert.equal(await second.exited, 0);
    }
  });

  test('a data dir held by a live server cannot be opened by another', async () => {
    const dataDir = tempDir();
    const holder = await spawnServer(dataDir);
    try {
      const res = await runTinykv(['server', '--standalone', '--data-dir', dataDir, '--addr', '127.0.0.1:0']);
      assert.equal(res.code, 1);
      assert.match(res.stderr, new RegExp(`it is in use by process ${holder.child.pid}`));
    } finally {
      holder.child.kill('SIGTERM');
      assert.equal(await holder.exited, 0);
    }
    // Once released, the dir opens again.
    const next = await spawnServer(dataDir);
    next.child.kill('SIGINT');
    assert.equal(await next.exited, 0);
  });

  test('a busy address fails with a clear error', async () => {
    const holder = await spawnServer(tempDir());
    try {
      const res = await runTinykv(['server', '--standalone', '--data-dir', tempDir(), '--addr', holder.addr]);
      assert.equal(res.code, 1);
      assert.match(res.stderr, /Cannot listen on/);
    } finally {
      holder.child.kill('SIGTERM');
      await holder.exited;
    }
  });
});
