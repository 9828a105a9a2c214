/**
 * A raft snapshot message on the wire as a stream of bounded chunks (TinyKV's
 * gRPC `Snapshot` client stream, `snap_runner.go` sendSnap/recvSnap): the
 * first `SnapshotChunk` carries the MsgSnapshot RaftMessage with its snapshot
 * data stripped, each following one carries the next piece of that data.
 *
 * The sender side asserts (its input comes from our own raftstore); the
 * receiver side throws {@link SnapshotChunkError} for every protocol violation,
 * because its input comes from the network. Nothing here decodes or checks the
 * snapshot data itself: the peer does that (snapshot.ts) before raft sees it.
 *
 * Stream rules the assembler enforces:
 * - the header comes first and once, and is a MsgSnapshot with metadata whose
 *   own snapshot data and chunk data are empty (the sender strips them);
 * - every later chunk has no message and 1 or more bytes of data (TinyKV
 *   refuses empty chunks too; it also bounds the chunk count by `maxBytes`);
 * - the data totals at most `maxBytes`.
 */
import { MessageType } from '../pb/eraftpb.js';
import type { Message, Snapshot } from '../pb/eraftpb.js';
import type { RaftMessage, SnapshotChunk } from '../pb/raft_serverpb.js';
import { cloneMessage } from '../raft/types.js';
import { assert } from '../util/assert.js';
import { CodedError } from '../util/errors.js';

export const SNAPSHOT_CHUNK_ERROR_CODES = {
  /** A data chunk arrived before the header chunk. */
  DataBeforeHeader: 'SNAPSHOT_CHUNK_DATA_BEFORE_HEADER',
  /** A second chunk carried a message. */
  DuplicateHeader: 'SNAPSHOT_CHUNK_DUPLICATE_HEADER',
  /** The header is not a MsgSnapshot with metadata, or carries data itself. */
  InvalidHeader: 'SNAPSHOT_CHUNK_INVALID_HEADER',
  /** A data chunk with no bytes. */
  EmptyChunk: 'SNAPSHOT_CHUNK_EMPTY',
  /** The data exceeds the receiver's limit. */
  TooLarge: 'SNAPSHOT_CHUNK_TOO_LARGE',
  /** The stream ended without a header. */
  MissingHeader: 'SNAPSHOT_CHUNK_MISSING_HEADER',
} as const;
export type SnapshotChunkErrorCode = (typeof SNAPSHOT_CHUNK_ERROR_CODES)[keyof typeof SNAPSHOT_CHUNK_ERROR_CODES];

/** A snapshot stream that breaks the protocol (an operating error: the bytes came from the network). */
export class SnapshotChunkError extends CodedError<SnapshotChunkErrorCode> {
  override readonly name = 'SnapshotChunkError';
}

/**
 * Splits a RaftMessage whose message is a MsgSnapshot into chunks: chunk 0 =
 * `{ message: a copy of rm whose message.snapshot.data is empty, data: empty }`,
 * then ceil(len / chunkBytes) chunks `{ message: undefined, data: piece }`
 * (no data chunks when the data is empty). Never mutates `rm`; the pieces are
 * views of its snapshot bytes, not copies (the transport encodes them at once).
 * @throws {AssertionError} when `rm` carries no MsgSnapshot with metadata, or
 * `chunkBytes` is not a positive integer.
 */
export function splitSnapshotMessage(rm: RaftMessage, chunkBytes: number): SnapshotChunk[] {
  assert(Number.isSafeInteger(chunkBytes) && chunkBytes >= 1, `splitSnapshotMessage: chunkBytes must be a positive integer, got ${chunkBytes}`);
  const m = rm.message;
  assert(m !== undefined && m.msgType === MessageType.MsgSnapshot, 'splitSnapshotMessage: not a MsgSnapshot');
  const snap = m.snapshot;
  assert(snap !== undefined && snap.metadata !== undefined, 'splitSnapshotMessage: MsgSnapshot without snapshot metadata');
  const data = snap.data;
  const chunks: SnapshotChunk[] = [{ message: withSnapshotData(rm, m, Buffer.alloc(0)), data: Buffer.alloc(0) }];
  for (let at = 0; at < data.length; at += chunkBytes) {
    chunks.push({ message: undefined, data: data.subarray(at, Math.min(at + chunkBytes, data.length)) });
  }
  assert(chunks.length === 1 + Math.ceil(data.length / chunkBytes), 'splitSnapshotMessage: wrong chunk count');
  return chunks;
}

/**
 * Reassembles one snapshot stream: `push` each chunk in arrival order, then
 * `finish` at the end of the stream. After a {@link SnapshotChunkError} the
 * stream is dead: the caller drops it (using it again is a bug, and asserts).
 */
export class SnapshotAssembler {
  /** Most data bytes the stream may carry. */
  private readonly maxBytes: number;
  private header: RaftMessage | undefined;
  private readonly pieces: Buffer[] = [];
  private received = 0;
  private state: 'open' | 'failed' | 'finished' = 'open';

  /** @throws {AssertionError} when `maxBytes` is not a non-negative integer. */
  constructor(maxBytes: number) {
    assert(Number.isSafeInteger(maxBytes) && maxBytes >= 0, `SnapshotAssembler: maxBytes must be a non-negative integer, got ${maxBytes}`);
    this.maxBytes = maxBytes;
  }

  /** Bytes of snapshot data received so far. Invariant: receivedBytes <= maxBytes. */
  get receivedBytes(): number {
    return this.received;
  }

  /**
   * Takes the next chunk of the stream.
   * @throws {SnapshotChunkError} DataBeforeHeader, DuplicateHeader,
   * InvalidHeader, EmptyChunk or TooLarge (see the module comment).
   */
  push(chunk: SnapshotChunk): void {
    assert(this.state === 'open', `SnapshotAssembler: push on a ${this.state} stream`);
    if (chunk.message !== undefined) {
      if (this.header !== undefined) this.fail(SNAPSHOT_CHUNK_ERROR_CODES.DuplicateHeader, 'a second chunk carries a message');
      this.header = this.checkHeader(chunk);
      return;
    }
    if (this.header === undefined) this.fail(SNAPSHOT_CHUNK_ERROR_CODES.DataBeforeHeader, 'data arrived before the header chunk');
    const n = chunk.data.length;
    if (n === 0) this.fail(SNAPSHOT_CHUNK_ERROR_CODES.EmptyChunk, `data chunk ${this.pieces.length + 1} is empty`);
    if (n > this.maxBytes - this.received) {
      this.fail(SNAPSHOT_CHUNK_ERROR_CODES.TooLarge, `${this.received + n} bytes received, the limit is ${this.maxBytes}`);
    }
    this.pieces.push(chunk.data);
    this.received += n;
  }

  /**
   * Ends the stream.
   * @returns the complete RaftMessage, with the snapshot data restored.
   * @throws {SnapshotChunkError} MissingHeader when no header arrived.
   */
  finish(): RaftMessage {
    assert(this.state === 'open', `SnapshotAssembler: finish on a ${this.state} stream`);
    const header = this.header;
    if (header === undefined) this.fail(SNAPSHOT_CHUNK_ERROR_CODES.MissingHeader, 'the stream ended without a header chunk');
    this.state = 'finished';
    const data = Buffer.concat(this.pieces, this.received);
    const m = header.message;
    assert(m !== undefined, 'SnapshotAssembler: checked header lost its message');
    return withSnapshotData(header, m, data);
  }

  private checkHeader(chunk: SnapshotChunk): RaftMessage {
    const rm = chunk.message;
    assert(rm !== undefined, 'SnapshotAssembler: header chunk without a message');
    const m = rm.message;
    const invalid = (why: string): never => this.fail(SNAPSHOT_CHUNK_ERROR_CODES.InvalidHeader, `invalid header chunk: ${why}`);
    if (m === undefined) return invalid('no raft message');
    if (m.msgType !== MessageType.MsgSnapshot) return invalid(`message type ${MessageType[m.msgType] ?? m.msgType}, want MsgSnapshot`);
    if (m.snapshot?.metadata === undefined) return invalid('MsgSnapshot without snapshot metadata');
    if (m.snapshot.data.length > 0) return invalid(`the message carries ${m.snapshot.data.length} bytes of snapshot data`);
    if (chunk.data.length > 0) return invalid(`the header chunk carries ${chunk.data.length} bytes of data`);
    return rm;
  }

  private fail(code: SnapshotChunkErrorCode, why: string): never {
    this.state = 'failed';
    throw new SnapshotChunkError(code, `Cannot assemble snapshot stream: ${why}`);
  }
}

/** A copy of `rm` (whose message is `m`) with the snapshot data replaced by `data`. */
function withSnapshotData(rm: RaftMessage, m: Message, data: Buffer): RaftMessage {
  const message = cloneMessage(m);
  const snapshot: Snapshot | undefined = message.snapshot;
  assert(snapshot !== undefined, 'withSnapshotData: message without a snapshot');
  message.snapshot = { data, metadata: snapshot.metadata };
  return {
    ...rm,
    fromPeer: rm.fromPeer === undefined ? undefined : { ...rm.fromPeer },
    toPeer: rm.toPeer === undefined ? undefined : { ...rm.toPeer },
    regionEpoch: rm.regionEpoch === undefined ? undefined : { ...rm.regionEpoch },
    message,
    startKey: Buffer.from(rm.startKey),
    endKey: Buffer.from(rm.endKey),
  };
}
