/**
 * gRPC plumbing shared by the store's and the scheduler's servers: lenient
 * request decoding (bytes that do not decode reach the handler as a
 * {@link MalformedRequest} it refuses with INVALID_ARGUMENT, where grpc-js
 * itself would answer INTERNAL) and a graceful shutdown bounded in time.
 */
import type * as grpc from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/grpc-js';

/** A request whose bytes did not decode. */
export class MalformedRequest {
  constructor(readonly reason: string) {}
}

/** A copy of `def` whose request decoders never throw: a decode failure becomes a {@link MalformedRequest}. */
export function lenientService<D extends ServiceDefinition>(def: D): D {
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
  return out as D;
}

/** Stops accepting calls, lets in-flight ones finish for up to `graceMs`, then cancels the rest. */
export function shutdownGracefully(server: grpc.Server, graceMs: number): Promise<void> {
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
