/**
 * A single-store raft node: the raw API over gRPC, served from the
 * replicated raftstore (`tinykv server --raft`). It is the production
 * counterpart of {@link startStandalone}: same gRPC server and handlers, but
 * the `Storage` is {@link RaftStorage}, so every write is proposed to the
 * raft group of region 1 and applied before it is acknowledged, and every
 * read is a ReadIndex read (docs/RAFTSTORE.md).
 *
 * Layout: store 1 holds region 1, which covers every key and has one peer
 * (peer 2) on this store (TinyKV's bootstrap: `BootstrapStore` +
 * `PrepareBootstrapCluster` with one store). A fresh data dir is bootstrapped;
 * an existing one is loaded as it was left (also after SIGKILL: every
 * acknowledged write is in the durable raft log and replays).
 *
 * Resources are opened in order and closed in reverse, as standalone.ts
 * does: the LMDB engine (which takes the data-dir lock), the store node, the
 * gRPC server. The server only starts listening once this store's peer leads
 * region 1 and has applied an entry of its term, so the first request after
 * `listening on <addr>` is served rather than answered NotLeader.
 */
import { CF_META, DATA_CFS } from '../storage/engine.js';
import type { CfName, Engine } from '../storage/engine.js';
import { LmdbEngine } from '../storage/lmdb_engine.js';
import { STORE_IDENT_KEY } from '../raftstore/meta/keys.js';
import { CodedError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { startGrpcServer } from './grpc_server.js';
import type { RunningGrpcServer } from './grpc_server.js';
import { LocalTransport } from './local_transport.js';
import { RaftStorage } from './raft_storage.js';
import { Server } from './server.js';
import { bootstrapRegion, StoreNode } from './store_node.js';

/** The store id of a single-store raft server. */
export const RAFT_SERVER_STORE_ID = 1;
/** The region a single-store raft server bootstraps: all keys. */
export const RAFT_SERVER_REGION_ID = 1;
/** The cluster id written into the store ident of a fresh data dir. */
const CLUSTER_ID = 1;

/** Default length of one raftstore tick, in ms (TinyKV `RaftBaseTickInterval`). */
export const raftTickMsDefault = 100;
/** Bounds accepted for the base tick, in ms. */
export const raftTickMsMin = 1;
export const raftTickMsMax = 10_000;

export interface RaftServerOptions {
  readonly dataDir: string;
  /** `host:port` to listen on; port 0 picks a free port. */
  readonly addr: string;
  readonly logger: Logger;
  /** Length of one raftstore tick. @default raftTickMsDefault (100) */
  readonly baseTickMs?: number;
  /**
   * How long to wait for this store's peer to lead region 1 before giving
   * up. @default 50 ticks, at least 5 s (the election timeout is 10–20 ticks)
   */
  readonly leaderTimeoutMs?: number;
  /** Called once if the store fails (engine write error, broken invariant). @default crash the process */
  readonly onFatal?: (err: unknown) => void;
}

export interface RunningRaftServer {
  /** The bound address, with the real port. */
  readonly addr: string;
  readonly node: StoreNode;
  /**
   * Stops serving (in-flight calls finish within the grace period), then
   * stops the store: pending commands are answered OutcomeUnknown, the
   * engine closes and the data-dir lock is released. Idempotent.
   */
  stop(graceMs?: number): Promise<void>;
}

export const RAFT_SERVER_ERROR_CODES = {
  /** The data dir holds data written by a standalone server (no store ident). */
  StandaloneData: 'RAFT_SERVER_STANDALONE_DATA',
  /** The store's peer did not become a ready leader of region 1 in time. */
  NoLeader: 'RAFT_SERVER_NO_LEADER',
} as const;
export type RaftServerErrorCode = (typeof RAFT_SERVER_ERROR_CODES)[keyof typeof RAFT_SERVER_ERROR_CODES];

export class RaftServerError extends CodedError<RaftServerErrorCode> {
  override readonly name = 'RaftServerError';
}

/**
 * Opens (bootstrapping if fresh) the store in `options.dataDir`, waits until
 * its peer leads region 1, then serves the raw API on `options.addr`.
 * @throws {EngineError} ENGINE_DATA_DIR_LOCKED when another live process
 * holds the data dir, ENGINE_IO when it cannot be opened;
 * {@link RaftServerError} when the dir holds standalone data or no leader
 * emerges in time; {@link StoreNodeError} when the engine belongs to another
 * store; {@link Error} when the address cannot be bound.
 */
export async function startRaftServer(options: RaftServerOptions): Promise<RunningRaftServer> {
  const baseTickMs = options.baseTickMs ?? raftTickMsDefault;
  if (!Number.isSafeInteger(baseTickMs) || baseTickMs < raftTickMsMin || baseTickMs > raftTickMsMax) {
    throw new RangeError(`Cannot start a raft server: the base tick must be an integer in [${raftTickMsMin}, ${raftTickMsMax}] ms, got ${baseTickMs}`);
  }
  // The engine takes the data-dir lock; every failure below must release it.
  const engine = new LmdbEngine({ dataDir: options.dataDir });
  try {
    refuseStandaloneData(engine, options.dataDir);
  } catch (err: unknown) {
    await engine.close();
    throw err;
  }
  const transport = new LocalTransport();
  const node = await StoreNode.open({
    storeId: RAFT_SERVER_STORE_ID,
    engine,
    transport,
    bootstrap: { clusterId: CLUSTER_ID, region: bootstrapRegion([RAFT_SERVER_STORE_ID], RAFT_SERVER_REGION_ID) },
    baseTickMs,
    logger: options.logger,
    ...(options.onFatal === undefined ? {} : { onFatal: options.onFatal }),
  });
  transport.register(RAFT_SERVER_STORE_ID, node);
  const storage = new RaftStorage(node);
  let grpc: RunningGrpcServer;
  try {
    await waitForReadyLeader(node, options.leaderTimeoutMs ?? Math.max(5_000, 50 * baseTickMs), baseTickMs);
    await storage.start();
    grpc = await startGrpcServer({ addr: options.addr, server: new Server(storage), logger: options.logger });
  } catch (err: unknown) {
    await storage.stop();
    throw err;
  }
  options.logger.info({ addr: grpc.addr, dataDir: options.dataDir, baseTickMs }, 'raft server serving');
  let stopping: Promise<void> | undefined;
  const running = grpc;
  return {
    addr: grpc.addr,
    node,
    stop: (graceMs) => {
      stopping ??= (async () => {
        await running.shutdown(graceMs);
        await storage.stop();
        options.logger.info('raft server stopped');
      })();
      return stopping;
    },
  };
}

/**
 * A data dir without a store ident but with user data was written by a
 * standalone server: bootstrapping over it would serve keys that are in no
 * raft log (a snapshot of the region would carry them, a replay would not),
 * so refuse it instead.
 * @throws {RaftServerError} RAFT_SERVER_STANDALONE_DATA.
 */
function refuseStandaloneData(engine: Engine, dataDir: string): void {
  if (engine.get(CF_META, STORE_IDENT_KEY) !== undefined) return;
  for (const cf of DATA_CFS) {
    if (!isEmpty(engine, cf)) {
      throw new RaftServerError(
        RAFT_SERVER_ERROR_CODES.StandaloneData,
        `Cannot start a raft store in ${dataDir}: it holds data of a standalone server (column family "${cf}" is not empty and there is no store ident)`,
      );
    }
  }
}

function isEmpty(engine: Engine, cf: CfName): boolean {
  // Breaking out of for..of returns the iterator, which releases its cursor.
  for (const _entry of engine.scan(cf)) return false;
  return true;
}

/**
 * Polls, once per tick, until the store's peer leads region 1 and has applied
 * an entry of its own term (raft thesis §6.4: only then does it serve reads).
 * A single voter elects itself after one election timeout.
 * @throws {RaftServerError} RAFT_SERVER_NO_LEADER after `timeoutMs`.
 */
async function waitForReadyLeader(node: StoreNode, timeoutMs: number, pollMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!node.isLeaderReady(RAFT_SERVER_REGION_ID)) {
    if (!node.isRunning || Date.now() > deadline) {
      throw new RaftServerError(
        RAFT_SERVER_ERROR_CODES.NoLeader,
        `Cannot serve: store ${node.storeId} did not become the leader of region ${RAFT_SERVER_REGION_ID} within ${timeoutMs} ms (store ${node.isRunning ? 'running' : 'stopped'})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
