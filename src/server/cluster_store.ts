/**
 * A store of a scheduler-run cluster (`tinykv server --pd <addr>`): the
 * production assembly of the parts the simulator runs on virtual time.
 *
 * - LMDB engine in the data dir (raft log, region data and meta in one env);
 * - the scheduler through {@link PdClient}: identity and bootstrap
 *   (node.ts), region and store heartbeats, AskSplit, stale checks, and
 *   operators arriving on the heartbeat stream ({@link SchedulerLink});
 * - peers on other stores through {@link GrpcTransport}, whose addresses
 *   come from the scheduler's GetStore;
 * - one gRPC server for clients (`tinykvpb.TinyKv` raw API, region errors in
 *   responses), for peers (the `Raft` and `Snapshot` streams) and for
 *   `tinykv ctl` (`adminpb.StoreAdmin`).
 *
 * The gRPC server binds before the store opens, because the store registers
 * its address with the scheduler (with `--addr host:0` the real port is only
 * known once bound). Until the store is open, raft messages are refused and
 * client requests get a retryable "store is starting" error.
 */
import * as fs from 'node:fs';
import { PdClient } from '../client/scheduler_client.js';
import { SchedulerError, SCHEDULER_ERROR_CODES } from '../client/errors.js';
import type { SplitRegionRequest, SplitRegionResponse } from '../pb/adminpb.js';
import type { Region, Store } from '../pb/metapb.js';
import type { RaftMessage } from '../pb/raft_serverpb.js';
import type { AskSplitResponse } from '../pb/schedulerpb.js';
import { DEFAULT_RAFTSTORE_CONFIG } from '../raftstore/config.js';
import type { RaftstoreConfig } from '../raftstore/config.js';
import { LmdbEngine } from '../storage/lmdb_engine.js';
import { StorageError, STORAGE_ERROR_CODES } from '../storage/storage.js';
import type { Modify, Storage, StorageContext, StorageReader } from '../storage/storage.js';
import type { Logger } from '../util/log.js';
import { startGrpcServer } from './grpc_server.js';
import type { RunningGrpcServer } from './grpc_server.js';
import { GrpcTransport } from './grpc_transport.js';
import { prepareNode } from './node.js';
import type { NodeScheduler } from './node.js';
import { RaftStorage } from './raft_storage.js';
import { Server } from './server.js';
import { StoreNode } from './store_node.js';
import type { SchedulerLink } from './store_node.js';

export interface ClusterStoreOptions {
  readonly dataDir: string;
  /** `host:port` to listen on; port 0 picks a free port. */
  readonly addr: string;
  /** Scheduler address(es). */
  readonly pd: string | readonly string[];
  readonly logger: Logger;
  /** Length of one raftstore tick. @default 100 */
  readonly baseTickMs?: number;
  readonly config?: RaftstoreConfig;
  /** @default 10_000 (TinyKV's default) */
  readonly regionHeartbeatMs?: number;
  /** @default 10_000 */
  readonly storeHeartbeatMs?: number;
  /** Called once if the store fails. @default crash the process */
  readonly onFatal?: (err: unknown) => void;
}

export interface RunningClusterStore {
  readonly addr: string;
  readonly storeId: number;
  readonly node: StoreNode;
  /** Stops serving, the store (pending commands answered OutcomeUnknown), the transport and the scheduler client. Idempotent. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Joins (or bootstraps) the cluster of the scheduler at `options.pd` and serves.
 * @throws {EngineError} when the data dir is locked or unreadable;
 * {@link NodeError} when it belongs to another cluster; the scheduler
 * client's errors when the scheduler cannot be reached; {@link Error} when
 * the address cannot be bound.
 */
export async function startClusterStore(options: ClusterStoreOptions): Promise<RunningClusterStore> {
  const { logger } = options;
  const config = options.config ?? DEFAULT_RAFTSTORE_CONFIG;
  const engine = new LmdbEngine({ dataDir: options.dataDir });
  const pd = new PdClient({ addrs: options.pd });
  const late = new LateStore();
  let grpc: RunningGrpcServer | undefined;
  let transport: GrpcTransport | undefined;
  let heartbeats: ReturnType<PdClient['regionHeartbeats']> | undefined;
  try {
    grpc = await startGrpcServer({
      addr: options.addr, server: new Server(late), logger, raftSink: late, raftstoreConfig: config,
      storeAdmin: { splitRegion: (req) => late.splitRegion(req) },
    });
    const prepared = await prepareNode(engine, nodeScheduler(pd), grpc.addr, logger);
    const storeId = prepared.storeId;
    transport = new GrpcTransport({ resolve: (id) => resolveStore(pd, id), config, logger: logger.child({ storeId }) });
    // Operators may arrive on the stream before the node is open: they are dropped (re-sent on the next heartbeat).
    heartbeats = pd.regionHeartbeats({
      onResponse: (resp) => late.node?.onHeartbeatResponse(resp),
      onError: (err: unknown) => logger.debug({ err: err instanceof Error ? err.message : String(err) }, 'region heartbeat stream broke; it reopens'),
    });
    const link = schedulerLink(pd, heartbeats);
    const node = await StoreNode.open({
      storeId, engine, transport, config, logger, scheduler: link,
      ...(options.baseTickMs === undefined ? {} : { baseTickMs: options.baseTickMs }),
      ...(options.regionHeartbeatMs === undefined ? {} : { regionHeartbeatMs: options.regionHeartbeatMs }),
      ...(options.storeHeartbeatMs === undefined ? {} : { storeHeartbeatMs: options.storeHeartbeatMs }),
      ...(options.onFatal === undefined ? {} : { onFatal: options.onFatal }),
      diskStats: () => diskStats(options.dataDir),
    });
    late.set(node);
    logger.info({ storeId, addr: grpc.addr, bootstrapped: prepared.bootstrapped }, 'store serving');
    const running = { grpc, transport, heartbeats, node };
    let stopping: Promise<void> | undefined;
    return {
      addr: grpc.addr,
      storeId,
      node,
      stop: (graceMs = 5_000) => {
        stopping ??= (async () => {
          await running.grpc.shutdown(graceMs);
          await running.node.stop();
          running.heartbeats.close();
          await running.transport.close();
          pd.close();
        })();
        return stopping;
      },
    };
  } catch (err: unknown) {
    heartbeats?.close();
    await transport?.close();
    await grpc?.shutdown(0);
    pd.close();
    if (late.node === undefined) await engine.close();
    else await late.node.stop();
    throw err;
  }
}

/** The store's address from the scheduler (stores may restart on another port). */
async function resolveStore(pd: PdClient, storeId: number): Promise<string> {
  const store = await pd.getStore(storeId);
  if (store === undefined || store.address === '') throw new Error(`the scheduler knows no address of store ${storeId}`);
  return store.address;
}

function nodeScheduler(pd: PdClient): NodeScheduler {
  return {
    clusterId: () => pd.clusterId(),
    isBootstrapped: () => pd.isBootstrapped(),
    allocId: () => pd.allocId(),
    bootstrap: async (store: Store, region: Region) => {
      try {
        await pd.bootstrap(store, region);
        return true;
      } catch (err: unknown) {
        if (err instanceof SchedulerError && err.code === SCHEDULER_ERROR_CODES.AlreadyBootstrapped) return false;
        throw err;
      }
    },
    putStore: (store) => pd.putStore(store),
    regionById: async (id) => (await pd.getRegionById(id))?.region,
  };
}

function schedulerLink(pd: PdClient, heartbeats: ReturnType<PdClient['regionHeartbeats']>): SchedulerLink {
  return {
    regionHeartbeat: (request) => heartbeats.send(request),
    storeHeartbeat: async (request) => {
      if (request.stats !== undefined) await pd.storeHeartbeat(request.stats);
    },
    askSplit: async (request): Promise<AskSplitResponse> => {
      const region = request.region;
      if (region === undefined) throw new Error('ask split without a region');
      try {
        const ids = await pd.askSplit(region);
        return { header: undefined, newRegionId: ids.newRegionId, newPeerIds: [...ids.newPeerIds] };
      } catch (err: unknown) {
        // A refusal (the region is stale or unknown) is an answer: the split is dropped and checked again later.
        if (err instanceof SchedulerError) return { header: { clusterId: 0, error: { type: err.errorType, message: err.message } }, newRegionId: 0, newPeerIds: [] };
        throw err;
      }
    },
    regionById: async (id) => (await pd.getRegionById(id))?.region,
  };
}

function diskStats(dataDir: string): { capacity: number; available: number; usedSize: number } {
  try {
    const s = fs.statfsSync(dataDir);
    const capacity = s.blocks * s.bsize;
    const available = s.bavail * s.bsize;
    return { capacity, available, usedSize: capacity - s.bfree * s.bsize };
  } catch {
    return { capacity: 0, available: 0, usedSize: 0 };
  }
}

/**
 * The store as the gRPC server sees it before and after it opens: raft
 * messages are refused and client requests get a retryable error until
 * {@link set}; then everything goes to the node.
 */
class LateStore implements Storage {
  node: StoreNode | undefined;
  private storage: RaftStorage | undefined;

  set(node: StoreNode): void {
    this.node = node;
    this.storage = new RaftStorage(node);
  }

  onRaftMessage(message: RaftMessage): boolean {
    return this.node?.onRaftMessage(message) ?? false;
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    await this.storage?.stop();
  }

  write(ctx: StorageContext, batch: readonly Modify[]): Promise<void> {
    return this.ready().write(ctx, batch);
  }

  reader(ctx: StorageContext): Promise<StorageReader> {
    return this.ready().reader(ctx);
  }

  async splitRegion(req: SplitRegionRequest): Promise<SplitRegionResponse> {
    const node = this.node;
    if (node === undefined) return { regionError: undefined, error: 'the store is starting', regions: [] };
    const outcome = await node.splitRegion(req.regionId, req.regionEpoch, req.splitKey);
    return { regionError: outcome.regionError, error: outcome.error ?? '', regions: outcome.regions === undefined ? [] : [...outcome.regions] };
  }

  private ready(): RaftStorage {
    if (this.storage === undefined) throw new StorageError(STORAGE_ERROR_CODES.Stopped, 'The store is starting; retry shortly');
    return this.storage;
  }
}
