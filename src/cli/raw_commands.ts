/**
 * `tinykv raw get|put|delete|scan`: the raw API from the command line,
 * routed through the cluster by region (`--pd`, the default) or sent to one
 * server without routing (`--addr`, a standalone or single-store raft server).
 */
import { Command, Option } from 'commander';
import { ClientError, SchedulerError } from '../client/errors.js';
import { RawClient } from '../client/raw_client.js';
import { clientDeadlineMsDefault } from '../config/limits.js';
import { EXIT } from './exit_codes.js';
import { DEFAULT_PD_ADDRS, parseBytes, parseEncoding, parsePdAddrs, processIo, render, UsageError } from './format.js';
import type { CliIo, Encoding } from './format.js';

/** The default address of `tinykv server` and the playground's first store. */
export const DEFAULT_ADDR = '127.0.0.1:20160';

interface RawOptions {
  /** Undefined unless given: no default, so that giving it together with --pd can be refused. */
  addr?: string;
  pd?: string;
  cf: string;
  hex: boolean;
  format: Encoding;
  timeout: number;
}

function parsePositiveInt(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${what} must be a positive integer, got "${value}"`);
  return n;
}

function withRawOptions(cmd: Command): Command {
  return cmd
    .option('--pd <addrs>', `route by region through the cluster's scheduler, comma-separated host:port (default when --addr is not given: ${DEFAULT_PD_ADDRS})`)
    .option('--addr <host:port>', 'talk to this one server without routing (a standalone or --raft server)')
    .option('--cf <name>', 'column family: default, lock or write', 'default')
    .option('--hex', 'keys and values on the command line are hex', false)
    .addOption(new Option('--format <text|hex>', 'how to print keys and values').default('text').argParser(parseEncoding))
    .addOption(
      new Option('--timeout <ms>', 'deadline of the call in milliseconds')
        .default(clientDeadlineMsDefault)
        .argParser((v) => parsePositiveInt(v, '--timeout')),
    );
}

/** The client for `--addr` or `--pd` (the default). @throws {UsageError} when both are given */
function clientFor(opts: RawOptions): RawClient {
  if (opts.addr !== undefined && opts.pd !== undefined) {
    throw new UsageError('--addr and --pd cannot be used together: --addr talks to one server, --pd routes through the cluster');
  }
  if (opts.addr !== undefined) return new RawClient({ addr: opts.addr, deadlineMs: opts.timeout });
  return new RawClient({ pd: parsePdAddrs(opts.pd ?? DEFAULT_PD_ADDRS), deadlineMs: opts.timeout });
}

async function withClient(opts: RawOptions, io: CliIo, body: (client: RawClient) => Promise<number>): Promise<number> {
  const client = clientFor(opts);
  try {
    return await body(client);
  } catch (err: unknown) {
    // Operating errors with a message written for the user (routed calls may
    // also fail with the scheduler's refusal); anything else is a bug for main.
    if (!(err instanceof ClientError) && !(err instanceof SchedulerError)) throw err;
    io.err(`error: ${err.message}\n`);
    return EXIT.failed;
  } finally {
    client.close();
  }
}

/** @param io where output goes. @default processIo (stdout and stderr) */
export function rawCommand(setExit: (code: number) => void, io: CliIo = processIo): Command {
  const raw = new Command('raw').description('raw key-value operations, routed through the cluster (--pd) or against one server (--addr)');
  withRawOptions(raw.command('get').description('print the value of a key').argument('<key>')).action(
    async (key: string, opts: RawOptions) => {
      setExit(
        await withClient(opts, io, async (client) => {
          const value = await client.get(parseBytes(key, opts.hex, 'key'), { cf: opts.cf });
          if (value === undefined) {
            io.err('not found\n');
            return EXIT.notFound;
          }
          io.out(`${render(value, opts.format)}\n`);
          return EXIT.ok;
        }),
      );
    },
  );
  withRawOptions(raw.command('put').description('store a value at a key').argument('<key>').argument('<value>')).action(
    async (key: string, value: string, opts: RawOptions) => {
      setExit(
        await withClient(opts, io, async (client) => {
          await client.put(parseBytes(key, opts.hex, 'key'), parseBytes(value, opts.hex, 'value'), { cf: opts.cf });
          io.out('OK\n');
          return EXIT.ok;
        }),
      );
    },
  );
  withRawOptions(raw.command('delete').description('delete a key').argument('<key>')).action(
    async (key: string, opts: RawOptions) => {
      setExit(
        await withClient(opts, io, async (client) => {
          await client.delete(parseBytes(key, opts.hex, 'key'), { cf: opts.cf });
          io.out('OK\n');
          return EXIT.ok;
        }),
      );
    },
  );
  withRawOptions(
    raw
      .command('scan')
      .description('print up to --limit pairs from a start key on, one "key<TAB>value" per line')
      .argument('[start]', 'start key (inclusive)', ''),
  )
    .addOption(new Option('--limit <n>', 'most pairs to print').default(100).argParser((v) => parsePositiveInt(v, '--limit')))
    .action(async (start: string, opts: RawOptions & { limit: number }) => {
      setExit(
        await withClient(opts, io, async (client) => {
          const entries = await client.scan(parseBytes(start, opts.hex, 'start key'), opts.limit, { cf: opts.cf });
          for (const e of entries) io.out(`${render(e.key, opts.format)}\t${render(e.value, opts.format)}\n`);
          return EXIT.ok;
        }),
      );
    });
  for (const sub of raw.commands) sub.configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
  raw.configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
  return raw;
}
