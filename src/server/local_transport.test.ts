// Goal: LocalTransport carries a snapshot as a stream of bounded chunks and
// hands the receiver exactly the original message, reports its delivery to
// the sender, and drops (reporting "not delivered") a stream over the
// receiver's size bound; plain messages arrive in send order.
// Method: two fake receivers, a hand-built MsgSnapshot of 10 KiB with 1 KiB
// chunks, and a transport whose bound is below the snapshot's size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageType } from '../pb/eraftpb.js';
import { RaftMessage } from '../pb/raft_serverpb.js';
import { emptyConfState, newMessage } from '../raft/types.js';
import { LocalTransport } from './local_transport.js';

function message(msgType: MessageType, data: Buffer, index: number): RaftMessage {
  return {
    regionId: 1, fromPeer: { id: 1, storeId: 1 }, toPeer: { id: 2, storeId: 2 },
    message: newMessage({
      msgType, from: 1, to: 2, term: 3, index,
      ...(msgType === MessageType.MsgSnapshot ? { snapshot: { data, metadata: { index, term: 3, confState: { ...emptyConfState(), nodes: [1, 2] } } } } : {}),
    }),
    regionEpoch: { confVer: 1, version: 1 }, isTombstone: false, startKey: Buffer.alloc(0), endKey: Buffer.alloc(0),
  };
}

function patterned(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 131 + 17) & 0xff;
  return b;
}

async function settle(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
}

test('a snapshot travels as bounded chunks and arrives whole; plain messages keep their order', async () => {
  const transport = new LocalTransport({ snapshotChunkBytes: 1024 });
  const got: RaftMessage[] = [];
  transport.register(2, { onRaftMessage: (m) => (got.push(m), true) });
  const reports: boolean[] = [];
  const snap = message(MessageType.MsgSnapshot, patterned(10 * 1024 + 5), 40);
  transport.send(message(MessageType.MsgAppend, Buffer.alloc(0), 1));
  transport.send(snap, (delivered) => reports.push(delivered));
  transport.send(message(MessageType.MsgAppend, Buffer.alloc(0), 2));
  await settle();
  assert.deepEqual(got.map((m) => m.message?.index), [1, 40, 2]);
  assert.deepEqual(got[1], RaftMessage.decode(RaftMessage.encode(snap).finish()));
  assert.deepEqual(reports, [true]);
});

test('a snapshot stream over the receiver bound is dropped and reported undelivered', async () => {
  const transport = new LocalTransport({ snapshotChunkBytes: 1024, snapshotBytesMax: 4096 });
  const got: RaftMessage[] = [];
  transport.register(2, { onRaftMessage: (m) => (got.push(m), true) });
  const reports: boolean[] = [];
  transport.send(message(MessageType.MsgSnapshot, patterned(8192), 40), (delivered) => reports.push(delivered));
  await settle();
  assert.equal(got.length, 0);
  assert.deepEqual(reports, [false]);
});
