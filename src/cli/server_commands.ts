/** `tinykv server` and `tinykv playground`: long-running processes. */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { DEFAULT_RAFTSTORE_CONFIG } from '../raftstore/config.js';
import type { RaftstoreConfig } from '../raftstore/config.js';
import { startClusterStore } from '../server/cluster_store.js';
import { raftTickMsDefault, raftTickMsMax, raftTickMsMin, startRaftServer } from '../server/raft_server.js';
import { startStandalone } from '../server/standalone.js';
import { Playground } from './playground.js';
import { firstSignal } from './signals.js';
import { createLogger, isLogLevel, LOG_LEVELS } from '../util/log.js';
import type { LogLevel, Logger } from '../util/log.js';
import { EXIT } from './exit_codes.js';
import { UsageError } from './format.js';
import { DEFAULT_ADDR } from './raw_commands.js';

function parseLogLevel(value: string): LogLevel {
  if (!isLogLevel(value)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${value}"`);
  return value;
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
  pd?: string;
  dataDir?: string;
  addr: string;
  logLevel: LogLevel;
  raftTickMs?: number;
  regionSplitSize?: number;
  heartbeatMs?: number;
}

/** Smallest region split size accepted (a split per few keys is a test setting, not an error). */
const regionSplitSizeMin = 1024;

function parseRegionSplitSize(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < regionSplitSizeMin) throw new UsageError(`--region-split-size must be an integer of at least ${regionSplitSizeMin} bytes, got "${value}"`);
  return n;
}

function parseHeartbeatMs(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 10 || n > 600_000) throw new UsageError(`--heartbeat-ms must be an integer from 10 to 600000, got "${value}"`);
  return n;
}

/** The raftstore config for a split size: regions split at it and must split past 1.5× it (TinyKV: 96 MiB / 144 MiB). */
function raftstoreConfig(splitSize: number | undefined): RaftstoreConfig {
  if (splitSize === undefined) return DEFAULT_RAFTSTORE_CONFIG;
  return { ...DEFAULT_RAFTSTORE_CONFIG, regionSplitSizeBytes: splitSize, regionMaxSizeBytes: Math.floor(splitSize * 1.5) };
}

function parseRaftTickMs(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < raftTickMsMin || n > raftTickMsMax) {
    throw new UsageError(`--raft-tick-ms must be an integer from ${raftTickMsMin} to ${raftTickMsMax}, got "${value}"`);
  }
  return n;
}

type Mode = 'standalone' | 'raft' | 'store';

/** Checks the mode flags. @throws {UsageError} unless exactly one mode is chosen and its options fit it. */
function checkMode(opts: ServerOptions): Mode {
  const modes = [opts.standalone, opts.raft, opts.pd !== undefined].filter(Boolean).length;
  if (modes > 1) throw new UsageError('--standalone, --raft and --pd cannot be combined: pick one');
  if (modes === 0) {
    throw new UsageError('Pick a mode: --pd <scheduler addr> (a store of a cluster), --standalone (one node, no replication) or --raft (one raft store)');
  }
  if (opts.standalone && opts.raftTickMs !== undefined) throw new UsageError('--raft-tick-ms needs --raft or --pd');
  if (opts.pd === undefined && (opts.regionSplitSize !== undefined || opts.heartbeatMs !== undefined)) throw new UsageError('--region-split-size and --heartbeat-ms need --pd');
  return opts.pd !== undefined ? 'store' : opts.raft ? 'raft' : 'standalone';
}

async function startNode(mode: Mode, opts: ServerOptions, dataDir: string, logger: Logger): Promise<RunningNode> {
  const tick = opts.raftTickMs === undefined ? {} : { baseTickMs: opts.raftTickMs };
  switch (mode) {
    case 'store': {
      const heartbeat = opts.heartbeatMs === undefined ? {} : { regionHeartbeatMs: opts.heartbeatMs, storeHeartbeatMs: opts.heartbeatMs };
      return startClusterStore({
        dataDir, addr: opts.addr, pd: (opts.pd ?? '').split(','), logger, config: raftstoreConfig(opts.regionSplitSize), ...tick, ...heartbeat,
      });
    }
    case 'raft':
      return startRaftServer({ dataDir, addr: opts.addr, logger, ...tick });
    case 'standalone':
      return startStandalone({ dataDir, addr: opts.addr, logger });
  }
}

export function serverCommand(setExit: (code: number) => void): Command {
  return new Command('server')
    .description('run a TinyKV.ts server')
    .option('--pd <addrs>', 'run a store of the cluster whose scheduler is at <addrs> (comma-separated host:port)')
    .option('--standalone', 'serve a single node without replication', false)
    .option('--raft', 'serve a single raft store (region 1 over all keys, one peer): writes and reads go through raft', false)
    .option('--data-dir <dir>', 'directory for the data files, created if missing (default: ./.tinykv/store with --pd, ./.tinykv/standalone, or ./.tinykv/raft with --raft)')
    .option('--addr <host:port>', 'address to listen on (port 0 picks a free port)', DEFAULT_ADDR)
    .addOption(new Option('--raft-tick-ms <ms>', `length of one raftstore tick, with --raft or --pd (default: ${raftTickMsDefault})`).argParser(parseRaftTickMs))
    .addOption(new Option('--region-split-size <bytes>', `with --pd: regions split at this size (default: ${DEFAULT_RAFTSTORE_CONFIG.regionSplitSizeBytes})`).argParser(parseRegionSplitSize))
    .addOption(new Option('--heartbeat-ms <ms>', 'with --pd: region and store heartbeat interval (default: 10000)').argParser(parseHeartbeatMs))
    .addOption(new Option('--log-level <level>', 'log level').default('info').argParser(parseLogLevel))
    .action(async (opts: ServerOptions) => {
      const mode = checkMode(opts);
      const dataDir = path.resolve(opts.dataDir ?? `./.tinykv/${mode}`);
      const logger = createLogger({ level: opts.logLevel, name: 'tinykv-server' });
      const signal = firstSignal(logger);
      const node = await startNode(mode, opts, dataDir, logger);
      // The first stdout line is the contract for scripts and tests: the bound address.
      process.stdout.write(`listening on ${node.addr}\n`);
      setExit(await stopOn(signal, node, logger));
    });
}

interface PlaygroundFlags {
  dataDir: string;
  stores: number;
  pdPort: number;
  storePort: number;
  regionSplitSize: number;
}

/** The playground's regions split at 1 MiB (TinyKV's 96 MiB would need a lot of data to show a split). */
const PLAYGROUND_SPLIT_SIZE = 1 << 20;
/** Its leaders report every 2 s, so `tinykv ctl` shows sizes and leaders close to now. */
const PLAYGROUND_HEARTBEAT_MS = 2_000;

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0 || n > 65_535) throw new UsageError(`a port must be an integer from 0 to 65535, got "${value}"`);
  return n;
}

function parseStoreCount(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1 || n > 9) throw new UsageError(`--stores must be an integer from 1 to 9, got "${value}"`);
  return n;
}

export function playgroundCommand(setExit: (code: number) => void): Command {
  return new Command('playground')
    .description('start a local cluster for trying TinyKV.ts: a scheduler and N stores as child processes on loopback')
    .option('--data-dir <dir>', 'root of the data dirs and logs (reused by the next start)', './.tinykv')
    .addOption(new Option('--stores <n>', 'number of stores').default(3).argParser(parseStoreCount))
    .addOption(new Option('--pd-port <port>', 'scheduler port').default(2379).argParser(parsePort))
    .addOption(new Option('--store-port <port>', 'port of the first store; the others follow').default(20160).argParser(parsePort))
    .addOption(new Option('--region-split-size <bytes>', 'regions split at this size (small so splits show under modest load)').default(PLAYGROUND_SPLIT_SIZE).argParser(parseRegionSplitSize))
    .action(async (opts: PlaygroundFlags) => {
      const logger = createLogger({ level: 'warn', name: 'tinykv-playground' });
      const signal = firstSignal(logger);
      process.stdout.write(`starting a scheduler and ${opts.stores} stores (data and logs under ${path.resolve(opts.dataDir)}) ...\n`);
      const playground = await Playground.start({
        dataDir: opts.dataDir, stores: opts.stores, pdPort: opts.pdPort, storePort: opts.storePort,
        storeArgs: ['--region-split-size', String(opts.regionSplitSize), '--heartbeat-ms', String(PLAYGROUND_HEARTBEAT_MS)],
        onExit: (name, status) => process.stderr.write(`${name} exited (${status}); see ${playground.logDir}/${name}.log\n`),
      });
      const pd = playground.pdAddr;
      const cli = 'npx tinykv';
      process.stdout.write(
        [
          `TinyKV.ts playground is serving: scheduler on ${pd}, stores on ${playground.storeAddrs.join(', ')}`,
          `  data in ${playground.dataDir}, logs in ${playground.logDir}`,
          '',
          'Try, in another terminal:',
          `  ${cli} raw put hello world --pd ${pd}`,
          `  ${cli} raw get hello --pd ${pd}`,
          `  ${cli} raw scan --limit 10 --pd ${pd}`,
          `  ${cli} txn put a 1 b 2 --pd ${pd}        # one transaction`,
          `  ${cli} txn get a b --pd ${pd}            # one snapshot`,
          `  ${cli} ctl stores --pd ${pd}`,
          `  ${cli} ctl regions --pd ${pd}`,
          '',
          'Press Ctrl-C to stop.',
          '',
        ].join('\n'),
      );
      logger.info({ signal: await signal }, 'shutting down');
      await playground.stop();
      setExit(EXIT.ok);
      process.stdout.write('stopped\n');
    });
}
