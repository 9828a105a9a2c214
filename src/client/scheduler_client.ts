/**
 * `PdClient`: a typed client of the scheduler (service `schedulerpb.Scheduler`,
 * TinyKV's PD), named after PD so it does not clash with the generated
 * `SchedulerClient` it wraps.
 *
 * - The cluster id is fetched once (GetMembers, whose header carries it;
 *   GetMembers itself does not check the request's id) and sent in every
 *   RequestHeader. A scheduler without GetMembers (UNIMPLEMENTED) gets 0
 *   until the first response header names the cluster. An answer from
 *   another cluster fails with `SchedulerError` CLUSTER_MISMATCH.
 * - A refusal in `ResponseHeader.error` becomes a `SchedulerError` carrying
 *   its `ErrorType`; REGION_NOT_FOUND from a region lookup is "no region"
 *   (`undefined`) instead.
 * - Transport failures are `ClientError`s. Unary calls are retried on
 *   UNAVAILABLE, moving through the given addresses and pausing with
 *   bounded backoff after each round, until the call's deadline; then
 *   DEADLINE_EXCEEDED with the last failure as `cause`. Every call is
 *   answered-or-failed by its deadline.
 * - `Bootstrap` is the one call not retried: a retry after a lost answer
 *   would report ALREADY_BOOTSTRAPPED for our own success. Callers check
 *   `isBootstrapped()` after an UNAVAILABLE.
 * - `tso()` and `regionHeartbeats()` use the two bidirectional streams
 *   (`_tso_stream.ts`, `_heartbeat_stream.ts`).
 */
import * as grpc from '@grpc/grpc-js';
import { clientDeadlineMsDefault, grpcMessageBytesMax } from '../config/limits.js';
import type { Peer, Region, Store } from '../pb/metapb.js';
import { StoreState } from '../pb/metapb.js';
import { ErrorType, SchedulerClient } from '../pb/schedulerpb.js';
import type {
  AllocIDResponse, AskSplitResponse, BootstrapResponse, GetAllStoresResponse, GetMembersResponse, GetRegionResponse,
  GetStoreResponse, IsBootstrappedResponse, Member, PutStoreResponse, RequestHeader, ResponseHeader, ScanRegionsResponse,
  StoreHeartbeatResponse, StoreStats,
} from '../pb/schedulerpb.js';
import { toBuffer } from '../server/buffers.js';
import { Backoff, checkBackoffOptions, pause, unboundedAbortController } from './backoff.js';
import {
  ClientError, CLIENT_ERROR_CODES, fromServiceError, SchedulerError, schedulerErrorCode, SCHEDULER_ERROR_CODES,
} from './errors.js';
import { RegionHeartbeatStream } from './_heartbeat_stream.js';
import type { RegionHeartbeatCallbacks, RegionHeartbeatHandle } from './_heartbeat_stream.js';
import { retryPauseMsDefault, retryPauseMsMaxDefault } from './_limits.js';
import type { StreamHost } from './_stream_host.js';
import { TsoStream } from './_tso_stream.js';

export type { RegionHeartbeat, RegionHeartbeatCallbacks, RegionHeartbeatHandle } from './_heartbeat_stream.js';

export interface PdClientOptions {
  /** Scheduler address(es), `host:port`; the client moves to the next one when a call finds one unreachable. */
  readonly addrs: string | readonly string[];
  /** Deadline of each call in milliseconds, retries included. @default clientDeadlineMsDefault (10 s) */
  readonly deadlineMs?: number;
  /** The cluster id, when known: skips the GetMembers lookup. @default fetched with GetMembers */
  readonly clusterId?: number;
  /** First pause between retry rounds, ms. @default 100 */
  readonly retryPauseMs?: number;
  /** Longest pause between retry rounds, ms. @default 400 */
  readonly retryPauseMsMax?: number;
}

export interface PdCallOptions {
  /** When the call must be over, in ms since the epoch (`Date.now()` time). @default now + deadlineMs */
  readonly deadline?: number;
}

/** A region and its leader as the scheduler knows them (`leader` undefined when it knows none). */
export interface RegionInfo {
  readonly region: Region;
  readonly leader: Peer | undefined;
}

export interface SplitIds {
  readonly newRegionId: number;
  readonly newPeerIds: readonly number[];
}

export interface Members {
  readonly members: readonly Member[];
  readonly leader: Member | undefined;
}

type Callback<Res> = (err: grpc.ServiceError | null, res: Res) => void;
/** One unary call on a connection, with our header, metadata and deadline. */
type Invoke<Res> = (client: SchedulerClient, header: RequestHeader, md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: Callback<Res>) => void;

export class PdClient {
  private readonly addrs: readonly string[];
  private readonly connections: (SchedulerClient | undefined)[];
  /** Index in `addrs` of the address calls go to. */
  private current = 0;
  private readonly deadlineMs: number;
  private readonly retryPauseMs: number;
  private readonly retryPauseMsMax: number;
  private knownClusterId: number | undefined;
  private clusterIdLookup: Promise<number> | undefined;
  /** Aborted by close(); every in-flight operation's pause listens to it, hence no listener cap. */
  private readonly abort = unboundedAbortController();
  private tsoStream: TsoStream | undefined;
  private readonly heartbeatStreams = new Set<RegionHeartbeatStream>();
  private readonly host: StreamHost;

  /** @throws {RangeError} on an empty address list or a non-positive deadline or pause */
  constructor(options: PdClientOptions) {
    this.addrs = typeof options.addrs === 'string' ? [options.addrs] : [...options.addrs];
    if (this.addrs.length === 0) throw new RangeError('Cannot create PdClient: no scheduler address given');
    this.deadlineMs = options.deadlineMs ?? clientDeadlineMsDefault;
    if (!Number.isFinite(this.deadlineMs) || this.deadlineMs <= 0) {
      throw new RangeError(`Cannot create PdClient: deadlineMs must be positive, got ${this.deadlineMs}`);
    }
    this.retryPauseMs = options.retryPauseMs ?? retryPauseMsDefault;
    this.retryPauseMsMax = options.retryPauseMsMax ?? Math.max(retryPauseMsMaxDefault, this.retryPauseMs);
    checkBackoffOptions({ baseMs: this.retryPauseMs, maxMs: this.retryPauseMsMax });
    if (options.clusterId !== undefined) {
      if (!Number.isSafeInteger(options.clusterId) || options.clusterId < 0) {
        throw new RangeError(`Cannot create PdClient: clusterId must be a non-negative integer, got ${options.clusterId}`);
      }
      this.knownClusterId = options.clusterId;
    }
    this.connections = this.addrs.map(() => undefined);
    this.host = this.streamHost();
  }

  /** The cluster id, fetched with GetMembers on first use. @throws {ClientError | SchedulerError} */
  clusterId(options: PdCallOptions = {}): Promise<number> {
    if (this.knownClusterId !== undefined) return Promise.resolve(this.knownClusterId);
    // Concurrent first calls share one lookup; a failed lookup is forgotten so the next call tries again.
    this.clusterIdLookup ??= this.unaryOnce<GetMembersResponse>('GetMembers', this.deadlineOf(options), (c, header, md, o, cb) =>
      c.getMembers({ header }, md, o, cb),
    ).then(
      (res) => {
        this.knownClusterId ??= res.header?.clusterId ?? 0;
        return this.knownClusterId;
      },
      (err: unknown) => {
        this.clusterIdLookup = undefined;
        if (!(err instanceof ClientError) || err.code !== CLIENT_ERROR_CODES.Unimplemented) throw err;
        // No GetMembers: send 0 ("not stated") and adopt the id of the first answer (checkHeader).
        this.knownClusterId ??= 0;
        return this.knownClusterId;
      },
    );
    return this.clusterIdLookup;
  }

  /** The scheduler's members and leader. @throws {ClientError | SchedulerError} */
  async getMembers(options: PdCallOptions = {}): Promise<Members> {
    const res = await this.unaryOnce<GetMembersResponse>('GetMembers', this.deadlineOf(options), (c, header, md, o, cb) =>
      c.getMembers({ header }, md, o, cb),
    );
    return { members: res.members, leader: res.leader };
  }

  /** The region holding `key`, and its leader. @throws {ClientError | SchedulerError} */
  async getRegion(key: Uint8Array, options: PdCallOptions = {}): Promise<RegionInfo | undefined> {
    const res = await this.regionCall('GetRegion', options, (c, header, md, o, cb) => c.getRegion({ header, regionKey: toBuffer(key) }, md, o, cb));
    return res === undefined ? undefined : regionInfo(res.region, res.leader);
  }

  /** The region just before the one holding `key`. @throws {ClientError | SchedulerError} */
  async getPrevRegion(key: Uint8Array, options: PdCallOptions = {}): Promise<RegionInfo | undefined> {
    const res = await this.regionCall('GetPrevRegion', options, (c, header, md, o, cb) => c.getPrevRegion({ header, regionKey: toBuffer(key) }, md, o, cb));
    return res === undefined ? undefined : regionInfo(res.region, res.leader);
  }

  /** The region with this id. @throws {ClientError | SchedulerError} */
  async getRegionById(regionId: number, options: PdCallOptions = {}): Promise<RegionInfo | undefined> {
    const res = await this.regionCall('GetRegionByID', options, (c, header, md, o, cb) => c.getRegionById({ header, regionId }, md, o, cb));
    return res === undefined ? undefined : regionInfo(res.region, res.leader);
  }

  /**
   * Up to `limit` regions (0: no limit) overlapping `[startKey, endKey)`, in
   * key order; an empty `endKey` is +infinity. @throws {ClientError | SchedulerError}
   */
  async scanRegions(startKey: Uint8Array, endKey: Uint8Array, limit: number, options: PdCallOptions = {}): Promise<RegionInfo[]> {
    if (!Number.isSafeInteger(limit) || limit < 0 || limit > 2 ** 31 - 1) throw new RangeError(`Cannot scan regions: limit must be in [0, 2^31), got ${limit}`);
    const res = await this.unary<ScanRegionsResponse>('ScanRegions', options, (c, header, md, o, cb) =>
      c.scanRegions({ header, startKey: toBuffer(startKey), endKey: toBuffer(endKey), limit }, md, o, cb),
    );
    const out: RegionInfo[] = [];
    res.regions.forEach((region, i) => {
      const info = regionInfo(region, res.leaders[i]);
      if (info !== undefined) out.push(info);
    });
    return out;
  }

  /** The store with this id, undefined when the scheduler does not answer one. @throws {ClientError | SchedulerError} */
  async getStore(storeId: number, options: PdCallOptions = {}): Promise<Store | undefined> {
    const res = await this.unary<GetStoreResponse>('GetStore', options, (c, header, md, o, cb) => c.getStore({ header, storeId }, md, o, cb));
    return res.store;
  }

  /** Every store, tombstones included unless excluded. @throws {ClientError | SchedulerError} */
  async getAllStores(options: PdCallOptions & { readonly excludeTombstoneStores?: boolean } = {}): Promise<Store[]> {
    const excludeTombstoneStores = options.excludeTombstoneStores ?? false;
    const res = await this.unary<GetAllStoresResponse>('GetAllStores', options, (c, header, md, o, cb) =>
      c.getAllStores({ header, excludeTombstoneStores }, md, o, cb),
    );
    return res.stores;
  }

  /** A new cluster-unique id. A retried call may skip ids, never repeat one. @throws {ClientError | SchedulerError} */
  async allocId(options: PdCallOptions = {}): Promise<number> {
    const res = await this.unary<AllocIDResponse>('AllocID', options, (c, header, md, o, cb) => c.allocId({ header }, md, o, cb));
    return res.id;
  }

  /**
   * A timestamp `physical << 18 | logical`, unique and increasing in call
   * order; concurrent callers share one request on the Tso stream.
   * @throws {ClientError | SchedulerError}
   */
  tso(options: PdCallOptions = {}): Promise<bigint> {
    if (this.abort.signal.aborted) return Promise.reject(closedError('Tso'));
    this.tsoStream ??= new TsoStream(this.host);
    return this.tsoStream.get(this.deadlineOf(options));
  }

  async isBootstrapped(options: PdCallOptions = {}): Promise<boolean> {
    const res = await this.unary<IsBootstrappedResponse>('IsBootstrapped', options, (c, header, md, o, cb) => c.isBootstrapped({ header }, md, o, cb));
    return res.bootstrapped;
  }

  /**
   * Bootstraps the cluster with its first store and first region (field 3 of
   * BootstrapRequest, as PD takes it). Not retried (see the file comment).
   * @throws {SchedulerError} ALREADY_BOOTSTRAPPED, {ClientError} on transport failures
   */
  async bootstrap(store: Store, region: Region, options: PdCallOptions = {}): Promise<void> {
    await this.unary<BootstrapResponse>('Bootstrap', options, (c, header, md, o, cb) => c.bootstrap({ header, store, region }, md, o, cb), false);
  }

  async putStore(store: Store, options: PdCallOptions = {}): Promise<void> {
    await this.unary<PutStoreResponse>('PutStore', options, (c, header, md, o, cb) => c.putStore({ header, store }, md, o, cb));
  }

  async storeHeartbeat(stats: StoreStats, options: PdCallOptions = {}): Promise<void> {
    await this.unary<StoreHeartbeatResponse>('StoreHeartbeat', options, (c, header, md, o, cb) => c.storeHeartbeat({ header, stats }, md, o, cb));
  }

  /** Ids for splitting `region`. A retried call may waste ids. @throws {ClientError | SchedulerError} */
  async askSplit(region: Region, options: PdCallOptions = {}): Promise<SplitIds> {
    const res = await this.unary<AskSplitResponse>('AskSplit', options, (c, header, md, o, cb) => c.askSplit({ header, region }, md, o, cb));
    return { newRegionId: res.newRegionId, newPeerIds: res.newPeerIds };
  }

  /**
   * Opens the RegionHeartbeat stream, kept open (re-opened with bounded
   * backoff when it breaks) until the handle or the client is closed.
   * `onResponse` may be a bare callback or `{onResponse, onError}`.
   */
  regionHeartbeats(callbacks: RegionHeartbeatCallbacks | RegionHeartbeatCallbacks['onResponse']): RegionHeartbeatHandle {
    if (this.abort.signal.aborted) throw closedError('RegionHeartbeat');
    const stream = new RegionHeartbeatStream(this.host, typeof callbacks === 'function' ? { onResponse: callbacks } : callbacks);
    this.heartbeatStreams.add(stream);
    return {
      send: (heartbeat) => stream.send(heartbeat),
      get dropped() {
        return stream.dropped;
      },
      close: () => {
        this.heartbeatStreams.delete(stream);
        stream.close();
      },
    };
  }

  /** Closes streams and connections; pending and later calls fail with CLIENT_CLOSED. */
  close(): void {
    if (this.abort.signal.aborted) return;
    this.abort.abort();
    this.tsoStream?.close();
    for (const s of this.heartbeatStreams) s.close();
    this.heartbeatStreams.clear();
    for (const c of this.connections) c?.close();
  }

  private deadlineOf(options: PdCallOptions): number {
    return options.deadline ?? Date.now() + this.deadlineMs;
  }

  /** A region lookup: REGION_NOT_FOUND and an answer without a region both mean none. */
  private async regionCall(method: string, options: PdCallOptions, invoke: Invoke<GetRegionResponse>): Promise<GetRegionResponse | undefined> {
    try {
      const res = await this.unary<GetRegionResponse>(method, options, invoke);
      return res.region === undefined ? undefined : res;
    } catch (err: unknown) {
      if (err instanceof SchedulerError && err.errorType === ErrorType.REGION_NOT_FOUND) return undefined;
      throw err;
    }
  }

  /** A call stamped with the cluster id; retried on UNAVAILABLE unless `retry` is false. */
  private async unary<Res extends { header: ResponseHeader | undefined }>(
    method: string, options: PdCallOptions, invoke: Invoke<Res>, retry = true,
  ): Promise<Res> {
    const deadline = this.deadlineOf(options);
    const clusterId = await this.clusterId({ deadline });
    return this.unaryOnce(method, deadline, invoke, clusterId, retry);
  }

  /**
   * Tries the addresses in turn from the current one, pausing after each
   * round, while the failure is UNAVAILABLE and the deadline allows.
   */
  private async unaryOnce<Res extends { header: ResponseHeader | undefined }>(
    method: string, deadline: number, invoke: Invoke<Res>, clusterId = 0, retry = true,
  ): Promise<Res> {
    const backoff = new Backoff({ baseMs: this.retryPauseMs, maxMs: this.retryPauseMsMax });
    for (let attempt = 1; ; attempt++) {
      if (this.abort.signal.aborted) throw closedError(method);
      const index = this.current;
      let res: Res;
      try {
        res = await this.call(method, index, deadline, clusterId, invoke);
      } catch (err: unknown) {
        const unavailable = err instanceof ClientError && err.code === CLIENT_ERROR_CODES.Unavailable;
        if (!unavailable || !retry) throw err;
        this.moveOn(index);
        const wait = attempt % this.addrs.length === 0 ? backoff.next() : 0;
        if (Date.now() + wait >= deadline) {
          throw new ClientError(CLIENT_ERROR_CODES.DeadlineExceeded, `${method} failed: no scheduler reachable before the deadline`, { cause: err });
        }
        await pause(wait, this.abort.signal);
        continue;
      }
      this.checkHeader(method, res.header);
      return res;
    }
  }

  private call<Res>(method: string, index: number, deadline: number, clusterId: number, invoke: Invoke<Res>): Promise<Res> {
    return new Promise((resolve, reject) => {
      invoke(this.connection(index), { clusterId }, new grpc.Metadata(), { deadline }, (err, res) => {
        if (err !== null) reject(this.abort.signal.aborted ? closedError(method) : fromServiceError(method, err));
        else resolve(res);
      });
    });
  }

  /** @throws {SchedulerError} for an error in the header or another cluster's answer */
  private checkHeader(method: string, header: ResponseHeader | undefined): void {
    const error = header?.error;
    if (error !== undefined && error.type !== ErrorType.OK) {
      const message = `${method} failed: the scheduler answered ${ErrorType[error.type] ?? error.type}: ${error.message}`;
      throw new SchedulerError(error.type, schedulerErrorCode(error.type), message);
    }
    const theirs = header?.clusterId ?? 0;
    const ours = this.knownClusterId;
    if (ours === 0 && theirs !== 0) this.knownClusterId = theirs;
    // 0 is "not stated" (proto3 default), not a cluster.
    if (ours !== undefined && theirs !== 0 && ours !== 0 && theirs !== ours) {
      const message = `${method} failed: the scheduler answered for cluster ${theirs}, this client is in cluster ${ours}`;
      throw new SchedulerError(ErrorType.UNKNOWN, SCHEDULER_ERROR_CODES.ClusterMismatch, message);
    }
  }

  private connection(index: number): SchedulerClient {
    const existing = this.connections[index];
    if (existing !== undefined) return existing;
    const addr = this.addrs[index];
    if (addr === undefined) throw new RangeError(`PdClient: no address at index ${index}`);
    const created = new SchedulerClient(addr, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': grpcMessageBytesMax,
      'grpc.max_send_message_length': grpcMessageBytesMax,
    });
    this.connections[index] = created;
    return created;
  }

  /** The address at `index` failed: later calls go to the next one (unless another call moved on already). */
  private moveOn(index: number): void {
    if (this.current === index) this.current = (index + 1) % this.addrs.length;
  }

  private streamHost(): StreamHost {
    return {
      clusterId: (deadline) => this.clusterId({ deadline }),
      connection: () => this.connection(this.current),
      streamFailed: (connection, err) => {
        const index = this.connections.indexOf(connection);
        if (index >= 0 && (err === undefined || err.code === grpc.status.UNAVAILABLE)) this.moveOn(index);
      },
      checkHeader: (method, header) => this.checkHeader(method, header),
      signal: this.abort.signal,
      deadlineFromNow: () => Date.now() + this.deadlineMs,
      retryPauseMs: this.retryPauseMs,
    };
  }
}

function closedError(method: string): ClientError {
  return new ClientError(CLIENT_ERROR_CODES.Closed, `Cannot call ${method}: client is closed`);
}

/** A region with its leader; a leader with id 0 is "none" (proto3 default). */
function regionInfo(region: Region | undefined, leader: Peer | undefined): RegionInfo | undefined {
  if (region === undefined) return undefined;
  return { region, leader: leader === undefined || leader.id === 0 ? undefined : leader };
}

/** Whether a store can serve: known, with an address, and not a tombstone. */
export function isServingStore(store: Store | undefined): store is Store {
  return store !== undefined && store.address !== '' && store.state !== StoreState.Tombstone;
}
