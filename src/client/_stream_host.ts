/**
 * What the scheduler's two bidirectional streams (Tso, RegionHeartbeat) need
 * from `PdClient`: the cluster id, a connection, header checks and the
 * close signal. A narrow interface so each stream is a small module that
 * tests can read on its own.
 */
import type { ClientDuplexStream, ServiceError } from '@grpc/grpc-js';
import type { ResponseHeader, SchedulerClient } from '../pb/schedulerpb.js';

export interface StreamHost {
  /** The cluster id, fetched once. @throws {ClientError | SchedulerError} like a unary call */
  clusterId(deadline: number): Promise<number>;
  /** The scheduler connection a new stream opens on (the current address). */
  connection(): SchedulerClient;
  /** A stream on `connection` broke with `err`: a transport failure moves to the next address. */
  streamFailed(connection: SchedulerClient, err: ServiceError | undefined): void;
  /** @throws {SchedulerError} when `header` carries an error or another cluster's id */
  checkHeader(method: string, header: ResponseHeader | undefined): void;
  /** Aborted when the client closes. */
  readonly signal: AbortSignal;
  /** The deadline of one call from now (ms since the epoch). */
  deadlineFromNow(): number;
  readonly retryPauseMs: number;
}

/**
 * Wires a duplex stream's end: `onBroken` runs once, on the first of
 * `error` (a non-OK status, the error given) and `end` (the server closed
 * its side; no error). Later events of the same stream are ignored, and an
 * `error` listener stays attached so a late error never goes unhandled.
 */
export function onStreamEnd<Req, Res>(stream: ClientDuplexStream<Req, Res>, onBroken: (err: ServiceError | undefined) => void): void {
  let ended = false;
  const end = (err: ServiceError | undefined): void => {
    if (ended) return;
    ended = true;
    onBroken(err);
  };
  stream.on('error', (err: ServiceError) => end(err));
  stream.on('end', () => end(undefined));
}
