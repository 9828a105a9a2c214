/** `tinykv server` and `tinykv playground`: long-running processes. */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { startStandalone } from '../server/standalone.js';
import type { RunningStandalone } from '../server/standalone.js';
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

/** Stops gracefully: in-flight calls finish, then the engine closes. */
async function stopOn(signal: Promise<NodeJS.Signals>, node: RunningStandalone, logger: Logger): Promise<number> {
  logger.info({ signal: await signal }, 'shutting down');
  try {
    await node.stop();
    return EXIT.ok;
  } catch (err: unknown) {
    logger.error({ err }, 'shutdown failed');
    return EXIT.failed;
  }
}

export function serverCommand(setExit: (code: number) => void): Command {
  return new Command('server')
    .description('run a TinyKV.ts server')
    .option('--standalone', 'serve a single node without replication (the only mode of this build)', false)
    .option('--data-dir <dir>', 'directory for the data files (created if missing)', './.tinykv/standalone')
    .option('--addr <host:port>', 'address to listen on (port 0 picks a free port)', DEFAULT_ADDR)
    .addOption(new Option('--log-level <level>', 'log level').default('info').argParser(parseLogLevel))
    .action(async (opts: { standalone: boolean; dataDir: string; addr: string; logLevel: LogLevel }) => {
      if (!opts.standalone) {
        throw new UsageError('Cluster mode needs the raftstore, which this build does not have yet: pass --standalone');
      }
      const logger = createLogger({ level: opts.logLevel, name: 'tinykv-server' });
      const signal = firstSignal(logger);
      const node = await startStandalone({ dataDir: path.resolve(opts.dataDir), addr: opts.addr, logger });
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
