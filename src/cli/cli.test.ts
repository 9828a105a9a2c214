// Goal: the `tinykv` command's documented behaviour (docs/CLI.md): raw
// commands in text and hex, exit codes 0/1/2/3, help everywhere. Method: the
// real bin/tinykv.js as a child process against an in-process server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startStandalone } from '../server/standalone.js';
import type { RunningStandalone } from '../server/standalone.js';
import { runTinykv } from '../testing/child_server.js';
import { silentLogger } from '../util/log.js';

describe('tinykv CLI', () => {
  let dataDir: string;
  let node: RunningStandalone;
  const raw = (...args: string[]) => runTinykv(['raw', ...args, '--addr', node.addr]);
  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinykv-cli-'));
    node = await startStandalone({ dataDir, addr: '127.0.0.1:0', logger: silentLogger() });
  });
  after(async () => {
    await node.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test('put, get, scan and delete in text', async () => {
    assert.deepEqual(await raw('put', 'hello', 'world'), { code: 0, stdout: 'OK\n', stderr: '' });
    assert.equal((await raw('get', 'hello')).stdout, 'world\n');
    await raw('put', 'hello2', 'again');
    assert.equal((await raw('scan', 'hello', '--limit', '10')).stdout, 'hello\tworld\nhello2\tagain\n');
    assert.equal((await raw('delete', 'hello')).code, 0);
    const missing = await raw('get', 'hello');
    assert.equal(missing.code, 3);
    assert.equal(missing.stderr, 'not found\n');
  });

  test('hex input and output, and column families', async () => {
    assert.equal((await raw('put', '00ff', 'cafe', '--hex', '--cf', 'write')).code, 0);
    assert.equal((await raw('get', '00ff', '--hex', '--cf', 'write', '--format', 'hex')).stdout, 'cafe\n');
    assert.equal((await raw('get', '00ff', '--hex')).code, 3);
    assert.equal((await raw('scan', '00', '--hex', '--cf', 'write', '--format', 'hex')).stdout, '00ff\tcafe\n');
  });

  test('usage errors exit 2', async () => {
    for (const args of [['get'], ['get', 'zz', '--hex'], ['scan', '--limit', '0'], ['get', 'k', '--format', 'yaml'], ['frobnicate']]) {
      const res = await raw(...args);
      assert.equal(res.code, 2, `tinykv raw ${args.join(' ')}: ${res.stderr}`);
      assert.notEqual(res.stderr, '');
    }
    assert.equal((await runTinykv(['server', '--data-dir', dataDir])).code, 2);
  });

  test('server-side rejections and unreachable servers exit 1', async () => {
    const res = await raw('get', 'k', '--cf', 'bogus');
    assert.equal(res.code, 1);
    assert.match(res.stderr, /unknown column family "bogus"/);
    const lost = await runTinykv(['raw', 'get', 'k', '--addr', '127.0.0.1:1', '--timeout', '300']);
    assert.equal(lost.code, 1);
  });

  test('--help works everywhere and exits 0', async () => {
    for (const args of [['--help'], ['raw', '--help'], ['raw', 'scan', '--help'], ['server', '--help'], ['playground', '--help']]) {
      const res = await runTinykv(args);
      assert.equal(res.code, 0, args.join(' '));
      assert.match(res.stdout, /Usage: tinykv/);
    }
  });
});
