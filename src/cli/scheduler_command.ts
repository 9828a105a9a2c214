/**
 * `tinykv scheduler`: runs the scheduler (TinyKV's PD) as a long-running
 * process. Like `tinykv server`: the first stdout line is
 * `listening on <addr>`, logs go to stderr, the first SIGINT/SIGTERM stops
 * gracefully (exit 0) and a second one exits at once.
 */
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { schedulerTickMsDefault } from '../config/limits.js';
import { DEFAULT_SCHEDULE_CONFIG } from '../scheduler/config.js';
import type { ScheduleConfig } from '../scheduler/config.js';
import { schedulerTickMsMax, schedulerTickMsMin, startSchedulerServer } from '../scheduler/server/scheduler_server.js';
import { createLogger, isLogLevel, LOG_LEVELS } from '../util/log.js';
import type { LogLevel } from '../util/log.js';
import { EXIT } from './exit_codes.js';
import { UsageError } from './format.js';
import { firstSignal } from './signals.js';

/** PD's default client address. */
export const DEFAULT_SCHEDULER_ADDR = '127.0.0.1:2379';

interface SchedulerOptions {
  addr: string;
  dataDir: string;
  maxReplicas: number;
  maxStoreDownTime?: number;
  scheduleIntervalMs: number;
  logLevel: LogLevel;
}

function parseLogLevel(value: string): LogLevel {
  if (!isLogLevel(value)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${value}"`);
  return value;
}

function parseIntIn(flag: string, lo: number, hi: number): (value: string) => number {
  return (value) => {
    const n = /^\d+$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < lo || n > hi) throw new UsageError(`${flag} must be an integer from ${lo} to ${hi}, got "${value}"`);
    return n;
  };
}

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;

/** Milliseconds, or a duration with a unit: `1500`, `1500ms`, `90s`, `30m`, `2h`. @throws {UsageError} */
export function parseDurationMs(flag: string, value: string): number {
  const m = /^(\d+)(ms|s|m|h)?$/.exec(value);
  const unit = (m?.[2] ?? 'ms') as keyof typeof UNIT_MS;
  const n = m?.[1] === undefined ? NaN : Number(m[1]) * UNIT_MS[unit];
  if (!Number.isSafeInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive duration such as 1500, 90s, 30m or 2h, got "${value}"`);
  return n;
}

/** The schedule config the flags ask for. A short down time also shortens the disconnect time, which may not exceed it. */
function scheduleConfig(opts: SchedulerOptions): Partial<ScheduleConfig> {
  const down = opts.maxStoreDownTime;
  return {
    maxReplicas: opts.maxReplicas,
    ...(down === undefined ? {} : { maxStoreDownTimeMs: down, storeDisconnectTimeMs: Math.min(down, DEFAULT_SCHEDULE_CONFIG.storeDisconnectTimeMs) }),
  };
}

export function schedulerCommand(setExit: (code: number) => void): Command {
  return new Command('scheduler')
    .description('run the TinyKV.ts scheduler (TinyKV\'s PD): ids, timestamps, region routing and balancing for a cluster')
    .option('--addr <host:port>', 'address to listen on (port 0 picks a free port)', DEFAULT_SCHEDULER_ADDR)
    .option('--data-dir <dir>', 'directory for the scheduler\'s data, created if missing', './.tinykv/scheduler')
    .addOption(new Option('--max-replicas <n>', 'replicas per region for a new cluster (saved at bootstrap; later only PutClusterConfig changes it)')
      .default(DEFAULT_SCHEDULE_CONFIG.maxReplicas).argParser(parseIntIn('--max-replicas', 1, 9)))
    .addOption(new Option('--max-store-down-time <duration>', `a store silent this long is down and its replicas are replaced: ms, or with a unit (90s, 30m, 2h) (default: ${DEFAULT_SCHEDULE_CONFIG.maxStoreDownTimeMs / 60_000}m)`)
      .argParser((v) => parseDurationMs('--max-store-down-time', v)))
    .addOption(new Option('--schedule-interval-ms <ms>', 'period of the scheduling tick (checkers, balancers, operator timeouts)')
      .default(schedulerTickMsDefault).argParser(parseIntIn('--schedule-interval-ms', schedulerTickMsMin, schedulerTickMsMax)))
    .addOption(new Option('--log-level <level>', 'log level').default('info').argParser(parseLogLevel))
    .action(async (opts: SchedulerOptions) => {
      const logger = createLogger({ level: opts.logLevel, name: 'tinykv-scheduler' });
      const signal = firstSignal(logger);
      const scheduler = await startSchedulerServer({
        dataDir: path.resolve(opts.dataDir), addr: opts.addr, logger, config: scheduleConfig(opts), tickMs: opts.scheduleIntervalMs,
      });
      // The first stdout line is the contract for scripts and tests: the bound address.
      process.stdout.write(`listening on ${scheduler.addr}\n`);
      logger.info({ signal: await signal }, 'shutting down');
      try {
        await scheduler.stop();
        setExit(EXIT.ok);
      } catch (err: unknown) {
        logger.error({ err }, 'shutdown failed');
        setExit(EXIT.failed);
      }
    });
}
