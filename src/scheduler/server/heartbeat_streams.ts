/**
 * Which RegionHeartbeat stream reaches which store (TinyKV `heartbeatStreams`):
 * operators are sent to a region's leader, on the stream its store last
 * sent a heartbeat on. A store is learned from its requests'
 * `leader.store_id`, and re-bound on every request, so a newer stream of the
 * same store (it reconnected) takes over; a closed stream is forgotten.
 *
 * A step for a store without an open stream is dropped: the operator stays,
 * and its step is answered again on the region's next heartbeat.
 */
import type { RegionHeartbeatResponse } from '../../pb/schedulerpb.js';
import type { Logger } from '../../util/log.js';
import type { OperatorDispatch } from '../operator_controller.js';
import type { StreamWriter } from './_grpc.js';

export class HeartbeatStreams {
  private readonly streams = new Map<number, StreamWriter<RegionHeartbeatResponse>>();
  private readonly logger: Logger;
  /** Steps dropped because their store had no open stream (or a full one). */
  droppedCount = 0;

  constructor(logger: Logger) {
    this.logger = logger;
  }

  /** `stream` now reaches `storeId`. */
  bind(storeId: number, stream: StreamWriter<RegionHeartbeatResponse>): void {
    if (this.streams.get(storeId) !== stream) this.streams.set(storeId, stream);
  }

  /** `stream` closed: forget it for every store it reached (a newer stream of a store stays). */
  unbind(stream: StreamWriter<RegionHeartbeatResponse>): void {
    for (const [storeId, s] of this.streams) if (s === stream) this.streams.delete(storeId);
  }

  /** Whether `storeId` has an open stream (for tests and logs). */
  has(storeId: number): boolean {
    return this.streams.get(storeId)?.closed === false;
  }

  /** Sends an operator's step to the leader's store (the core's `onOperatorStep`). */
  send(dispatch: OperatorDispatch): void {
    const stream = this.streams.get(dispatch.storeId);
    if (stream !== undefined && stream.write(dispatch.response)) {
      this.logger.debug({ regionId: dispatch.regionId, storeId: dispatch.storeId }, 'operator step sent');
      return;
    }
    this.droppedCount++;
    this.logger.debug({ regionId: dispatch.regionId, storeId: dispatch.storeId }, 'operator step not sent: no open stream to the store; it goes with the next heartbeat');
  }

  /** Forgets every stream (at shutdown, after they were aborted). */
  clear(): void {
    this.streams.clear();
  }
}
