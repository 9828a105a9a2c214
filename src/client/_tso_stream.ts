/**
 * The client side of the scheduler's `Tso` stream (PD's timestamp oracle,
 * as TiKV's pd-client batches it): callers that ask in the same turn of the
 * event loop share one `TsoRequest{count: n}`; the answer names the last of
 * the n timestamps, so caller i of the batch gets `last - (n - 1) + i`.
 * Answers come back in request order on one stream, so the callers of a
 * stream get timestamps in call order, each unique.
 *
 * A broken stream (error, end, or an answer that breaks the protocol) is
 * re-opened after a bounded backoff, and the requests it lost are asked
 * again ahead of later callers: a lost answer only wastes timestamps, which
 * is harmless. Each caller waits at most until its own deadline.
 */
import type { ClientDuplexStream, ServiceError } from '@grpc/grpc-js';
import type { SchedulerClient, TsoRequest, TsoResponse } from '../pb/schedulerpb.js';
import { Backoff } from './backoff.js';
import { ClientError, CLIENT_ERROR_CODES, SchedulerError } from './errors.js';
import { streamReopenPauseMsMax, tsoBatchMax, tsoLogicalBits } from './_limits.js';
import { onStreamEnd } from './_stream_host.js';
import type { StreamHost } from './_stream_host.js';

interface Waiter {
  readonly resolve: (ts: bigint) => void;
  readonly reject: (err: unknown) => void;
  /** Set once the caller has its answer or error; later answers for it are dropped. */
  settled: boolean;
  timer: NodeJS.Timeout | undefined;
}

const LOGICAL_LIMIT = 2 ** tsoLogicalBits;

export class TsoStream {
  private readonly host: StreamHost;
  private readonly backoff: Backoff;
  /** Callers not yet asked for, in call order. */
  private waiting: Waiter[] = [];
  /** Batches asked for on the current stream, in request order (= answer order). */
  private inflight: Waiter[][] = [];
  private stream: ClientDuplexStream<TsoRequest, TsoResponse> | undefined;
  private clusterId = 0;
  private opening = false;
  private reopenTimer: NodeJS.Timeout | undefined;
  private flushScheduled = false;
  /** Why the last stream or open failed: the cause of a caller's deadline error. */
  private lastError: unknown;
  private closed = false;

  constructor(host: StreamHost) {
    this.host = host;
    this.backoff = new Backoff({ baseMs: host.retryPauseMs, maxMs: Math.max(host.retryPauseMs, streamReopenPauseMsMax) });
  }

  /** One timestamp, before `deadline` (ms since the epoch). @throws {ClientError | SchedulerError} */
  get(deadline: number): Promise<bigint> {
    if (this.closed) return Promise.reject(new ClientError(CLIENT_ERROR_CODES.Closed, 'Cannot get a timestamp: client is closed'));
    return new Promise<bigint>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, settled: false, timer: undefined };
      waiter.timer = setTimeout(() => {
        this.settle(waiter, new ClientError(CLIENT_ERROR_CODES.DeadlineExceeded, 'Tso failed: no timestamp before the deadline', { cause: this.lastError }));
      }, Math.max(0, deadline - Date.now()));
      this.waiting.push(waiter);
      this.scheduleFlush();
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.reopenTimer !== undefined) clearTimeout(this.reopenTimer);
    const stream = this.stream;
    this.stream = undefined;
    stream?.cancel();
    const err = new ClientError(CLIENT_ERROR_CODES.Closed, 'Tso failed: client is closed');
    for (const w of [...this.inflight.flat(), ...this.waiting]) this.settle(w, err);
    this.inflight = [];
    this.waiting = [];
  }

  /** Callers of the same turn share a request: flush once the turn is over. */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    this.waiting = this.waiting.filter((w) => !w.settled);
    if (this.closed || this.waiting.length === 0) return;
    const stream = this.stream;
    if (stream === undefined) return this.open();
    while (this.waiting.length > 0) {
      const batch = this.waiting.splice(0, tsoBatchMax);
      this.inflight.push(batch);
      stream.write({ header: { clusterId: this.clusterId }, count: batch.length });
    }
  }

  private open(): void {
    if (this.opening || this.reopenTimer !== undefined || this.stream !== undefined || this.closed) return;
    this.opening = true;
    this.host.clusterId(this.host.deadlineFromNow()).then(
      (clusterId) => {
        this.opening = false;
        if (this.closed) return;
        this.clusterId = clusterId;
        const connection = this.host.connection();
        const stream = connection.tso();
        this.stream = stream;
        stream.on('data', (res: TsoResponse) => this.onResponse(stream, res));
        onStreamEnd(stream, (err) => this.onBroken(stream, connection, err));
        this.flush();
      },
      (err: unknown) => {
        this.opening = false;
        this.lastError = err;
        // A refusal (e.g. another cluster) will not change by retrying; a transport failure may.
        if (err instanceof SchedulerError) for (const w of this.waiting) this.settle(w, err);
        else this.scheduleReopen();
      },
    );
  }

  private onResponse(stream: ClientDuplexStream<TsoRequest, TsoResponse>, res: TsoResponse): void {
    if (stream !== this.stream) return;
    const batch = this.inflight.shift();
    if (batch === undefined) return this.breakStream(stream, 'an answer without a request');
    try {
      this.host.checkHeader('Tso', res.header);
    } catch (err: unknown) {
      for (const w of batch) this.settle(w, err);
      return;
    }
    const last = lastTimestamp(res, batch.length);
    if (typeof last === 'string') {
      // The batch's own answer is unusable: ask again on a fresh stream rather than guess.
      this.inflight.unshift(batch);
      return this.breakStream(stream, last);
    }
    this.backoff.reset();
    const first = last - BigInt(batch.length - 1);
    batch.forEach((w, i) => this.settle(w, first + BigInt(i)));
  }

  /** The stream broke the protocol: treat it as broken, and cancel it. */
  private breakStream(stream: ClientDuplexStream<TsoRequest, TsoResponse>, why: string): void {
    this.onBroken(stream, undefined, new ClientError(CLIENT_ERROR_CODES.Rpc, `Tso failed: the scheduler sent ${why}`));
    stream.cancel();
  }

  private onBroken(
    stream: ClientDuplexStream<TsoRequest, TsoResponse>, connection: SchedulerClient | undefined, err: ServiceError | ClientError | undefined,
  ): void {
    if (stream !== this.stream) return;
    this.stream = undefined;
    this.lastError = err ?? new ClientError(CLIENT_ERROR_CODES.Unavailable, 'Tso failed: the scheduler closed the stream');
    if (connection !== undefined) this.host.streamFailed(connection, err instanceof ClientError ? undefined : err);
    // Requests in flight lost their answers: ask again, ahead of later callers, so call order holds.
    this.waiting = [...this.inflight.flat(), ...this.waiting];
    this.inflight = [];
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    if (this.closed || this.reopenTimer !== undefined || !this.waiting.some((w) => !w.settled)) return;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      this.flush();
    }, this.backoff.next());
  }

  private settle(w: Waiter, outcome: bigint | unknown): void {
    if (w.settled) return;
    w.settled = true;
    if (w.timer !== undefined) clearTimeout(w.timer);
    if (typeof outcome === 'bigint') w.resolve(outcome);
    else w.reject(outcome);
  }
}

/** The last timestamp a TsoResponse allocates, or what is wrong with it. */
function lastTimestamp(res: TsoResponse, count: number): bigint | string {
  if (res.count !== count) return `${res.count} timestamps for a request of ${count}`;
  const ts = res.timestamp;
  if (ts === undefined) return 'an answer without a timestamp';
  if (!Number.isSafeInteger(ts.physical) || ts.physical < 0) return `physical time ${ts.physical}`;
  // The batch's first timestamp, last - (count - 1), must not borrow from the physical part.
  if (!Number.isSafeInteger(ts.logical) || ts.logical < count - 1 || ts.logical >= LOGICAL_LIMIT) {
    return `logical time ${ts.logical} for a batch of ${count}`;
  }
  return (BigInt(ts.physical) << BigInt(tsoLogicalBits)) | BigInt(ts.logical);
}
