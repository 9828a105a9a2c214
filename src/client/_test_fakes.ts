/**
 * In-test fakes served over real gRPC on 127.0.0.1:0, for the scheduler
 * client and the routing RawClient: a scheduler serving from a region table
 * the test controls (it may lag behind the stores on purpose), and stores
 * that answer raw commands for a shared key space with the region errors a
 * raftstore gives (checked from the {@link FakeCluster}'s true layout), plus
 * scripted one-off answers. Test support only: no production code imports it.
 */
import * as grpc from '@grpc/grpc-js';
import type { Error as RegionErrorPb } from '../pb/errorpb.js';
import type { Context, KvPair } from '../pb/kvrpcpb.js';
import type { Peer, Region, Store } from '../pb/metapb.js';
import { StoreState } from '../pb/metapb.js';
import { ErrorType, SchedulerService } from '../pb/schedulerpb.js';
import type { RequestHeader, ResponseHeader, SchedulerServer } from '../pb/schedulerpb.js';
import { TinyKvService } from '../pb/tinykvpb.js';
import type { TinyKvServer } from '../pb/tinykvpb.js';
import { keyInRegion } from '../raftstore/cmd_check.js';
import { epochNotMatch, keyNotInRegion, notLeader, outcomeUnknown, regionNotFound } from '../raftstore/region_errors.js';
import { compareBytes } from '../util/bytes.js';

export const enc = (s: string): Buffer => Buffer.from(s);

/** A region with peers `storeIds` (peer id = region id * 10 + store id). */
export function makeRegion(id: number, start: string, end: string, version: number, storeIds: readonly number[], confVer = 1): Region {
  return {
    id, startKey: enc(start), endKey: enc(end), regionEpoch: { confVer, version },
    peers: storeIds.map((storeId) => ({ id: id * 10 + storeId, storeId })),
  };
}

export function peerOn(region: Region, storeId: number): Peer {
  const peer = region.peers.find((p) => p.storeId === storeId);
  if (peer === undefined) throw new Error(`region ${region.id} has no peer on store ${storeId}`);
  return peer;
}

async function serve(addService: (server: grpc.Server) => void): Promise<{ server: grpc.Server; addr: string }> {
  const server = new grpc.Server();
  addService(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err === null ? resolve(p) : reject(err)));
  });
  return { server, addr: `127.0.0.1:${port}` };
}

/** The stores' truth: the key space and the current regions with their leaders. */
export class FakeCluster {
  readonly data = new Map<string, { key: Buffer; value: Buffer }>();
  /** Region id → the region now and the store of its leader. */
  readonly regions = new Map<number, { region: Region; leaderStore: number }>();

  set(region: Region, leaderStore: number): void {
    this.regions.set(region.id, { region, leaderStore });
  }

  /** The region error a store would answer for `context` and `key`, if any. */
  check(storeId: number, context: Context | undefined, key: Buffer, hideLeader: boolean): RegionErrorPb | undefined {
    const current = this.regions.get(context?.regionId ?? 0);
    if (context === undefined || current === undefined || !current.region.peers.some((p) => p.storeId === storeId)) {
      return regionNotFound(context?.regionId ?? 0);
    }
    const { region, leaderStore } = current;
    if (leaderStore !== storeId) return notLeader(region.id, hideLeader ? undefined : peerOn(region, leaderStore));
    const sent = context.regionEpoch;
    const now = region.regionEpoch;
    if (sent?.version !== now?.version || sent?.confVer !== now?.confVer) {
      // The region and the ones split off its old range (TiKV's collect_sibling_region, simplified).
      const siblings = [...this.regions.values()].map((r) => r.region).filter((r) => r.id !== region.id && compareBytes(r.startKey, region.startKey) >= 0);
      return epochNotMatch('stale epoch', [region, ...siblings]);
    }
    if (!keyInRegion(key, region)) return keyNotInRegion(key, region);
    return undefined;
  }

  /** Pairs from `start` within `region`, in key order, at most `limit`. */
  scan(region: Region, start: Buffer, limit: number): KvPair[] {
    return [...this.data.values()]
      .filter((e) => compareBytes(e.key, start) >= 0 && keyInRegion(e.key, region))
      .sort((a, b) => compareBytes(a.key, b.key))
      .slice(0, limit)
      .map((e) => ({ error: undefined, key: e.key, value: e.value }));
  }
}

/** A scripted one-off answer to the next command a store receives. */
export type Injection = { readonly regionError: RegionErrorPb } | { readonly hang: true } | { readonly outcomeUnknownAfterApply: true };

export interface StoreCallRecord {
  readonly method: string;
  readonly context: Context | undefined;
  readonly key: Buffer;
}

/** A store serving RawGet/RawPut/RawDelete/RawScan for the {@link FakeCluster}. */
export class FakeStore {
  readonly calls: StoreCallRecord[] = [];
  readonly inject: Injection[] = [];
  /** Answer NotLeader without naming the leader. */
  hideLeader = false;
  /** Never answer (a black-holed store). */
  hangAll = false;
  addr = '';
  private server: grpc.Server | undefined;
  private hanging: (() => void)[] = [];

  private constructor(readonly storeId: number, private readonly cluster: FakeCluster) {}

  static async start(storeId: number, cluster: FakeCluster): Promise<FakeStore> {
    const store = new FakeStore(storeId, cluster);
    const { server, addr } = await serve((s) => s.addService(TinyKvService, store.impl()));
    store.server = server;
    store.addr = addr;
    return store;
  }

  private impl(): Pick<TinyKvServer, 'rawGet' | 'rawPut' | 'rawDelete' | 'rawScan'> {
    const data = this.cluster.data;
    return {
      rawGet: (call, cb) => this.handle('RawGet', call.request.context, call.request.key, cb, () => {
        const e = data.get(call.request.key.toString('hex'));
        return { regionError: undefined, error: '', value: e?.value ?? Buffer.alloc(0), notFound: e === undefined };
      }, (regionError) => ({ regionError, error: '', value: Buffer.alloc(0), notFound: false })),
      rawPut: (call, cb) => this.handle('RawPut', call.request.context, call.request.key, cb, () => {
        data.set(call.request.key.toString('hex'), { key: Buffer.from(call.request.key), value: Buffer.from(call.request.value) });
        return { regionError: undefined, error: '' };
      }, (regionError) => ({ regionError, error: '' })),
      rawDelete: (call, cb) => this.handle('RawDelete', call.request.context, call.request.key, cb, () => {
        data.delete(call.request.key.toString('hex'));
        return { regionError: undefined, error: '' };
      }, (regionError) => ({ regionError, error: '' })),
      rawScan: (call, cb) => this.handle('RawScan', call.request.context, call.request.startKey, cb, () => {
        const region = this.cluster.regions.get(call.request.context?.regionId ?? 0)?.region;
        const kvs = region === undefined ? [] : this.cluster.scan(region, call.request.startKey, call.request.limit);
        return { regionError: undefined, error: '', kvs };
      }, (regionError) => ({ regionError, error: '', kvs: [] })),
    };
  }

  get store(): Store {
    return { id: this.storeId, address: this.addr, state: StoreState.Up };
  }

  /** Stops serving at once: clients see UNAVAILABLE. */
  stop(): void {
    for (const release of this.hanging) release();
    this.hanging = [];
    this.server?.forceShutdown();
  }

  private handle<Res>(
    method: string, context: Context | undefined, key: Buffer, cb: grpc.sendUnaryData<Res>,
    serveIt: () => Res, refuse: (e: RegionErrorPb) => Res,
  ): void {
    this.calls.push({ method, context, key: Buffer.from(key) });
    const injected = this.inject.shift();
    if (this.hangAll || (injected !== undefined && 'hang' in injected)) {
      // Answer nothing; the client's deadline ends the call. Released on stop.
      this.hanging.push(() => cb({ code: grpc.status.UNAVAILABLE, details: 'store stopped' }));
      return;
    }
    if (injected !== undefined && 'regionError' in injected) return cb(null, refuse(injected.regionError));
    const error = this.cluster.check(this.storeId, context, key, this.hideLeader);
    if (error !== undefined) return cb(null, refuse(error));
    const res = serveIt();
    if (injected !== undefined && 'outcomeUnknownAfterApply' in injected) return cb(null, refuse(outcomeUnknown('snapshot covered the proposal')));
    cb(null, res);
  }
}

export interface SchedulerCallRecord {
  readonly method: string;
  readonly clusterId: number | undefined;
}

/** A scheduler serving from `regions` (its view, which may lag the cluster's) and `stores`. */
export class FakeScheduler {
  clusterId = 7;
  /** Refuse requests stamped with another cluster id (as TinyKV's scheduler does). */
  checkClusterId = true;
  /** Answer GetMembers with UNIMPLEMENTED (a scheduler without it). */
  membersUnimplemented = false;
  bootstrapped = false;
  readonly regions = new Map<number, { region: Region; leader: Peer | undefined }>();
  readonly stores = new Map<number, Store>();
  readonly calls: SchedulerCallRecord[] = [];
  private nextId = 1000;
  /** TSO state: physical ms and the last logical handed out. */
  private physical = 1_700_000_000_000;
  private logical = 0;
  /** End a Tso stream (with UNAVAILABLE) instead of answering its next request, this many times. */
  tsoDrops = 0;
  tsoStreams = 0;
  tsoRequests = 0;
  heartbeatStreams = 0;
  /** End the next heartbeat stream after receiving this many heartbeats (0: never). */
  heartbeatDropAfter = 0;
  readonly heartbeats: number[] = [];

  addr = '';
  private server: grpc.Server | undefined;

  private constructor() {}

  static async start(): Promise<FakeScheduler> {
    const pd = new FakeScheduler();
    const { server, addr } = await serve((s) => s.addService(SchedulerService, schedulerImpl(() => pd)));
    pd.server = server;
    pd.addr = addr;
    return pd;
  }

  setRegion(region: Region, leaderStore: number | undefined): void {
    this.regions.set(region.id, { region, leader: leaderStore === undefined ? undefined : peerOn(region, leaderStore) });
  }

  stop(): void {
    this.server?.forceShutdown();
  }

  count(method: string): number {
    return this.calls.filter((c) => c.method === method).length;
  }

  /** The response header for a request, or an error header when the request's cluster id is wrong. */
  header(method: string, req: { header: RequestHeader | undefined }, error?: { type: ErrorType; message: string }): ResponseHeader {
    this.calls.push({ method, clusterId: req.header?.clusterId });
    const theirs = req.header?.clusterId ?? 0;
    if (method !== 'GetMembers' && this.checkClusterId && theirs !== this.clusterId) {
      return { clusterId: this.clusterId, error: { type: ErrorType.UNKNOWN, message: `mismatch cluster id ${theirs}` } };
    }
    return { clusterId: this.clusterId, error };
  }

  regionByKey(key: Buffer): { region: Region; leader: Peer | undefined } | undefined {
    return [...this.regions.values()].find((r) => keyInRegion(key, r.region));
  }

  allocId(): number {
    return this.nextId++;
  }

  /** The last of `count` new timestamps. */
  allocTs(count: number): { physical: number; logical: number } {
    if (this.logical + count >= 2 ** 18) {
      this.physical++;
      this.logical = 0;
    }
    this.logical += count;
    return { physical: this.physical, logical: this.logical };
  }
}

type SchedulerImpl = Pick<SchedulerServer,
  'getMembers' | 'getRegion' | 'getPrevRegion' | 'getRegionById' | 'scanRegions' | 'getStore' | 'getAllStores' | 'allocId' |
  'isBootstrapped' | 'bootstrap' | 'putStore' | 'storeHeartbeat' | 'askSplit' | 'tso' | 'regionHeartbeat'>;

function schedulerImpl(pd: () => FakeScheduler): SchedulerImpl {
  const regionAnswer = (found: { region: Region; leader: Peer | undefined } | undefined) =>
    ({ region: found?.region, leader: found?.leader, slaves: [] });
  return {
    getMembers: (call, cb) => {
      if (pd().membersUnimplemented) return cb({ code: grpc.status.UNIMPLEMENTED, details: 'GetMembers is not served' });
      cb(null, { header: pd().header('GetMembers', call.request), members: [], leader: undefined, etcdLeader: undefined });
    },
    getRegion: (call, cb) => cb(null, { header: pd().header('GetRegion', call.request), ...regionAnswer(pd().regionByKey(call.request.regionKey)) }),
    getPrevRegion: (call, cb) => {
      const s = pd();
      const at = s.regionByKey(call.request.regionKey);
      const prev = at === undefined ? undefined : [...s.regions.values()].find((r) => r.region.endKey.equals(at.region.startKey) && at.region.startKey.length > 0);
      cb(null, { header: s.header('GetPrevRegion', call.request), ...regionAnswer(prev) });
    },
    getRegionById: (call, cb) => {
      const s = pd();
      const found = s.regions.get(call.request.regionId);
      const error = found === undefined ? { type: ErrorType.REGION_NOT_FOUND, message: `region ${call.request.regionId} not found` } : undefined;
      cb(null, { header: s.header('GetRegionByID', call.request, error), ...regionAnswer(found) });
    },
    scanRegions: (call, cb) => {
      const s = pd();
      const { startKey, endKey, limit } = call.request;
      const found = [...s.regions.values()]
        .filter((r) => (r.region.endKey.length === 0 || compareBytes(r.region.endKey, startKey) > 0) && (endKey.length === 0 || compareBytes(r.region.startKey, endKey) < 0))
        .sort((a, b) => compareBytes(a.region.startKey, b.region.startKey))
        .slice(0, limit > 0 ? limit : undefined);
      cb(null, { header: s.header('ScanRegions', call.request), regions: found.map((r) => r.region), leaders: found.map((r) => r.leader ?? { id: 0, storeId: 0 }) });
    },
    getStore: (call, cb) => {
      const s = pd();
      const store = s.stores.get(call.request.storeId);
      const error = store === undefined ? { type: ErrorType.UNKNOWN, message: `invalid store ID ${call.request.storeId}, not found` } : undefined;
      cb(null, { header: s.header('GetStore', call.request, error), store, stats: undefined });
    },
    getAllStores: (call, cb) => {
      const s = pd();
      const stores = [...s.stores.values()].filter((st) => !call.request.excludeTombstoneStores || st.state !== StoreState.Tombstone);
      cb(null, { header: s.header('GetAllStores', call.request), stores });
    },
    allocId: (call, cb) => cb(null, { header: pd().header('AllocID', call.request), id: pd().allocId() }),
    isBootstrapped: (call, cb) => cb(null, { header: pd().header('IsBootstrapped', call.request), bootstrapped: pd().bootstrapped }),
    bootstrap: (call, cb) => {
      const s = pd();
      const error = s.bootstrapped ? { type: ErrorType.ALREADY_BOOTSTRAPPED, message: 'cluster is already bootstrapped' } : undefined;
      s.bootstrapped = true;
      if (call.request.store !== undefined) s.stores.set(call.request.store.id, call.request.store);
      cb(null, { header: s.header('Bootstrap', call.request, error) });
    },
    putStore: (call, cb) => {
      if (call.request.store !== undefined) pd().stores.set(call.request.store.id, call.request.store);
      cb(null, { header: pd().header('PutStore', call.request) });
    },
    storeHeartbeat: (call, cb) => cb(null, { header: pd().header('StoreHeartbeat', call.request) }),
    askSplit: (call, cb) => {
      const s = pd();
      const peers = call.request.region?.peers ?? [];
      cb(null, { header: s.header('AskSplit', call.request), newRegionId: s.allocId(), newPeerIds: peers.map(() => s.allocId()) });
    },
    tso: (call) => {
      const s = pd();
      s.tsoStreams++;
      call.on('data', (req: { header: RequestHeader | undefined; count: number }) => {
        s.tsoRequests++;
        if (s.tsoDrops > 0) {
          s.tsoDrops--;
          // grpc-js ends a server stream with the status of an emitted error.
          call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'tso stream dropped' });
          return;
        }
        call.write({ header: s.header('Tso', req), count: req.count, timestamp: s.allocTs(req.count) });
      });
      call.on('end', () => call.end());
    },
    regionHeartbeat: (call) => {
      const s = pd();
      s.heartbeatStreams++;
      let received = 0;
      const dropAfter = s.heartbeatDropAfter;
      s.heartbeatDropAfter = 0;
      call.on('data', (req: { header: RequestHeader | undefined; region: Region | undefined }) => {
        received++;
        s.heartbeats.push(req.region?.id ?? 0);
        const header = s.header('RegionHeartbeat', req);
        call.write({ header, changePeer: undefined, transferLeader: undefined, regionId: req.region?.id ?? 0, regionEpoch: req.region?.regionEpoch, targetPeer: undefined });
        if (dropAfter > 0 && received >= dropAfter) call.end();
      });
      call.on('end', () => call.end());
    },
  };
}
