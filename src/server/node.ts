/**
 * A store joining a cluster run by a scheduler (TinyKV `kv/raftstore/node.go`):
 * before its StoreNode opens, a store gets an identity from the scheduler
 * and, if it is the first store of a new cluster, bootstraps the cluster
 * with the first region (one peer, on itself). Every other store starts
 * empty; the scheduler's replica checker adds peers to it.
 *
 * Crash safety (TinyKV `checkOrPrepareBootstrapCluster`): bootstrapping is a
 * two-step protocol between this store's engine and the scheduler. The store
 * first durably writes the region together with a "prepare bootstrap" marker,
 * then asks the scheduler to bootstrap with it, then deletes the marker. A
 * store that restarts with the marker still present does not know whether
 * the scheduler took its region: it asks. If the cluster is bootstrapped
 * with this very region (same id) the store keeps it; if another store won
 * the race, the prepared region is deleted (it was never a member of
 * anything, so no data is lost); if the cluster is still not bootstrapped,
 * it retries with the same region.
 *
 * The store identity (cluster id, store id) is written once and checked on
 * every start: an engine of another cluster is refused rather than joined.
 */
import type { Region, Store } from '../pb/metapb.js';
import { StoreState } from '../pb/metapb.js';
import { RegionLocalState, StoreIdent } from '../pb/raft_serverpb.js';
import { applyStateKey, PREPARE_BOOTSTRAP_KEY, raftStateKey, regionStateKey, STORE_IDENT_KEY } from '../raftstore/meta/keys.js';
import { PeerStorage } from '../raftstore/peer_storage.js';
import { CF_META, CF_RAFT } from '../storage/engine.js';
import type { Engine } from '../storage/engine.js';
import { WriteBatch } from '../storage/write_batch.js';
import { CodedError } from '../util/errors.js';
import type { Logger } from '../util/log.js';

/** What a joining store asks the scheduler; the gRPC scheduler client implements it. */
export interface NodeScheduler {
  /** The id of the cluster the scheduler runs. */
  clusterId(): Promise<number>;
  isBootstrapped(): Promise<boolean>;
  allocId(): Promise<number>;
  /** @returns false when the cluster was already bootstrapped (by another store). */
  bootstrap(store: Store, region: Region): Promise<boolean>;
  putStore(store: Store): Promise<void>;
  /** The scheduler's view of a region, undefined when it knows none. */
  regionById(regionId: number): Promise<Region | undefined>;
}

export const NODE_ERROR_CODES = {
  /** The engine belongs to another cluster. */
  ClusterMismatch: 'NODE_CLUSTER_MISMATCH',
} as const;
export type NodeErrorCode = (typeof NODE_ERROR_CODES)[keyof typeof NODE_ERROR_CODES];

export class NodeError extends CodedError<NodeErrorCode> {
  override readonly name = 'NodeError';
}

export interface PreparedNode {
  readonly clusterId: number;
  readonly storeId: number;
  /** This store bootstrapped the cluster in this call. */
  readonly bootstrapped: boolean;
}

/**
 * Gives the engine a store identity and, for the first store of a new
 * cluster, the first region; then registers the store (its address may have
 * changed since the last start).
 * @throws {NodeError} NODE_CLUSTER_MISMATCH; the scheduler client's errors.
 */
export async function prepareNode(engine: Engine, scheduler: NodeScheduler, address: string, logger: Logger): Promise<PreparedNode> {
  const clusterId = await scheduler.clusterId();
  const raw = engine.get(CF_META, STORE_IDENT_KEY);
  let storeId: number;
  if (raw !== undefined) {
    const ident = StoreIdent.decode(raw);
    if (ident.clusterId !== clusterId) {
      throw new NodeError(NODE_ERROR_CODES.ClusterMismatch,
        `Cannot join cluster ${clusterId}: this data dir belongs to store ${ident.storeId} of cluster ${ident.clusterId}`);
    }
    storeId = ident.storeId;
  } else {
    storeId = await scheduler.allocId();
    const batch = new WriteBatch();
    batch.put(CF_META, STORE_IDENT_KEY, StoreIdent.encode({ clusterId, storeId }).finish());
    await engine.write(batch, { sync: true });
    logger.info({ storeId, clusterId }, 'store identity allocated');
  }
  const store: Store = { id: storeId, address, state: StoreState.Up };
  const bootstrapped = await bootstrapIfFirst(engine, scheduler, store, logger);
  await scheduler.putStore(store);
  return { clusterId, storeId, bootstrapped };
}

async function bootstrapIfFirst(engine: Engine, scheduler: NodeScheduler, store: Store, logger: Logger): Promise<boolean> {
  let prepared = preparedRegion(engine);
  if (prepared === undefined) {
    if (await scheduler.isBootstrapped()) return false;
    if (hasAnyRegion(engine)) return false; // a store of a cluster whose scheduler lost its data: do not bootstrap over it
    const regionId = await scheduler.allocId();
    const peerId = await scheduler.allocId();
    prepared = {
      id: regionId, startKey: Buffer.alloc(0), endKey: Buffer.alloc(0), regionEpoch: { confVer: 1, version: 1 },
      peers: [{ id: peerId, storeId: store.id }],
    };
    const batch = new WriteBatch();
    PeerStorage.create(engine, engine, prepared).stageInitialState(batch, batch);
    batch.put(CF_META, PREPARE_BOOTSTRAP_KEY, RegionLocalState.encode({ state: 0, region: prepared }).finish());
    await engine.write(batch, { sync: true });
  } else if (await scheduler.isBootstrapped()) {
    const known = await scheduler.regionById(prepared.id);
    await finishPrepared(engine, prepared, known !== undefined, logger);
    return false;
  }
  const won = await scheduler.bootstrap(store, prepared);
  await finishPrepared(engine, prepared, won, logger);
  return won;
}

/** Keeps the prepared region (the cluster runs with it) or deletes it (another store bootstrapped). */
async function finishPrepared(engine: Engine, region: Region, keep: boolean, logger: Logger): Promise<void> {
  const batch = new WriteBatch();
  batch.delete(CF_META, PREPARE_BOOTSTRAP_KEY);
  if (!keep) {
    batch.delete(CF_RAFT, raftStateKey(region.id));
    batch.delete(CF_META, applyStateKey(region.id));
    batch.delete(CF_META, regionStateKey(region.id));
  }
  await engine.write(batch, { sync: true });
  logger.info({ regionId: region.id }, keep ? 'bootstrapped the cluster' : 'the cluster was bootstrapped by another store');
}

function preparedRegion(engine: Engine): Region | undefined {
  const raw = engine.get(CF_META, PREPARE_BOOTSTRAP_KEY);
  return raw === undefined ? undefined : RegionLocalState.decode(raw).region;
}

function hasAnyRegion(engine: Engine): boolean {
  const start = regionStateKey(0);
  const end = regionStateKey(Number.MAX_SAFE_INTEGER);
  for (const _ of engine.scan(CF_META, { start, end })) return true;
  return false;
}
