/**
 * Serves {@link Server} as gRPC service `tinykvpb.TinyKv` with @grpc/grpc-js.
 *
 * - Undecodable request bytes are answered with INVALID_ARGUMENT (grpc-js
 *   itself would answer INTERNAL), see {@link lenientService}.
 * - Methods not served yet answer UNIMPLEMENTED with a message naming them.
 * - Bad input that a response body cannot carry (an
 *   {@link InvalidArgumentError}, thrown by KvCheckTxnStatus) answers
 *   INVALID_ARGUMENT with the `InvalidArgument: …` message.
 * - The store-to-store streams `Raft` and `Snapshot` are served only when a
 *   {@link RaftMessageSink} is given (a store process); otherwise they answer
 *   UNIMPLEMENTED. `Raft`: every message goes to the sink, and the stream is
 *   answered Done when the client ends it. `Snapshot`: the chunks are
 *   reassembled with a {@link SnapshotAssembler} bounded by the raftstore's
 *   `snapshotBytesMax`; the complete message goes to the sink, then Done.
 *   Undecodable bytes and protocol violations answer INVALID_ARGUMENT (the
 *   stream ends, the process keeps serving); a store that stopped answers
 *   UNAVAILABLE; more incoming snapshot streams than the limit answer
 *   RESOURCE_EXHAUSTED (the sender reports the snapshot undelivered and raft
 *   retries later).
 * - `shutdown()` ends the store-to-store streams with UNAVAILABLE (they are
 *   long-lived and would hold the grace period), stops accepting calls, lets
 *   in-flight calls finish within a grace period, then cancels the rest.
 */
import * as grpc from '@grpc/grpc-js';
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { grpcMessageBytesMax } from '../config/limits.js';
import { StoreAdminService } from '../pb/adminpb.js';
import type { SplitRegionRequest, SplitRegionResponse } from '../pb/adminpb.js';
import type { Done, RaftMessage, SnapshotChunk } from '../pb/raft_serverpb.js';
import { TinyKvService } from '../pb/tinykvpb.js';
import { DEFAULT_RAFTSTORE_CONFIG } from '../raftstore/config.js';
import type { RaftstoreConfig } from '../raftstore/config.js';
import { SnapshotAssembler, SnapshotChunkError } from '../raftstore/snapshot_chunks.js';
import { assert, AssertionError } from '../util/assert.js';
import type { Logger } from '../util/log.js';
import { serviceError, toServiceError } from './grpc_errors.js';
import { lenientService, MalformedRequest, shutdownGracefully } from './grpc_plumbing.js';
import { STORE_STREAM_UNIMPLEMENTED_METHODS, UNIMPLEMENTED_METHODS } from './server.js';
import type { Server } from './server.js';
import { InvalidArgumentError } from './validate.js';

/** Where the `Raft` and `Snapshot` streams deliver ({@link StoreNode} is one). */
export interface RaftMessageSink {
  /** @returns whether the store took the message (false once it stopped). Must not throw on bad input. */
  onRaftMessage(message: RaftMessage): boolean;
}

/** Incoming snapshot streams received at once, by default. */
export const snapshotStreamsInMaxDefault = 4;
/** An incoming snapshot stream must complete within this, by default, in ms. */
export const snapshotRecvTimeoutMsDefault = 60_000;

export interface GrpcServerOptions {
  /** `host:port`; port 0 picks a free port. */
  readonly addr: string;
  readonly server: Server;
  readonly logger: Logger;
  /** The store that takes raft messages from other stores. @default none: `Raft` and `Snapshot` answer UNIMPLEMENTED */
  readonly raftSink?: RaftMessageSink;
  /** Serves `adminpb.StoreAdmin` (`tinykv ctl`). @default not served */
  readonly storeAdmin?: StoreAdminHandler;
  /** Its `snapshotBytesMax` bounds an incoming snapshot. @default DEFAULT_RAFTSTORE_CONFIG */
  readonly raftstoreConfig?: RaftstoreConfig;
  /** Incoming snapshot streams at once; more answer RESOURCE_EXHAUSTED. @default snapshotStreamsInMaxDefault (4) */
  readonly snapshotStreamsMax?: number;
  /** A snapshot stream not complete this long after it opened answers DEADLINE_EXCEEDED. @default snapshotRecvTimeoutMsDefault */
  readonly snapshotRecvTimeoutMs?: number;
}

export interface RunningGrpcServer {
  /** The bound address, with the real port. */
  readonly addr: string;
  readonly port: number;
  /** Graceful stop: waits up to `graceMs` for in-flight calls. */
  shutdown(graceMs?: number): Promise<void>;
}

type UnaryHandler = (req: never) => Promise<unknown>;

function unary(method: string, handler: UnaryHandler, logger: Logger): grpc.handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    const req = call.request;
    if (req instanceof MalformedRequest) {
      callback(serviceError(grpc.status.INVALID_ARGUMENT, `Cannot decode ${method} request: ${req.reason}`));
      return;
    }
    handler(req as never).then(
      (res) => callback(null, res),
      (err: unknown) => {
        if (err instanceof AssertionError) {
          // A broken invariant: crash loudly rather than serve from bad state.
          logger.fatal({ err, method }, 'assertion failed');
          process.nextTick(() => {
            throw err;
          });
          return;
        }
        if (err instanceof InvalidArgumentError) {
          // Bad input a response body cannot carry (server.ts): the client's
          // fault, answered like undecodable bytes and not logged.
          callback(serviceError(grpc.status.INVALID_ARGUMENT, err.message));
          return;
        }
        const status = toServiceError(err);
        logger.warn({ method, code: status.code, details: status.details }, 'request failed');
        callback(status);
      },
    );
  };
}

function unimplemented(details: string): grpc.handleUnaryCall<unknown, unknown> {
  return (_call, callback) => callback(serviceError(grpc.status.UNIMPLEMENTED, details));
}

/** An open store-to-store stream, which shutdown ends. */
interface StoreStream {
  abort(details: string): void;
}

type ClientStreamingHandler = grpc.handleClientStreamingCall<unknown, Done>;

/**
 * Runs a client-streaming call: `onData` for each request (a
 * {@link MalformedRequest} is refused with INVALID_ARGUMENT before it gets
 * there), `onEnd` when the client half-closes. Either may answer by returning
 * a status (null: Done); undefined keeps the stream open. The call is
 * answered exactly once, and nothing is read after.
 */
function clientStream(
  method: string,
  streams: Set<StoreStream>,
  logger: Logger,
  setup: (finish: (err: grpc.ServiceError | null) => void) => {
    onData(req: unknown): grpc.ServiceError | null | undefined;
    onEnd(): grpc.ServiceError | null;
    onClose?(): void;
  },
): ClientStreamingHandler {
  return (call, callback) => {
    let open = true;
    const entry: StoreStream = { abort: (details) => finish(serviceError(grpc.status.UNAVAILABLE, details)) };
    const finish = (err: grpc.ServiceError | null): void => {
      if (!open) return;
      open = false;
      streams.delete(entry);
      handlers.onClose?.();
      if (err === null) {
        callback(null, {});
        return;
      }
      if (err.code !== grpc.status.UNAVAILABLE) logger.warn({ method, code: err.code, details: err.details }, 'store stream refused');
      callback(err);
    };
    streams.add(entry);
    const handlers = setup(finish);
    const guarded = (step: () => grpc.ServiceError | null | undefined): void => {
      if (!open) return;
      try {
        const answer = step();
        if (answer !== undefined) finish(answer);
      } catch (err: unknown) {
        if (err instanceof AssertionError) {
          logger.fatal({ err, method }, 'assertion failed');
          process.nextTick(() => {
            throw err;
          });
        }
        finish(serviceError(grpc.status.INTERNAL, err instanceof Error ? `${err.name}: ${err.message}` : String(err)));
      }
    };
    call.on('data', (req: unknown) => guarded(() => req instanceof MalformedRequest
      ? serviceError(grpc.status.INVALID_ARGUMENT, `Cannot decode ${method} stream message: ${req.reason}`)
      : handlers.onData(req)));
    call.on('end', () => guarded(() => handlers.onEnd()));
    // Cancelled by the client or the connection broke: nobody to answer.
    const gone = (): void => {
      if (!open) return;
      open = false;
      streams.delete(entry);
      handlers.onClose?.();
    };
    call.on('cancelled', gone);
    call.on('error', gone);
    call.on('close', gone);
  };
}

function notRunning(method: string): grpc.ServiceError {
  return serviceError(grpc.status.UNAVAILABLE, `${method} refused: the store is not running`);
}

/** `Raft`: each message goes to the sink; Done when the client ends the stream. */
function raftStream(sink: RaftMessageSink, streams: Set<StoreStream>, logger: Logger): ClientStreamingHandler {
  return clientStream('Raft', streams, logger, () => ({
    onData: (req) => (sink.onRaftMessage(req as RaftMessage) ? undefined : notRunning('Raft')),
    onEnd: () => null,
  }));
}

interface SnapshotLimits {
  readonly bytesMax: number;
  readonly streamsMax: number;
  readonly recvTimeoutMs: number;
}

/** `Snapshot`: chunks reassembled (bounded), the whole message to the sink, then Done. */
function snapshotStream(sink: RaftMessageSink, streams: Set<StoreStream>, limits: SnapshotLimits, logger: Logger): ClientStreamingHandler {
  let receiving = 0;
  const handler = clientStream('Snapshot', streams, logger, (finish) => {
    receiving++;
    const assembler = new SnapshotAssembler(limits.bytesMax);
    const timer = setTimeout(() => {
      finish(serviceError(grpc.status.DEADLINE_EXCEEDED, `Snapshot refused: not complete within ${limits.recvTimeoutMs} ms`));
    }, limits.recvTimeoutMs);
    const refuse = (err: unknown): grpc.ServiceError => {
      if (err instanceof SnapshotChunkError) return serviceError(grpc.status.INVALID_ARGUMENT, `${err.code}: ${err.message}`);
      throw err;
    };
    return {
      onData: (req) => {
        try {
          assembler.push(req as SnapshotChunk);
          return undefined;
        } catch (err: unknown) {
          return refuse(err);
        }
      },
      onEnd: () => {
        let message: RaftMessage;
        try {
          message = assembler.finish();
        } catch (err: unknown) {
          return refuse(err);
        }
        return sink.onRaftMessage(message) ? null : notRunning('Snapshot');
      },
      onClose: () => {
        receiving--;
        clearTimeout(timer);
      },
    };
  });
  return (call, callback) => {
    if (receiving >= limits.streamsMax) {
      callback(serviceError(grpc.status.RESOURCE_EXHAUSTED, `Snapshot refused: ${receiving} snapshot streams are being received, the limit is ${limits.streamsMax}`));
      return;
    }
    handler(call, callback);
  };
}

function implementation(options: GrpcServerOptions, streams: Set<StoreStream>): UntypedServiceImplementation {
  const { server, logger, raftSink } = options;
  const impl: UntypedServiceImplementation = {
    rawGet: unary('RawGet', (req) => server.rawGet(req), logger),
    rawPut: unary('RawPut', (req) => server.rawPut(req), logger),
    rawDelete: unary('RawDelete', (req) => server.rawDelete(req), logger),
    rawScan: unary('RawScan', (req) => server.rawScan(req), logger),
    kvGet: unary('KvGet', (req) => server.kvGet(req), logger),
    kvPrewrite: unary('KvPrewrite', (req) => server.kvPrewrite(req), logger),
    kvCommit: unary('KvCommit', (req) => server.kvCommit(req), logger),
    kvScan: unary('KvScan', (req) => server.kvScan(req), logger),
    kvCheckTxnStatus: unary('KvCheckTxnStatus', (req) => server.kvCheckTxnStatus(req), logger),
    kvBatchRollback: unary('KvBatchRollback', (req) => server.kvBatchRollback(req), logger),
    kvResolveLock: unary('KvResolveLock', (req) => server.kvResolveLock(req), logger),
  };
  for (const [method, details] of Object.entries(UNIMPLEMENTED_METHODS)) impl[method] = unimplemented(details);
  if (raftSink === undefined) {
    for (const [method, details] of Object.entries(STORE_STREAM_UNIMPLEMENTED_METHODS)) impl[method] = unimplemented(details);
    return impl;
  }
  const limits: SnapshotLimits = {
    bytesMax: (options.raftstoreConfig ?? DEFAULT_RAFTSTORE_CONFIG).snapshotBytesMax,
    streamsMax: options.snapshotStreamsMax ?? snapshotStreamsInMaxDefault,
    recvTimeoutMs: options.snapshotRecvTimeoutMs ?? snapshotRecvTimeoutMsDefault,
  };
  assert(Number.isSafeInteger(limits.streamsMax) && limits.streamsMax >= 1, `snapshotStreamsMax must be a positive integer, got ${limits.streamsMax}`);
  assert(Number.isSafeInteger(limits.recvTimeoutMs) && limits.recvTimeoutMs >= 1, `snapshotRecvTimeoutMs must be a positive integer, got ${limits.recvTimeoutMs}`);
  impl['raft'] = raftStream(raftSink, streams, logger);
  impl['snapshot'] = snapshotStream(raftSink, streams, limits, logger);
  return impl;
}

/** What serves `adminpb.StoreAdmin`. */
export interface StoreAdminHandler {
  splitRegion(req: SplitRegionRequest): Promise<SplitRegionResponse>;
}

/** @throws {Error} when the address cannot be bound. */
export async function startGrpcServer(options: GrpcServerOptions): Promise<RunningGrpcServer> {
  const grpcServer = new grpc.Server({
    'grpc.max_receive_message_length': grpcMessageBytesMax,
    'grpc.max_send_message_length': grpcMessageBytesMax,
  });
  const streams = new Set<StoreStream>();
  grpcServer.addService(lenientService(TinyKvService), implementation(options, streams));
  const admin = options.storeAdmin;
  if (admin !== undefined) {
    grpcServer.addService(lenientService(StoreAdminService), {
      splitRegion: unary('SplitRegion', (req: SplitRegionRequest) => admin.splitRegion(req), options.logger),
    });
  }
  const port = await new Promise<number>((resolve, reject) => {
    grpcServer.bindAsync(options.addr, grpc.ServerCredentials.createInsecure(), (err, boundPort) => {
      if (err !== null) reject(new Error(`Cannot listen on ${options.addr}: ${err.message}`, { cause: err }));
      else resolve(boundPort);
    });
  });
  const host = options.addr.slice(0, options.addr.lastIndexOf(':'));
  return {
    addr: `${host}:${port}`,
    port,
    shutdown: (graceMs = 5_000) => {
      for (const stream of [...streams]) stream.abort('the store is shutting down');
      return shutdownGracefully(grpcServer, graceMs);
    },
  };
}
