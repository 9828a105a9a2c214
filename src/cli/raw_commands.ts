/** `tinykv raw get|put|delete|scan`: the raw API from the command line. */
import { Command, Option } from 'commander';
import { RawClient } from '../client/raw_client.js';
import { clientDeadlineMsDefault } from '../config/limits.js';
import { EXIT } from './exit_codes.js';
import { parseBytes, parseEncoding, render, UsageError } from './format.js';
import type { Encoding } from './format.js';

export const DEFAULT_ADDR = '127.0.0.1:20160';

interface RawOptions {
  addr: string;
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
    .option('--addr <host:port>', 'server address', DEFAULT_ADDR)
    .option('--cf <name>', 'column family: default, lock or write', 'default')
    .option('--hex', 'keys and values on the command line are hex', false)
    .addOption(new Option('--format <text|hex>', 'how to print keys and values').default('text').argParser(parseEncoding))
    .addOption(
      new Option('--timeout <ms>', 'deadline of the call in milliseconds')
        .default(clientDeadlineMsDefault)
        .argParser((v) => parsePositiveInt(v, '--timeout')),
    );
}

async function withClient(opts: RawOptions, body: (client: RawClient) => Promise<number>): Promise<number> {
  const client = new RawClient({ addr: opts.addr, deadlineMs: opts.timeout });
  try {
    return await body(client);
  } finally {
    client.close();
  }
}

export function rawCommand(setExit: (code: number) => void): Command {
  const raw = new Command('raw').description('raw key-value operations against a server');
  withRawOptions(raw.command('get').description('print the value of a key').argument('<key>')).action(
    async (key: string, opts: RawOptions) => {
      setExit(
        await withClient(opts, async (client) => {
          const value = await client.get(parseBytes(key, opts.hex, 'key'), { cf: opts.cf });
          if (value === undefined) {
            process.stderr.write('not found\n');
            return EXIT.notFound;
          }
          process.stdout.write(`${render(value, opts.format)}\n`);
          return EXIT.ok;
        }),
      );
    },
  );
  withRawOptions(raw.command('put').description('store a value at a key').argument('<key>').argument('<value>')).action(
    async (key: string, value: string, opts: RawOptions) => {
      setExit(
        await withClient(opts, async (client) => {
          await client.put(parseBytes(key, opts.hex, 'key'), parseBytes(value, opts.hex, 'value'), { cf: opts.cf });
          process.stdout.write('OK\n');
          return EXIT.ok;
        }),
      );
    },
  );
  withRawOptions(raw.command('delete').description('delete a key').argument('<key>')).action(
    async (key: string, opts: RawOptions) => {
      setExit(
        await withClient(opts, async (client) => {
          await client.delete(parseBytes(key, opts.hex, 'key'), { cf: opts.cf });
          process.stdout.write('OK\n');
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
        await withClient(opts, async (client) => {
          const entries = await client.scan(parseBytes(start, opts.hex, 'start key'), opts.limit, { cf: opts.cf });
          for (const e of entries) process.stdout.write(`${render(e.key, opts.format)}\t${render(e.value, opts.format)}\n`);
          return EXIT.ok;
        }),
      );
    });
  return raw;
}
