/**
 * `tinykv txn get|put|delete|scan|exec`: Percolator transactions from the
 * command line, through the cluster's scheduler (`--pd`): the scheduler's
 * TSO gives the timestamps and its region table the routing
 * (`GrpcTxnRpc` + `TxnClient`).
 *
 * Each command is one transaction. `get` and `scan` read one snapshot (the
 * start timestamp) and commit nothing; `put` and `delete` write all their
 * keys atomically; `exec` runs a script of reads and writes, read from
 * stdin or `--file` line by line, in one transaction and then commits it,
 * which is how a user does a read-modify-write by hand: the commit fails
 * with a write conflict if another transaction wrote a written key after
 * the start timestamp.
 *
 * Writes are buffered by the client until the commit, so a transaction
 * abandoned before it (a bad script line, Ctrl-C) leaves nothing behind.
 * Exit codes (docs/CLI.md): 0 committed (or read), 1 failed, 2 usage error,
 * 3 a `get` key not found, 4 not committed because of a conflict (retry it).
 */
import * as fs from 'node:fs';
import * as readline from 'node:readline';
import { Command, Option } from 'commander';
import { ClientError, SchedulerError } from '../client/errors.js';
import { TxnClient, txnBufferKeysMax } from '../client/txn_client.js';
import type { Transaction } from '../client/txn_client.js';
import { TxnError, TXN_ERROR_CODES } from '../client/txn_errors.js';
import { GrpcTxnRpc } from '../client/txn_rpc_grpc.js';
import { assertNever } from '../util/assert.js';
import { clientDeadlineMsDefault, scanLimitMax } from '../config/limits.js';
import { EXIT } from './exit_codes.js';
import { DEFAULT_PD_ADDRS, parseBytes, parseEncoding, parsePdAddrs, processIo, render, UsageError } from './format.js';
import type { CliIo, Encoding } from './format.js';

/** Pairs `scan` prints without `--limit` (raw scan's default). */
export const txnScanLimitDefault = 100;
/**
 * Most operations one `exec` script may hold. Writes are bounded by the
 * client's buffer (txnBufferKeysMax) already; this bounds reads too, so a
 * runaway pipe cannot keep a transaction (and its read timestamp) open forever.
 */
export const execOpsMax = 100_000;
/** Largest `--file` read, bytes: the file is read whole before the transaction begins. */
export const execFileBytesMax = 64 * 1024 * 1024;

interface TxnOptions {
  pd: string;
  hex: boolean;
  format: Encoding;
  timeout: number;
}

/** Where `exec` reads its script when no `--file` is given. */
export interface ScriptInput {
  readonly stream: NodeJS.ReadableStream;
  /**
   * A person types the script (a TTY): a bad line is reported and skipped
   * instead of ending the transaction, and a hint is printed first.
   */
  readonly interactive: boolean;
}

const processInput = (): ScriptInput => ({ stream: process.stdin, interactive: process.stdin.isTTY === true });

/** One operation of an `exec` script. Keys and values are already parsed (hex or text). */
export type ScriptOp =
  | { readonly kind: 'get'; readonly key: Uint8Array }
  | { readonly kind: 'put'; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly kind: 'delete'; readonly key: Uint8Array }
  | { readonly kind: 'scan'; readonly start: Uint8Array; readonly end: Uint8Array; readonly limit: number };

function parseLimit(value: string, what: string): number {
  const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0 || n > scanLimitMax) throw new UsageError(`${what} must be an integer from 1 to ${scanLimitMax}, got "${value}"`);
  return n;
}

function parseTimeout(value: string): number {
  const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`--timeout must be a positive integer, got "${value}"`);
  return n;
}

/**
 * Splits a script line into words: separated by blanks, a word may be
 * double-quoted (`""` is the empty key, `"a b"` a value with a blank) with
 * the escapes `\"`, `\\`, `\t` and `\n` inside quotes.
 * @throws {UsageError} on an unterminated quote or an unknown escape
 */
export function tokenize(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i] as string;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c !== '"') {
      let j = i;
      while (j < line.length && line[j] !== ' ' && line[j] !== '\t') j++;
      words.push(line.slice(i, j));
      i = j;
      continue;
    }
    let word = '';
    for (i++; ; i++) {
      if (i >= line.length) throw new UsageError('unterminated quote');
      const q = line[i] as string;
      if (q === '"') break;
      if (q !== '\\') {
        word += q;
        continue;
      }
      const e = line[++i];
      const escaped = e === '"' || e === '\\' ? e : e === 't' ? '\t' : e === 'n' ? '\n' : undefined;
      if (escaped === undefined) throw new UsageError(`unknown escape "\\${e ?? ''}" (use \\", \\\\, \\t or \\n)`);
      word += escaped;
    }
    words.push(word);
    i++;
  }
  return words;
}

const SCRIPT_USAGE = 'get <key> | put <key> <value> | delete <key> | scan <start> [<end> [<limit>]]';

/**
 * One line of an `exec` script: an operation, or undefined for a blank line
 * or a `#` comment (a line whose first non-blank character is `#`).
 * @throws {UsageError} naming the line on a malformed one
 */
export function parseScriptLine(line: string, lineNo: number, hex: boolean): ScriptOp | undefined {
  const trimmed = line.trim();
  if (trimmed === '' || trimmed.startsWith('#')) return undefined;
  try {
    const [verb, ...args] = tokenize(trimmed);
    const arity = (min: number, max: number, shape: string): void => {
      if (args.length < min || args.length > max) throw new UsageError(`${verb} takes ${shape}, got ${args.length} argument(s)`);
    };
    const bytes = (i: number, what: string): Uint8Array => parseBytes(args[i] ?? '', hex, what);
    switch (verb) {
      case 'get':
        arity(1, 1, '<key>');
        return { kind: 'get', key: bytes(0, 'key') };
      case 'put':
        arity(2, 2, '<key> <value>');
        return { kind: 'put', key: bytes(0, 'key'), value: bytes(1, 'value') };
      case 'delete':
        arity(1, 1, '<key>');
        return { kind: 'delete', key: bytes(0, 'key') };
      case 'scan': {
        arity(1, 3, '<start> [<end> [<limit>]]');
        const limit = args[2] === undefined ? txnScanLimitDefault : parseLimit(args[2], 'scan limit');
        return { kind: 'scan', start: bytes(0, 'start key'), end: bytes(1, 'end key'), limit };
      }
      default:
        throw new UsageError(`unknown operation "${verb ?? ''}" (expected ${SCRIPT_USAGE})`);
    }
  } catch (err: unknown) {
    if (err instanceof UsageError) throw new UsageError(`line ${lineNo}: ${err.message}`);
    throw err;
  }
}

function withTxnOptions(cmd: Command): Command {
  return cmd
    .option('--pd <addrs>', 'the cluster\'s scheduler, comma-separated host:port', DEFAULT_PD_ADDRS)
    .option('--hex', 'keys and values on the command line (and in exec scripts) are hex', false)
    .addOption(new Option('--format <text|hex>', 'how to print keys and values').default('text').argParser(parseEncoding))
    .addOption(
      new Option('--timeout <ms>', 'deadline of each step of the transaction (begin, each read, the commit) in milliseconds')
        .default(clientDeadlineMsDefault)
        .argParser(parseTimeout),
    );
}

/**
 * Runs `body` with a client of the cluster at `--pd`, then closes it, which
 * waits for the background commits of the secondaries (so the keys are not
 * left locked for the next reader to resolve). Operating errors are printed
 * and mapped to exit codes; usage errors and bugs go on to main.
 */
async function withTxnClient(opts: TxnOptions, io: CliIo, body: (client: TxnClient) => Promise<number>): Promise<number> {
  const client = new TxnClient({ rpc: new GrpcTxnRpc({ pd: parsePdAddrs(opts.pd) }), timeoutMs: opts.timeout });
  try {
    return await body(client);
  } catch (err: unknown) {
    return reportTxnError(err, io);
  } finally {
    await client.close();
  }
}

/** The message and exit code of an operating error. @throws err when it is not one (usage errors, bugs) */
function reportTxnError(err: unknown, io: CliIo): number {
  if (err instanceof TxnError) {
    switch (err.code) {
      case TXN_ERROR_CODES.WriteConflict:
      case TXN_ERROR_CODES.TxnAborted:
        io.err(`error: transaction not committed (${err.code}): ${err.message}\nnothing was written; running it again may succeed\n`);
        return EXIT.conflict;
      case TXN_ERROR_CODES.CommitOutcomeUnknown:
        io.err(
          `error: commit outcome unknown: the transaction may or may not have committed at ${err.commitTs ?? '(unknown ts)'}: ${err.message}\n` +
            'read one of its keys to find out (a reader settles its locks)\n',
        );
        return EXIT.failed;
      case TXN_ERROR_CODES.KeyError:
        io.err(`error: ${err.message}\n`);
        return EXIT.failed;
      default:
        return assertNever(err.code);
    }
  }
  if (err instanceof ClientError || err instanceof SchedulerError) {
    io.err(`error: ${err.message}\n`);
    return EXIT.failed;
  }
  throw err;
}

/** Prints one `key<TAB>value` line. */
function printPair(io: CliIo, key: Uint8Array, value: Uint8Array, format: Encoding): void {
  io.out(`${render(key, format)}\t${render(value, format)}\n`);
}

function printCommit(io: CliIo, commitTs: bigint | undefined): void {
  io.out(commitTs === undefined ? 'read-only, nothing to commit\n' : `committed at ${commitTs}\n`);
}

/** Runs one script operation on `txn`, printing what a read found. @returns whether a get found its key */
async function runOp(txn: Transaction, op: ScriptOp, io: CliIo, format: Encoding): Promise<boolean> {
  switch (op.kind) {
    case 'get': {
      const value = await txn.get(op.key);
      if (value === undefined) io.err(`not found: ${render(op.key, format)}\n`);
      else printPair(io, op.key, value, format);
      return value !== undefined;
    }
    case 'put':
      txn.put(op.key, op.value);
      return true;
    case 'delete':
      txn.delete(op.key);
      return true;
    case 'scan':
      for (const e of await txn.scan(op.start, op.end, op.limit)) printPair(io, e.key, e.value, format);
      return true;
    default:
      return assertNever(op);
  }
}

/** Where a script's lines come from; `open` is called once, right before they are read. */
interface ScriptSource {
  open(): AsyncIterable<string>;
  readonly interactive: boolean;
}

/** The script's lines: the whole `--file` (read before anything is sent), or stdin as it comes. */
function scriptSource(file: string | undefined, input: () => ScriptInput): ScriptSource {
  if (file === undefined) {
    const { stream, interactive } = input();
    // Opened lazily: a readline interface starts reading at once, and lines it emits before
    // the loop's iterator exists are lost (and so is its end, which would hang the loop).
    return { open: () => readline.createInterface({ input: stream, crlfDelay: Infinity, terminal: false }), interactive };
  }
  let text: string;
  try {
    const size = fs.statSync(file).size;
    if (size > execFileBytesMax) throw new UsageError(`--file ${file} is ${size} bytes, the limit is ${execFileBytesMax}`);
    text = fs.readFileSync(file, 'utf8');
  } catch (err: unknown) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot read --file ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  const all = text.split(/\r?\n/);
  return {
    open: async function* () {
      yield* all;
    },
    interactive: false,
  };
}

/**
 * `exec`: begins, runs the script's operations as they come, commits.
 * A malformed line ends the transaction uncommitted (UsageError, exit 2)
 * unless a person is typing, who is told and may go on.
 */
async function execScript(
  client: TxnClient, source: ScriptSource, opts: TxnOptions, io: CliIo,
): Promise<number> {
  const txn = await client.begin();
  io.out(`start ts ${txn.startTs}\n`);
  if (source.interactive) io.err('one operation per line: ' + SCRIPT_USAGE + '; Ctrl-D commits, Ctrl-C abandons\n');
  let lineNo = 0;
  let ops = 0;
  try {
    for await (const line of source.open()) {
      lineNo++;
      let op: ScriptOp | undefined;
      try {
        op = parseScriptLine(line, lineNo, opts.hex);
      } catch (err: unknown) {
        if (!(source.interactive && err instanceof UsageError)) throw err;
        io.err(`error: ${err.message}\n`);
        continue;
      }
      if (op === undefined) continue;
      if (++ops > execOpsMax) throw new UsageError(`line ${lineNo}: a script may hold at most ${execOpsMax} operations`);
      await runOp(txn, op, io, opts.format);
    }
  } catch (err: unknown) {
    // Nothing was sent but reads: dropping the buffered writes abandons the transaction.
    await txn.rollback();
    throw err;
  }
  printCommit(io, await txn.commit());
  return EXIT.ok;
}

/** @throws {UsageError} past what one transaction may write (the client would refuse it with a RangeError) */
function checkWriteCount(keys: number): void {
  if (keys > txnBufferKeysMax) throw new UsageError(`a transaction writes at most ${txnBufferKeysMax} keys, got ${keys}`);
}

/** Splits `put`'s arguments into pairs. @throws {UsageError} on an odd count */
function pairsOf(args: readonly string[], hex: boolean): { key: Uint8Array; value: Uint8Array }[] {
  if (args.length % 2 !== 0) {
    throw new UsageError(`txn put takes <key> <value> pairs, got ${args.length} argument(s): the last key has no value`);
  }
  checkWriteCount(args.length / 2);
  const pairs: { key: Uint8Array; value: Uint8Array }[] = [];
  for (let i = 0; i < args.length; i += 2) {
    pairs.push({ key: parseBytes(args[i] as string, hex, 'key'), value: parseBytes(args[i + 1] as string, hex, 'value') });
  }
  return pairs;
}

function addGet(txn: Command, setExit: (code: number) => void, io: CliIo): void {
  withTxnOptions(txn.command('get').description('read keys from one snapshot: "key<TAB>value" per found key, in the order given').argument('<keys...>'))
    .action(async (args: string[], opts: TxnOptions) => {
      const keys = args.map((k) => parseBytes(k, opts.hex, 'key'));
      setExit(
        await withTxnClient(opts, io, async (client) => {
          const t = await client.begin();
          // In parallel: every read is at the same start ts, so their order does not matter.
          const values = await Promise.all(keys.map((k) => t.get(k)));
          let missing = false;
          keys.forEach((key, i) => {
            const value = values[i];
            if (value !== undefined) printPair(io, key, value, opts.format);
            else {
              io.err(`not found: ${render(key, opts.format)}\n`);
              missing = true;
            }
          });
          await t.rollback();
          return missing ? EXIT.notFound : EXIT.ok;
        }),
      );
    });
}

function addWrites(txn: Command, setExit: (code: number) => void, io: CliIo): void {
  withTxnOptions(txn.command('put').description('write <key> <value> pairs atomically in one transaction').argument('<pairs...>', '<key> <value> [<key> <value>...]'))
    .action(async (args: string[], opts: TxnOptions) => {
      const pairs = pairsOf(args, opts.hex);
      setExit(
        await withTxnClient(opts, io, async (client) => {
          const t = await client.begin();
          for (const p of pairs) t.put(p.key, p.value);
          printCommit(io, await t.commit());
          return EXIT.ok;
        }),
      );
    });
  withTxnOptions(txn.command('delete').description('delete keys atomically in one transaction').argument('<keys...>'))
    .action(async (args: string[], opts: TxnOptions) => {
      checkWriteCount(args.length);
      const keys = args.map((k) => parseBytes(k, opts.hex, 'key'));
      setExit(
        await withTxnClient(opts, io, async (client) => {
          const t = await client.begin();
          for (const k of keys) t.delete(k);
          printCommit(io, await t.commit());
          return EXIT.ok;
        }),
      );
    });
}

function addScan(txn: Command, setExit: (code: number) => void, io: CliIo): void {
  withTxnOptions(
    txn.command('scan').description('print up to --limit pairs of [start, --end) from one snapshot, one "key<TAB>value" per line').argument('[start]', 'start key (inclusive)', ''),
  )
    .option('--end <key>', 'end key (exclusive); the end of the key space when not given')
    .addOption(new Option('--limit <n>', `most pairs to print (at most ${scanLimitMax})`).default(txnScanLimitDefault).argParser((v) => parseLimit(v, '--limit')))
    .action(async (start: string, opts: TxnOptions & { end?: string; limit: number }) => {
      const startKey = parseBytes(start, opts.hex, 'start key');
      const endKey = opts.end === undefined ? new Uint8Array() : parseBytes(opts.end, opts.hex, 'end key');
      setExit(
        await withTxnClient(opts, io, async (client) => {
          const t = await client.begin();
          for (const e of await t.scan(startKey, endKey, opts.limit)) printPair(io, e.key, e.value, opts.format);
          await t.rollback();
          return EXIT.ok;
        }),
      );
    });
}

function addExec(txn: Command, setExit: (code: number) => void, io: CliIo, input: () => ScriptInput): void {
  withTxnOptions(
    txn.command('exec').description(`run a script (stdin, or --file) in one transaction and commit it; one operation per line: ${SCRIPT_USAGE}`),
  )
    .option('--file <path>', 'read the script from this file instead of stdin')
    .action(async (opts: TxnOptions & { file?: string }) => {
      // Read (and size-check) a file before the transaction begins.
      const source = scriptSource(opts.file, input);
      setExit(await withTxnClient(opts, io, (client) => execScript(client, source, opts, io)));
    });
}

/**
 * @param io where output goes. @default processIo (stdout and stderr)
 * @param input where `exec` reads its script without `--file`. @default stdin
 */
export function txnCommand(setExit: (code: number) => void, io: CliIo = processIo, input: () => ScriptInput = processInput): Command {
  const txn = new Command('txn').description('transactions (snapshot isolation, Percolator) through the cluster\'s scheduler (--pd)');
  addGet(txn, setExit, io);
  addWrites(txn, setExit, io);
  addScan(txn, setExit, io);
  addExec(txn, setExit, io, input);
  for (const sub of txn.commands) sub.configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
  txn.configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
  return txn;
}
