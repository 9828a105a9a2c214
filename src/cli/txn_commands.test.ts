// Goal: `tinykv txn` behaves as docs/CLI.md says: put/delete write all their
// keys in one transaction and print the commit ts; get reads every key from
// one snapshot (exit 3 when one is missing); scan honours start, --end and
// --limit; exec runs a script in one transaction (a read-modify-write by
// hand), and a concurrent write to a written key makes its commit fail with
// exit 4 and nothing written; usage errors exit 2 before anything is sent.
//
// Method: a real scheduler and three stores in this process on loopback in
// temp dirs (startSchedulerServer + startClusterStore, 20 ms ticks, as
// client/txn_rpc_grpc.test.ts). The commands run in-process as main.ts runs
// them (exitOverride, UsageError → 2), their output captured through the
// injected CliIo and their stdin an injected stream; one check goes through
// main() itself to prove the command is registered.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { Command, CommanderError } from 'commander';
import { startTestCluster, waitFor } from '../server/_test_cluster.js';
import type { TestCluster } from '../server/_test_cluster.js';
import { EXIT } from './exit_codes.js';
import { UsageError } from './format.js';
import type { CliIo } from './format.js';
import { main } from './main.js';
import { parseScriptLine, tokenize, txnCommand } from './txn_commands.js';
import type { ScriptInput } from './txn_commands.js';

interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** What a running command has printed so far (for a test that feeds its stdin step by step). */
interface Capture {
  stdout: string;
  stderr: string;
}

/** Runs `tinykv txn <args>` in-process with `stdin` as its script input, handling errors as main.ts does. */
async function runTxn(args: readonly string[], stdin: ScriptInput = { stream: Readable.from([]), interactive: false }, capture: Capture = { stdout: '', stderr: '' }): Promise<RunResult> {
  const io: CliIo = { out: (t) => void (capture.stdout += t), err: (t) => void (capture.stderr += t) };
  let code = 0;
  const program = new Command('tinykv').exitOverride().addCommand(txnCommand((c) => (code = c), io, () => stdin));
  for (const cmd of program.commands) {
    cmd.exitOverride();
    for (const sub of cmd.commands) sub.exitOverride();
  }
  try {
    await program.parseAsync(['txn', ...args], { from: 'user' });
  } catch (err: unknown) {
    if (err instanceof CommanderError) code = err.exitCode === 0 ? 0 : 2;
    else if (err instanceof UsageError) {
      capture.stderr += `error: ${err.message}\n`;
      code = 2;
    } else throw err;
  }
  return { code, stdout: capture.stdout, stderr: capture.stderr };
}

const script = (text: string): ScriptInput => ({ stream: Readable.from([text]), interactive: false });

describe('script parsing', () => {
  test('words, quotes and escapes', () => {
    assert.deepEqual(tokenize('  put  k   v '), ['put', 'k', 'v']);
    assert.deepEqual(tokenize('put "a key" "x\\"y\\\\z\\t"'), ['put', 'a key', 'x"y\\z\t']);
    assert.deepEqual(tokenize('scan "" ""'), ['scan', '', '']);
    assert.throws(() => tokenize('put "k'), UsageError);
    assert.throws(() => tokenize('put "\\q"'), UsageError);
  });

  test('operations, comments and bad lines', () => {
    const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
    assert.equal(parseScriptLine('   # a comment', 1, false), undefined);
    assert.equal(parseScriptLine('', 1, false), undefined);
    assert.deepEqual(parseScriptLine('put k v', 1, false), { kind: 'put', key: enc('k'), value: enc('v') });
    assert.deepEqual(parseScriptLine('scan a', 1, false), { kind: 'scan', start: enc('a'), end: enc(''), limit: 100 });
    assert.deepEqual(parseScriptLine('scan 61 62 5', 1, true), { kind: 'scan', start: enc('a'), end: enc('b'), limit: 5 });
    assert.throws(() => parseScriptLine('put k', 7, false), /^UsageError: line 7: put takes <key> <value>, got 1 argument/);
    assert.throws(() => parseScriptLine('frob k', 3, false), /line 3: unknown operation "frob"/);
    assert.throws(() => parseScriptLine('scan a b 0', 1, false), /scan limit must be an integer from 1/);
    assert.throws(() => parseScriptLine('get zz', 1, true), /key is not valid hex/);
  });
});

describe('tinykv txn against a scheduler and three stores', { timeout: 60_000 }, () => {
  let cluster: TestCluster;
  const pd = (): string[] => ['--pd', cluster.scheduler.addr];

  before(async () => {
    cluster = await startTestCluster('tinykv-cli-txn-');
  });

  after(async () => {
    await cluster.stop();
  });

  test('put two keys in one transaction, get both, scan, delete', async () => {
    const put = await runTxn(['put', 'a1', 'x', 'a2', 'y', ...pd()]);
    assert.equal(put.code, EXIT.ok, put.stderr);
    const commitTs = /^committed at (\d+)\n$/.exec(put.stdout)?.[1];
    assert.ok(commitTs !== undefined && BigInt(commitTs) > 0n, put.stdout);
    assert.deepEqual(await runTxn(['get', 'a2', 'a1', ...pd()]), { code: EXIT.ok, stdout: 'a2\ty\na1\tx\n', stderr: '' });
    assert.equal((await runTxn(['scan', ...pd()])).stdout, 'a1\tx\na2\ty\n');
    assert.equal((await runTxn(['scan', 'a2', ...pd()])).stdout, 'a2\ty\n');
    assert.equal((await runTxn(['scan', 'a', '--end', 'a2', ...pd()])).stdout, 'a1\tx\n');
    assert.equal((await runTxn(['scan', '--limit', '1', ...pd()])).stdout, 'a1\tx\n');
    const del = await runTxn(['delete', 'a1', ...pd()]);
    assert.match(del.stdout, /^committed at \d+\n$/);
    const missing = await runTxn(['get', 'a1', 'a2', ...pd()]);
    assert.deepEqual(missing, { code: EXIT.notFound, stdout: 'a2\ty\n', stderr: 'not found: a1\n' });
  });

  test('hex keys and values, printed as hex', async () => {
    assert.equal((await runTxn(['put', '00ff', 'cafe', '--hex', ...pd()])).code, EXIT.ok);
    assert.equal((await runTxn(['get', '00ff', '--hex', '--format', 'hex', ...pd()])).stdout, '00ff\tcafe\n');
  });

  test('exec: a read-modify-write script in one transaction, from stdin and from --file', async () => {
    assert.equal((await runTxn(['put', 'counter', '1', ...pd()])).code, EXIT.ok);
    const res = await runTxn(['exec', ...pd()], script('# bump the counter\n\nget counter\nput counter 2\nput "other key" "a b"\nscan counter counter~\nget nothing\n'));
    assert.equal(res.code, EXIT.ok, res.stderr);
    // Reads see the transaction's own writes; the commit comes last.
    assert.match(res.stdout, /^start ts \d+\ncounter\t1\ncounter\t2\ncommitted at \d+\n$/);
    assert.equal(res.stderr, 'not found: nothing\n');
    assert.equal((await runTxn(['get', 'counter', 'other key', ...pd()])).stdout, 'counter\t2\nother key\ta b\n');

    const file = path.join(cluster.root, 'script.txt');
    fs.writeFileSync(file, 'get counter\r\nput counter 3\r\n');
    const fromFile = await runTxn(['exec', '--file', file, ...pd()]);
    assert.match(fromFile.stdout, /^start ts \d+\ncounter\t2\ncommitted at \d+\n$/);
    assert.match((await runTxn(['exec', ...pd()], script('get counter\n'))).stdout, /^start ts \d+\ncounter\t3\nread-only, nothing to commit\n$/);
  });

  test('exec: a concurrent write to a key the script writes fails the commit with exit 4, nothing written', async () => {
    assert.equal((await runTxn(['put', 'rmw', '10', ...pd()])).code, EXIT.ok);
    const stdin = new PassThrough();
    const capture: Capture = { stdout: '', stderr: '' };
    const running = runTxn(['exec', ...pd()], { stream: stdin, interactive: false }, capture);
    stdin.write('get rmw\n');
    await waitFor('the script to read rmw', () => capture.stdout.includes('rmw\t10\n'));
    // Another transaction commits a write of the same key after the script's start ts.
    assert.equal((await runTxn(['put', 'rmw', '20', ...pd()])).code, EXIT.ok);
    stdin.end('put rmw 11\nput rmw-side effect\n');
    const res = await running;
    assert.equal(res.code, EXIT.conflict, res.stderr);
    assert.match(res.stderr, /transaction not committed \(WRITE_CONFLICT\)/);
    assert.match(res.stderr, /running it again may succeed/);
    assert.deepEqual(await runTxn(['get', 'rmw', 'rmw-side', ...pd()]), { code: EXIT.notFound, stdout: 'rmw\t20\n', stderr: 'not found: rmw-side\n' });
  });

  test('exec: a bad line ends the transaction uncommitted (exit 2); typed at a terminal it is skipped', async () => {
    const bad = await runTxn(['exec', ...pd()], script('put never 1\nput half\n'));
    assert.equal(bad.code, EXIT.usage);
    assert.match(bad.stderr, /error: line 2: put takes <key> <value>/);
    assert.equal((await runTxn(['get', 'never', ...pd()])).code, EXIT.notFound);
    const typed = await runTxn(['exec', ...pd()], { stream: Readable.from(['put typed 1\n', 'frob\n', 'get typed\n']), interactive: true });
    assert.equal(typed.code, EXIT.ok, typed.stderr);
    assert.match(typed.stderr, /error: line 2: unknown operation "frob"/);
    assert.match(typed.stdout, /^start ts \d+\ntyped\t1\ncommitted at \d+\n$/);
  });

  test('usage errors exit 2 before anything is sent; an unreachable scheduler exits 1', async () => {
    for (const args of [['put', 'k1', 'v1', 'k2'], ['put'], ['get'], ['get', 'zz', '--hex'], ['scan', '--limit', '0'], ['scan', '--limit', '10001'],
      ['get', 'k', '--timeout', 'soon'], ['exec', '--file', path.join(cluster.root, 'missing.txt')], ['frobnicate']]) {
      const res = await runTxn([...args, ...pd()]);
      assert.equal(res.code, EXIT.usage, `tinykv txn ${args.join(' ')}: ${res.stderr}`);
      assert.notEqual(res.stderr, '');
    }
    assert.equal((await runTxn(['get', 'k', '--pd', 'nowhere'])).code, EXIT.usage);
    const lost = await runTxn(['get', 'k', '--pd', '127.0.0.1:1', '--timeout', '300']);
    assert.equal(lost.code, EXIT.failed);
    assert.match(lost.stderr, /^error: /);
  });

  test('main registers `tinykv txn`', async () => {
    assert.equal(await main(['txn', 'put', 'k1', 'v1', 'k2', '--pd', cluster.scheduler.addr]), EXIT.usage);
  });
});
