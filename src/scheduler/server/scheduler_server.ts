/**
 * The scheduler process (`tinykv scheduler`): the scheduler core on its LMDB
 * storage, served over gRPC (`schedulerpb.Scheduler` and
 * `adminpb.SchedulerAdmin`), with the coordinator ticking on a timer. This
 * is the imperative shell around the pure core (STYLE §3): the only place
 * with a wall clock, timers, randomness from the OS, sockets and disk.
 *
 * Start, in order (each failure releases what was opened before):
 * 1. the storage, which takes the data-dir lock;
 * 2. the cluster id, created once at the first start (PD `initOrGetClusterID`:
 *    unix seconds in the high bits and random low bits; ours fit 53 bits);
 * 3. the core (`openScheduler`), whose operator steps go out on the leader
 *    store's RegionHeartbeat stream;
 * 4. the gRPC server;
 * 5. the tick loop: `coordinator.tick(now)` every `tickMs`, never
 *    overlapping (the next tick is timed from the end of the previous one).
 * Stop, in reverse: the tick loop (an in-flight tick finishes), the streams
 * (ended with UNAVAILABLE, so they do not hold the grace period), the gRPC
 * server (in-flight calls finish within the grace period), the storage
 * (pending region saves flushed, lock released).
 */
import { randomInt } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { grpcMessageBytesMax, schedulerTickMsDefault } from '../../config/limits.js';
import { SchedulerAdminService } from '../../pb/adminpb.js';
import { SchedulerService } from '../../pb/schedulerpb.js';
import type { Member } from '../../pb/schedulerpb.js';
import { assert, AssertionError } from '../../util/assert.js';
import { CodedError } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';
import { Prng } from '../../util/prng.js';
import type { Rng } from '../../util/prng.js';
import { makeScheduleConfig } from '../config.js';
import type { ScheduleConfig } from '../config.js';
import { SchedulerError } from '../errors.js';
import { openScheduler } from '../open.js';
import type { SchedulerCore } from '../open.js';
import { shutdownGracefully } from '../../server/grpc_plumbing.js';
import { crash, lenientService } from './_grpc.js';
import { HeartbeatStreams } from './heartbeat_streams.js';
import { LmdbSchedulerStorage } from './lmdb_storage.js';
import { SchedulerGrpcService } from './service.js';

/** Bounds accepted for the tick period, in ms. */
export const schedulerTickMsMin = 1;
export const schedulerTickMsMax = 60_000;

export interface SchedulerServerOptions {
  readonly dataDir: string;
  /** `host:port` to listen on; port 0 picks a free port. */
  readonly addr: string;
  readonly logger: Logger;
  /**
   * Schedule options over the defaults, validated. `maxReplicas` is saved
   * at bootstrap; after it the saved value (changed by PutClusterConfig)
   * wins over this one. @default DEFAULT_SCHEDULE_CONFIG
   */
  readonly config?: Partial<ScheduleConfig>;
  /** Period of the coordinator's tick. @default schedulerTickMsDefault (100) */
  readonly tickMs?: number;
  /** This scheduler's name in GetMembers. @default "tinykv-scheduler" */
  readonly name?: string;
  /** The balancers' randomness. @default a Prng seeded from node:crypto */
  readonly rng?: Rng;
}

export interface RunningSchedulerServer {
  /** The bound address, with the real port. */
  readonly addr: string;
  readonly clusterId: number;
  readonly core: SchedulerCore;
  /** Steps sent to stores, per store's RegionHeartbeat stream. */
  readonly streams: HeartbeatStreams;
  /** Graceful stop (see the file comment); idempotent. */
  stop(graceMs?: number): Promise<void>;
}

export const SCHEDULER_SERVER_ERROR_CODES = {
  /** The options are out of range (schedule config, tick period). */
  BadConfig: 'SCHEDULER_BAD_CONFIG',
  /** The address could not be bound. */
  ListenFailed: 'SCHEDULER_LISTEN_FAILED',
} as const;
export type SchedulerServerErrorCode = (typeof SCHEDULER_SERVER_ERROR_CODES)[keyof typeof SCHEDULER_SERVER_ERROR_CODES];

export class SchedulerServerError extends CodedError<SchedulerServerErrorCode> {
  override readonly name = 'SchedulerServerError';
}

/** A new cluster id: unix seconds << 21 | 21 random bits (PD uses << 32, which exceeds 2^53). */
export function generateClusterId(nowMs: number): number {
  const id = Math.floor(nowMs / 1000) * 2 ** 21 + randomInt(1, 2 ** 21);
  assert(Number.isSafeInteger(id) && id > 0, `generated cluster id ${id} is not a positive safe integer`);
  return id;
}

/**
 * Opens the scheduler in `options.dataDir` and serves it on `options.addr`.
 * @throws {SchedulerServerError} BadConfig, ListenFailed; {EngineError}
 *   ENGINE_DATA_DIR_LOCKED when another live process holds the data dir,
 *   ENGINE_IO when it cannot be opened.
 */
export async function startSchedulerServer(options: SchedulerServerOptions): Promise<RunningSchedulerServer> {
  const { logger } = options;
  const tickMs = options.tickMs ?? schedulerTickMsDefault;
  if (!Number.isSafeInteger(tickMs) || tickMs < schedulerTickMsMin || tickMs > schedulerTickMsMax) {
    throw new SchedulerServerError('SCHEDULER_BAD_CONFIG', `Cannot start the scheduler: the tick must be an integer in [${schedulerTickMsMin}, ${schedulerTickMsMax}] ms, got ${tickMs}`);
  }
  let config: ScheduleConfig;
  try {
    config = makeScheduleConfig(options.config ?? {});
  } catch (err: unknown) {
    if (err instanceof SchedulerError) throw new SchedulerServerError('SCHEDULER_BAD_CONFIG', `Cannot start the scheduler: ${err.message}`, { cause: err });
    throw err;
  }
  const storage = new LmdbSchedulerStorage(options.dataDir, logger);
  try {
    return await serve(options, storage, config, tickMs);
  } catch (err: unknown) {
    await storage.close();
    throw err;
  }
}

async function serve(options: SchedulerServerOptions, storage: LmdbSchedulerStorage, config: ScheduleConfig, tickMs: number): Promise<RunningSchedulerServer> {
  const { logger } = options;
  const clusterId = await storage.clusterId(() => generateClusterId(Date.now()));
  const streams = new HeartbeatStreams(logger);
  const core = await openScheduler(storage, {
    nowMs: () => Date.now(), rng: options.rng ?? new Prng(randomInt(2 ** 47)), clusterId, config,
    onOperatorStep: (dispatch) => streams.send(dispatch),
  });
  let advertised = options.addr;
  const member = (): Member => ({
    name: options.name ?? 'tinykv-scheduler', memberId: 1, peerUrls: [], clientUrls: [`http://${advertised}`], leaderPriority: 0,
  });
  const service = new SchedulerGrpcService({ core, storage, streams, logger, nowMs: () => Date.now(), member });
  const grpcServer = new grpc.Server({ 'grpc.max_receive_message_length': grpcMessageBytesMax, 'grpc.max_send_message_length': grpcMessageBytesMax });
  grpcServer.addService(lenientService(SchedulerService), service.implementation());
  grpcServer.addService(lenientService(SchedulerAdminService), service.adminImplementation());
  const port = await new Promise<number>((resolve, reject) => {
    grpcServer.bindAsync(options.addr, grpc.ServerCredentials.createInsecure(), (err, bound) => {
      if (err !== null) {
        grpcServer.forceShutdown();
        reject(new SchedulerServerError('SCHEDULER_LISTEN_FAILED', `Cannot listen on ${options.addr}: ${err.message}`, { cause: err }));
      } else resolve(bound);
    });
  });
  advertised = `${options.addr.slice(0, options.addr.lastIndexOf(':'))}:${port}`;
  const ticks = new TickLoop(core, tickMs, logger);
  ticks.start();
  logger.info({ addr: advertised, clusterId: core.cluster.clusterId, bootstrapped: core.cluster.isBootstrapped(), maxReplicas: core.cluster.config.maxReplicas }, 'scheduler serving');
  let stopping: Promise<void> | undefined;
  return {
    addr: advertised, clusterId: core.cluster.clusterId, core, streams,
    stop: (graceMs = 5_000) => {
      stopping ??= (async () => {
        await ticks.stop();
        service.abortStreams('the scheduler is shutting down');
        await shutdownGracefully(grpcServer, graceMs);
        await storage.close();
      })();
      return stopping;
    },
  };
}

/** Runs `coordinator.tick` every `tickMs`, timed from the end of the previous tick, so ticks never overlap. */
class TickLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly core: SchedulerCore, private readonly tickMs: number, private readonly logger: Logger) {}

  start(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.tick().finally(() => {
        this.running = undefined;
        this.start();
      });
    }, this.tickMs);
  }

  /** Stops ticking; resolves once an in-flight tick is over. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async tick(): Promise<void> {
    try {
      const report = await this.core.coordinator.tick(Date.now());
      for (const op of report.created) this.logger.info({ regionId: op.regionId, operator: op.describe() }, 'operator created');
      for (const op of report.timedOut) this.logger.warn({ regionId: op.regionId, operator: op.describe() }, 'operator timed out');
    } catch (err: unknown) {
      if (err instanceof AssertionError) return crash(err, 'tick', this.logger);
      // STORAGE (ids could not be reserved): nothing was scheduled; the next tick tries again.
      this.logger.warn({ err }, 'scheduling tick failed');
    }
  }
}
