/** `tinykv server` and `tinykv playground`: long-running processes. */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { raftTickMsDefault, raftTickMsMax, raftTickMsMin, startRaftServer } from '../server/raft_server.js';
import { startStandalone } from '../server/standalone.js';
import { createLogger, isLogLevel, LOG_LEVELS } from '../util/log.js';
import type { LogLevel, Logger } from '../util/log.js';
import { EXIT } from './exit_codes.js';
import { UsageError } from './format.js';
import { DEFAULT_ADDR } from './raw_commands.js';

function parseLogLevel(value: string): LogLevel {
  if (!isLogLevel(value)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${value}"`);
  return value;
}

/**
 * Resolves on the first SIGINT/SIGTERM; a second signal exits at once.
 * Installed before the server starts, so a signal that arrives while it
 * starts (or right after it announced its address) is never missed.
 */
function firstSignal(logger: Logger): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (received) {
        logger.warn({ signal }, 'second signal: exiting without waiting');
        process.exit(EXIT.failed);
      }
      received = true;
      resolve(signal);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

/** A started server: standalone or raft. */
interface RunningNode {
  readonly addr: string;
  stop(): Promise<void>;
}

/** Stops gracefully: in-flight calls finish, then the engine closes. */
async function stopOn(signal: Promise<NodeJS.Signals>, node: RunningNode, logger: Logger): Promise<number> {
  logger.info({ signal: await signal }, 'shutting down');
  try {
    await node.stop();
    return EXIT.ok;
  } catch (err: unknown) {
    logger.error({ err }, 'shutdown failed');
    return EXIT.failed;
  }
}

interface ServerOptions {
  standalone: boolean;
  raft: boolean;
  dataDir?: string;
  addr: string;
  logLevel: LogLevel;
  raftTickMs?: number;
}

function parseRaftTickMs(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < raftTickMsMin || n > raftTickMsMax) {
    throw new UsageError(`--raft-tick-ms must be an integer from ${raftTickMsMin} to ${raftTickMsMax}, got "${value}"`);
  }
  return n;
}

/** Checks the mode flags. @throws {UsageError} unless exactly one mode is chosen and its options fit it. */
function checkMode(opts: ServerOptions): 'standalone' | 'raft' {
  if (opts.standalone && opts.raft) throw new UsageError('--standalone and --raft cannot be combined: pick one');
  if (!opts.standalone && !opts.raft) {
    throw new UsageError('Pick a mode: --standalone (one node, no replication) or --raft (one raft store); a multi-store cluster needs a store-to-store transport, which this build does not have yet');
  }
  if (opts.standalone && opts.raftTickMs !== undefined) throw new UsageError('--raft-tick-ms needs --raft');
  return opts.raft ? 'raft' : 'standalone';
}

export function serverCommand(setExit: (code: number) => void): Command {
  return new Command('server')
    .description('run a TinyKV.ts server')
    .option('--standalone', 'serve a single node without replication', false)
    .option('--raft', 'serve a single raft store (region 1 over all keys, one peer): writes and reads go through raft', false)
    .option('--data-dir <dir>', 'directory for the data files, created if missing (default: ./.tinykv/standalone, or ./.tinykv/raft with --raft)')
    .option('--addr <host:port>', 'address to listen on (port 0 picks a free port)', DEFAULT_ADDR)
    .addOption(new Option('--raft-tick-ms <ms>', `length of one raftstore tick, with --raft (default: ${raftTickMsDefault})`).argParser(parseRaftTickMs))
    .addOption(new Option('--log-level <level>', 'log level').default('info').argParser(parseLogLevel))
    .action(async (opts: ServerOptions) => {
      const mode = checkMode(opts);
      const dataDir = path.resolve(opts.dataDir ?? `./.tinykv/${mode}`);
      const logger = createLogger({ level: opts.logLevel, name: 'tinykv-server' });
      const signal = firstSignal(logger);
      const node: RunningNode =
        mode === 'raft'
          ? await startRaftServer({ dataDir, addr: opts.addr, logger, ...(opts.raftTickMs === undefined ? {} : { baseTickMs: opts.raftTickMs }) })
          : await startStandalone({ dataDir, addr: opts.addr, logger });
      // The first stdout line is the contract for scripts and tests: the bound address.
      process.stdout.write(`listening on ${node.addr}\n`);
      setExit(await stopOn(signal, node, logger));
    });
}

export function playgroundCommand(setExit: (code: number) => void): Command {
  return new Command('playground')
    .description('start a local server for trying TinyKV.ts (a standalone node in this build)')
    .option('--data-dir <dir>', 'directory for the data files', './.tinykv/playground')
    .option('--addr <host:port>', 'address to listen on', DEFAULT_ADDR)
    .action(async (opts: { dataDir: string; addr: string }) => {
      const logger = createLogger({ level: 'warn', name: 'tinykv-playground' });
      const dataDir = path.resolve(opts.dataDir);
      const signal = firstSignal(logger);
      const node = await startStandalone({ dataDir, addr: opts.addr, logger });
      const cli = 'npx tinykv';
      process.stdout.write(
        [
          `TinyKV.ts playground is serving on ${node.addr} (data in ${dataDir})`,
          '',
          'Try, in another terminal:',
          `  ${cli} raw put hello world --addr ${node.addr}`,
          `  ${cli} raw get hello --addr ${node.addr}`,
          `  ${cli} raw scan --limit 10 --addr ${node.addr}`,
          `  ${cli} raw delete hello --addr ${node.addr}`,
          '',
          'Press Ctrl-C to stop.',
          '',
        ].join('\n'),
      );
      setExit(await stopOn(signal, node, logger));
      process.stdout.write('stopped\n');
    });
}
