/**
 * A {@link Transport} between the stores of one process: what a gRPC
 * transport does, minus the network. Messages go through the protobuf codec
 * (so no two stores ever share an object, as over a wire) and are delivered
 * asynchronously, in send order, on a later event-loop turn: a store never
 * re-enters another from inside its own step. Each message's delivery is
 * reported to the sender (MsgSnapshot → `reportSnapshot`). A snapshot goes as
 * a stream of bounded chunks (src/raftstore/snapshot_chunks.ts), encoded one
 * by one and reassembled with the receiver's size bound, as the gRPC
 * `Snapshot` stream will carry it.
 */
import { RaftMessage, SnapshotChunk } from '../pb/raft_serverpb.js';
import { MessageType } from '../raft/types.js';
import { DEFAULT_RAFTSTORE_CONFIG } from '../raftstore/config.js';
import { SnapshotAssembler, SnapshotChunkError, splitSnapshotMessage } from '../raftstore/snapshot_chunks.js';
import type { Transport } from './store_node.js';

/** A store as the transport sees it ({@link StoreNode} is one). */
export interface RaftMessageReceiver {
  /** @returns whether the store took the message (false once it stopped). */
  onRaftMessage(message: RaftMessage): boolean;
}

interface Envelope {
  readonly storeId: number;
  /** One encoded RaftMessage, or the encoded chunks of a snapshot stream. */
  readonly bytes: Uint8Array | readonly Uint8Array[];
  readonly report: ((delivered: boolean) => void) | undefined;
}

export interface LocalTransportOptions {
  /** @default the raftstore default (1 MiB) */
  readonly snapshotChunkBytes?: number;
  /** A reassembled snapshot larger than this is dropped. @default the raftstore default */
  readonly snapshotBytesMax?: number;
}

export class LocalTransport implements Transport {
  private readonly stores = new Map<number, RaftMessageReceiver>();
  /** Stores whose incoming and outgoing messages are dropped (a test partition). */
  private readonly isolated = new Set<number>();
  private queue: Envelope[] = [];
  private flushScheduled = false;
  private readonly chunkBytes: number;
  private readonly snapshotBytesMax: number;

  constructor(options: LocalTransportOptions = {}) {
    this.chunkBytes = options.snapshotChunkBytes ?? DEFAULT_RAFTSTORE_CONFIG.snapshotChunkBytes;
    this.snapshotBytesMax = options.snapshotBytesMax ?? DEFAULT_RAFTSTORE_CONFIG.snapshotBytesMax;
  }

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
    const bytes = message.message?.msgType === MessageType.MsgSnapshot
      ? splitSnapshotMessage(message, this.chunkBytes).map((c) => SnapshotChunk.encode(c).finish())
      : RaftMessage.encode(message).finish();
    this.queue.push({ storeId: cut ? 0 : to, bytes, report });
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
      const message = receiver === undefined ? undefined : this.decode(env.bytes);
      const delivered = receiver !== undefined && message !== undefined && receiver.onRaftMessage(message);
      env.report?.(delivered);
    }
  }

  /** A message, or a snapshot stream reassembled (undefined when the stream is refused). */
  private decode(bytes: Uint8Array | readonly Uint8Array[]): RaftMessage | undefined {
    if (bytes instanceof Uint8Array) return RaftMessage.decode(bytes);
    const assembler = new SnapshotAssembler(this.snapshotBytesMax);
    try {
      for (const chunk of bytes) assembler.push(SnapshotChunk.decode(chunk));
      return assembler.finish();
    } catch (err) {
      if (err instanceof SnapshotChunkError) return undefined;
      throw err;
    }
  }
}
