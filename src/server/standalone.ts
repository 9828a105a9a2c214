/**
 * A standalone node: one LMDB engine, the raw API over gRPC, no replication
 * (TinyKV Project 1). This is the "shell" that owns real resources; it opens
 * them in order and closes them in reverse on stop.
 */
import { STORE_IDENT_KEY } from '../raftstore/meta/keys.js';
import { CF_META } from '../storage/engine.js';
import { LmdbEngine } from '../storage/lmdb_engine.js';
import { CodedError } from '../util/errors.js';
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

export const STANDALONE_ERROR_CODES = {
  /** The data dir belongs to a raft store (`tinykv server --raft`). */
  RaftData: 'STANDALONE_RAFT_DATA',
} as const;
export type StandaloneErrorCode = (typeof STANDALONE_ERROR_CODES)[keyof typeof STANDALONE_ERROR_CODES];

export class StandaloneError extends CodedError<StandaloneErrorCode> {
  override readonly name = 'StandaloneError';
}

/**
 * @throws {EngineError} when the data dir is locked or unreadable;
 * {@link StandaloneError} when it belongs to a raft store; {@link Error} when
 * the address is taken.
 */
export async function startStandalone(options: StandaloneOptions): Promise<RunningStandalone> {
  const engine = new LmdbEngine({ dataDir: options.dataDir });
  // A raft store's data must only change through its raft log: writing it
  // directly would make replicas diverge and break the apply state.
  if (engine.get(CF_META, STORE_IDENT_KEY) !== undefined) {
    await engine.close();
    throw new StandaloneError(
      STANDALONE_ERROR_CODES.RaftData,
      `Cannot start a standalone server in ${options.dataDir}: it holds a raft store (start it with --raft)`,
    );
  }
  const storage = new StandaloneStorage(engine);
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
