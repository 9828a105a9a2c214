/**
 * The client side of the scheduler's `RegionHeartbeat` stream (TiKV's
 * pd-client `region_heartbeat`): one stream kept open for the client's
 * lifetime, re-opened after a bounded backoff whenever it breaks. Leaders
 * repeat their heartbeats every interval, so a heartbeat sent while the
 * stream is down is dropped (and counted) rather than queued: the next one
 * carries newer state anyway. Answers (operators) go to the callback.
 */
import type { ClientDuplexStream, ServiceError } from '@grpc/grpc-js';
import type { RegionHeartbeatRequest, RegionHeartbeatResponse, SchedulerClient } from '../pb/schedulerpb.js';
import { Backoff } from './backoff.js';
import { ClientError, CLIENT_ERROR_CODES, fromServiceError } from './errors.js';
import { streamReopenPauseMsMax } from './_limits.js';
import { onStreamEnd } from './_stream_host.js';
import type { StreamHost } from './_stream_host.js';

/** A region heartbeat as a leader sends it; the client fills in the header. */
export type RegionHeartbeat = Omit<RegionHeartbeatRequest, 'header'>;

export interface RegionHeartbeatHandle {
  /** Sends one heartbeat, or drops it while the stream is re-opening. @throws {ClientError} CLIENT_CLOSED after close */
  send(heartbeat: RegionHeartbeat): void;
  /** Heartbeats dropped because the stream was down. */
  readonly dropped: number;
  /** Ends the stream for good. */
  close(): void;
}

export interface RegionHeartbeatCallbacks {
  /** An answer of the scheduler (an operator, or an empty answer). */
  readonly onResponse: (response: RegionHeartbeatResponse) => void;
  /** The stream broke (it is re-opened), or an answer carried an error and was dropped. */
  readonly onError?: (err: unknown) => void;
}

type Stream = ClientDuplexStream<RegionHeartbeatRequest, RegionHeartbeatResponse>;

export class RegionHeartbeatStream implements RegionHeartbeatHandle {
  private readonly host: StreamHost;
  private readonly callbacks: RegionHeartbeatCallbacks;
  private readonly backoff: Backoff;
  private readonly maxPauseMs: number;
  private stream: Stream | undefined;
  /** When the current stream opened (ms since the epoch). */
  private openedAtMs = 0;
  private clusterId = 0;
  private opening = false;
  private reopenTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private droppedCount = 0;

  constructor(host: StreamHost, callbacks: RegionHeartbeatCallbacks) {
    this.host = host;
    this.callbacks = callbacks;
    this.maxPauseMs = Math.max(host.retryPauseMs, streamReopenPauseMsMax);
    this.backoff = new Backoff({ baseMs: host.retryPauseMs, maxMs: this.maxPauseMs });
    this.open();
  }

  get dropped(): number {
    return this.droppedCount;
  }

  send(heartbeat: RegionHeartbeat): void {
    if (this.closed) throw new ClientError(CLIENT_ERROR_CODES.Closed, 'Cannot send a region heartbeat: the stream is closed');
    const stream = this.stream;
    if (stream === undefined) {
      this.droppedCount++;
      return;
    }
    stream.write({ ...heartbeat, header: { clusterId: this.clusterId } });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.reopenTimer !== undefined) clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
    const stream = this.stream;
    this.stream = undefined;
    stream?.cancel();
  }

  private open(): void {
    if (this.opening || this.stream !== undefined || this.closed) return;
    this.opening = true;
    this.host.clusterId(this.host.deadlineFromNow()).then(
      (clusterId) => {
        this.opening = false;
        if (this.closed) return;
        this.clusterId = clusterId;
        const connection = this.host.connection();
        const stream = connection.regionHeartbeat();
        this.stream = stream;
        this.openedAtMs = Date.now();
        stream.on('data', (res: RegionHeartbeatResponse) => this.onResponse(stream, res));
        onStreamEnd(stream, (err) => this.onBroken(stream, connection, err));
      },
      (err: unknown) => {
        this.opening = false;
        this.callbacks.onError?.(err);
        this.scheduleReopen();
      },
    );
  }

  private onResponse(stream: Stream, res: RegionHeartbeatResponse): void {
    if (stream !== this.stream) return;
    this.backoff.reset();
    try {
      this.host.checkHeader('RegionHeartbeat', res.header);
    } catch (err: unknown) {
      this.callbacks.onError?.(err);
      return;
    }
    this.callbacks.onResponse(res);
  }

  private onBroken(stream: Stream, connection: SchedulerClient, err: ServiceError | undefined): void {
    if (stream !== this.stream) return;
    this.stream = undefined;
    this.host.streamFailed(connection, err);
    this.callbacks.onError?.(
      err === undefined
        ? new ClientError(CLIENT_ERROR_CODES.Unavailable, 'RegionHeartbeat failed: the scheduler closed the stream')
        : fromServiceError('RegionHeartbeat', err),
    );
    // A stream that stayed up a while was working: its break is a new failure, not one more in a row.
    if (Date.now() - this.openedAtMs >= this.maxPauseMs) this.backoff.reset();
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    if (this.closed || this.reopenTimer !== undefined) return;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      this.open();
    }, this.backoff.next());
  }
}
