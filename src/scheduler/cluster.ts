/**
 * The scheduler's view of the cluster (TinyKV `server.RaftCluster`): stores,
 * regions, bootstrap state, region heartbeats with TinyKV 3C's staleness
 * rules, AskSplit, and the operator controller that answers heartbeats.
 *
 * Everything that only touches memory is synchronous. What must be durable
 * before it is acknowledged (bootstrap, store registration, new ids) is
 * async and awaits the storage hook. Time is always a parameter (`nowMs`).
 *
 * Bootstrap gating: these methods do not refuse work before bootstrap (the
 * ported TinyKV tests drive an unbootstrapped cluster, as TinyKV's do). The
 * service calls {@link RaftCluster.checkBootstrapped} first for every RPC
 * except GetMembers, Tso, AllocID, Bootstrap and IsBootstrapped, as TinyKV's
 * `GetRaftCluster() == nil` checks do.
 */
import { StoreState } from '../pb/metapb.js';
import type { Cluster, Peer, Region, Store } from '../pb/metapb.js';
import type { RegionHeartbeatRequest, RegionHeartbeatResponse, StoreStats } from '../pb/schedulerpb.js';
import { isEpochStale } from '../raftstore/store_meta.js';
import { assert } from '../util/assert.js';
import { equalBytes, formatKey } from '../util/bytes.js';
import { mark } from '../util/marks.js';
import type { Rng } from '../util/prng.js';
import { DEFAULT_SCHEDULE_CONFIG, makeScheduleConfig } from './config.js';
import type { ScheduleConfig } from './config.js';
import { SchedulerError } from './errors.js';
import type { IdAllocator } from './id_allocator.js';
import { OperatorController } from './operator_controller.js';
import type { OperatorDispatch } from './operator_controller.js';
import { copyRegion, epochOf, newRegionInfo, regionInfoFromHeartbeat } from './region_info.js';
import type { RegionInfo } from './region_info.js';
import { RegionsInfo } from './regions_info.js';
import type { RegionFilter } from './regions_info.js';
import type { ScheduleCluster } from './schedule_cluster.js';
import type { ClusterMeta, LoadedSchedulerState, SchedulerStorage } from './storage.js';
import { StoreInfo, StoresInfo } from './stores_info.js';

export interface RaftClusterOptions {
  readonly storage: SchedulerStorage;
  readonly ids: IdAllocator;
  /** What `storage.load()` returned; omitted for a fresh cluster. */
  readonly loaded?: LoadedSchedulerState;
  /** Cluster id used until bootstrap saves one (the loaded meta's wins). @default 0 */
  readonly clusterId?: number;
  /** @default DEFAULT_SCHEDULE_CONFIG (maxReplicas from the loaded meta, if any) */
  readonly config?: ScheduleConfig;
  /** When the cluster is opened: loaded stores count their silence from here. */
  readonly nowMs: number;
  /** See {@link OperatorController}: receives the first step of every new operator. */
  readonly onOperatorStep?: (dispatch: OperatorDispatch) => void;
}

export interface SplitIds {
  readonly newRegionId: number;
  /** One per peer of the parent region, in peer order. */
  readonly newPeerIds: readonly number[];
}

export class RaftCluster implements ScheduleCluster {
  readonly regions = new RegionsInfo();
  readonly stores = new StoresInfo();
  readonly operators: OperatorController;
  private readonly storage: SchedulerStorage;
  private readonly ids: IdAllocator;
  private meta: ClusterMeta | undefined;
  private readonly provisionalClusterId: number;
  private bootstrapping = false;
  private configValue: ScheduleConfig;

  constructor(opts: RaftClusterOptions) {
    this.storage = opts.storage;
    this.ids = opts.ids;
    this.meta = opts.loaded?.meta;
    this.provisionalClusterId = opts.clusterId ?? 0;
    const base = opts.config ?? DEFAULT_SCHEDULE_CONFIG;
    this.configValue = this.meta === undefined || opts.config !== undefined ? base : makeScheduleConfig({ maxReplicas: this.meta.maxPeerCount }, base);
    this.operators = new OperatorController({
      config: () => this.configValue, clusterId: () => this.clusterId,
      ...(opts.onOperatorStep === undefined ? {} : { onOperatorStep: opts.onOperatorStep }),
    });
    for (const s of opts.loaded?.stores ?? []) this.stores.setStore(new StoreInfo({ meta: s, knownSinceMs: opts.nowMs }));
    // Loaded regions have no leader until their first heartbeat (TinyKV loads them the same way).
    for (const r of opts.loaded?.regions ?? []) this.regions.setRegion(newRegionInfo(r, undefined));
    for (const s of this.stores.getStores()) this.updateStoreStatus(s.id);
  }

  get clusterId(): number {
    return this.meta?.clusterId ?? this.provisionalClusterId;
  }

  get config(): ScheduleConfig {
    return this.configValue;
  }

  /** Replaces some options (validated). Not persisted: the service re-applies its config file at start. */
  updateConfig(overrides: Partial<ScheduleConfig>): void {
    this.configValue = makeScheduleConfig(overrides, this.configValue);
  }

  isBootstrapped(): boolean {
    return this.meta !== undefined;
  }

  /** @throws {SchedulerError} NOT_BOOTSTRAPPED. */
  checkBootstrapped(): void {
    if (this.meta === undefined) throw new SchedulerError('NOT_BOOTSTRAPPED', `Cluster ${this.clusterId} is not bootstrapped`);
  }

  /**
   * TinyKV `bootstrapCluster`: saves the meta, the first store and the first
   * region atomically, then serves them.
   * @throws {SchedulerError} ALREADY_BOOTSTRAPPED (also while another
   *   bootstrap is in flight); INVALID_ARGUMENT for a zero id or a region
   *   whose peers are not exactly one peer on `store`; STORAGE when the save fails.
   */
  async bootstrap(store: Store, region: Region, nowMs: number): Promise<void> {
    if (this.meta !== undefined || this.bootstrapping) throw new SchedulerError('ALREADY_BOOTSTRAPPED', `Cluster ${this.clusterId} is already bootstrapped`);
    if (store.id <= 0) throw new SchedulerError('INVALID_ARGUMENT', `Cannot bootstrap with store id ${store.id}`);
    if (region.id <= 0) throw new SchedulerError('INVALID_ARGUMENT', `Cannot bootstrap with region id ${region.id}`);
    const peer = region.peers[0];
    if (region.peers.length !== 1 || peer === undefined || peer.storeId !== store.id || peer.id <= 0) {
      throw new SchedulerError('INVALID_ARGUMENT', `Cannot bootstrap: region ${region.id} must have exactly one peer, on store ${store.id}`);
    }
    const meta: ClusterMeta = { clusterId: this.clusterId, maxPeerCount: this.configValue.maxReplicas };
    this.bootstrapping = true;
    try {
      await this.storage.saveBootstrap(meta, { ...store, state: StoreState.Up }, copyRegion(region));
    } catch (cause) {
      throw new SchedulerError('STORAGE', `Cannot bootstrap cluster ${this.clusterId}: save failed`, { cause });
    } finally {
      this.bootstrapping = false;
    }
    this.meta = meta;
    this.stores.setStore(new StoreInfo({ meta: { ...store, state: StoreState.Up }, knownSinceMs: nowMs }));
    this.regions.setRegion(newRegionInfo(region, undefined));
    this.updateStoreStatus(store.id);
  }

  /** metapb.Cluster for GetClusterConfig. */
  getClusterConfig(): Cluster {
    return { id: this.clusterId, maxPeerCount: this.configValue.maxReplicas };
  }

  /**
   * TinyKV `PutStore`: registers a store or updates its address (its state
   * and stats are kept). Durable when resolved.
   * @throws {SchedulerError} INVALID_ARGUMENT for id 0 or an address another
   *   live store has (empty addresses are not compared: TinyKV's tests use
   *   them); STORE_TOMBSTONE when the store was buried; STORAGE.
   */
  async putStore(store: Store, nowMs: number): Promise<void> {
    if (!(Number.isSafeInteger(store.id) && store.id > 0)) throw new SchedulerError('INVALID_ARGUMENT', `Cannot put store: bad id ${store.id}`);
    const existing = this.stores.getStore(store.id);
    if (existing?.isTombstone() === true) throw new SchedulerError('STORE_TOMBSTONE', `Cannot put store ${store.id}: it is a tombstone`);
    if (store.address !== '') {
      for (const s of this.stores.getStores()) {
        if (!s.isTombstone() && s.id !== store.id && s.meta.address === store.address) {
          throw new SchedulerError('INVALID_ARGUMENT', `Cannot put store ${store.id}: address ${store.address} is already registered by store ${s.id}`);
        }
      }
    }
    const next = existing === undefined
      ? new StoreInfo({ meta: { id: store.id, address: store.address, state: store.state === StoreState.UNRECOGNIZED ? StoreState.Up : store.state }, knownSinceMs: nowMs })
      : existing.with({ meta: { ...existing.meta, address: store.address } });
    await this.saveStore(next.meta);
    this.stores.setStore(next);
    this.updateStoreStatus(store.id);
  }

  /**
   * TinyKV `RemoveStore`: Up → Offline. The replica checker then moves its
   * peers away. Idempotent on Offline.
   * @throws {SchedulerError} STORE_NOT_FOUND; STORE_TOMBSTONE; STORAGE.
   */
  async removeStore(storeId: number): Promise<void> {
    const s = this.requireStore(storeId);
    if (s.isTombstone()) throw new SchedulerError('STORE_TOMBSTONE', `Cannot remove store ${storeId}: it is a tombstone`);
    await this.setStoreState(s, StoreState.Offline);
  }

  /**
   * TinyKV `BuryStore`: → Tombstone. Without `force` only an Offline store
   * that holds no region may be buried (the replica checker emptied it).
   * @throws {SchedulerError} STORE_NOT_FOUND; INVALID_ARGUMENT when not
   *   allowed; STORAGE.
   */
  async buryStore(storeId: number, force: boolean): Promise<void> {
    const s = this.requireStore(storeId);
    if (s.isTombstone()) return;
    if (!force && (s.isUp() || this.regions.getStoreRegionCount(storeId) > 0)) {
      throw new SchedulerError('INVALID_ARGUMENT', `Cannot bury store ${storeId}: it is ${s.isUp() ? 'up' : 'still holding regions'}; remove it first or force`);
    }
    await this.setStoreState(s, StoreState.Tombstone);
  }

  getStore(storeId: number): StoreInfo | undefined {
    return this.stores.getStore(storeId);
  }

  /** All stores, by id. */
  getStores(): StoreInfo[] {
    return this.stores.getStores();
  }

  /** GetAllStores. */
  getAllStores(excludeTombstone = false): Store[] {
    return this.getStores().filter((s) => !excludeTombstone || !s.isTombstone()).map((s) => ({ ...s.meta }));
  }

  /**
   * TinyKV `handleStoreHeartbeat`: records the stats and the heartbeat time.
   * @throws {SchedulerError} STORE_NOT_FOUND; STORE_TOMBSTONE.
   */
  handleStoreHeartbeat(stats: StoreStats, nowMs: number): void {
    const s = this.requireStore(stats.storeId);
    if (s.isTombstone()) throw new SchedulerError('STORE_TOMBSTONE', `Store ${stats.storeId} is a tombstone`);
    this.stores.setStore(s.with({ stats: structuredClone(stats), lastHeartbeatMs: nowMs }));
  }

  /**
   * TinyKV 3C `processRegionHeartbeat`. Stale, and nothing changes, when the
   * region's version or conf_ver is lower than the known region with the same
   * id, or its version is lower than any region it overlaps. Otherwise the
   * region is stored if anything about it changed (epoch, range, peers,
   * leader, pending peers, size) or it is new; the regions it overlaps are
   * removed; the aggregates of every store involved are refreshed.
   * @throws {SchedulerError} STALE_REGION.
   */
  processRegionHeartbeat(region: RegionInfo): void {
    const epoch = epochOf(region);
    const origin = this.regions.getRegion(region.meta.id);
    if (origin !== undefined && isEpochStale(epoch, epochOf(origin))) {
      mark('cluster: stale region heartbeat (same id)');
      throw staleError(region, origin);
    }
    const overlaps = this.regions.getOverlaps(region.meta.startKey, region.meta.endKey).filter((r) => r.meta.id !== region.meta.id);
    for (const o of overlaps) {
      if (epoch.version < epochOf(o).version) {
        mark('cluster: stale region heartbeat (overlap)');
        throw staleError(region, o);
      }
    }
    if (origin !== undefined && overlaps.length === 0 && sameRegionInfo(origin, region)) return;
    const removed = this.regions.setRegion(region);
    if (removed.length > 0) mark('cluster: heartbeat removed overlapping regions');
    if (origin === undefined || !sameMeta(origin, region)) this.storage.saveRegion(copyRegion(region.meta));
    for (const r of removed) {
      this.storage.deleteRegion(r.meta.id);
      // A merged-away or re-split region's operator can never finish.
      if (this.operators.removeOperator(r.meta.id, 'cancel')) mark('cluster: operator of an overlapped region cancelled');
    }
    const storeIds = new Set<number>();
    for (const r of [region, ...removed, ...(origin === undefined ? [] : [origin])]) for (const p of r.meta.peers) storeIds.add(p.storeId);
    for (const id of storeIds) this.updateStoreStatus(id);
  }

  /**
   * A RegionHeartbeat from a region's leader: processes it and returns the
   * current step of the region's operator, if any.
   * @throws {SchedulerError} STALE_REGION (reply with an error header; nothing changed).
   */
  handleRegionHeartbeat(req: RegionHeartbeatRequest, nowMs: number): RegionHeartbeatResponse | undefined {
    const region = regionInfoFromHeartbeat(req);
    this.processRegionHeartbeat(region);
    return this.operators.dispatch(region, nowMs);
  }

  /**
   * TinyKV `AskSplit`: a new region id and one new peer id per peer.
   * @throws {SchedulerError} REGION_NOT_FOUND; STALE_REGION when the
   *   request's epoch is older than the known one; STORAGE.
   */
  async askSplit(region: Region): Promise<SplitIds> {
    const known = this.regions.getRegion(region.id);
    if (known === undefined) throw new SchedulerError('REGION_NOT_FOUND', `Cannot split region ${region.id}: the scheduler does not know it`);
    if (isEpochStale(region.regionEpoch, epochOf(known))) {
      throw new SchedulerError('STALE_REGION', `Cannot split region ${region.id}: its epoch ${describeEpoch(region)} is older than the known ${describeEpoch(known.meta)}`);
    }
    const ids = await this.ids.allocMany(1 + region.peers.length);
    const [newRegionId, ...newPeerIds] = ids;
    assert(newRegionId !== undefined, 'askSplit: no region id allocated');
    return { newRegionId, newPeerIds };
  }

  getRegion(regionId: number): RegionInfo | undefined {
    return this.regions.getRegion(regionId);
  }

  getRegionByKey(key: Uint8Array): RegionInfo | undefined {
    return this.regions.getRegionByKey(key);
  }

  getPrevRegion(key: Uint8Array): RegionInfo | undefined {
    return this.regions.getPrevRegion(key);
  }

  /** ScanRegions: limit <= 0 means no limit; an empty endKey means +infinity. */
  scanRegions(startKey: Uint8Array, endKey: Uint8Array, limit: number): RegionInfo[] {
    return this.regions.scanRegions(startKey, endKey, limit);
  }

  /** All regions in key order. */
  getRegions(): RegionInfo[] {
    return this.regions.getRegions();
  }

  /** metapb.Regions in key order (copies). */
  getMetaRegions(): Region[] {
    return this.regions.getRegions().map((r) => copyRegion(r.meta));
  }

  getStoreRegionCount(storeId: number): number {
    return this.regions.getStoreRegionCount(storeId);
  }

  /** Known stores holding a peer of `region` (TinyKV `GetRegionStores`). */
  getRegionStores(region: RegionInfo): StoreInfo[] {
    return region.meta.peers.map((p) => this.stores.getStore(p.storeId)).filter((s): s is StoreInfo => s !== undefined).sort((a, b) => a.id - b.id);
  }

  /** Known stores holding a follower of `region` (TinyKV `GetFollowerStores`). */
  getFollowerStores(region: RegionInfo): StoreInfo[] {
    return this.getRegionStores(region).filter((s) => !region.meta.peers.some((p: Peer) => p.storeId === s.id && p.id === region.leader?.id));
  }

  randPendingRegion(storeId: number, rng: Rng, filter?: RegionFilter): RegionInfo | undefined {
    return this.regions.randPendingRegion(storeId, rng, filter);
  }

  randFollowerRegion(storeId: number, rng: Rng, filter?: RegionFilter): RegionInfo | undefined {
    return this.regions.randFollowerRegion(storeId, rng, filter);
  }

  randLeaderRegion(storeId: number, rng: Rng, filter?: RegionFilter): RegionInfo | undefined {
    return this.regions.randLeaderRegion(storeId, rng, filter);
  }

  /** A reserved id, or undefined (see {@link IdAllocator.tryAllocSync}). */
  allocPeerId(): number | undefined {
    return this.ids.tryAllocSync();
  }

  /** Waits until `count` ids are reserved (the coordinator calls this before scheduling). */
  reserveIds(count: number): Promise<void> {
    return this.ids.ensureAvailable(count);
  }

  /** Copies the region aggregates into the store's StoreInfo (TinyKV `updateStoreStatusLocked`). */
  private updateStoreStatus(storeId: number): void {
    const s = this.stores.getStore(storeId);
    if (s === undefined) return;
    this.stores.setStore(s.with({
      counts: {
        regionCount: this.regions.getStoreRegionCount(storeId),
        leaderCount: this.regions.getStoreLeaderCount(storeId),
        pendingPeerCount: this.regions.getStorePendingPeerCount(storeId),
        regionSize: this.regions.getStoreRegionSize(storeId),
        leaderSize: this.regions.getStoreLeaderRegionSize(storeId),
      },
    }));
  }

  private requireStore(storeId: number): StoreInfo {
    const s = this.stores.getStore(storeId);
    if (s === undefined) throw new SchedulerError('STORE_NOT_FOUND', `Store ${storeId} not found`);
    return s;
  }

  private async setStoreState(s: StoreInfo, state: StoreState): Promise<void> {
    if (s.meta.state === state) return;
    const next = s.with({ state });
    await this.saveStore(next.meta);
    // Re-read: a heartbeat may have replaced the StoreInfo while the save was in flight.
    this.stores.setStore((this.stores.getStore(s.id) ?? next).with({ state }));
  }

  private async saveStore(store: Readonly<Store>): Promise<void> {
    try {
      await this.storage.saveStore({ ...store });
    } catch (cause) {
      throw new SchedulerError('STORAGE', `Cannot save store ${store.id}`, { cause });
    }
  }
}

function staleError(region: RegionInfo, known: RegionInfo): SchedulerError {
  return new SchedulerError('STALE_REGION',
    `Region ${region.meta.id} ${describeEpoch(region.meta)} is stale: region ${known.meta.id} is at ${describeEpoch(known.meta)} [${formatKey(known.meta.startKey)}, ${formatKey(known.meta.endKey)})`);
}

function describeEpoch(r: Readonly<Region>): string {
  const e = r.regionEpoch;
  return e === undefined ? 'epoch {none}' : `epoch {confVer: ${e.confVer}, version: ${e.version}}`;
}

function sameMeta(a: RegionInfo, b: RegionInfo): boolean {
  const ea = epochOf(a);
  const eb = epochOf(b);
  return ea.version === eb.version && ea.confVer === eb.confVer
    && equalBytes(a.meta.startKey, b.meta.startKey) && equalBytes(a.meta.endKey, b.meta.endKey)
    && a.meta.peers.length === b.meta.peers.length
    && a.meta.peers.every((p, i) => p.id === b.meta.peers[i]?.id && p.storeId === b.meta.peers[i]?.storeId);
}

function sameRegionInfo(a: RegionInfo, b: RegionInfo): boolean {
  return sameMeta(a, b) && a.leader?.id === b.leader?.id && a.leader?.storeId === b.leader?.storeId
    && a.approximateSize === b.approximateSize && a.pendingPeers.length === b.pendingPeers.length
    && a.pendingPeers.every((p, i) => p.id === b.pendingPeers[i]?.id);
}
