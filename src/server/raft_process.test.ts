// Goal: `tinykv server --raft` as an operator runs it: every acknowledged
// raw write (300 concurrent puts and a delete, each proposed, committed and
// applied through raft) survives SIGKILL and a restart on the same data dir;
// the `tinykv raw` commands work against it; a live server holds its data
// dir; SIGINT/SIGTERM stop it cleanly and release the lock.
// Method: the real bin/tinykv.js as child processes on loopback, with a
// 20 ms raft tick so that elections take well under a second, driven by the
// RawClient and by `tinykv raw`.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RawClient } from '../client/raw_client.js';
import { runTinykv, spawnServer } from '../testing/child_server.js';
import type { ChildServer } from '../testing/child_server.js';

const RAFT_ARGS = ['--raft', '--raft-tick-ms', '20'] as const;
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

describe('raft server process', () => {
  const dirs: string[] = [];
  const tempDir = (): string => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'tinykv-raft-proc-'));
    dirs.push(d);
    return d;
  };
  const spawnRaft = (dataDir: string): Promise<ChildServer> => spawnServer(dataDir, 30_000, RAFT_ARGS);
  after(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test('every acknowledged raw put and delete survives SIGKILL and restart', async () => {
    const dataDir = tempDir();
    const first = await spawnRaft(dataDir);
    const client = new RawClient({ addr: first.addr, deadlineMs: 20_000 });
    const keys = Array.from({ length: 300 }, (_, i) => `key-${String(i).padStart(4, '0')}`);
    try {
      // All in flight at once: they share group-commit rounds, and each is
      // acknowledged only once its entry is durable and applied.
      await Promise.all(keys.map((k) => client.put(enc(k), enc(`value-of-${k}`))));
      await client.delete(enc(keys[0] as string));
    } finally {
      client.close();
    }
    first.child.kill('SIGKILL');
    assert.equal(await first.exited, 'SIGKILL');

    const second = await spawnRaft(dataDir);
    const reader = new RawClient({ addr: second.addr });
    try {
      const entries = await reader.scan(new Uint8Array(), 1000);
      assert.deepEqual(entries.map((e) => dec(e.key)), keys.slice(1));
      for (const e of entries) assert.equal(dec(e.value), `value-of-${dec(e.key)}`);
      assert.equal(await reader.get(enc(keys[0] as string)), undefined);
      assert.equal(dec((await reader.get(enc(keys[299] as string))) ?? new Uint8Array()), `value-of-${keys[299]}`);
    } finally {
      reader.close();
      second.child.kill('SIGTERM');
      assert.equal(await second.exited, 0, second.stderr());
    }
    assert.equal(fs.existsSync(path.join(dataDir, 'LOCK')), false, 'SIGTERM released the data-dir lock');
  });

  test('a SIGKILL among 300 in-flight puts loses none that were acknowledged', async () => {
    const dataDir = tempDir();
    const first = await spawnRaft(dataDir);
    const client = new RawClient({ addr: first.addr, deadlineMs: 20_000 });
    const keys = Array.from({ length: 300 }, (_, i) => `inflight-${String(i).padStart(4, '0')}`);
    const acknowledged: string[] = [];
    // 16 puts in flight at any time, so that the acknowledgements spread over
    // many rounds (300 at once all commit in one or two rounds). The kill
    // lands once a third is acknowledged: the rest are proposed, in a round
    // being written, or unsent.
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let k = keys[next++]; k !== undefined; k = keys[next++]) {
        await client.put(enc(k), enc(`value-of-${k}`));
        acknowledged.push(k);
        if (acknowledged.length === 100) first.child.kill('SIGKILL');
      }
    };
    try {
      await Promise.allSettled(Array.from({ length: 16 }, worker));
    } finally {
      client.close();
    }
    assert.equal(await first.exited, 'SIGKILL');
    assert.ok(acknowledged.length >= 100, `only ${acknowledged.length} puts were acknowledged`);
    assert.ok(acknowledged.length < keys.length, 'the kill landed after every put was acknowledged');

    const second = await spawnRaft(dataDir);
    const reader = new RawClient({ addr: second.addr });
    try {
      const values = await reader.batchGet(keys.map(enc));
      const found = new Set<string>();
      for (const [i, value] of values.entries()) {
        const k = keys[i] as string;
        if (value === undefined) continue;
        found.add(k);
        // An unacknowledged put may or may not have applied, but never partly.
        assert.equal(dec(value), `value-of-${k}`);
      }
      for (const k of acknowledged) assert.ok(found.has(k), `acknowledged put of ${k} was lost`);
    } finally {
      reader.close();
      second.child.kill('SIGTERM');
      assert.equal(await second.exited, 0, second.stderr());
    }
  });

  test('tinykv raw get, put, delete and scan against a --raft server; its data dir is held', async () => {
    const dataDir = tempDir();
    const server = await spawnRaft(dataDir);
    const raw = (...args: string[]) => runTinykv(['raw', ...args, '--addr', server.addr]);
    try {
      const puts = await Promise.all([raw('put', 'hello', 'world'), raw('put', 'hello2', 'again')]);
      for (const put of puts) assert.deepEqual(put, { code: 0, stdout: 'OK\n', stderr: '' });
      assert.deepEqual(await raw('get', 'hello'), { code: 0, stdout: 'world\n', stderr: '' });
      assert.deepEqual(await raw('scan', 'hello', '--limit', '10'), { code: 0, stdout: 'hello\tworld\nhello2\tagain\n', stderr: '' });
      assert.deepEqual(await raw('delete', 'hello'), { code: 0, stdout: 'OK\n', stderr: '' });
      const [missing, second] = await Promise.all([
        raw('get', 'hello'),
        runTinykv(['server', ...RAFT_ARGS, '--data-dir', dataDir, '--addr', '127.0.0.1:0']),
      ]);
      assert.deepEqual(missing, { code: 3, stdout: '', stderr: 'not found\n' });
      assert.equal(second.code, 1);
      assert.match(second.stderr, new RegExp(`it is in use by process ${server.child.pid}`));
    } finally {
      server.child.kill('SIGINT');
      assert.equal(await server.exited, 0, server.stderr());
    }
    assert.equal(fs.existsSync(path.join(dataDir, 'LOCK')), false, 'SIGINT released the data-dir lock');
  });
});
