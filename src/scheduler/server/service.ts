/**
 * The scheduler's gRPC services over its core: `schedulerpb.Scheduler` (the
 * 21 RPCs of TinyKV's PD) and `adminpb.SchedulerAdmin` (manual operators).
 * Each handler validates its request, calls the core, and shapes the answer;
 * refusals are `SchedulerError`s answered in the response header (`_grpc.ts`).
 *
 * Rules every handler follows, in this order:
 * 1. The request header's cluster id must be ours, except for GetMembers
 *    (which is how a client learns it). 0 is refused too, as PD's
 *    `validateRequest` refuses it: our clients always learn the id first.
 * 2. The cluster must be bootstrapped, except for GetMembers, Tso, AllocID,
 *    Bootstrap and IsBootstrapped (TinyKV's `GetRaftCluster() == nil`
 *    checks; PutStore included, as in TinyKV).
 * 3. Input is validated (`_validate.ts`) before the core sees it.
 *
 * RegionHeartbeat answers on the stream it was sent on: the region's
 * operator step, if it has one, else nothing; a refused heartbeat (stale
 * epoch, bad input, not bootstrapped) is answered with an error header, as
 * TinyKV's `hbStreams.sendErr` does (a raftstore ignores answers without an
 * operator). Operator steps made elsewhere (the coordinator's tick, the admin
 * service) go out on the leader store's stream through {@link HeartbeatStreams}.
 */
import * as grpc from '@grpc/grpc-js';
import { scanLimitMax, schedulerHeartbeatQueueMax } from '../../config/limits.js';
import { OperatorKind } from '../../pb/adminpb.js';
import type { AddOperatorRequest, AddOperatorResponse, SchedulerAdminServer } from '../../pb/adminpb.js';
import { AddOperatorResponse as AddOperatorResponseMsg } from '../../pb/adminpb.js';
import type { Peer } from '../../pb/metapb.js';
import * as pb from '../../pb/schedulerpb.js';
import type {
  AllocIDResponse, AskSplitRequest, AskSplitResponse, BootstrapRequest, BootstrapResponse, GetAllStoresRequest, GetAllStoresResponse,
  GetClusterConfigResponse, GetGCSafePointResponse, GetMembersResponse, GetOperatorRequest, GetOperatorResponse, GetRegionResponse,
  GetStoreRequest, GetStoreResponse, IsBootstrappedResponse, Member, PutClusterConfigRequest, PutClusterConfigResponse, PutStoreRequest,
  PutStoreResponse, RegionHeartbeatRequest, RegionHeartbeatResponse, RequestHeader, ResponseHeader, ScanRegionsRequest,
  ScanRegionsResponse, SchedulerServer, StoreHeartbeatRequest, StoreHeartbeatResponse, TsoRequest, TsoResponse,
  UpdateGCSafePointRequest, UpdateGCSafePointResponse,
} from '../../pb/schedulerpb.js';
import { serviceError } from '../../server/grpc_errors.js';
import type { Logger } from '../../util/log.js';
import { makeScheduleConfig } from '../config.js';
import { SchedulerError } from '../errors.js';
import type { SchedulerCore } from '../open.js';
import { toPbOperatorStatus } from '../operator.js';
import type { OperatorDispatch } from '../operator_controller.js';
import type { RegionInfo } from '../region_info.js';
import type { SchedulerStorage } from '../storage.js';
import { duplex, unary } from './_grpc.js';
import type { FromHeader, OpenStream, StreamWriter } from './_grpc.js';
import { checkId, checkKey, checkPeer, checkRegion, required } from './_validate.js';
import type { HeartbeatStreams } from './heartbeat_streams.js';

export interface SchedulerServiceOptions {
  readonly core: SchedulerCore;
  readonly storage: SchedulerStorage;
  readonly streams: HeartbeatStreams;
  readonly logger: Logger;
  /** Wall clock, ms since the unix epoch. */
  readonly nowMs: () => number;
  /** This scheduler as GetMembers describes it (its address is known once bound). */
  readonly member: () => Member;
}

/** Runs tasks one at a time, in call order (GC safe point and cluster config updates: read, compare, save). */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const run = this.tail.then(task);
    this.tail = run.catch(() => undefined);
    return run;
  }
}

export class SchedulerGrpcService {
  /** Open Tso and RegionHeartbeat streams, which shutdown ends. */
  readonly openStreams = new Set<OpenStream>();
  private readonly opts: SchedulerServiceOptions;
  private readonly core: SchedulerCore;
  private readonly logger: Logger;
  private readonly updates = new Serial();
  /** Loaded on first use; this process is its only writer. */
  private gcSafePoint: bigint | undefined;

  constructor(opts: SchedulerServiceOptions) {
    this.opts = opts;
    this.core = opts.core;
    this.logger = opts.logger;
  }

  get clusterId(): number {
    return this.core.cluster.clusterId;
  }

  /** Ends every open stream with UNAVAILABLE (shutdown: they would hold the grace period). */
  abortStreams(details: string): void {
    for (const s of [...this.openStreams]) s.abort(details);
    this.opts.streams.clear();
  }

  /** `schedulerpb.Scheduler`. */
  implementation(): SchedulerServer {
    const u = <Req, Res>(method: string, fromHeader: FromHeader<Res>, handle: (req: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> =>
      unary(method, this.logger, this.clusterId, fromHeader, handle);
    return {
      getMembers: u('GetMembers', (p) => pb.GetMembersResponse.fromPartial(p), () => Promise.resolve(this.getMembers())),
      tso: this.tsoStream(),
      bootstrap: u('Bootstrap', (p) => pb.BootstrapResponse.fromPartial(p), (req: BootstrapRequest) => this.bootstrap(req)),
      isBootstrapped: u('IsBootstrapped', (p) => pb.IsBootstrappedResponse.fromPartial(p), (req: { header: RequestHeader | undefined }) => this.isBootstrapped(req)),
      allocId: u('AllocID', (p) => pb.AllocIDResponse.fromPartial(p), (req: { header: RequestHeader | undefined }) => this.allocId(req)),
      getStore: u('GetStore', (p) => pb.GetStoreResponse.fromPartial(p), (req: GetStoreRequest) => this.getStore(req)),
      putStore: u('PutStore', (p) => pb.PutStoreResponse.fromPartial(p), (req: PutStoreRequest) => this.putStore(req)),
      getAllStores: u('GetAllStores', (p) => pb.GetAllStoresResponse.fromPartial(p), (req: GetAllStoresRequest) => this.getAllStores(req)),
      storeHeartbeat: u('StoreHeartbeat', (p) => pb.StoreHeartbeatResponse.fromPartial(p), (req: StoreHeartbeatRequest) => this.storeHeartbeat(req)),
      regionHeartbeat: this.regionHeartbeatStream(),
      getRegion: u('GetRegion', (p) => pb.GetRegionResponse.fromPartial(p), (req: pb.GetRegionRequest) => this.getRegionByKey(req, 'at')),
      getPrevRegion: u('GetPrevRegion', (p) => pb.GetRegionResponse.fromPartial(p), (req: pb.GetRegionRequest) => this.getRegionByKey(req, 'prev')),
      getRegionById: u('GetRegionByID', (p) => pb.GetRegionResponse.fromPartial(p), (req: pb.GetRegionByIDRequest) => this.getRegionById(req)),
      scanRegions: u('ScanRegions', (p) => pb.ScanRegionsResponse.fromPartial(p), (req: ScanRegionsRequest) => this.scanRegions(req)),
      askSplit: u('AskSplit', (p) => pb.AskSplitResponse.fromPartial(p), (req: AskSplitRequest) => this.askSplit(req)),
      getClusterConfig: u('GetClusterConfig', (p) => pb.GetClusterConfigResponse.fromPartial(p), (req: { header: RequestHeader | undefined }) => this.getClusterConfig(req)),
      putClusterConfig: u('PutClusterConfig', (p) => pb.PutClusterConfigResponse.fromPartial(p), (req: PutClusterConfigRequest) => this.putClusterConfig(req)),
      // PD scatters a region's peers randomly over stores; TinyKV's scheduler has no scatter, and neither do we.
      scatterRegion: (_call, callback) => callback(serviceError(grpc.status.UNIMPLEMENTED, 'ScatterRegion is not implemented by the TinyKV.ts scheduler (TinyKV has no region scatterer); balance-region spreads regions instead')),
      getGcSafePoint: u('GetGCSafePoint', (p) => pb.GetGCSafePointResponse.fromPartial(p), (req: { header: RequestHeader | undefined }) => this.getGcSafePoint(req)),
      updateGcSafePoint: u('UpdateGCSafePoint', (p) => pb.UpdateGCSafePointResponse.fromPartial(p), (req: UpdateGCSafePointRequest) => this.updateGcSafePoint(req)),
      getOperator: u('GetOperator', (p) => pb.GetOperatorResponse.fromPartial(p), (req: GetOperatorRequest) => this.getOperator(req)),
    };
  }

  /** `adminpb.SchedulerAdmin`. */
  adminImplementation(): SchedulerAdminServer {
    return {
      addOperator: unary('AddOperator', this.logger, this.clusterId, (p) => AddOperatorResponseMsg.fromPartial(p), (req: AddOperatorRequest) => this.addOperator(req)),
    };
  }

  // --- helpers -------------------------------------------------------------

  private header(): ResponseHeader {
    return { clusterId: this.clusterId, error: undefined };
  }

  /** Rule 1 (see the file comment). @throws {SchedulerError} INVALID_ARGUMENT */
  private checkCluster(header: RequestHeader | undefined): void {
    const theirs = header?.clusterId ?? 0;
    if (theirs !== this.clusterId) {
      throw new SchedulerError('INVALID_ARGUMENT', `mismatch cluster id, need ${this.clusterId} but got ${theirs}`);
    }
  }

  /** Rules 1 and 2. @throws {SchedulerError} INVALID_ARGUMENT, NOT_BOOTSTRAPPED */
  private checkRequest(header: RequestHeader | undefined): void {
    this.checkCluster(header);
    this.core.cluster.checkBootstrapped();
  }

  private regionAnswer(region: RegionInfo | undefined): GetRegionResponse {
    if (region === undefined) return { header: this.header(), region: undefined, leader: undefined, slaves: [] };
    const leader = region.leader;
    // TinyKV's `slaves` are the followers: every peer but the leader.
    const slaves: Peer[] = region.meta.peers.filter((p) => p.id !== leader?.id).map((p) => ({ ...p }));
    return { header: this.header(), region: region.meta, leader: leader === undefined ? undefined : { ...leader }, slaves };
  }

  // --- schedulerpb.Scheduler ----------------------------------------------

  private getMembers(): GetMembersResponse {
    const member = this.opts.member();
    // One scheduler, so it is the leader of itself (PD answers the etcd leader the same way).
    return { header: this.header(), members: [member], leader: member, etcdLeader: member };
  }

  private tsoStream(): grpc.handleBidiStreamingCall<TsoRequest, TsoResponse> {
    return duplex<TsoRequest, TsoResponse>({
      method: 'Tso', logger: this.logger, clusterId: this.clusterId, registry: this.openStreams,
      fromHeader: (p) => pb.TsoResponse.fromPartial(p),
      open: () => ({
        handle: async (req) => {
          this.checkCluster(req.header);
          // The last of `count` timestamps: the client hands out last-count+1 .. last.
          const timestamp = await this.core.tso.getTimestamp(req.count);
          return { header: this.header(), count: req.count, timestamp };
        },
      }),
    });
  }

  private async bootstrap(req: BootstrapRequest): Promise<BootstrapResponse> {
    this.checkCluster(req.header);
    const store = required('store', req.store);
    const region = required('region', req.region);
    checkId('store id', store.id);
    checkRegion(region);
    if (region.startKey.length > 0 || region.endKey.length > 0) {
      throw new SchedulerError('INVALID_ARGUMENT', `Cannot bootstrap: the first region ${region.id} must cover every key (empty start and end keys)`);
    }
    await this.core.cluster.bootstrap(store, region, this.opts.nowMs());
    this.logger.info({ clusterId: this.clusterId, storeId: store.id, regionId: region.id }, 'cluster bootstrapped');
    return { header: this.header() };
  }

  private isBootstrapped(req: { header: RequestHeader | undefined }): Promise<IsBootstrappedResponse> {
    this.checkCluster(req.header);
    return Promise.resolve({ header: this.header(), bootstrapped: this.core.cluster.isBootstrapped() });
  }

  private async allocId(req: { header: RequestHeader | undefined }): Promise<AllocIDResponse> {
    this.checkCluster(req.header);
    return { header: this.header(), id: await this.core.ids.alloc() };
  }

  private getStore(req: GetStoreRequest): Promise<GetStoreResponse> {
    this.checkRequest(req.header);
    checkId('store id', req.storeId);
    const s = this.core.cluster.getStore(req.storeId);
    if (s === undefined) throw new SchedulerError('STORE_NOT_FOUND', `invalid store ID ${req.storeId}, not found`);
    return Promise.resolve({ header: this.header(), store: { ...s.meta }, stats: s.stats === undefined ? undefined : structuredClone(s.stats) });
  }

  private async putStore(req: PutStoreRequest): Promise<PutStoreResponse> {
    this.checkRequest(req.header);
    const store = required('store', req.store);
    checkId('store id', store.id);
    await this.core.cluster.putStore(store, this.opts.nowMs());
    this.logger.info({ storeId: store.id, address: store.address }, 'store registered');
    return { header: this.header() };
  }

  private getAllStores(req: GetAllStoresRequest): Promise<GetAllStoresResponse> {
    this.checkRequest(req.header);
    return Promise.resolve({ header: this.header(), stores: this.core.cluster.getAllStores(req.excludeTombstoneStores) });
  }

  private storeHeartbeat(req: StoreHeartbeatRequest): Promise<StoreHeartbeatResponse> {
    this.checkRequest(req.header);
    const stats = required('stats', req.stats);
    checkId('store id', stats.storeId);
    this.core.cluster.handleStoreHeartbeat(stats, this.opts.nowMs());
    return Promise.resolve({ header: this.header() });
  }

  private regionHeartbeatStream(): grpc.handleBidiStreamingCall<RegionHeartbeatRequest, RegionHeartbeatResponse> {
    return duplex<RegionHeartbeatRequest, RegionHeartbeatResponse>({
      method: 'RegionHeartbeat', logger: this.logger, clusterId: this.clusterId, registry: this.openStreams,
      fromHeader: (p) => pb.RegionHeartbeatResponse.fromPartial(p), queueMax: schedulerHeartbeatQueueMax,
      open: (writer) => ({
        handle: (req) => this.regionHeartbeat(req, writer),
        onClose: () => this.opts.streams.unbind(writer),
      }),
    });
  }

  /** @throws {SchedulerError} answered on the stream with an error header. */
  private regionHeartbeat(req: RegionHeartbeatRequest, writer: StreamWriter<RegionHeartbeatResponse>): RegionHeartbeatResponse | undefined {
    this.checkRequest(req.header);
    const region = required('region', req.region);
    const leader = required('leader', req.leader);
    checkRegion(region);
    checkPeer('leader', leader);
    if (!region.peers.some((p) => p.id === leader.id && p.storeId === leader.storeId)) {
      throw new SchedulerError('INVALID_ARGUMENT', `region ${region.id}: leader ${leader.id} on store ${leader.storeId} is not one of its peers`);
    }
    // Operators for this store's regions go out on the stream it last reported on (TinyKV bindStream).
    this.opts.streams.bind(leader.storeId, writer);
    return this.core.cluster.handleRegionHeartbeat(req, this.opts.nowMs());
  }

  private getRegionByKey(req: pb.GetRegionRequest, which: 'at' | 'prev'): Promise<GetRegionResponse> {
    this.checkRequest(req.header);
    checkKey('region key', req.regionKey);
    const c = this.core.cluster;
    return Promise.resolve(this.regionAnswer(which === 'at' ? c.getRegionByKey(req.regionKey) : c.getPrevRegion(req.regionKey)));
  }

  /** An unknown region is an answer without a region, as PD gives. */
  private getRegionById(req: pb.GetRegionByIDRequest): Promise<GetRegionResponse> {
    this.checkRequest(req.header);
    checkId('region id', req.regionId);
    return Promise.resolve(this.regionAnswer(this.core.cluster.getRegion(req.regionId)));
  }

  /**
   * At most scanLimitMax regions per answer, also when the request asks for
   * no limit (<= 0) or more: a caller wanting more continues from the last
   * region's end key. Unknown leaders are answered as peer id 0 (proto3's "none").
   */
  private scanRegions(req: ScanRegionsRequest): Promise<ScanRegionsResponse> {
    this.checkRequest(req.header);
    checkKey('start key', req.startKey);
    checkKey('end key', req.endKey);
    const limit = req.limit <= 0 || req.limit > scanLimitMax ? scanLimitMax : req.limit;
    const found = this.core.cluster.scanRegions(req.startKey, req.endKey, limit);
    return Promise.resolve({
      header: this.header(),
      regions: found.map((r) => r.meta),
      leaders: found.map((r) => (r.leader === undefined ? { id: 0, storeId: 0 } : { ...r.leader })),
    });
  }

  private async askSplit(req: AskSplitRequest): Promise<AskSplitResponse> {
    this.checkRequest(req.header);
    const region = required('region', req.region);
    checkRegion(region);
    const ids = await this.core.cluster.askSplit(region);
    return { header: this.header(), newRegionId: ids.newRegionId, newPeerIds: [...ids.newPeerIds] };
  }

  private getClusterConfig(req: { header: RequestHeader | undefined }): Promise<GetClusterConfigResponse> {
    this.checkRequest(req.header);
    return Promise.resolve({ header: this.header(), cluster: this.core.cluster.getClusterConfig() });
  }

  /** Only max_peer_count is configurable (TinyKV's metapb.Cluster has nothing else); saved before it applies. */
  private async putClusterConfig(req: PutClusterConfigRequest): Promise<PutClusterConfigResponse> {
    this.checkRequest(req.header);
    const cluster = required('cluster', req.cluster);
    if (cluster.id !== this.clusterId) {
      throw new SchedulerError('INVALID_ARGUMENT', `invalid cluster config: cluster id ${cluster.id} does not match ${this.clusterId}`);
    }
    const maxReplicas = cluster.maxPeerCount;
    makeScheduleConfig({ maxReplicas }, this.core.cluster.config); // validates (throws INVALID_ARGUMENT)
    await this.updates.run(async () => {
      try {
        await this.opts.storage.saveClusterConfig?.({ clusterId: this.clusterId, maxPeerCount: maxReplicas });
      } catch (cause) {
        throw new SchedulerError('STORAGE', 'Cannot save the cluster config', { cause });
      }
      this.core.cluster.updateConfig({ maxReplicas });
    });
    this.logger.info({ maxPeerCount: maxReplicas }, 'cluster config updated');
    return { header: this.header() };
  }

  private async getGcSafePoint(req: { header: RequestHeader | undefined }): Promise<GetGCSafePointResponse> {
    this.checkRequest(req.header);
    return { header: this.header(), safePoint: await this.updates.run(() => this.loadGcSafePoint()) };
  }

  /** PD: the safe point only moves forward; an older one leaves it and is answered with the current one. */
  private async updateGcSafePoint(req: UpdateGCSafePointRequest): Promise<UpdateGCSafePointResponse> {
    this.checkRequest(req.header);
    const newSafePoint = await this.updates.run(async () => {
      const current = await this.loadGcSafePoint();
      if (req.safePoint <= current) return current;
      try {
        await this.opts.storage.saveGcSafePoint?.(req.safePoint);
      } catch (cause) {
        throw new SchedulerError('STORAGE', `Cannot save GC safe point ${req.safePoint}`, { cause });
      }
      this.gcSafePoint = req.safePoint;
      return req.safePoint;
    });
    return { header: this.header(), newSafePoint };
  }

  private async loadGcSafePoint(): Promise<bigint> {
    if (this.gcSafePoint === undefined) {
      try {
        this.gcSafePoint = (await this.opts.storage.loadGcSafePoint?.()) ?? 0n;
      } catch (cause) {
        throw new SchedulerError('STORAGE', 'Cannot load the GC safe point', { cause });
      }
    }
    return this.gcSafePoint;
  }

  /** The region's running operator, else its last ended one. None: REGION_NOT_FOUND (PD: UNKNOWN "Not Found"). */
  private getOperator(req: GetOperatorRequest): Promise<GetOperatorResponse> {
    this.checkRequest(req.header);
    checkId('region id', req.regionId);
    const record = this.core.cluster.operators.getOperatorRecord(req.regionId);
    if (record === undefined) throw new SchedulerError('REGION_NOT_FOUND', `Region ${req.regionId} has no operator, running or recently ended`);
    const op = record.operator;
    return Promise.resolve({
      header: this.header(), regionId: op.regionId, desc: Buffer.from(op.describe()), status: toPbOperatorStatus(record.status), kind: Buffer.from(op.kind),
    });
  }

  // --- adminpb.SchedulerAdmin -----------------------------------------------

  /**
   * Queues a manual operator. Its first step reaches the leader's store
   * through the core's onOperatorStep hook (already, when this returns), so
   * the returned dispatch is not sent again here.
   */
  private async addOperator(req: AddOperatorRequest): Promise<AddOperatorResponse> {
    this.checkRequest(req.header);
    checkId('region id', req.regionId);
    checkId('store id', req.storeId);
    const now = this.opts.nowMs();
    const co = this.core.coordinator;
    const kind = req.kind;
    let dispatch: OperatorDispatch | undefined;
    switch (kind) {
      case OperatorKind.ADD_PEER: dispatch = await co.addPeer(req.regionId, req.storeId, now); break;
      case OperatorKind.REMOVE_PEER: dispatch = co.removePeer(req.regionId, req.storeId, now); break;
      case OperatorKind.TRANSFER_LEADER: dispatch = co.transferLeader(req.regionId, req.storeId, now); break;
      // The decoder passes unknown enum numbers through as they are: refuse them, never assert.
      default: throw new SchedulerError('INVALID_ARGUMENT', `Unknown operator kind ${String(kind)}`);
    }
    const op = this.core.cluster.operators.getOperator(req.regionId);
    const description = op === undefined ? `operator for region ${req.regionId} ended at once` : op.describe();
    const sent = dispatch === undefined ? 'the first step goes with the region\'s next heartbeat' : `first step sent to store ${dispatch.storeId}`;
    this.logger.info({ regionId: req.regionId, storeId: req.storeId, kind: OperatorKind[kind] }, 'admin operator added');
    return { header: this.header(), description: `${description}; ${sent}` };
  }
}
