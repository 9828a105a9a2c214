/**
 * A {@link Transport} between the stores of one process: what a gRPC
 * transport does, minus the network. Messages go through the protobuf codec
 * (so no two stores ever share an object, as over a wire) and are delivered
 * asynchronously, in send order, on a later event-loop turn: a store never
 * re-enters another from inside its own step. Each message's delivery is
 * reported to the sender (MsgSnapshot → `reportSnapshot`).
 */
import { RaftMessage } from '../pb/raft_serverpb.js';
import type { Transport } from './store_node.js';

/** A store as the transport sees it ({@link StoreNode} is one). */
export interface RaftMessageReceiver {
  /** @returns whether the store took the message (false once it stopped). */
  onRaftMessage(message: RaftMessage): boolean;
}

interface Envelope {
  readonly storeId: number;
  readonly bytes: Uint8Array;
  readonly report: ((delivered: boolean) => void) | undefined;
}

export class LocalTransport implements Transport {
  private readonly stores = new Map<number, RaftMessageReceiver>();
  /** Stores whose incoming and outgoing messages are dropped (a test partition). */
  private readonly isolated = new Set<number>();
  private queue: Envelope[] = [];
  private flushScheduled = false;

  /** Routes messages for `storeId` to `receiver` (replacing an earlier one: a restarted store). */
  register(storeId: number, receiver: RaftMessageReceiver): void {
    this.stores.set(storeId, receiver);
  }

  /** Forgets `storeId` if `receiver` is still the one registered for it. */
  unregister(storeId: number, receiver: RaftMessageReceiver): void {
    if (this.stores.get(storeId) === receiver) this.stores.delete(storeId);
  }

  /** Cuts `storeId` off from every other store (or heals it). */
  isolate(storeId: number, isolated = true): void {
    if (isolated) this.isolated.add(storeId);
    else this.isolated.delete(storeId);
  }

  send(message: RaftMessage, report?: (delivered: boolean) => void): void {
    const to = message.toPeer?.storeId ?? 0;
    const from = message.fromPeer?.storeId ?? 0;
    const cut = this.isolated.has(to) || this.isolated.has(from);
    // Dropped and undeliverable messages are reported on a later turn too.
    this.queue.push({ storeId: cut ? 0 : to, bytes: RaftMessage.encode(message).finish(), report });
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    const queue = this.queue;
    this.queue = [];
    for (const env of queue) {
      const receiver = this.stores.get(env.storeId);
      const delivered = receiver !== undefined && receiver.onRaftMessage(RaftMessage.decode(env.bytes));
      env.report?.(delivered);
    }
  }
}
