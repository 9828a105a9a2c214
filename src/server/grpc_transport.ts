/**
 * A {@link Transport} between store processes over gRPC, on TinyKV's protocol
 * (`tinykvpb.TinyKv`): raft messages go on one long-lived `Raft` client
 * stream per peer store, each snapshot on its own `Snapshot` client stream
 * (TinyKV `server/transport.go` + `raft_client.go` + `snap_runner.go`; TiKV
 * `server/raft_client.rs`).
 *
 * Semantics (the simulator's, src/sim/cluster/sim_store.ts):
 * - Raft messages are lossy datagrams: raft retries. A message is reported
 *   delivered once it is written to an open stream of the peer store (the
 *   stream has no per-message answer, as in TinyKV/TiKV), and undelivered
 *   when it is dropped: no connection (the store backs off after a failure),
 *   a full queue, or a stream that broke before it was written. A store
 *   reports undelivered messages to raft (`reportUnreachable`), which probes
 *   the follower again later.
 * - A snapshot is reported delivered only when the receiving store answered
 *   the stream with `Done` (it took the reassembled message), undelivered on
 *   any error, refusal or after its deadline (`reportSnapshot`).
 *
 * Connections. Addresses come from an injected resolver (the scheduler's
 * GetStore; a map in tests), cached per store and resolved again after a
 * connection fails (a store may restart on another port). A connection is
 * opened on demand, by the first message for the store; messages sent while
 * it opens are queued (bounded) and written once the channel is READY. After
 * a failure the store is backed off for a bounded exponential delay with
 * jitter (`backoffMsMin` → `backoffMsMax`); messages for it are answered
 * undelivered meanwhile, and the next message after the delay reconnects.
 *
 * Batching. Messages sent in one event-loop turn are written in one flush on
 * a later turn (`setImmediate`). The protocol has no batch message (TinyKV
 * has no `BatchRaft`), and we stay on it, so each raft message is one gRPC
 * message; grpc-js passes a stream's messages to HTTP/2 one at a time, which
 * bounds a stream at roughly 10k small messages/s on this machine
 * (bench/transport.ts). Raft already packs entries into MsgAppend (up to
 * `maxSizePerMsgBytes`), so the bound is on messages, not on entries.
 *
 * Backpressure. At most `streamWritesInFlightMax` messages per stream are
 * written but not yet passed to HTTP/2 by grpc-js; beyond that they wait in
 * the store's queue, and beyond `queueMessagesMax` they are dropped. Snapshot
 * chunks are written while `write()` returns true, then after 'drain'.
 */
import { randomInt } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { grpcMessageBytesMax } from '../config/limits.js';
import { MessageType } from '../pb/eraftpb.js';
import type { RaftMessage, SnapshotChunk } from '../pb/raft_serverpb.js';
import { TinyKvClient } from '../pb/tinykvpb.js';
import { DEFAULT_RAFTSTORE_CONFIG } from '../raftstore/config.js';
import type { RaftstoreConfig } from '../raftstore/config.js';
import { splitSnapshotMessage } from '../raftstore/snapshot_chunks.js';
import { assert } from '../util/assert.js';
import { CodedError } from '../util/errors.js';
import { silentLogger } from '../util/log.js';
import type { Logger } from '../util/log.js';
import { Prng } from '../util/prng.js';
import type { Rng } from '../util/prng.js';
import type { Transport } from './store_node.js';

/** The address (`host:port`) of a store's gRPC server; rejects when the store is unknown. */
export type StoreAddressResolver = (storeId: number) => Promise<string>;

export interface GrpcTransportOptions {
  /** Where each store listens. Called again after a connection to the store fails. */
  readonly resolve: StoreAddressResolver;
  /** Snapshots go in chunks of `snapshotChunkBytes`. @default DEFAULT_RAFTSTORE_CONFIG */
  readonly config?: RaftstoreConfig;
  /** Backoff jitter. @default a Prng seeded from the clock */
  readonly rng?: Rng;
  /** @default a silent logger */
  readonly logger?: Logger;
  /** Messages queued per store while its connection opens or its stream is busy; more are dropped. @default 4096 */
  readonly queueMessagesMax?: number;
  /**
   * Messages written to a stream and not yet passed to HTTP/2 by grpc-js
   * (which sends one message of a stream at a time, each after the previous
   * one's write completed). @default 32
   */
  readonly streamWritesInFlightMax?: number;
  /** First backoff after a connection failure, in ms. @default 100 */
  readonly backoffMsMin?: number;
  /** Backoff cap, in ms. @default 5000 */
  readonly backoffMsMax?: number;
  /** Resolving and connecting must finish within this, in ms. @default 5000 */
  readonly connectTimeoutMs?: number;
  /** A snapshot stream not answered within this is failed, in ms. @default 60000 */
  readonly snapshotDeadlineMs?: number;
  /** Snapshot streams sent at once (over all stores). @default 4 */
  readonly snapshotsInFlightMax?: number;
  /** Snapshots waiting for a free stream; more are reported undelivered. @default 16 */
  readonly snapshotsQueuedMax?: number;
}

/** Counters for observability; they only grow. */
export interface GrpcTransportStats {
  /** Raft messages written to a stream (reported delivered). */
  readonly messagesSent: number;
  /** Raft messages reported undelivered (no connection, full queue, closed). */
  readonly messagesDropped: number;
  /** Connections that became ready. */
  readonly connects: number;
  /** Of those, connections made after a failed connection or attempt to the same store. */
  readonly reconnects: number;
  /** Connection attempts and streams that failed (each starts a backoff). */
  readonly connectFailures: number;
  /** Snapshots answered Done by the receiving store. */
  readonly snapshotsSent: number;
  /** Snapshots reported undelivered. */
  readonly snapshotsFailed: number;
}

export const GRPC_TRANSPORT_ERROR_CODES = {
  /** The resolver failed or did not answer in time. */
  ResolveFailed: 'GRPC_TRANSPORT_RESOLVE_FAILED',
  /** The channel did not become ready in time, or failed. */
  ConnectFailed: 'GRPC_TRANSPORT_CONNECT_FAILED',
  /** The peer store ended or broke the Raft stream. */
  StreamEnded: 'GRPC_TRANSPORT_STREAM_ENDED',
} as const;
export type GrpcTransportErrorCode = (typeof GRPC_TRANSPORT_ERROR_CODES)[keyof typeof GRPC_TRANSPORT_ERROR_CODES];

/** Why a connection to a store failed (logged; never thrown to a caller of {@link GrpcTransport}). */
export class GrpcTransportError extends CodedError<GrpcTransportErrorCode> {
  override readonly name = 'GrpcTransportError';
}

type Report = (delivered: boolean) => void;

interface Outgoing {
  readonly message: RaftMessage;
  readonly report: Report | undefined;
}

type Counters = { -readonly [K in keyof GrpcTransportStats]: number };

/** Channel options of every client: a private subchannel pool, so a new client really reconnects. */
const CHANNEL_OPTIONS: Partial<grpc.ClientOptions> = {
  'grpc.max_receive_message_length': grpcMessageBytesMax,
  'grpc.max_send_message_length': grpcMessageBytesMax,
  // grpc-js shares subchannels (and their reconnect backoff, up to 120 s) between clients by default.
  'grpc.use_local_subchannel_pool': 1,
  // No transparent retries, and no retry buffer: raft messages are datagrams that raft retries itself,
  // and grpc-js's retry buffer re-slices its array on every write (quadratic in the messages buffered;
  // bench/transport.ts: 2x the rate for small messages without it). With it off, a write's callback
  // means the message reached HTTP/2, which the in-flight bound relies on.
  'grpc.enable_retries': 0,
  'grpc.per_rpc_retry_buffer_size': 0,
  // A peer that vanishes without closing its socket is noticed within ~15 s.
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
};

export class GrpcTransport implements Transport {
  private readonly resolver: StoreAddressResolver;
  private readonly logger: Logger;
  private readonly rng: Rng;
  readonly limits: Readonly<{
    queueMessagesMax: number; streamWritesInFlightMax: number; backoffMsMin: number; backoffMsMax: number;
    connectTimeoutMs: number; snapshotDeadlineMs: number; snapshotsInFlightMax: number; snapshotsQueuedMax: number;
    snapshotChunkBytes: number;
  }>;
  private readonly connections = new Map<number, StoreConnection>();
  /** Reports to make in the next flush (never inside `send`). */
  private reports: { readonly report: Report; readonly delivered: boolean }[] = [];
  private flushScheduled = false;
  private closed = false;
  private readonly snapshotQueue: Outgoing[] = [];
  private snapshotsInFlight = 0;
  /** Snapshot streams open now (close cancels them). */
  private readonly snapshotCalls = new Set<grpc.ClientWritableStream<SnapshotChunk>>();
  /** Settles `snapshotsIdleWait` once no snapshot is in flight (close waits for it). */
  private snapshotsIdle: (() => void) | undefined;
  private snapshotsIdleWait: Promise<void> | undefined;
  /** @internal shared with the connections */
  readonly counters: Counters = {
    messagesSent: 0, messagesDropped: 0, connects: 0, reconnects: 0, connectFailures: 0, snapshotsSent: 0, snapshotsFailed: 0,
  };

  /** @throws {AssertionError} on limits that are not positive integers or a backoff cap below its start. */
  constructor(options: GrpcTransportOptions) {
    this.resolver = options.resolve;
    this.logger = (options.logger ?? silentLogger()).child({ component: 'grpc-transport' });
    this.rng = options.rng ?? new Prng(randomInt(2 ** 48 - 1));
    this.limits = {
      queueMessagesMax: options.queueMessagesMax ?? 4096,
      streamWritesInFlightMax: options.streamWritesInFlightMax ?? 32,
      backoffMsMin: options.backoffMsMin ?? 100,
      backoffMsMax: options.backoffMsMax ?? 5_000,
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
      snapshotDeadlineMs: options.snapshotDeadlineMs ?? 60_000,
      snapshotsInFlightMax: options.snapshotsInFlightMax ?? 4,
      snapshotsQueuedMax: options.snapshotsQueuedMax ?? 16,
      snapshotChunkBytes: (options.config ?? DEFAULT_RAFTSTORE_CONFIG).snapshotChunkBytes,
    };
    for (const [name, value] of Object.entries(this.limits)) {
      assert(Number.isSafeInteger(value) && value >= (name === 'snapshotsQueuedMax' ? 0 : 1), `GrpcTransport: ${name} must be a positive integer, got ${value}`);
    }
    assert(this.limits.backoffMsMax >= this.limits.backoffMsMin, 'GrpcTransport: backoffMsMax must be at least backoffMsMin');
  }

  /**
   * Queues `message` for the store of `message.toPeer`. Never throws, never
   * blocks, never reports before returning; `report` is called exactly once
   * (see the module comment for what delivered means).
   */
  send(message: RaftMessage, report?: Report): void {
    const storeId = message.toPeer?.storeId ?? 0;
    if (this.closed || !Number.isSafeInteger(storeId) || storeId <= 0) {
      this.drop(report);
      return;
    }
    const out: Outgoing = { message, report };
    if (message.message?.msgType === MessageType.MsgSnapshot) {
      this.enqueueSnapshot(out);
      return;
    }
    let conn = this.connections.get(storeId);
    if (conn === undefined) {
      conn = new StoreConnection(storeId, this);
      this.connections.set(storeId, conn);
    }
    conn.enqueue(out);
  }

  stats(): GrpcTransportStats {
    return { ...this.counters };
  }

  /**
   * Ends every stream and channel; whatever is queued or in flight is
   * reported undelivered, later sends too. Resolves once every snapshot in
   * flight has been answered or cancelled. Idempotent.
   */
  async close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      for (const conn of this.connections.values()) conn.shutdown();
      this.connections.clear();
      for (const out of this.snapshotQueue.splice(0)) this.failSnapshot(out);
      for (const call of this.snapshotCalls) call.cancel();
    }
    if (this.snapshotsInFlight > 0) {
      this.snapshotsIdleWait ??= new Promise<void>((resolve) => (this.snapshotsIdle = resolve));
      await this.snapshotsIdleWait;
    }
    this.flush();
  }

  // ---- shared with StoreConnection ----

  /** @internal */
  get isClosed(): boolean {
    return this.closed;
  }

  /** @internal Reports `delivered` in the next flush. */
  later(report: Report | undefined, delivered: boolean): void {
    if (report !== undefined) this.reports.push({ report, delivered });
    this.scheduleFlush();
  }

  /** @internal Reports a raft message undelivered. */
  drop(report: Report | undefined): void {
    this.counters.messagesDropped++;
    this.later(report, false);
  }

  /** @internal */
  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  /** @internal */
  resolve(storeId: number): Promise<string> {
    return this.resolver(storeId);
  }

  /** @internal The delay before reconnecting after `failures` consecutive failures: exponential, capped, jittered to [d/2, d]. */
  backoffMs(failures: number): number {
    assert(failures >= 1, 'backoffMs: no failure');
    const { backoffMsMin, backoffMsMax } = this.limits;
    const d = Math.min(backoffMsMax, backoffMsMin * 2 ** Math.min(failures - 1, 30));
    return this.rng.intInclusive(Math.ceil(d / 2), d);
  }

  /** @internal */
  log(): Logger {
    return this.logger;
  }

  // ---- flushing ----

  private flush(): void {
    // Still marked scheduled while the connections write: their reports join this flush.
    for (const conn of this.connections.values()) conn.flush();
    const reports = this.reports;
    this.reports = [];
    this.flushScheduled = false;
    for (const r of reports) r.report(r.delivered);
  }

  // ---- snapshots ----

  private enqueueSnapshot(out: Outgoing): void {
    if (this.snapshotsInFlight < this.limits.snapshotsInFlightMax) {
      this.startSnapshot(out);
    } else if (this.snapshotQueue.length < this.limits.snapshotsQueuedMax) {
      this.snapshotQueue.push(out);
    } else {
      this.logger.warn({ regionId: out.message.regionId, storeId: out.message.toPeer?.storeId }, 'too many snapshots queued: dropped one');
      this.failSnapshot(out);
    }
  }

  private failSnapshot(out: Outgoing): void {
    this.counters.snapshotsFailed++;
    this.later(out.report, false);
  }

  private startSnapshot(out: Outgoing): void {
    this.snapshotsInFlight++;
    this.sendSnapshot(out.message).then(
      (delivered) => {
        if (delivered) this.counters.snapshotsSent++;
        else this.counters.snapshotsFailed++;
        this.later(out.report, delivered);
      },
      (err: unknown) => {
        // Only a bug gets here (sendSnapshot catches operating errors): fail loudly after reporting.
        this.failSnapshot(out);
        process.nextTick(() => {
          throw err;
        });
      },
    ).finally(() => {
      this.snapshotsInFlight--;
      const next = this.snapshotQueue.shift();
      if (next !== undefined && !this.closed) this.startSnapshot(next);
      if (this.snapshotsInFlight === 0) this.snapshotsIdle?.();
    });
  }

  /** Streams one snapshot; resolves true once the receiver answered Done. Never rejects on operating errors. */
  private async sendSnapshot(message: RaftMessage): Promise<boolean> {
    const storeId = message.toPeer?.storeId ?? 0;
    const logger = this.logger.child({ regionId: message.regionId, storeId });
    const conn = this.connections.get(storeId) ?? new StoreConnection(storeId, this);
    if (!this.connections.has(storeId)) this.connections.set(storeId, conn);
    const client = await conn.readyClient();
    if (client === undefined || this.closed) {
      logger.info('snapshot not sent: the store is unreachable');
      return false;
    }
    const chunks = splitSnapshotMessage(message, this.limits.snapshotChunkBytes);
    const outcome = await new Promise<grpc.ServiceError | null>((resolve) => {
      const call = client.snapshot(new grpc.Metadata(), { deadline: Date.now() + this.limits.snapshotDeadlineMs }, (err) => {
        this.snapshotCalls.delete(call);
        resolve(err);
      });
      this.snapshotCalls.add(call);
      call.on('error', () => undefined);
      writeChunks(call, chunks);
    });
    if (outcome !== null) logger.warn({ code: outcome.code, details: outcome.details }, 'snapshot not delivered');
    else logger.info({ chunks: chunks.length, index: message.message?.snapshot?.metadata?.index }, 'snapshot delivered');
    return outcome === null;
  }
}

/** Writes `chunks` in order, waiting for 'drain' whenever the stream's buffer is full, then half-closes. */
function writeChunks(call: grpc.ClientWritableStream<SnapshotChunk>, chunks: readonly SnapshotChunk[]): void {
  let next = 0;
  const pump = (): void => {
    while (next < chunks.length) {
      const chunk = chunks[next++];
      assert(chunk !== undefined, 'writeChunks: chunk out of range');
      if (!call.write(chunk)) {
        // A failed call never drains; its callback settles the send.
        call.once('drain', pump);
        return;
      }
    }
    call.end();
  };
  pump();
}

type ConnectionState = 'idle' | 'connecting' | 'connected' | 'backoff';

/** The transport's link to one peer store: its address, channel and Raft stream. */
class StoreConnection {
  private state: ConnectionState = 'idle';
  /** Bumped on every (re)connect and teardown: callbacks of older streams are ignored. */
  private epoch = 0;
  private addr: string | undefined;
  private client: TinyKvClient | undefined;
  private stream: grpc.ClientWritableStream<RaftMessage> | undefined;
  private queue: Outgoing[] = [];
  private writesInFlight = 0;
  /** Consecutive failures, for the backoff. */
  private failures = 0;
  private backoffTimer: ReturnType<typeof setTimeout> | undefined;
  /** Snapshot senders waiting for the connection to open. */
  private waiters: ((client: TinyKvClient | undefined) => void)[] = [];
  private readonly logger: Logger;

  constructor(
    readonly storeId: number,
    private readonly transport: GrpcTransport,
  ) {
    this.logger = transport.log().child({ storeId });
  }

  enqueue(out: Outgoing): void {
    if (this.state === 'backoff' || this.queue.length >= this.transport.limits.queueMessagesMax) {
      this.transport.drop(out.report);
      return;
    }
    this.queue.push(out);
    if (this.state === 'idle') this.connect();
    this.transport.scheduleFlush();
  }

  /** The channel once ready, or undefined when the store is backed off or the connection fails. */
  readyClient(): Promise<TinyKvClient | undefined> {
    if (this.state === 'connected') return Promise.resolve(this.client);
    if (this.state === 'backoff') return Promise.resolve(undefined);
    if (this.state === 'idle') this.connect();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Writes queued messages to the stream, up to the in-flight bound. */
  flush(): void {
    const stream = this.stream;
    if (this.state !== 'connected' || stream === undefined) return;
    const max = this.transport.limits.streamWritesInFlightMax;
    let n = 0;
    const epoch = this.epoch;
    const written = (): void => {
      if (epoch !== this.epoch) return;
      this.writesInFlight--;
      if (this.queue.length > 0) this.transport.scheduleFlush();
    };
    try {
      while (n < this.queue.length && this.writesInFlight < max) {
        const out = this.queue[n++] as Outgoing;
        this.writesInFlight++;
        stream.write(out.message, written);
        this.transport.counters.messagesSent++;
        this.transport.later(out.report, true);
      }
    } catch (err: unknown) {
      // The stream refused a write (it ended under us): the rest is dropped with the connection.
      this.queue = this.queue.slice(n);
      this.fail(epoch, err);
      return;
    }
    this.queue = n === this.queue.length ? [] : this.queue.slice(n);
  }

  /** Ends the stream and channel for good (transport close): queued messages are reported undelivered. */
  shutdown(): void {
    this.epoch++;
    clearTimeout(this.backoffTimer);
    this.dropQueue();
    this.stream?.end();
    this.client?.close();
    this.stream = undefined;
    this.client = undefined;
    this.state = 'backoff';
    this.wake(undefined);
  }

  private connect(): void {
    assert(this.state === 'idle', `connect from state ${this.state}`);
    this.state = 'connecting';
    const epoch = ++this.epoch;
    this.open(epoch).catch((err: unknown) => this.fail(epoch, err));
  }

  /** Resolves the address (when not cached), opens a channel, waits until it is ready, opens the Raft stream. */
  private async open(epoch: number): Promise<void> {
    const deadline = Date.now() + this.transport.limits.connectTimeoutMs;
    const addr = this.addr ?? (await this.resolveAddr(deadline));
    if (epoch !== this.epoch) return;
    this.addr = addr;
    const client = new TinyKvClient(addr, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    this.client = client;
    if (!(await channelReady(client.getChannel(), deadline))) {
      throw new GrpcTransportError(GRPC_TRANSPORT_ERROR_CODES.ConnectFailed, `Cannot connect to store ${this.storeId} at ${addr}`);
    }
    if (epoch !== this.epoch) return;
    const stream = client.raft((err) => {
      const why = err === null ? 'the store ended the Raft stream' : `the Raft stream failed: ${err.code} ${err.details}`;
      this.fail(epoch, new GrpcTransportError(GRPC_TRANSPORT_ERROR_CODES.StreamEnded, `Lost store ${this.storeId} at ${addr}: ${why}`));
    });
    stream.on('error', () => undefined);
    this.stream = stream;
    this.state = 'connected';
    this.transport.counters.connects++;
    if (this.failures > 0) this.transport.counters.reconnects++;
    this.failures = 0;
    this.logger.info({ addr }, 'connected');
    this.wake(client);
    this.transport.scheduleFlush();
  }

  private async resolveAddr(deadline: number): Promise<string> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('no answer in time')), Math.max(0, deadline - Date.now()));
      timer.unref();
    });
    try {
      const addr = await Promise.race([this.transport.resolve(this.storeId), timeout]);
      if (typeof addr !== 'string' || addr.length === 0) throw new Error(`bad address ${JSON.stringify(addr)}`);
      return addr;
    } catch (err: unknown) {
      const why = err instanceof Error ? err.message : String(err);
      throw new GrpcTransportError(GRPC_TRANSPORT_ERROR_CODES.ResolveFailed, `Cannot resolve the address of store ${this.storeId}: ${why}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Tears the connection down and backs off; the address is resolved again on reconnect. */
  private fail(epoch: number, err: unknown): void {
    if (epoch !== this.epoch || this.transport.isClosed) return;
    this.epoch++;
    this.failures++;
    this.transport.counters.connectFailures++;
    const delayMs = this.transport.backoffMs(this.failures);
    this.logger.warn({ err: err instanceof Error ? err.message : String(err), failures: this.failures, backoffMs: delayMs }, 'connection failed');
    this.stream?.cancel();
    this.client?.close();
    this.stream = undefined;
    this.client = undefined;
    this.addr = undefined;
    this.writesInFlight = 0;
    this.dropQueue();
    this.wake(undefined);
    this.state = 'backoff';
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined;
      if (this.state === 'backoff' && !this.transport.isClosed) this.state = 'idle';
    }, delayMs);
    this.backoffTimer.unref();
  }

  private dropQueue(): void {
    for (const out of this.queue) this.transport.drop(out.report);
    this.queue = [];
  }

  private wake(client: TinyKvClient | undefined): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w(client);
  }
}

/**
 * Waits until `channel` is READY (true), or fails, shuts down or passes
 * `deadline` (false). Unlike `Client.waitForReady`, a refused connection
 * (TRANSIENT_FAILURE) fails at once instead of waiting out grpc-js's own
 * reconnect backoff.
 */
function channelReady(channel: grpc.ChannelInterface, deadline: number): Promise<boolean> {
  return new Promise((resolve) => {
    const check = (): void => {
      let state: grpc.connectivityState;
      try {
        state = channel.getConnectivityState(true);
      } catch {
        resolve(false);
        return;
      }
      if (state === grpc.connectivityState.READY) resolve(true);
      else if (state === grpc.connectivityState.TRANSIENT_FAILURE || state === grpc.connectivityState.SHUTDOWN || Date.now() >= deadline) resolve(false);
      else {
        try {
          channel.watchConnectivityState(state, deadline, (err) => (err === undefined ? check() : resolve(false)));
        } catch {
          resolve(false);
        }
      }
    };
    check();
  });
}
