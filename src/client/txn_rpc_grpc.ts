/**
 * `GrpcTxnRpc`: the {@link TxnRpc} of the real cluster. Timestamps come from
 * the scheduler's TSO stream (`PdClient.tso`), regions from the
 * {@link RegionRouter}'s cache (filled from the scheduler on a miss), and
 * each request goes through the router pinned to the region it was built
 * for (`RoutedCommand.region`): the router finds the leader and retries
 * within the region, and a changed region ends the call with
 * {@link REGION_CHANGED} for the client to regroup.
 *
 * Every transactional command is sent as a read (`write: false`): an attempt
 * whose answer is lost is retried, which is sound because Percolator's
 * commands are idempotent (see `txn_rpc.ts`). Time is the wall clock
 * (`Date.now()`), the clock the router's deadlines are measured on.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Region } from '../pb/metapb.js';
import type { TinyKvClient } from '../pb/tinykvpb.js';
import { Backoff, checkBackoffOptions, pause, unboundedAbortController } from './backoff.js';
import { ClientError, CLIENT_ERROR_CODES } from './errors.js';
import { callStore, RegionRouter } from './region_router.js';
import { PdClient } from './scheduler_client.js';
import { REGION_CHANGED } from './txn_rpc.js';
import type { RegionChanged, RegionRef, TxnMethod, TxnRequest, TxnResponse, TxnRpc } from './txn_rpc.js';
import { attemptTimeoutMsDefault, retryPauseMsDefault, retryPauseMsMaxDefault } from './_limits.js';

export interface GrpcTxnRpcOptions {
  /**
   * The scheduler: a client to share (the caller keeps owning it), or its
   * address(es), `host:port`, for a client this rpc owns and closes.
   */
  readonly pd: PdClient | string | readonly string[];
  /** Longest wait for one store's answer before trying another peer, ms. @default 2000 */
  readonly attemptTimeoutMs?: number;
  /** First pause after an error answer that taught nothing, ms. @default 100 */
  readonly retryPauseMs?: number;
  /** Longest such pause, ms. @default 400 */
  readonly retryPauseMsMax?: number;
}

type Callback<Res> = (err: grpc.ServiceError | null, res: Res) => void;
type Invoke<M extends TxnMethod> = (
  client: TinyKvClient, req: TxnRequest<M>, md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: Callback<TxnResponse<M>>,
) => void;

/** The generated client method of each transactional command. */
const INVOKE: { readonly [M in TxnMethod]: Invoke<M> } = {
  KvGet: (c, req, md, o, cb) => c.kvGet(req, md, o, cb),
  KvScan: (c, req, md, o, cb) => c.kvScan(req, md, o, cb),
  KvPrewrite: (c, req, md, o, cb) => c.kvPrewrite(req, md, o, cb),
  KvCommit: (c, req, md, o, cb) => c.kvCommit(req, md, o, cb),
  KvCheckTxnStatus: (c, req, md, o, cb) => c.kvCheckTxnStatus(req, md, o, cb),
  KvBatchRollback: (c, req, md, o, cb) => c.kvBatchRollback(req, md, o, cb),
  KvResolveLock: (c, req, md, o, cb) => c.kvResolveLock(req, md, o, cb),
};

export class GrpcTxnRpc implements TxnRpc {
  readonly pd: PdClient;
  readonly router: RegionRouter;
  private readonly ownsPd: boolean;
  private readonly retryPauseMs: number;
  private readonly retryPauseMsMax: number;
  /** Aborted by close(): sleeps end at once. */
  private readonly abort = unboundedAbortController();

  /** @throws {RangeError} on bad pauses or timeouts */
  constructor(options: GrpcTxnRpcOptions) {
    const attemptTimeoutMs = options.attemptTimeoutMs ?? attemptTimeoutMsDefault;
    if (!Number.isFinite(attemptTimeoutMs) || attemptTimeoutMs <= 0) {
      throw new RangeError(`Cannot create GrpcTxnRpc: attemptTimeoutMs must be positive, got ${attemptTimeoutMs}`);
    }
    this.retryPauseMs = options.retryPauseMs ?? retryPauseMsDefault;
    this.retryPauseMsMax = options.retryPauseMsMax ?? Math.max(retryPauseMsMaxDefault, this.retryPauseMs);
    // Validates the pauses (RangeError) before anything is opened.
    checkBackoffOptions({ baseMs: this.retryPauseMs, maxMs: this.retryPauseMsMax });
    this.ownsPd = !(options.pd instanceof PdClient);
    this.pd = options.pd instanceof PdClient
      ? options.pd
      : new PdClient({ addrs: options.pd, retryPauseMs: this.retryPauseMs, retryPauseMsMax: this.retryPauseMsMax });
    this.router = new RegionRouter({
      pd: this.pd, attemptTimeoutMs, retryPauseMs: this.retryPauseMs, retryPauseMsMax: this.retryPauseMsMax, retryAmbiguousWrites: false,
    });
  }

  tso(deadlineMs: number): Promise<bigint> {
    if (this.abort.signal.aborted) return Promise.reject(closedError('Tso'));
    return this.pd.tso({ deadline: deadlineMs });
  }

  nowMs(): number {
    return Date.now();
  }

  sleep(ms: number): Promise<void> {
    return pause(ms, this.abort.signal);
  }

  /**
   * The cached region of `key`, else the scheduler's. A scheduler that knows
   * no region for the key yet (a cluster still bootstrapping) is asked again
   * after a pause, until the deadline.
   */
  async locate(key: Uint8Array, deadlineMs: number): Promise<RegionRef> {
    const backoff = new Backoff({ baseMs: this.retryPauseMs, maxMs: this.retryPauseMsMax });
    // Bounded by the deadline: each round is a scheduler call or a pause.
    for (;;) {
      if (this.abort.signal.aborted) throw closedError('Locate');
      const hit = this.router.cache.byKey(key);
      if (hit !== undefined) return regionRef(hit.region);
      const info = await this.pd.getRegion(key, { deadline: deadlineMs });
      if (info !== undefined) {
        this.router.cache.put(info.region, info.leader);
        // A cache holding a newer overlapping region refuses the scheduler's older
        // one: send to the older, and the store's EpochNotMatch teaches the newer.
        return regionRef(this.router.cache.byKey(key)?.region ?? info.region);
      }
      const wait = backoff.next();
      if (Date.now() + wait >= deadlineMs) {
        throw new ClientError(CLIENT_ERROR_CODES.DeadlineExceeded, 'Locate failed: the scheduler knows no region for the key before the deadline');
      }
      await this.sleep(wait);
    }
  }

  async call<M extends TxnMethod>(method: M, region: RegionRef, request: TxnRequest<M>, deadlineMs: number): Promise<TxnResponse<M> | RegionChanged> {
    if (this.abort.signal.aborted) throw closedError(method);
    const invoke: Invoke<M> = INVOKE[method];
    try {
      const routed = await this.router.run(
        { method, key: region.startKey, write: false, deadline: deadlineMs, region: { id: region.id, epoch: region.epoch } },
        (client, context, deadline) =>
          callStore<TxnResponse<M>>(method, (md, o, cb) => invoke(client, { ...request, context }, md, o, cb), deadline)
            // KeyErrors travel in the value: they are the TxnClient's to interpret.
            .then((res) => ({ regionError: res.regionError, error: '', value: res })),
      );
      return routed.value;
    } catch (err: unknown) {
      if (err instanceof ClientError && err.code === CLIENT_ERROR_CODES.RegionChanged) return REGION_CHANGED;
      throw err;
    }
  }

  /** Ends sleeps and in-flight calls (CLIENT_CLOSED) and closes the router, and the PdClient if this rpc made it. */
  close(): void {
    this.abort.abort();
    this.router.close();
    if (this.ownsPd) this.pd.close();
  }
}

function regionRef(region: Region): RegionRef {
  const epoch = region.regionEpoch;
  return {
    id: region.id,
    epoch: { confVer: epoch?.confVer ?? 0, version: epoch?.version ?? 0 },
    startKey: new Uint8Array(region.startKey),
    endKey: new Uint8Array(region.endKey),
  };
}

function closedError(method: string): ClientError {
  return new ClientError(CLIENT_ERROR_CODES.Closed, `Cannot call ${method}: client is closed`);
}
