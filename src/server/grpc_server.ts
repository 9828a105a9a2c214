/**
 * Serves {@link Server} as gRPC service `tinykvpb.TinyKv` with @grpc/grpc-js.
 *
 * - Undecodable request bytes are answered with INVALID_ARGUMENT (grpc-js
 *   itself would answer INTERNAL), see {@link lenientService}.
 * - Methods not served yet answer UNIMPLEMENTED with a message naming them.
 * - `shutdown()` stops accepting calls, lets in-flight calls finish within a
 *   grace period, then cancels the rest.
 */
import * as grpc from '@grpc/grpc-js';
import type { ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { grpcMessageBytesMax } from '../config/limits.js';
import { TinyKvService } from '../pb/tinykvpb.js';
import { AssertionError } from '../util/assert.js';
import type { Logger } from '../util/log.js';
import { serviceError, toServiceError } from './grpc_errors.js';
import { UNIMPLEMENTED_METHODS } from './server.js';
import type { Server } from './server.js';

export interface GrpcServerOptions {
  /** `host:port`; port 0 picks a free port. */
  readonly addr: string;
  readonly server: Server;
  readonly logger: Logger;
}

export interface RunningGrpcServer {
  /** The bound address, with the real port. */
  readonly addr: string;
  readonly port: number;
  /** Graceful stop: waits up to `graceMs` for in-flight calls. */
  shutdown(graceMs?: number): Promise<void>;
}

/** Marks a request whose bytes did not decode. */
class MalformedRequest {
  constructor(readonly reason: string) {}
}

/**
 * Copies a service definition with request decoders that never throw: a
 * decode failure becomes a {@link MalformedRequest} the handler can answer.
 */
function lenientService(def: ServiceDefinition): ServiceDefinition {
  const out: Record<string, ServiceDefinition[string]> = {};
  for (const [name, method] of Object.entries(def)) {
    out[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer): unknown => {
        try {
          return method.requestDeserialize(bytes);
        } catch (err: unknown) {
          return new MalformedRequest(err instanceof Error ? err.message : String(err));
        }
      },
    };
  }
  return out;
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

function implementation(server: Server, logger: Logger): UntypedServiceImplementation {
  const impl: UntypedServiceImplementation = {
    rawGet: unary('RawGet', (req) => server.rawGet(req), logger),
    rawPut: unary('RawPut', (req) => server.rawPut(req), logger),
    rawDelete: unary('RawDelete', (req) => server.rawDelete(req), logger),
    rawScan: unary('RawScan', (req) => server.rawScan(req), logger),
  };
  for (const [method, details] of Object.entries(UNIMPLEMENTED_METHODS)) impl[method] = unimplemented(details);
  return impl;
}

/** @throws {Error} when the address cannot be bound. */
export async function startGrpcServer(options: GrpcServerOptions): Promise<RunningGrpcServer> {
  const grpcServer = new grpc.Server({
    'grpc.max_receive_message_length': grpcMessageBytesMax,
    'grpc.max_send_message_length': grpcMessageBytesMax,
  });
  grpcServer.addService(lenientService(TinyKvService), implementation(options.server, options.logger));
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
    shutdown: (graceMs = 5_000) => shutdownGracefully(grpcServer, graceMs),
  };
}

function shutdownGracefully(server: grpc.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const force = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(force);
      resolve();
    });
  });
}
