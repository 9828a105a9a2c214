// Goal: a MsgSnapshot RaftMessage split into bounded chunks reassembles into
// exactly the original message, whatever the data size relative to the chunk
// size; splitting never mutates its input; every way a network stream can
// break the protocol is refused with its own typed SnapshotChunkError code
// (never an assertion), and the receiver's byte limit holds. Method: round
// trips over the boundary sizes (0, 1, n-1, n, n+1, 3n+7), structural checks
// of each chunk, and hand-built bad streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType } from '../pb/eraftpb.js';
import { RaftMessage } from '../pb/raft_serverpb.js';
import type { SnapshotChunk } from '../pb/raft_serverpb.js';
import { emptyConfState, newMessage } from '../raft/types.js';
import { AssertionError } from '../util/assert.js';
import { SNAPSHOT_CHUNK_ERROR_CODES, SnapshotAssembler, SnapshotChunkError, splitSnapshotMessage } from './snapshot_chunks.js';
import type { SnapshotChunkErrorCode } from './snapshot_chunks.js';

const CHUNK_BYTES = 16;

function patterned(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

function snapshotMessage(data: Buffer, msgType = MessageType.MsgSnapshot): RaftMessage {
  return {
    regionId: 7,
    fromPeer: { id: 1, storeId: 1 },
    toPeer: { id: 3, storeId: 3 },
    message: newMessage({
      msgType, from: 1, to: 3, term: 4,
      snapshot: { data, metadata: { index: 42, term: 4, confState: { ...emptyConfState(), nodes: [1, 2, 3] } } },
    }),
    regionEpoch: { confVer: 1, version: 2 },
    isTombstone: false,
    startKey: Buffer.from('a'),
    endKey: Buffer.from('m'),
  };
}

function assemble(chunks: readonly SnapshotChunk[], maxBytes = 1 << 20): RaftMessage {
  const a = new SnapshotAssembler(maxBytes);
  for (const c of chunks) a.push(c);
  return a.finish();
}

function assertChunkError(fn: () => unknown, code: SnapshotChunkErrorCode): void {
  assert.throws(fn, (err: unknown) => err instanceof SnapshotChunkError && err.code === code && err.name === 'SnapshotChunkError');
}

const header = (rm: RaftMessage): SnapshotChunk => ({ message: rm, data: Buffer.alloc(0) });
const dataChunk = (n: number): SnapshotChunk => ({ message: undefined, data: patterned(n) });

test('splitSnapshotMessage() and SnapshotAssembler round-trip every boundary size', () => {
  for (const n of [0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 3 * CHUNK_BYTES + 7]) {
    const rm = snapshotMessage(patterned(n));
    const chunks = splitSnapshotMessage(rm, CHUNK_BYTES);
    assert.equal(chunks.length, 1 + Math.ceil(n / CHUNK_BYTES), `size ${n}`);
    const [first, ...rest] = chunks;
    assert.ok(first !== undefined);
    assert.equal(first.data.length, 0);
    assert.equal(first.message?.message?.snapshot?.data.length, 0);
    assert.deepEqual(first.message?.message?.snapshot?.metadata, rm.message?.snapshot?.metadata);
    for (const c of rest) {
      assert.equal(c.message, undefined);
      assert.ok(c.data.length >= 1 && c.data.length <= CHUNK_BYTES, `chunk of ${c.data.length} bytes`);
    }
    const a = new SnapshotAssembler(n);
    for (const c of chunks) a.push(c);
    assert.equal(a.receivedBytes, n);
    assert.deepEqual(a.finish(), rm, `size ${n}`);
  }
});

test('splitSnapshotMessage() leaves the original message untouched', () => {
  const rm = snapshotMessage(patterned(3 * CHUNK_BYTES + 7));
  const encoded = (m: RaftMessage): Buffer => Buffer.from(RaftMessage.encode(m).finish());
  const before = encoded(rm);
  const chunks = splitSnapshotMessage(rm, CHUNK_BYTES);
  assert.deepEqual(encoded(rm), before);
  // The header is a copy: changing it does not reach the original.
  const head = chunks[0]?.message;
  assert.ok(head?.message?.snapshot?.metadata !== undefined && head.fromPeer !== undefined);
  head.message.snapshot.metadata.index = 99;
  head.fromPeer.id = 99;
  head.message.term = 99;
  assert.deepEqual(encoded(rm), before);
  // So is the assembled message.
  const back = assemble(splitSnapshotMessage(rm, CHUNK_BYTES));
  assert.ok(back.message?.snapshot !== undefined);
  back.message.snapshot.data[0] = 0xee;
  assert.deepEqual(encoded(rm), before);
});

test('splitSnapshotMessage() asserts on a non-snapshot message or a bad chunk size', () => {
  const rm = snapshotMessage(patterned(5));
  assert.throws(() => splitSnapshotMessage(rm, 0), AssertionError);
  assert.throws(() => splitSnapshotMessage(rm, 1.5), AssertionError);
  assert.throws(() => splitSnapshotMessage(snapshotMessage(patterned(5), MessageType.MsgAppend), CHUNK_BYTES), AssertionError);
  assert.throws(() => splitSnapshotMessage({ ...rm, message: undefined }, CHUNK_BYTES), AssertionError);
  const noMeta = snapshotMessage(patterned(5));
  if (noMeta.message?.snapshot !== undefined) noMeta.message.snapshot.metadata = undefined;
  assert.throws(() => splitSnapshotMessage(noMeta, CHUNK_BYTES), AssertionError);
  // One-byte chunks are allowed.
  assert.equal(splitSnapshotMessage(rm, 1).length, 6);
});

test('SnapshotAssembler refuses data before the header', () => {
  assertChunkError(() => new SnapshotAssembler(100).push(dataChunk(4)), SNAPSHOT_CHUNK_ERROR_CODES.DataBeforeHeader);
});

test('SnapshotAssembler refuses a second header', () => {
  const [h] = splitSnapshotMessage(snapshotMessage(patterned(4)), CHUNK_BYTES);
  assert.ok(h !== undefined);
  const a = new SnapshotAssembler(100);
  a.push(h);
  a.push(dataChunk(4));
  assertChunkError(() => a.push(h), SNAPSHOT_CHUNK_ERROR_CODES.DuplicateHeader);
});

test('SnapshotAssembler refuses a header that is not a MsgSnapshot with metadata and no data', () => {
  const bad: RaftMessage[] = [];
  const stripped = (rm: RaftMessage): RaftMessage => {
    if (rm.message?.snapshot !== undefined) rm.message.snapshot.data = Buffer.alloc(0);
    return rm;
  };
  bad.push(stripped(snapshotMessage(patterned(0), MessageType.MsgAppend)));
  bad.push({ ...snapshotMessage(patterned(0)), message: undefined });
  const noMeta = snapshotMessage(patterned(0));
  if (noMeta.message?.snapshot !== undefined) noMeta.message.snapshot.metadata = undefined;
  bad.push(noMeta);
  const noSnap = snapshotMessage(patterned(0));
  if (noSnap.message !== undefined) noSnap.message.snapshot = undefined;
  bad.push(noSnap);
  // Snapshot data inside the header: the sender must strip it.
  bad.push(snapshotMessage(patterned(3)));
  for (const rm of bad) assertChunkError(() => new SnapshotAssembler(100).push(header(rm)), SNAPSHOT_CHUNK_ERROR_CODES.InvalidHeader);
  // Data in the header chunk itself.
  const h = stripped(snapshotMessage(patterned(0)));
  assertChunkError(() => new SnapshotAssembler(100).push({ message: h, data: patterned(2) }), SNAPSHOT_CHUNK_ERROR_CODES.InvalidHeader);
});

test('SnapshotAssembler refuses an empty data chunk', () => {
  const [h] = splitSnapshotMessage(snapshotMessage(patterned(4)), CHUNK_BYTES);
  assert.ok(h !== undefined);
  const a = new SnapshotAssembler(100);
  a.push(h);
  assertChunkError(() => a.push(dataChunk(0)), SNAPSHOT_CHUNK_ERROR_CODES.EmptyChunk);
});

test('SnapshotAssembler refuses finish without a header', () => {
  assertChunkError(() => new SnapshotAssembler(100).finish(), SNAPSHOT_CHUNK_ERROR_CODES.MissingHeader);
});

test('SnapshotAssembler enforces maxBytes exactly', () => {
  const n = 3 * CHUNK_BYTES + 7;
  const chunks = splitSnapshotMessage(snapshotMessage(patterned(n)), CHUNK_BYTES);
  // Exactly at the limit: fine.
  assert.equal(assemble(chunks, n).message?.snapshot?.data.length, n);
  // One byte under: the last chunk is refused, and nothing past the limit is counted.
  const a = new SnapshotAssembler(n - 1);
  const last = chunks.length - 1;
  for (let i = 0; i < last; i++) a.push(chunks[i] as SnapshotChunk);
  assertChunkError(() => a.push(chunks[last] as SnapshotChunk), SNAPSHOT_CHUNK_ERROR_CODES.TooLarge);
  assert.equal(a.receivedBytes, 3 * CHUNK_BYTES);
  assert.ok(a.receivedBytes <= n - 1);
  // A zero limit still takes an empty snapshot.
  assert.equal(assemble(splitSnapshotMessage(snapshotMessage(patterned(0)), CHUNK_BYTES), 0).message?.snapshot?.data.length, 0);
});

test('SnapshotAssembler asserts when used after an error or after finish', () => {
  const a = new SnapshotAssembler(100);
  assertChunkError(() => a.push(dataChunk(1)), SNAPSHOT_CHUNK_ERROR_CODES.DataBeforeHeader);
  assert.throws(() => a.push(dataChunk(1)), AssertionError);
  const b = new SnapshotAssembler(100);
  for (const c of splitSnapshotMessage(snapshotMessage(patterned(3)), CHUNK_BYTES)) b.push(c);
  b.finish();
  assert.throws(() => b.finish(), AssertionError);
  assert.throws(() => new SnapshotAssembler(-1), AssertionError);
});
