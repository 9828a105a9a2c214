/**
 * `RawClient`: the raw key-value API of a TinyKV.ts server over gRPC.
 *
 * Every call carries a deadline. Input is checked against the documented
 * limits before it is sent, so an oversized key fails fast with the same
 * error the server would give. Server answers are mapped to
 * {@link ClientError}s; nothing is retried here, because a retry of a write
 * whose outcome is unknown is the caller's decision.
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
import type { KvEntry } from '../storage/engine.js';
import { ClientError, CLIENT_ERROR_CODES } from './errors.js';

export interface RawClientOptions {
  /** Server address, `host:port`. */
  readonly addr: string;
  /** Deadline of each call in milliseconds. @default clientDeadlineMsDefault (10 s) */
  readonly deadlineMs?: number;
}

export interface CfOption {
  /** Column family: `default`, `lock` or `write`. @default "default" */
  readonly cf?: string;
}

/** How many calls a batch helper keeps in flight. */
const BATCH_CONCURRENCY = 32;

export class RawClient {
  private readonly client: TinyKvClient;
  private readonly deadlineMs: number;
  private closed = false;

  constructor(options: RawClientOptions) {
    this.deadlineMs = options.deadlineMs ?? clientDeadlineMsDefault;
    if (!Number.isFinite(this.deadlineMs) || this.deadlineMs <= 0) {
      throw new RangeError(`Cannot create RawClient: deadlineMs must be positive, got ${this.deadlineMs}`);
    }
    this.client = new TinyKvClient(options.addr, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': grpcMessageBytesMax,
      'grpc.max_send_message_length': grpcMessageBytesMax,
    });
  }

  /** The value of `key`, or `undefined` when absent. @throws {ClientError} */
  async get(key: Uint8Array, options: CfOption = {}): Promise<Uint8Array | undefined> {
    const cf = validCf(options.cf);
    validate(checkKey(key));
    const res = await this.unary<RawGetResponse>('RawGet', (md, opts, cb) =>
      this.client.rawGet({ context: undefined, key: toBuffer(key), cf }, md, opts, cb),
    );
    checkResponse('RawGet', res.regionError, res.error);
    return res.notFound ? undefined : new Uint8Array(res.value);
  }

  /** Durably stores `value` at `key`. @throws {ClientError} */
  async put(key: Uint8Array, value: Uint8Array, options: CfOption = {}): Promise<void> {
    const cf = validCf(options.cf);
    validate(checkKey(key) ?? checkValue(value));
    const res = await this.unary<RawPutResponse>('RawPut', (md, opts, cb) =>
      this.client.rawPut({ context: undefined, key: toBuffer(key), value: toBuffer(value), cf }, md, opts, cb),
    );
    checkResponse('RawPut', res.regionError, res.error);
  }

  /** Deletes `key`; deleting an absent key succeeds. @throws {ClientError} */
  async delete(key: Uint8Array, options: CfOption = {}): Promise<void> {
    const cf = validCf(options.cf);
    validate(checkKey(key));
    const res = await this.unary<RawDeleteResponse>('RawDelete', (md, opts, cb) =>
      this.client.rawDelete({ context: undefined, key: toBuffer(key), cf }, md, opts, cb),
    );
    checkResponse('RawDelete', res.regionError, res.error);
  }

  /**
   * Up to `limit` entries from `startKey` (inclusive) in key order. When the
   * server cut a response short for its byte budget, this continues from the
   * last key, so the result is complete up to `limit`.
   * @throws {ClientError}
   */
  async scan(startKey: Uint8Array, limit: number, options: CfOption = {}): Promise<KvEntry[]> {
    const cf = validCf(options.cf);
    validate(checkStartKey(startKey) ?? checkScanLimit(limit));
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
    this.client.close();
  }

  private async scanOnce(from: Uint8Array, limit: number, cf: string): Promise<KvPair[]> {
    const res = await this.unary<RawScanResponse>('RawScan', (md, opts, cb) =>
      this.client.rawScan({ context: undefined, startKey: toBuffer(from), limit, cf }, md, opts, cb),
    );
    checkResponse('RawScan', res.regionError, res.error);
    return res.kvs;
  }

  private unary<Res>(
    method: string,
    invoke: (md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res: Res) => void) => void,
  ): Promise<Res> {
    if (this.closed) return Promise.reject(new ClientError(CLIENT_ERROR_CODES.Closed, `Cannot call ${method}: client is closed`));
    return new Promise((resolve, reject) => {
      invoke(new grpc.Metadata(), { deadline: Date.now() + this.deadlineMs }, (err, res) => {
        if (err !== null) reject(fromServiceError(method, err));
        else resolve(res);
      });
    });
  }
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

function fromServiceError(method: string, err: grpc.ServiceError): ClientError {
  const message = `${method} failed: ${err.details || err.message}`;
  switch (err.code) {
    case grpc.status.DEADLINE_EXCEEDED:
      return new ClientError(CLIENT_ERROR_CODES.DeadlineExceeded, message, { cause: err });
    case grpc.status.UNAVAILABLE:
      return new ClientError(CLIENT_ERROR_CODES.Unavailable, message, { cause: err });
    case grpc.status.INVALID_ARGUMENT:
      return new ClientError(CLIENT_ERROR_CODES.InvalidArgument, message, { cause: err });
    case grpc.status.UNIMPLEMENTED:
      return new ClientError(CLIENT_ERROR_CODES.Unimplemented, message, { cause: err });
    default:
      return new ClientError(CLIENT_ERROR_CODES.Rpc, message, { cause: err });
  }
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

