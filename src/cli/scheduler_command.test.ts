// Goal: `tinykv scheduler` runs as an operator runs it: the first stdout line
// is `listening on <addr>`, it answers a client there, SIGTERM stops it with
// exit 0 (and the data dir opens again), and a bad flag is a usage error.
// Method: bin/tinykv.js as a real child process on loopback.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PdClient } from '../client/scheduler_client.js';
import { runTinykv, TINYKV_BIN } from '../testing/child_server.js';
import { parseDurationMs } from './scheduler_command.js';

interface Child {
  readonly addr: string;
  readonly firstLine: string;
  readonly exited: Promise<number | string>;
  kill(signal: NodeJS.Signals): void;
}

function spawnScheduler(dataDir: string, timeoutMs = 15_000): Promise<Child> {
  const child = spawn(process.execPath, [TINYKV_BIN, 'scheduler', '--data-dir', dataDir, '--addr', '127.0.0.1:0', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`scheduler did not start in ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const firstLine = stdout.split('\n')[0] ?? '';
      const m = /^listening on (\S+)$/.exec(firstLine);
      if (stdout.includes('\n') && m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve({ addr: m[1], firstLine, exited, kill: (signal) => child.kill(signal) });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`scheduler exited with ${code} before listening: ${stderr}`));
    });
  });
}

describe('tinykv scheduler', () => {
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  test('prints `listening on`, serves, and stops on SIGTERM with exit 0', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinykv-sched-cli-'));
    dirs.push(dataDir);
    const first = await spawnScheduler(dataDir);
    const pd = new PdClient({ addrs: first.addr });
    let clusterId: number;
    try {
      assert.match(first.firstLine, /^listening on 127\.0\.0\.1:\d+$/);
      clusterId = await pd.clusterId();
      assert.equal(await pd.isBootstrapped(), false);
    } finally {
      pd.close();
      first.kill('SIGTERM');
    }
    assert.equal(await first.exited, 0);
    // The lock is released and the cluster id was kept.
    const second = await spawnScheduler(dataDir);
    const again = new PdClient({ addrs: second.addr });
    try {
      assert.equal(await again.clusterId(), clusterId);
    } finally {
      again.close();
      second.kill('SIGINT');
    }
    assert.equal(await second.exited, 0);
  });

  test('a bad flag is a usage error', async () => {
    const res = await runTinykv(['scheduler', '--max-replicas', '0']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /--max-replicas must be an integer from 1 to 9/);
  });

  test('durations: ms or a unit', () => {
    assert.equal(parseDurationMs('--x', '1500'), 1500);
    assert.equal(parseDurationMs('--x', '90s'), 90_000);
    assert.equal(parseDurationMs('--x', '30m'), 1_800_000);
    assert.equal(parseDurationMs('--x', '2h'), 7_200_000);
    assert.throws(() => parseDurationMs('--x', '0'), /positive duration/);
    assert.throws(() => parseDurationMs('--x', '5d'), /positive duration/);
  });
});
