/**
 * A {@link TxnRpc} test double: the transactional client's requests go
 * straight to an in-process {@link Server} over a MemEngine, with a fake
 * split of the key space into regions, a virtual clock and a TSO counter.
 *
 * - {@link TestCluster} holds what all clients share: the server, the true
 *   region layout (`split()` changes it), the clock and the TSO. Each client
 *   gets its own {@link TestTxnRpc} (`cluster.rpc()`), with its own region
 *   cache and faults, so one client can be "gone" while another reads.
 * - Storage is bounded per request to the region named by the context, as
 *   the raft storage is (`src/server/raft_storage.ts`): a scan stops at the
 *   region's end, a ResolveLock touches that region's locks only, and a key
 *   outside it is a region error.
 * - Routing as the real rpc does it: a request built for a region the
 *   cluster no longer has at that epoch answers REGION_CHANGED and refreshes
 *   the client's cache; so does any region error from the server. A request
 *   holding a key outside its region is a client bug and throws.
 * - Faults (`rpc.faults`): delay an attempt, lose it before the server sees
 *   it, lose its answer after the server applied it, or answer
 *   REGION_CHANGED on demand. A lost attempt is retried after
 *   `attemptTimeoutMs` of virtual time, as the router does, until the
 *   deadline: then DEADLINE_EXCEEDED.
 * - {@link VirtualClock}: sleeps wake in virtual-time order, one at a time,
 *   when nothing else can run (after a `setImmediate` turn): a test's
 *   timeouts and TTLs cost no real time, and a run is deterministic.
 */
import { RegionReader } from '../raftstore/region_reader.js';
import type { Region } from '../pb/metapb.js';
import { Server } from '../server/server.js';
import { keyInRegion } from '../raftstore/cmd_check.js';
import { keyNotInRegion, regionNotFound } from '../raftstore/region_errors.js';
import { CF_LOCK } from '../storage/engine.js';
import type { Engine } from '../storage/engine.js';
import { MemEngine } from '../storage/mem_engine.js';
import { checkDataCf, StorageError } from '../storage/storage.js';
import type { Modify, Storage, StorageContext, StorageReader } from '../storage/storage.js';
import { WriteBatch } from '../storage/write_batch.js';
import { decodeUserKey } from '../txn/codec.js';
import { assert, assertNever } from '../util/assert.js';
import { compareBytes, formatKey } from '../util/bytes.js';
import { ClientError, CLIENT_ERROR_CODES } from './errors.js';
import { REGION_CHANGED } from './txn_rpc.js';
import type { RegionChanged, RegionRef, TxnMethod, TxnRequest, TxnResponse, TxnRpc } from './txn_rpc.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Virtual milliseconds; wakes sleepers in (time, arrival) order once the process is otherwise idle. */
export class VirtualClock {
  private now: number;
  private seq = 0;
  private readonly timers: { readonly at: number; readonly seq: number; readonly wake: () => void }[] = [];
  private scheduled = false;

  constructor(startMs = 1_000_000) {
    this.now = startMs;
  }

  nowMs(): number {
    return this.now;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((wake) => {
      this.timers.push({ at: this.now + Math.max(0, ms), seq: this.seq++, wake });
      this.schedule();
    });
  }

  /** Moves time forward by hand (sleepers due by then still wake one by one). */
  advance(ms: number): void {
    this.now += ms;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // A setImmediate turn runs once every pending promise reaction has run: nothing else can happen before a sleeper wakes.
    setImmediate(() => {
      this.scheduled = false;
      let first = 0;
      for (let i = 1; i < this.timers.length; i++) {
        const t = this.timers[i];
        const f = this.timers[first];
        if (t !== undefined && f !== undefined && (t.at < f.at || (t.at === f.at && t.seq < f.seq))) first = i;
      }
      const [timer] = this.timers.splice(first, 1);
      if (timer === undefined) return;
      this.now = Math.max(this.now, timer.at);
      timer.wake();
      if (this.timers.length > 0) this.schedule();
    });
  }
}

/** One request as the faults see it, narrowed by `method`. */
export type TxnCall = { readonly [M in TxnMethod]: { readonly method: M; readonly req: TxnRequest<M>; readonly region: RegionRef } }[TxnMethod];

export interface TxnRpcFaults {
  /** Virtual ms to hold an attempt before it reaches the server. */
  delayMs?: (call: TxnCall) => number;
  /** Lose the attempt before the server sees it. */
  dropRequest?: (call: TxnCall) => boolean;
  /** The server applies the attempt, and its answer is lost. */
  dropResponse?: (call: TxnCall) => boolean;
  /** Answer REGION_CHANGED without sending (and refresh the client's cache). */
  regionChanged?: (call: TxnCall) => boolean;
}

type Handler<M extends TxnMethod> = (server: Server, req: TxnRequest<M>) => Promise<TxnResponse<M>>;
const HANDLERS: { readonly [M in TxnMethod]: Handler<M> } = {
  KvGet: (s, req) => s.kvGet(req),
  KvScan: (s, req) => s.kvScan(req),
  KvPrewrite: (s, req) => s.kvPrewrite(req),
  KvCommit: (s, req) => s.kvCommit(req),
  KvCheckTxnStatus: (s, req) => s.kvCheckTxnStatus(req),
  KvBatchRollback: (s, req) => s.kvBatchRollback(req),
  KvResolveLock: (s, req) => s.kvResolveLock(req),
};

/** The server, the true regions, the clock and the TSO that every client of a test shares. */
export class TestCluster {
  readonly clock = new VirtualClock();
  readonly server: Server;
  private regions: RegionRef[];
  private nextRegionId: number;
  private lastTs = 0n;

  /** Regions split at `splitKeys` (ids 1, 2, …, epoch {1, 1}). */
  constructor(splitKeys: readonly string[] = []) {
    const bounds = [new Uint8Array(), ...splitKeys.map(enc), new Uint8Array()];
    this.regions = [];
    for (let i = 0; i + 1 < bounds.length; i++) {
      this.regions.push({ id: i + 1, epoch: { confVer: 1, version: 1 }, startKey: bounds[i] as Uint8Array, endKey: bounds[i + 1] as Uint8Array });
    }
    this.nextRegionId = this.regions.length + 1;
    const storage = new RegionStorage(new MemEngine(), (id) => this.regionById(id));
    this.server = new Server(storage);
  }

  /** A TSO timestamp: physical = virtual ms << 18, strictly increasing. */
  tso(): bigint {
    let ts = BigInt(this.clock.nowMs()) << 18n;
    if (ts <= this.lastTs) ts = this.lastTs + 1n;
    this.lastTs = ts;
    return ts;
  }

  layout(): readonly RegionRef[] {
    return this.regions;
  }

  regionById(id: number): RegionRef | undefined {
    return this.regions.find((r) => r.id === id);
  }

  /** Splits the region holding `key` at it, as a raft split does: both halves get the parent's version + 1. */
  split(key: string): RegionRef {
    const at = enc(key);
    const parent = this.regions.find((r) => inRegion(at, r));
    assert(parent !== undefined && compareBytes(parent.startKey, at) !== 0, `cannot split at ${key}`);
    const epoch = { confVer: parent.epoch.confVer, version: parent.epoch.version + 1 };
    const left: RegionRef = { id: parent.id, epoch, startKey: parent.startKey, endKey: at };
    const right: RegionRef = { id: this.nextRegionId++, epoch, startKey: at, endKey: parent.endKey };
    this.regions = this.regions.flatMap((r) => (r === parent ? [left, right] : [r]));
    return right;
  }

  rpc(options: { readonly attemptTimeoutMs?: number } = {}): TestTxnRpc {
    return new TestTxnRpc(this, options.attemptTimeoutMs ?? 200);
  }
}

export class TestTxnRpc implements TxnRpc {
  faults: TxnRpcFaults = {};
  /** Every attempt, in order: lost ones and those answered REGION_CHANGED included. */
  readonly log: TxnCall[] = [];
  private known: RegionRef[];
  private closed = false;
  private readonly sleepers = new Set<() => void>();

  constructor(
    readonly cluster: TestCluster,
    private readonly attemptTimeoutMs: number,
  ) {
    this.known = [...cluster.layout()];
  }

  count(method: TxnMethod): number {
    return this.log.filter((c) => c.method === method).length;
  }

  async tso(deadlineMs: number): Promise<bigint> {
    this.check('Tso', deadlineMs);
    return this.cluster.tso();
  }

  nowMs(): number {
    return this.cluster.clock.nowMs();
  }

  sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        this.sleepers.delete(wake);
        resolve();
      };
      this.sleepers.add(wake);
      void this.cluster.clock.sleep(ms).then(wake);
    });
  }

  async locate(key: Uint8Array, deadlineMs: number): Promise<RegionRef> {
    this.check('Locate', deadlineMs);
    let region = this.known.find((r) => inRegion(key, r));
    if (region === undefined) {
      this.known = [...this.cluster.layout()];
      region = this.known.find((r) => inRegion(key, r));
    }
    assert(region !== undefined, `no region holds ${formatKey(key)}`);
    return region;
  }

  async call<M extends TxnMethod>(method: M, region: RegionRef, request: TxnRequest<M>, deadlineMs: number): Promise<TxnResponse<M> | RegionChanged> {
    this.check(method, deadlineMs);
    const call = { method, req: request, region } as TxnCall;
    this.log.push(call);
    const actual = this.cluster.regionById(region.id);
    if (this.faults.regionChanged?.(call) === true || actual === undefined || !sameEpoch(actual, region)) return this.regionChanged();
    for (const key of requestKeys(call)) assert(inRegion(key, region), `${method} for region ${region.id} holds ${formatKey(key)}, outside it`);
    const context = { regionId: region.id, regionEpoch: { ...region.epoch }, peer: { id: region.id * 10 + 1, storeId: 1 }, term: 0 };
    const handler: Handler<M> = HANDLERS[method];
    // Bounded by the deadline: each lost attempt costs attemptTimeoutMs of virtual time.
    for (;;) {
      const delay = this.faults.delayMs?.(call) ?? 0;
      if (delay > 0) await this.sleep(delay);
      this.check(method, deadlineMs);
      if (this.faults.dropRequest?.(call) !== true) {
        const res = await handler(this.cluster.server, { ...request, context });
        if (res.regionError !== undefined) return this.regionChanged();
        if (this.faults.dropResponse?.(call) !== true) return res;
      }
      await this.sleep(Math.min(this.attemptTimeoutMs, Math.max(0, deadlineMs - this.nowMs())));
      this.check(method, deadlineMs);
      this.log.push(call);
    }
  }

  close(): void {
    this.closed = true;
    for (const wake of [...this.sleepers]) wake();
  }

  private regionChanged(): RegionChanged {
    this.known = [...this.cluster.layout()];
    return REGION_CHANGED;
  }

  private check(method: string, deadlineMs: number): void {
    if (this.closed) throw new ClientError(CLIENT_ERROR_CODES.Closed, `Cannot call ${method}: client is closed`);
    if (this.nowMs() >= deadlineMs) throw new ClientError(CLIENT_ERROR_CODES.DeadlineExceeded, `${method} failed: no answer before the deadline`);
  }
}

function requestKeys(call: TxnCall): readonly Uint8Array[] {
  switch (call.method) {
    case 'KvGet':
      return [call.req.key];
    case 'KvScan':
      return [call.req.startKey];
    case 'KvPrewrite':
      return call.req.mutations.map((m) => m.key);
    case 'KvCommit':
    case 'KvBatchRollback':
      return call.req.keys;
    case 'KvCheckTxnStatus':
      return [call.req.primaryKey];
    case 'KvResolveLock':
      return [];
    default:
      return assertNever(call);
  }
}

function inRegion(key: Uint8Array, region: RegionRef): boolean {
  return compareBytes(key, region.startKey) >= 0 && (region.endKey.length === 0 || compareBytes(key, region.endKey) < 0);
}

function sameEpoch(a: RegionRef, b: RegionRef): boolean {
  return a.epoch.confVer === b.epoch.confVer && a.epoch.version === b.epoch.version;
}

function pbRegion(r: RegionRef): Region {
  return { id: r.id, startKey: Buffer.from(r.startKey), endKey: Buffer.from(r.endKey), regionEpoch: { ...r.epoch }, peers: [] };
}

/**
 * One engine, every request bounded to its context's region as RaftStorage
 * bounds it (region id 0: the whole key space). Writes are checked by user
 * key (CF lock keys are user keys; CF default and write keys are decoded),
 * so a test split anywhere cannot strand an MVCC record outside its key's region.
 */
class RegionStorage implements Storage {
  constructor(
    private readonly engine: Engine,
    private readonly regionOf: (id: number) => RegionRef | undefined,
  ) {}

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    await this.engine.close();
  }

  async write(ctx: StorageContext, batch: readonly Modify[]): Promise<void> {
    const region = this.bounds(ctx);
    const wb = new WriteBatch();
    for (const m of batch) {
      checkDataCf(m.cf);
      const userKey = m.cf === CF_LOCK ? m.key : decodeUserKey(m.key);
      if (region !== undefined && !keyInRegion(userKey, region)) throw StorageError.region(keyNotInRegion(userKey, region));
      if (m.type === 'put') wb.put(m.cf, m.key, m.value);
      else wb.delete(m.cf, m.key);
    }
    await this.engine.write(wb, { sync: true });
  }

  async reader(ctx: StorageContext): Promise<StorageReader> {
    // Unrouted requests (region 0) read the whole key space, as the standalone server does.
    const region = this.bounds(ctx) ?? { id: 0, startKey: Buffer.alloc(0), endKey: Buffer.alloc(0), regionEpoch: undefined, peers: [] };
    return new RegionReader({ region, view: this.engine.readView() });
  }

  private bounds(ctx: StorageContext): Region | undefined {
    if (ctx.regionId === 0) return undefined;
    const region = this.regionOf(ctx.regionId);
    if (region === undefined) throw StorageError.region(regionNotFound(ctx.regionId));
    return pbRegion(region);
  }
}
