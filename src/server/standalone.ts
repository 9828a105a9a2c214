/**
 * A standalone node: one LMDB engine, the raw API over gRPC, no replication
 * (TinyKV Project 1). This is the "shell" that owns real resources; it opens
 * them in order and closes them in reverse on stop.
 */
import { LmdbEngine } from '../storage/lmdb_engine.js';
import { StandaloneStorage } from '../storage/standalone_storage.js';
import type { Logger } from '../util/log.js';
import { startGrpcServer } from './grpc_server.js';
import { Server } from './server.js';

export interface StandaloneOptions {
  readonly dataDir: string;
  /** `host:port` to listen on; port 0 picks a free port. */
  readonly addr: string;
  readonly logger: Logger;
}

export interface RunningStandalone {
  readonly addr: string;
  /** Stops serving (in-flight calls finish within the grace period), then closes the engine. */
  stop(graceMs?: number): Promise<void>;
}

/** @throws {EngineError} when the data dir is locked or unreadable; {@link Error} when the address is taken. */
export async function startStandalone(options: StandaloneOptions): Promise<RunningStandalone> {
  const storage = new StandaloneStorage(new LmdbEngine({ dataDir: options.dataDir }));
  await storage.start();
  let grpc;
  try {
    grpc = await startGrpcServer({ addr: options.addr, server: new Server(storage), logger: options.logger });
  } catch (err: unknown) {
    await storage.stop();
    throw err;
  }
  options.logger.info({ addr: grpc.addr, dataDir: options.dataDir }, 'standalone server serving');
  let stopping: Promise<void> | undefined;
  const running = grpc;
  return {
    addr: grpc.addr,
    stop: (graceMs) => {
      stopping ??= (async () => {
        await running.shutdown(graceMs);
        await storage.stop();
        options.logger.info('standalone server stopped');
      })();
      return stopping;
    },
  };
}
