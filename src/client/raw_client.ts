/**
 * `RawClient`: the raw key-value API of TinyKV.ts over gRPC, in two modes.
 *
 * - `addr`: every call goes to one server (standalone, or a one-region
 *   raft server) without a region context. Server answers are mapped to
 *   {@link ClientError}s and nothing is retried, because a retry of a write
 *   whose outcome is unknown is the caller's decision.
 * - `pd`: calls are routed by region (`region_router.ts`): the key's region
 *   and leader come from a region cache fed by the scheduler and by the
 *   stores' region errors, the command carries a Context {regionId,
 *   regionEpoch, peer}, and region errors, unreachable stores and lost
 *   answers are retried within the deadline. Raw put and delete are retried
 *   after a lost answer (re-applying the same put or delete leaves the same
 *   value); a write still unsettled at the deadline fails OUTCOME_UNKNOWN.
 *   `scan` continues region by region.
 *
 * Every operation is bounded by `deadlineMs`. Input is checked against the
 * documented limits before it is sent, so an oversized key fails fast with
 * the same error the server would give.
 */
import * as grpc from '@grpc/grpc-js';
import { clientDeadlineMsDefault, grpcMessageBytesMax, scanLimitMax, scanResponseMayBeTruncated } from '../config/limits.js';
import type { Error as RegionErrorPb } from '../pb/errorpb.js';
import type {
  KvPair,
  RawDeleteResponse,
  RawGetResponse,
  RawPutResponse,
  RawScanResponse,
} from '../pb/kvrpcpb.js';
import { TinyKvClient } from '../pb/tinykvpb.js';
import { checkCf, checkKey, checkScanLimit, checkStartKey, checkValue, INVALID_ARGUMENT } from '../server/validate.js';
import { toBuffer } from '../server/buffers.js';
import { keyInRegion } from '../raftstore/cmd_check.js';
import { assert } from '../util/assert.js';
import type { KvEntry } from '../storage/engine.js';
import { ClientError, CLIENT_ERROR_CODES, fromServiceError } from './errors.js';
import { callStore, RegionRouter } from './region_router.js';
import type { Routed, RoutedCommand, StoreCall } from './region_router.js';
import { PdClient } from './scheduler_client.js';
import { attemptTimeoutMsDefault, retryPauseMsDefault, retryPauseMsMaxDefault, scanRegionVisitsMax } from './_limits.js';

interface CommonOptions {
  /** Deadline of each operation in milliseconds, retries included. @default clientDeadlineMsDefault (10 s) */
  readonly deadlineMs?: number;
}

/** One server, no routing: the single-server modes. */
export interface DirectOptions extends CommonOptions {
  /** Server address, `host:port`. */
  readonly addr: string;
  readonly pd?: undefined;
}

/** Routed by region through the scheduler. */
export interface RoutedOptions extends CommonOptions {
  /** Scheduler address(es), `host:port`. */
  readonly pd: string | readonly string[];
  readonly addr?: undefined;
  /** Longest wait for one store's answer before trying another peer, ms. @default 2000 */
  readonly attemptTimeoutMs?: number;
  /** First pause after an error answer that taught nothing, ms. @default 100 */
  readonly retryPauseMs?: number;
  /** Longest such pause, ms. @default 400 */
  readonly retryPauseMsMax?: number;
  /**
   * Whether a put or delete whose answer was lost is retried. A retry may be
   * overtaken by the abandoned attempt applying late (after other clients'
   * writes), which is not linearizable: see `region_router.ts`. When false
   * (the default) it fails OUTCOME_UNKNOWN at once. @default false
   */
  readonly retryAmbiguousWrites?: boolean;
}

export type RawClientOptions = DirectOptions | RoutedOptions;

export interface CfOption {
  /** Column family: `default`, `lock` or `write`. @default "default" */
  readonly cf?: string;
}

/** How many calls a batch helper keeps in flight. */
const BATCH_CONCURRENCY = 32;

export class RawClient {
  /** The one server of the `addr` mode. */
  private readonly client: TinyKvClient | undefined;
  /** The scheduler and region routing of the `pd` mode. */
  private readonly routing: { readonly pd: PdClient; readonly router: RegionRouter } | undefined;
  private readonly deadlineMs: number;
  private closed = false;

  /** @throws {RangeError} on bad options; {TypeError} unless exactly one of `addr` and `pd` is given */
  constructor(options: RawClientOptions) {
    this.deadlineMs = options.deadlineMs ?? clientDeadlineMsDefault;
    if (!Number.isFinite(this.deadlineMs) || this.deadlineMs <= 0) {
      throw new RangeError(`Cannot create RawClient: deadlineMs must be positive, got ${this.deadlineMs}`);
    }
    if ((options.addr === undefined) === (options.pd === undefined)) {
      throw new TypeError('Cannot create RawClient: give exactly one of addr (one server) and pd (routed by region)');
    }
    if (options.pd !== undefined) {
      this.client = undefined;
      this.routing = routingOf(options, this.deadlineMs);
      return;
    }
    this.routing = undefined;
    this.client = new TinyKvClient(options.addr, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': grpcMessageBytesMax,
      'grpc.max_send_message_length': grpcMessageBytesMax,
    });
  }

  /** The scheduler client of the `pd` mode (shared: closing the RawClient closes it). */
  get pd(): PdClient | undefined {
    return this.routing?.pd;
  }

  /** The value of `key`, or `undefined` when absent. @throws {ClientError | SchedulerError} */
  async get(key: Uint8Array, options: CfOption = {}): Promise<Uint8Array | undefined> {
    const cf = validCf(options.cf);
    validate(checkKey(key));
    if (this.routing !== undefined) {
      const routed = await this.routed(this.routing.router, { method: 'RawGet', key, write: false }, (c, context, deadline) =>
        callStore<RawGetResponse>('RawGet', (md, o, cb) => c.rawGet({ context, key: toBuffer(key), cf }, md, o, cb), deadline)
          .then((res) => ({ regionError: res.regionError, error: res.error, value: res.notFound ? undefined : new Uint8Array(res.value) })),
      );
      return routed.value;
    }
    const res = await this.unary<RawGetResponse>('RawGet', (client, md, opts, cb) =>
      client.rawGet({ context: undefined, key: toBuffer(key), cf }, md, opts, cb),
    );
    checkResponse('RawGet', res.regionError, res.error);
    return res.notFound ? undefined : new Uint8Array(res.value);
  }

  /**
   * Durably stores `value` at `key`. Routed: retried after a lost answer
   * (see the file comment). @throws {ClientError | SchedulerError}
   */
  async put(key: Uint8Array, value: Uint8Array, options: CfOption = {}): Promise<void> {
    const cf = validCf(options.cf);
    validate(checkKey(key) ?? checkValue(value));
    if (this.routing !== undefined) {
      await this.routed(this.routing.router, { method: 'RawPut', key, write: true }, (c, context, deadline) =>
        callStore<RawPutResponse>('RawPut', (md, o, cb) => c.rawPut({ context, key: toBuffer(key), value: toBuffer(value), cf }, md, o, cb), deadline)
          .then((res) => ({ regionError: res.regionError, error: res.error, value: undefined })),
      );
      return;
    }
    const res = await this.unary<RawPutResponse>('RawPut', (client, md, opts, cb) =>
      client.rawPut({ context: undefined, key: toBuffer(key), value: toBuffer(value), cf }, md, opts, cb),
    );
    checkResponse('RawPut', res.regionError, res.error);
  }

  /** Deletes `key`; deleting an absent key succeeds. @throws {ClientError | SchedulerError} */
  async delete(key: Uint8Array, options: CfOption = {}): Promise<void> {
    const cf = validCf(options.cf);
    validate(checkKey(key));
    if (this.routing !== undefined) {
      await this.routed(this.routing.router, { method: 'RawDelete', key, write: true }, (c, context, deadline) =>
        callStore<RawDeleteResponse>('RawDelete', (md, o, cb) => c.rawDelete({ context, key: toBuffer(key), cf }, md, o, cb), deadline)
          .then((res) => ({ regionError: res.regionError, error: res.error, value: undefined })),
      );
      return;
    }
    const res = await this.unary<RawDeleteResponse>('RawDelete', (client, md, opts, cb) =>
      client.rawDelete({ context: undefined, key: toBuffer(key), cf }, md, opts, cb),
    );
    checkResponse('RawDelete', res.regionError, res.error);
  }

  /**
   * Up to `limit` entries from `startKey` (inclusive) in key order. When the
   * server cut a response short for its byte budget, this continues from the
   * last key, so the result is complete up to `limit`. Routed, it continues
   * region by region (from each region's end key) until `limit` entries or
   * the end of the key space; it is not a snapshot across regions.
   * @throws {ClientError | SchedulerError}
   */
  async scan(startKey: Uint8Array, limit: number, options: CfOption = {}): Promise<KvEntry[]> {
    const cf = validCf(options.cf);
    validate(checkStartKey(startKey) ?? checkScanLimit(limit));
    if (this.routing !== undefined) return this.routedScan(this.routing.router, startKey, limit, cf);
    const out: KvEntry[] = [];
    let from = startKey;
    // Each round returns at least one pair or ends the scan, and the number
    // of rounds is bounded by `limit`.
    for (let round = 0; round < scanLimitMax && out.length < limit; round++) {
      const want = limit - out.length;
      const kvs = await this.scanOnce(from, want, cf);
      let bytes = 0;
      for (const kv of kvs) {
        out.push({ key: new Uint8Array(kv.key), value: new Uint8Array(kv.value) });
        bytes += kv.key.length + kv.value.length;
      }
      const last = kvs[kvs.length - 1];
      if (last === undefined || kvs.length === want || !scanResponseMayBeTruncated(bytes)) break;
      from = successor(last.key);
    }
    return out;
  }

  /** Gets many keys, `BATCH_CONCURRENCY` calls at a time; results in input order. */
  batchGet(keys: readonly Uint8Array[], options: CfOption = {}): Promise<(Uint8Array | undefined)[]> {
    return mapBounded(keys, (key) => this.get(key, options));
  }

  /** Puts many pairs, `BATCH_CONCURRENCY` calls at a time. Not atomic across pairs. */
  async batchPut(entries: readonly KvEntry[], options: CfOption = {}): Promise<void> {
    await mapBounded(entries, (e) => this.put(e.key, e.value, options));
  }

  /** Deletes many keys, `BATCH_CONCURRENCY` calls at a time. Not atomic across keys. */
  async batchDelete(keys: readonly Uint8Array[], options: CfOption = {}): Promise<void> {
    await mapBounded(keys, (key) => this.delete(key, options));
  }

  close(): void {
    this.closed = true;
    this.client?.close();
    this.routing?.router.close();
    this.routing?.pd.close();
  }

  private async scanOnce(from: Uint8Array, limit: number, cf: string): Promise<KvPair[]> {
    const res = await this.unary<RawScanResponse>('RawScan', (client, md, opts, cb) =>
      client.rawScan({ context: undefined, startKey: toBuffer(from), limit, cf }, md, opts, cb),
    );
    checkResponse('RawScan', res.regionError, res.error);
    return res.kvs;
  }

  /**
   * The routed scan: one RawScan per region visit, keeping only pairs inside
   * the region that served them (a store answers from its region alone, but
   * the client does not rely on it), then on to the next region.
   */
  private async routedScan(router: RegionRouter, startKey: Uint8Array, limit: number, cf: string): Promise<KvEntry[]> {
    const deadline = Date.now() + this.deadlineMs;
    const out: KvEntry[] = [];
    let from = startKey;
    for (let visit = 0; out.length < limit; visit++) {
      if (visit >= scanRegionVisitsMax) {
        throw new ClientError(CLIENT_ERROR_CODES.ServerError, `RawScan failed: visited ${scanRegionVisitsMax} regions without reaching ${limit} entries`);
      }
      const want = limit - out.length;
      const { value: kvs, region } = await this.routed(router, { method: 'RawScan', key: from, write: false, deadline }, (c, context, callDeadline) =>
        callStore<RawScanResponse>('RawScan', (md, o, cb) => c.rawScan({ context, startKey: toBuffer(from), limit: want, cf }, md, o, cb), callDeadline)
          .then((res) => ({ regionError: res.regionError, error: res.error, value: res.kvs })),
      );
      let bytes = 0;
      for (const kv of kvs) {
        if (!keyInRegion(kv.key, region)) break;
        out.push({ key: new Uint8Array(kv.key), value: new Uint8Array(kv.value) });
        bytes += kv.key.length + kv.value.length;
      }
      const last = kvs[kvs.length - 1];
      if (last !== undefined && keyInRegion(last.key, region) && kvs.length === want) break;
      if (last !== undefined && keyInRegion(last.key, region) && scanResponseMayBeTruncated(bytes)) {
        from = successor(last.key);
        continue;
      }
      // This region is done: on to the next, unless it was the last.
      if (region.endKey.length === 0) break;
      from = new Uint8Array(region.endKey);
    }
    return out;
  }

  /** One routed command, within this client's deadline unless the command brings its own. */
  private routed<T>(router: RegionRouter, command: Omit<RoutedCommand, 'deadline'> & { readonly deadline?: number }, call: StoreCall<T>): Promise<Routed<T>> {
    if (this.closed) return Promise.reject(new ClientError(CLIENT_ERROR_CODES.Closed, `Cannot call ${command.method}: client is closed`));
    return router.run({ ...command, deadline: command.deadline ?? Date.now() + this.deadlineMs }, call);
  }

  private unary<Res>(
    method: string,
    invoke: (client: TinyKvClient, md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res: Res) => void) => void,
  ): Promise<Res> {
    if (this.closed) return Promise.reject(new ClientError(CLIENT_ERROR_CODES.Closed, `Cannot call ${method}: client is closed`));
    const client = this.client;
    assert(client !== undefined, `RawClient: ${method} without a server in the addr mode`);
    return new Promise((resolve, reject) => {
      invoke(client, new grpc.Metadata(), { deadline: Date.now() + this.deadlineMs }, (err, res) => {
        if (err !== null) reject(fromServiceError(method, err));
        else resolve(res);
      });
    });
  }
}

/** The scheduler client and router of the `pd` mode. @throws {RangeError} on bad pauses or timeouts */
function routingOf(options: RoutedOptions, deadlineMs: number): { readonly pd: PdClient; readonly router: RegionRouter } {
  const attemptTimeoutMs = options.attemptTimeoutMs ?? Math.min(attemptTimeoutMsDefault, deadlineMs);
  if (!Number.isFinite(attemptTimeoutMs) || attemptTimeoutMs <= 0) {
    throw new RangeError(`Cannot create RawClient: attemptTimeoutMs must be positive, got ${attemptTimeoutMs}`);
  }
  const retryPauseMs = options.retryPauseMs ?? retryPauseMsDefault;
  const retryPauseMsMax = options.retryPauseMsMax ?? Math.max(retryPauseMsMaxDefault, retryPauseMs);
  // The PdClient validates the pauses (RangeError) before anything is opened.
  const pd = new PdClient({ addrs: options.pd, deadlineMs, retryPauseMs, retryPauseMsMax });
  const router = new RegionRouter({ pd, attemptTimeoutMs, retryPauseMs, retryPauseMsMax, retryAmbiguousWrites: options.retryAmbiguousWrites ?? false });
  return { pd, router };
}

function validCf(cf: string | undefined): string {
  const checked = checkCf(cf ?? '');
  if (!checked.ok) throw new ClientError(CLIENT_ERROR_CODES.InvalidArgument, checked.error);
  return checked.value;
}

function validate(error: string | undefined): void {
  if (error !== undefined) throw new ClientError(CLIENT_ERROR_CODES.InvalidArgument, error);
}

function checkResponse(method: string, regionError: RegionErrorPb | undefined, error: string): void {
  if (regionError !== undefined) {
    throw new ClientError(CLIENT_ERROR_CODES.RegionError, `${method} failed with a region error: ${regionError.message}`, {
      cause: regionError,
    });
  }
  if (error === '') return;
  const code = error.startsWith(`${INVALID_ARGUMENT}:`) ? CLIENT_ERROR_CODES.InvalidArgument : CLIENT_ERROR_CODES.ServerError;
  throw new ClientError(code, `${method} failed: ${error}`);
}

/** The smallest key greater than `key`: `key` followed by a zero byte. */
function successor(key: Uint8Array): Uint8Array {
  const next = new Uint8Array(key.length + 1);
  next.set(key);
  return next;
}

async function mapBounded<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let nextIndex = 0;
  const worker = async (): Promise<void> => {
    while (nextIndex < items.length) {
      const i = nextIndex++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(BATCH_CONCURRENCY, items.length) }, worker));
  return results;
}

