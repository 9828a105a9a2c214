/**
 * N stores of one cluster in one process: StoreNodes on LMDB engines in
 * their own directories, connected by a {@link LocalTransport}. Tests and
 * `bench/cluster-sim.ts` use it; it is real code (real timers, real fsyncs),
 * not a simulation (src/sim is the deterministic one).
 */
import * as path from 'node:path';
import type { RaftstoreConfig } from '../raftstore/config.js';
import { LmdbEngine } from '../storage/lmdb_engine.js';
import { assert } from '../util/assert.js';
import type { Logger } from '../util/log.js';
import { LocalTransport } from './local_transport.js';
import { RaftStorage } from './raft_storage.js';
import { bootstrapRegion, StoreNode } from './store_node.js';

export interface LocalClusterOptions {
  /** One store per id; the first region has a peer on each. */
  readonly storeIds: readonly number[];
  /** Each store's engine lives in `<dataDir>/store-<id>` (reopened as is by a restart). */
  readonly dataDir: string;
  /** @default 100 */
  readonly baseTickMs?: number;
  readonly config?: RaftstoreConfig;
  readonly logger?: Logger;
  /** @default the node's default (crash the process) */
  readonly onFatal?: (storeId: number, err: unknown) => void;
}

export class LocalCluster {
  readonly transport = new LocalTransport();
  private readonly nodes = new Map<number, StoreNode>();

  private constructor(private readonly options: LocalClusterOptions) {}

  /** Opens (bootstrapping fresh directories) every store. */
  static async start(options: LocalClusterOptions): Promise<LocalCluster> {
    const cluster = new LocalCluster(options);
    try {
      for (const id of options.storeIds) await cluster.startStore(id);
    } catch (err: unknown) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  get storeIds(): readonly number[] {
    return this.options.storeIds;
  }

  node(storeId: number): StoreNode {
    const node = this.nodes.get(storeId);
    assert(node !== undefined, `store ${storeId} is not running`);
    return node;
  }

  /** Replicated storage through `storeId`'s node (stopping it stops the node). */
  storage(storeId: number): RaftStorage {
    return new RaftStorage(this.node(storeId));
  }

  /** Opens store `storeId` (again, after {@link stopStore}: from the same directory). */
  async startStore(storeId: number): Promise<StoreNode> {
    assert(!this.nodes.has(storeId), `store ${storeId} is already running`);
    const engine = new LmdbEngine({ dataDir: path.join(this.options.dataDir, `store-${storeId}`) });
    const onFatal = this.options.onFatal;
    const node = await StoreNode.open({
      storeId, engine, transport: this.transport,
      bootstrap: { clusterId: 1, region: bootstrapRegion(this.options.storeIds) },
      ...(this.options.baseTickMs === undefined ? {} : { baseTickMs: this.options.baseTickMs }),
      ...(this.options.config === undefined ? {} : { config: this.options.config }),
      ...(this.options.logger === undefined ? {} : { logger: this.options.logger }),
      ...(onFatal === undefined ? {} : { onFatal: (err: unknown) => onFatal(storeId, err) }),
    });
    this.nodes.set(storeId, node);
    this.transport.register(storeId, node);
    return node;
  }

  async stopStore(storeId: number): Promise<void> {
    const node = this.nodes.get(storeId);
    if (node === undefined) return;
    this.nodes.delete(storeId);
    this.transport.unregister(storeId, node);
    await node.stop();
  }

  /** The store whose peer leads `regionId`, if exactly one running store's peer thinks it leads. */
  leader(regionId = 1): StoreNode | undefined {
    const leaders = [...this.nodes.values()].filter((n) => n.isLeader(regionId));
    return leaders.length === 1 ? leaders[0] : undefined;
  }

  /**
   * Waits until one store leads `regionId` and has applied an entry of its
   * term (reads and writes through it are then served), polling every few ms.
   * @throws {Error} after `timeoutMs`.
   */
  async waitForLeader(regionId = 1, timeoutMs = 5_000): Promise<StoreNode> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const leader = this.leader(regionId);
      if (leader !== undefined && leader.isLeaderReady(regionId)) return leader;
      if (Date.now() > deadline) throw new Error(`No leader for region ${regionId} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /** Stops every store (idempotent). */
  async stop(): Promise<void> {
    const ids = [...this.nodes.keys()].sort((a, b) => a - b);
    await Promise.all(ids.map((id) => this.stopStore(id)));
  }
}
