/**
 * gRPC plumbing of the scheduler process, shared by both of its services:
 * lenient request decoding, unary calls whose refusals travel in the
 * response header, and bidirectional streams answered in request order.
 *
 * Error rules (STYLE §19, as src/server/grpc_server.ts does for the store):
 * - bytes that do not decode → status INVALID_ARGUMENT (grpc-js would say INTERNAL);
 * - a {@link SchedulerError} → a response whose `header.error` is
 *   {@link toPbError} of it (schedulerpb's way to refuse);
 * - an {@link AssertionError} → logged as fatal and rethrown on the next
 *   tick: the process crashes rather than serve from broken state;
 * - anything else (storage I/O, an unimplemented method) → a status from
 *   {@link toServiceError}.
 */
import * as grpc from '@grpc/grpc-js';
import type { ResponseHeader } from '../../pb/schedulerpb.js';
import { serviceError, toServiceError } from '../../server/grpc_errors.js';
import { MalformedRequest } from '../../server/grpc_plumbing.js';

export { lenientService, MalformedRequest } from '../../server/grpc_plumbing.js';
import { AssertionError } from '../../util/assert.js';
import type { Logger } from '../../util/log.js';
import { SchedulerError, toPbError } from '../errors.js';

/** A response carrying only a header (ts-proto `fromPartial` fills the rest with defaults). */
export type FromHeader<Res> = (partial: { header: ResponseHeader }) => Res;

/** Crashes on the next tick: a broken invariant must not be answered as a status. */
export function crash(err: AssertionError, method: string, logger: Logger): void {
  logger.fatal({ err, method }, 'assertion failed');
  process.nextTick(() => {
    throw err;
  });
}

/**
 * A unary handler: `handle` answers; a {@link SchedulerError} it throws is
 * answered as a header error stamped with `clusterId`.
 */
export function unary<Req, Res>(
  method: string, logger: Logger, clusterId: number, fromHeader: FromHeader<Res>, handle: (req: Req) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const req: unknown = call.request;
    if (req instanceof MalformedRequest) {
      callback(serviceError(grpc.status.INVALID_ARGUMENT, `Cannot decode ${method} request: ${req.reason}`));
      return;
    }
    // A handler may throw before its first await: that refusal is answered like a rejection.
    new Promise<Res>((resolve) => resolve(handle(req as Req))).then(
      (res) => callback(null, res),
      (err: unknown) => {
        if (err instanceof SchedulerError) {
          logger.debug({ method, code: err.code, message: err.message }, 'request refused');
          callback(null, fromHeader({ header: { clusterId, error: toPbError(err) } }));
          return;
        }
        if (err instanceof AssertionError) return crash(err, method, logger);
        const status = toServiceError(err);
        logger.warn({ method, code: status.code, details: status.details }, 'request failed');
        callback(status);
      },
    );
  };
}

/** A stream the server can end at shutdown. */
export interface OpenStream {
  /** Ends the stream with UNAVAILABLE. */
  abort(details: string): void;
}

/** The writing side of one open bidirectional stream. */
export interface StreamWriter<Res> {
  /** Sends `res` unless the stream is gone or `queueMax` responses already wait. @returns whether it was queued. */
  write(res: Res): boolean;
  readonly closed: boolean;
}

export interface DuplexOptions<Req, Res> {
  readonly method: string;
  readonly logger: Logger;
  readonly clusterId: number;
  readonly fromHeader: FromHeader<Res>;
  /** Open streams, for shutdown. */
  readonly registry: Set<OpenStream>;
  /** Responses queued for a slow reader before more are dropped. @default unbounded */
  readonly queueMax?: number;
  /** Called once per stream when it opens; returns its request handler. */
  readonly open: (writer: StreamWriter<Res>) => {
    /** The answer to one request, or undefined for none. */
    handle(req: Req): Promise<Res | undefined> | Res | undefined;
    /** The stream is gone (ended, cancelled or broken). */
    onClose?(): void;
  };
}

/**
 * A bidirectional stream handler. Requests are handled one at a time and
 * answered in request order (the Tso client matches answers to requests by
 * order), a {@link SchedulerError} being answered with a header error. The
 * stream ends OK after the client half-closes and every answer is written;
 * an undecodable request ends it with INVALID_ARGUMENT.
 */
export function duplex<Req, Res>(opts: DuplexOptions<Req, Res>): grpc.handleBidiStreamingCall<Req, Res> {
  return (call) => {
    let closed = false;
    let tail: Promise<void> = Promise.resolve();
    const entry: OpenStream = { abort: (details) => fail(serviceError(grpc.status.UNAVAILABLE, details)) };
    const writer: StreamWriter<Res> = {
      write: (res) => {
        if (closed) return false;
        if (opts.queueMax !== undefined && call.writableLength >= opts.queueMax) {
          opts.logger.warn({ method: opts.method, queued: call.writableLength }, 'stream reader is slow: response dropped');
          return false;
        }
        call.write(res);
        return true;
      },
      get closed() {
        return closed;
      },
    };
    const handlers = opts.open(writer);
    const gone = (): void => {
      if (closed) return;
      closed = true;
      opts.registry.delete(entry);
      handlers.onClose?.();
    };
    // grpc-js ends a server stream with the status of an emitted error.
    const fail = (status: grpc.ServiceError): void => {
      if (closed) return;
      gone();
      call.emit('error', status);
    };
    opts.registry.add(entry);
    const serve = async (req: unknown): Promise<void> => {
      if (closed) return;
      if (req instanceof MalformedRequest) {
        return fail(serviceError(grpc.status.INVALID_ARGUMENT, `Cannot decode ${opts.method} stream message: ${req.reason}`));
      }
      let res: Res | undefined;
      try {
        res = await handlers.handle(req as Req);
      } catch (err: unknown) {
        if (err instanceof AssertionError) return crash(err, opts.method, opts.logger);
        if (!(err instanceof SchedulerError)) {
          const status = toServiceError(err);
          opts.logger.warn({ method: opts.method, code: status.code, details: status.details }, 'stream failed');
          return fail(status);
        }
        opts.logger.debug({ method: opts.method, code: err.code, message: err.message }, 'stream request refused');
        res = opts.fromHeader({ header: { clusterId: opts.clusterId, error: toPbError(err) } });
      }
      if (res !== undefined) writer.write(res);
    };
    call.on('data', (req: unknown) => {
      tail = tail.then(() => serve(req));
    });
    call.on('end', () => {
      tail = tail.then(() => {
        if (closed) return;
        gone();
        call.end();
      });
    });
    call.on('cancelled', gone);
    call.on('error', gone);
    call.on('close', gone);
  };
}
