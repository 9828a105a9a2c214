// Goal: prove that the generated src/pb code is wire-compatible with TinyKV's
// protocol (docs PROTOCOL.md) and that 64-bit fields get the intended JS types.
// Method: encode messages and compare against bytes computed by hand from the
// field numbers; list the (field number, wire type) pairs each message emits;
// round-trip TSO-sized bigints; check enum values and the gRPC service tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';

import * as coprocessor from './coprocessor.js';
import * as eraftpb from './eraftpb.js';
import * as errorpb from './errorpb.js';
import * as kvrpcpb from './kvrpcpb.js';
import * as metapb from './metapb.js';
import * as raft_cmdpb from './raft_cmdpb.js';
import * as raft_serverpb from './raft_serverpb.js';
import * as schedulerpb from './schedulerpb.js';
import * as tinykvpb from './tinykvpb.js';
import * as mod from './mod.js';

const VARINT = 0;
const LEN = 2;

/** Top-level [field number, wire type] pairs of an encoded message, in order. */
function fields(bytes: Uint8Array): Array<[number, number]> {
  const reader = new BinaryReader(bytes);
  const out: Array<[number, number]> = [];
  while (reader.pos < reader.len) {
    const [no, wireType] = reader.tag();
    out.push([no, wireType]);
    reader.skip(wireType);
  }
  return out;
}

const b = (...xs: number[]): Buffer => Buffer.from(xs);
const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];

const epoch = { confVer: 1, version: 2 };
const peer = { id: 3, storeId: 4 };
const region = { id: 1, startKey: b(1), endKey: b(2), regionEpoch: epoch, peers: [peer] };

test('mod.ts re-exports every package as a namespace', () => {
  assert.equal(mod.kvrpcpb.RawPutRequest, kvrpcpb.RawPutRequest);
  assert.equal(mod.tinykvpb.TinyKvService, tinykvpb.TinyKvService);
  for (const ns of [
    mod.coprocessor, mod.eraftpb, mod.errorpb, mod.kvrpcpb, mod.metapb,
    mod.raft_cmdpb, mod.raft_serverpb, mod.schedulerpb, mod.tinykvpb,
  ]) {
    assert.equal(typeof ns.protobufPackage, 'string');
  }
  assert.equal(mod.raft_serverpb.protobufPackage, 'raft_serverpb');
});

test('RawPutRequest encodes to hand-computed bytes', () => {
  const msg = kvrpcpb.RawPutRequest.fromPartial({
    context: { regionId: 5 },
    key: b(1),
    value: b(2),
    cf: 'default',
  });
  const bytes = kvrpcpb.RawPutRequest.encode(msg).finish();
  const expected = [
    0x0a, 0x02, 0x08, 0x05, // 1: context (LEN 2) { 1: region_id = 5 }
    0x12, 0x01, 0x01, // 2: key = [1]
    0x1a, 0x01, 0x02, // 3: value = [2]
    0x22, 0x07, ...ascii('default'), // 4: cf = "default"
  ];
  assert.deepEqual([...bytes], expected);
  const back = kvrpcpb.RawPutRequest.decode(bytes);
  assert.equal(back.context?.regionId, 5);
  assert.equal(back.cf, 'default');
  assert.deepEqual([...back.key], [1]);
  assert.deepEqual([...back.value], [2]);
});

test('Context: term is field 5 and there is no field 4', () => {
  const bytes = kvrpcpb.Context.encode(kvrpcpb.Context.fromPartial({ term: 7 })).finish();
  assert.deepEqual([...bytes], [0x28, 0x07]); // (5 << 3) | 0 = 0x28
  assert.deepEqual(Object.keys(kvrpcpb.Context.create()).sort(), ['peer', 'regionEpoch', 'regionId', 'term']);
  // A field 4 on the wire (TiKV's old read_quorum) is skipped, not misread.
  const decoded = kvrpcpb.Context.decode(Uint8Array.from([0x20, 0x01, 0x28, 0x09]));
  assert.equal(decoded.term, 9);
  const all = kvrpcpb.Context.fromPartial({ regionId: 1, regionEpoch: epoch, peer, term: 2 });
  assert.deepEqual(fields(kvrpcpb.Context.encode(all).finish()), [[1, VARINT], [2, LEN], [3, LEN], [5, VARINT]]);
});

test('kvrpcpb field numbers and wire types match PROTOCOL.md', () => {
  const ke = { abort: 'x' };
  const re = { message: 'x' };
  const ctx = { regionId: 1 };
  const cases: Array<[string, Uint8Array, Array<[number, number]>]> = [
    ['RawGetRequest', kvrpcpb.RawGetRequest.encode(kvrpcpb.RawGetRequest.fromPartial({ context: ctx, key: b(1), cf: 'lock' })).finish(), [[1, LEN], [2, LEN], [3, LEN]]],
    ['RawGetResponse', kvrpcpb.RawGetResponse.encode(kvrpcpb.RawGetResponse.fromPartial({ regionError: re, error: 'e', value: b(1), notFound: true })).finish(), [[1, LEN], [2, LEN], [3, LEN], [4, VARINT]]],
    ['RawDeleteRequest', kvrpcpb.RawDeleteRequest.encode(kvrpcpb.RawDeleteRequest.fromPartial({ context: ctx, key: b(1), cf: 'lock' })).finish(), [[1, LEN], [2, LEN], [3, LEN]]],
    ['RawScanRequest', kvrpcpb.RawScanRequest.encode(kvrpcpb.RawScanRequest.fromPartial({ context: ctx, startKey: b(1), limit: 3, cf: 'lock' })).finish(), [[1, LEN], [2, LEN], [3, VARINT], [4, LEN]]],
    ['RawScanResponse', kvrpcpb.RawScanResponse.encode(kvrpcpb.RawScanResponse.fromPartial({ regionError: re, error: 'e', kvs: [{ key: b(1) }] })).finish(), [[1, LEN], [2, LEN], [3, LEN]]],
    ['GetRequest', kvrpcpb.GetRequest.encode(kvrpcpb.GetRequest.fromPartial({ context: ctx, key: b(1), version: 9n })).finish(), [[1, LEN], [2, LEN], [3, VARINT]]],
    ['GetResponse', kvrpcpb.GetResponse.encode(kvrpcpb.GetResponse.fromPartial({ regionError: re, error: ke, value: b(1), notFound: true })).finish(), [[1, LEN], [2, LEN], [3, LEN], [4, VARINT]]],
    ['PrewriteRequest', kvrpcpb.PrewriteRequest.encode(kvrpcpb.PrewriteRequest.fromPartial({ context: ctx, mutations: [{ op: kvrpcpb.Op.Del, key: b(1) }], primaryLock: b(1), startVersion: 1n, lockTtl: 3000 })).finish(), [[1, LEN], [2, LEN], [3, LEN], [4, VARINT], [5, VARINT]]],
    ['PrewriteResponse', kvrpcpb.PrewriteResponse.encode(kvrpcpb.PrewriteResponse.fromPartial({ regionError: re, errors: [ke] })).finish(), [[1, LEN], [2, LEN]]],
    ['CommitRequest', kvrpcpb.CommitRequest.encode(kvrpcpb.CommitRequest.fromPartial({ context: ctx, startVersion: 1n, keys: [b(1)], commitVersion: 2n })).finish(), [[1, LEN], [2, VARINT], [3, LEN], [4, VARINT]]],
    ['ScanRequest', kvrpcpb.ScanRequest.encode(kvrpcpb.ScanRequest.fromPartial({ context: ctx, startKey: b(1), limit: 1, version: 1n })).finish(), [[1, LEN], [2, LEN], [3, VARINT], [4, VARINT]]],
    ['ScanResponse', kvrpcpb.ScanResponse.encode(kvrpcpb.ScanResponse.fromPartial({ regionError: re, pairs: [{ key: b(1) }] })).finish(), [[1, LEN], [2, LEN]]],
    ['CheckTxnStatusRequest', kvrpcpb.CheckTxnStatusRequest.encode(kvrpcpb.CheckTxnStatusRequest.fromPartial({ context: ctx, primaryKey: b(1), lockTs: 1n, currentTs: 2n })).finish(), [[1, LEN], [2, LEN], [3, VARINT], [4, VARINT]]],
    ['CheckTxnStatusResponse', kvrpcpb.CheckTxnStatusResponse.encode(kvrpcpb.CheckTxnStatusResponse.fromPartial({ regionError: re, lockTtl: 1, commitVersion: 2n, action: kvrpcpb.Action.TTLExpireRollback })).finish(), [[1, LEN], [2, VARINT], [3, VARINT], [4, VARINT]]],
    ['BatchRollbackRequest', kvrpcpb.BatchRollbackRequest.encode(kvrpcpb.BatchRollbackRequest.fromPartial({ context: ctx, startVersion: 1n, keys: [b(1)] })).finish(), [[1, LEN], [2, VARINT], [3, LEN]]],
    ['ResolveLockRequest', kvrpcpb.ResolveLockRequest.encode(kvrpcpb.ResolveLockRequest.fromPartial({ context: ctx, startVersion: 1n, commitVersion: 2n })).finish(), [[1, LEN], [2, VARINT], [3, VARINT]]],
    ['KvPair', kvrpcpb.KvPair.encode(kvrpcpb.KvPair.fromPartial({ error: ke, key: b(1), value: b(2) })).finish(), [[1, LEN], [2, LEN], [3, LEN]]],
    ['Mutation', kvrpcpb.Mutation.encode(kvrpcpb.Mutation.fromPartial({ op: kvrpcpb.Op.Lock, key: b(1), value: b(2) })).finish(), [[1, VARINT], [2, LEN], [3, LEN]]],
    ['KeyError', kvrpcpb.KeyError.encode(kvrpcpb.KeyError.fromPartial({ locked: { key: b(1) }, retryable: 'r', abort: 'a', conflict: { key: b(1) } })).finish(), [[1, LEN], [2, LEN], [3, LEN], [4, LEN]]],
    ['LockInfo', kvrpcpb.LockInfo.encode(kvrpcpb.LockInfo.fromPartial({ primaryLock: b(1), lockVersion: 1n, key: b(1), lockTtl: 1 })).finish(), [[1, LEN], [2, VARINT], [3, LEN], [4, VARINT]]],
    ['WriteConflict', kvrpcpb.WriteConflict.encode(kvrpcpb.WriteConflict.fromPartial({ startTs: 1n, conflictTs: 2n, key: b(1), primary: b(1) })).finish(), [[1, VARINT], [2, VARINT], [3, LEN], [4, LEN]]],
  ];
  for (const [name, bytes, expected] of cases) {
    assert.deepEqual(fields(bytes), expected, name);
  }
  assert.deepEqual(
    [kvrpcpb.Op.Put, kvrpcpb.Op.Del, kvrpcpb.Op.Rollback, kvrpcpb.Op.Lock],
    [0, 1, 2, 3],
  );
  assert.deepEqual(
    [kvrpcpb.Action.NoAction, kvrpcpb.Action.TTLExpireRollback, kvrpcpb.Action.LockNotExistRollback],
    [0, 1, 2],
  );
});

test('eraftpb.MessageType has MsgTimeoutNow = 12 and nothing at 10; extensions start at 13', () => {
  const T = eraftpb.MessageType;
  assert.equal(T.MsgTimeoutNow, 12);
  assert.equal(T.MsgTransferLeader, 11);
  assert.equal(T.MsgHeartbeatResponse, 9);
  const values = Object.values(T).filter((v): v is number => typeof v === 'number' && v >= 0).sort((x, y) => x - y);
  // TinyKV's values, then TinyKV.ts's extensions (docs/RAFT.md): MsgPreVote 13 ... MsgCheckQuorum 19.
  assert.deepEqual(values, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  assert.equal(T.MsgPreVote, 13);
  assert.equal(T.MsgCheckQuorum, 19);
  assert.equal(eraftpb.messageTypeFromJSON(10), T.UNRECOGNIZED);
  assert.equal(eraftpb.messageTypeToJSON(T.MsgTimeoutNow), 'MsgTimeoutNow');
});

test('eraftpb.Message and Entry field numbers', () => {
  const entry = eraftpb.Entry.fromPartial({ entryType: eraftpb.EntryType.EntryConfChange, term: 2, index: 3, data: b(4) });
  // 1: entry_type=1, 2: term=2, 3: index=3, 4: data=[4]
  assert.deepEqual([...eraftpb.Entry.encode(entry).finish()], [0x08, 0x01, 0x10, 0x02, 0x18, 0x03, 0x22, 0x01, 0x04]);
  const msg = eraftpb.Message.fromPartial({
    msgType: eraftpb.MessageType.MsgAppend, to: 2, from: 1, term: 3, logTerm: 2, index: 5,
    entries: [entry], commit: 4, snapshot: { data: b(1) }, reject: true,
  });
  assert.deepEqual(fields(eraftpb.Message.encode(msg).finish()), [
    [1, VARINT], [2, VARINT], [3, VARINT], [4, VARINT], [5, VARINT], [6, VARINT],
    [7, LEN], [8, VARINT], [9, LEN], [10, VARINT],
  ]);
  const back = eraftpb.Message.decode(eraftpb.Message.encode(msg).finish());
  assert.equal(back.term, 3);
  assert.equal(typeof back.term, 'number');
  assert.equal(back.entries[0]?.index, 3);
});

test('repeated JS_NUMBER fields are numbers and packed like TinyKV', () => {
  const cs = eraftpb.ConfState.fromPartial({ nodes: [1, 2, 300] });
  // 1: LEN 4 packed varints [1, 2, 300 = 0xac 0x02]
  const bytes = eraftpb.ConfState.encode(cs).finish();
  assert.deepEqual([...bytes], [0x0a, 0x04, 0x01, 0x02, 0xac, 0x02]);
  assert.deepEqual(eraftpb.ConfState.decode(bytes).nodes, [1, 2, 300]);
  // Decoders must also accept the unpacked form.
  assert.deepEqual(eraftpb.ConfState.decode(Uint8Array.from([0x08, 0x07, 0x08, 0x08])).nodes, [7, 8]);
  const split = raft_cmdpb.SplitRequest.fromPartial({ splitKey: b(9), newRegionId: 10, newPeerIds: [11, 12] });
  assert.deepEqual([...raft_cmdpb.SplitRequest.encode(split).finish()], [0x0a, 0x01, 0x09, 0x10, 0x0a, 0x1a, 0x02, 0x0b, 0x0c]);
  const ask = schedulerpb.AskSplitResponse.fromPartial({ newRegionId: 2, newPeerIds: [3] });
  assert.deepEqual(fields(schedulerpb.AskSplitResponse.encode(ask).finish()), [[2, VARINT], [3, LEN]]);
  assert.throws(() => eraftpb.ConfState.encode(eraftpb.ConfState.fromPartial({ nodes: [-1] })), /too large/);
});

test('errorpb.Error: stale_command is field 7, 6 unused', () => {
  const stale = errorpb.Error.encode(errorpb.Error.fromPartial({ staleCommand: {} })).finish();
  assert.deepEqual([...stale], [0x3a, 0x00]); // (7 << 3) | 2 = 0x3a, empty message
  const all = errorpb.Error.fromPartial({
    message: 'm',
    notLeader: { regionId: 1, leader: peer },
    regionNotFound: { regionId: 1 },
    keyNotInRegion: { key: b(1), regionId: 1, startKey: b(0), endKey: b(2) },
    epochNotMatch: { currentRegions: [region] },
    staleCommand: {},
    storeNotMatch: { requestStoreId: 1, actualStoreId: 2 },
  });
  assert.deepEqual(fields(errorpb.Error.encode(all).finish()), [
    [1, LEN], [2, LEN], [3, LEN], [4, LEN], [5, LEN], [7, LEN], [8, LEN],
  ]);
  const kn = errorpb.KeyNotInRegion.encode(errorpb.KeyNotInRegion.fromPartial({ key: b(1), regionId: 1, startKey: b(0), endKey: b(2) })).finish();
  assert.deepEqual(fields(kn), [[1, LEN], [2, VARINT], [3, LEN], [4, LEN]]);
});

test('metapb field numbers', () => {
  assert.deepEqual(
    [...metapb.Region.encode(metapb.Region.fromPartial(region)).finish()],
    [
      0x08, 0x01, // 1: id = 1
      0x12, 0x01, 0x01, // 2: start_key = [1]
      0x1a, 0x01, 0x02, // 3: end_key = [2]
      0x22, 0x04, 0x08, 0x01, 0x10, 0x02, // 4: region_epoch { conf_ver 1, version 2 }
      0x2a, 0x04, 0x08, 0x03, 0x10, 0x04, // 5: peers [{ id 3, store_id 4 }]
    ],
  );
  const store = metapb.Store.fromPartial({ id: 1, address: 'a', state: metapb.StoreState.Tombstone });
  assert.deepEqual([...metapb.Store.encode(store).finish()], [0x08, 0x01, 0x12, 0x01, 0x61, 0x18, 0x02]);
  assert.deepEqual([...metapb.Cluster.encode(metapb.Cluster.fromPartial({ id: 1, maxPeerCount: 3 })).finish()], [0x08, 0x01, 0x10, 0x03]);
});

test('raft_cmdpb field numbers', () => {
  const req = raft_cmdpb.RaftCmdRequest.fromPartial({
    header: { regionId: 1, peer, regionEpoch: epoch, term: 5 },
    requests: [{ cmdType: raft_cmdpb.CmdType.Put, put: { cf: 'default', key: b(1), value: b(2) } }],
    adminRequest: { cmdType: raft_cmdpb.AdminCmdType.Split, split: { splitKey: b(1), newRegionId: 2, newPeerIds: [3] } },
  });
  assert.deepEqual(fields(raft_cmdpb.RaftCmdRequest.encode(req).finish()), [[1, LEN], [2, LEN], [3, LEN]]);
  const header = raft_cmdpb.RaftRequestHeader.encode(req.header!).finish();
  assert.deepEqual(fields(header), [[1, VARINT], [2, LEN], [4, LEN], [5, VARINT]]);
  const r = raft_cmdpb.Request.fromPartial({ cmdType: raft_cmdpb.CmdType.Snap, get: {}, put: {}, delete: {}, snap: {} });
  assert.deepEqual(fields(raft_cmdpb.Request.encode(r).finish()), [[1, VARINT], [2, LEN], [4, LEN], [5, LEN], [6, LEN]]);
  const admin = raft_cmdpb.AdminRequest.fromPartial({ cmdType: 1, changePeer: {}, compactLog: {}, transferLeader: {}, split: {} });
  assert.deepEqual(fields(raft_cmdpb.AdminRequest.encode(admin).finish()), [[1, VARINT], [2, LEN], [4, LEN], [5, LEN], [10, LEN]]);
  const resp = raft_cmdpb.RaftCmdResponse.fromPartial({
    header: { error: { staleCommand: {} }, uuid: b(1), currentTerm: 3 },
    responses: [{ cmdType: raft_cmdpb.CmdType.Snap, snap: { region } }],
    adminResponse: { cmdType: raft_cmdpb.AdminCmdType.ChangePeer, changePeer: { region } },
  });
  assert.deepEqual(fields(raft_cmdpb.RaftResponseHeader.encode(resp.header!).finish()), [[1, LEN], [2, LEN], [3, VARINT]]);
  assert.equal(raft_cmdpb.RaftCmdResponse.decode(raft_cmdpb.RaftCmdResponse.encode(resp).finish()).responses[0]?.snap?.region?.id, 1);
  assert.deepEqual(
    [raft_cmdpb.CmdType.Invalid, raft_cmdpb.CmdType.Get, raft_cmdpb.CmdType.Put, raft_cmdpb.CmdType.Delete, raft_cmdpb.CmdType.Snap],
    [0, 1, 3, 4, 5],
  );
  assert.deepEqual(
    [raft_cmdpb.AdminCmdType.InvalidAdmin, raft_cmdpb.AdminCmdType.ChangePeer, raft_cmdpb.AdminCmdType.CompactLog,
      raft_cmdpb.AdminCmdType.TransferLeader, raft_cmdpb.AdminCmdType.Split],
    [0, 1, 3, 4, 10],
  );
});

test('raft_serverpb field numbers', () => {
  const rm = raft_serverpb.RaftMessage.fromPartial({
    regionId: 1, fromPeer: peer, toPeer: peer, message: { term: 1 }, regionEpoch: epoch,
    isTombstone: true, startKey: b(1), endKey: b(2),
  });
  assert.deepEqual(fields(raft_serverpb.RaftMessage.encode(rm).finish()), [
    [1, VARINT], [2, LEN], [3, LEN], [4, LEN], [5, LEN], [6, VARINT], [7, LEN], [8, LEN],
  ]);
  const ls = raft_serverpb.RaftLocalState.fromPartial({ hardState: { term: 1, vote: 2, commit: 3 }, lastIndex: 4, lastTerm: 5 });
  assert.deepEqual(
    [...raft_serverpb.RaftLocalState.encode(ls).finish()],
    [0x0a, 0x06, 0x08, 0x01, 0x10, 0x02, 0x18, 0x03, 0x10, 0x04, 0x18, 0x05],
  );
  const as = raft_serverpb.RaftApplyState.fromPartial({ appliedIndex: 7, truncatedState: { index: 5, term: 6 } });
  assert.deepEqual([...raft_serverpb.RaftApplyState.encode(as).finish()], [0x08, 0x07, 0x12, 0x04, 0x08, 0x05, 0x10, 0x06]);
  const rs = raft_serverpb.RegionLocalState.fromPartial({ state: raft_serverpb.PeerState.Tombstone, region });
  assert.deepEqual(fields(raft_serverpb.RegionLocalState.encode(rs).finish()), [[1, VARINT], [2, LEN]]);
  assert.equal(raft_serverpb.PeerState.Tombstone, 2);
  const si = raft_serverpb.StoreIdent.fromPartial({ clusterId: 1, storeId: 2 });
  assert.deepEqual([...raft_serverpb.StoreIdent.encode(si).finish()], [0x08, 0x01, 0x10, 0x02]);
  const sd = raft_serverpb.RaftSnapshotData.fromPartial({ region, fileSize: 1, data: [{ key: b(1) }], meta: { cfFiles: [{ cf: 'lock' }] } });
  assert.deepEqual(fields(raft_serverpb.RaftSnapshotData.encode(sd).finish()), [[1, LEN], [2, VARINT], [3, LEN], [5, LEN]]);
  const chunk = raft_serverpb.SnapshotChunk.fromPartial({ message: rm, data: b(1) });
  assert.deepEqual(fields(raft_serverpb.SnapshotChunk.encode(chunk).finish()), [[1, LEN], [2, LEN]]);
  assert.equal(raft_serverpb.Done.encode(raft_serverpb.Done.create()).finish().length, 0);
});

test('schedulerpb field numbers and enums', () => {
  const header = { clusterId: 1 };
  const hb = schedulerpb.RegionHeartbeatRequest.fromPartial({ header, region, leader: peer, pendingPeers: [peer], approximateSize: 96 << 20 });
  assert.deepEqual(fields(schedulerpb.RegionHeartbeatRequest.encode(hb).finish()), [[1, LEN], [2, LEN], [3, LEN], [5, LEN], [10, VARINT]]);
  const hbr = schedulerpb.RegionHeartbeatResponse.fromPartial({
    header: { clusterId: 1, error: { type: schedulerpb.ErrorType.REGION_NOT_FOUND, message: 'x' } },
    changePeer: { peer, changeType: eraftpb.ConfChangeType.RemoveNode },
    transferLeader: { peer }, regionId: 1, regionEpoch: epoch, targetPeer: peer,
  });
  assert.deepEqual(fields(schedulerpb.RegionHeartbeatResponse.encode(hbr).finish()), [
    [1, LEN], [2, LEN], [3, LEN], [4, VARINT], [5, LEN], [6, LEN],
  ]);
  const cp = schedulerpb.ChangePeer.encode(hbr.changePeer!).finish();
  assert.deepEqual(fields(cp), [[1, LEN], [2, VARINT]]);
  const rh = schedulerpb.ResponseHeader.encode(hbr.header!).finish();
  assert.deepEqual([...rh], [0x08, 0x01, 0x12, 0x05, 0x08, 0x06, 0x12, 0x01, 0x78]);
  const stats = schedulerpb.StoreStats.fromPartial({
    storeId: 1, capacity: 2, available: 3, regionCount: 4, sendingSnapCount: 5, receivingSnapCount: 6,
    startTime: 7, applyingSnapCount: 8, isBusy: true, usedSize: 10, interval: { startTimestamp: 1, endTimestamp: 2 },
    cpuUsages: [{ key: 'k', value: 1 }], readIoRates: [{ key: 'k' }], writeIoRates: [{ key: 'k' }], opLatencies: [{ key: 'k' }],
  });
  assert.deepEqual(fields(schedulerpb.StoreStats.encode(stats).finish()), [
    [1, VARINT], [2, VARINT], [3, VARINT], [4, VARINT], [5, VARINT], [6, VARINT], [7, VARINT], [8, VARINT],
    [9, VARINT], [10, VARINT], [15, LEN], [16, LEN], [17, LEN], [18, LEN], [19, LEN],
  ]);
  const member = schedulerpb.Member.fromPartial({ name: 'n', memberId: 1, peerUrls: ['p'], clientUrls: ['c'], leaderPriority: 1 });
  assert.deepEqual(fields(schedulerpb.Member.encode(member).finish()), [[1, LEN], [2, VARINT], [3, LEN], [4, LEN], [5, VARINT]]);
  const scan = schedulerpb.ScanRegionsRequest.fromPartial({ header, startKey: b(1), limit: -1, endKey: b(2) });
  assert.deepEqual(fields(schedulerpb.ScanRegionsRequest.encode(scan).finish()), [[1, LEN], [2, LEN], [3, VARINT], [4, LEN]]);
  const op = schedulerpb.GetOperatorResponse.fromPartial({ header: {}, regionId: 1, desc: b(1), status: schedulerpb.OperatorStatus.RUNNING, kind: b(1) });
  assert.deepEqual(fields(schedulerpb.GetOperatorResponse.encode(op).finish()), [[1, LEN], [2, VARINT], [3, LEN], [4, VARINT], [5, LEN]]);
  const scatter = schedulerpb.ScatterRegionRequest.fromPartial({ header, regionId: 1, region, leader: peer });
  assert.deepEqual(fields(schedulerpb.ScatterRegionRequest.encode(scatter).finish()), [[1, LEN], [2, VARINT], [3, LEN], [4, LEN]]);
  const tso = schedulerpb.TsoResponse.fromPartial({ header: {}, count: 1, timestamp: { physical: 1_700_000_000_000, logical: 3 } });
  assert.deepEqual(fields(schedulerpb.TsoResponse.encode(tso).finish()), [[1, LEN], [2, VARINT], [3, LEN]]);
  const ts = schedulerpb.Timestamp.decode(schedulerpb.Timestamp.encode(tso.timestamp!).finish());
  assert.deepEqual(ts, { physical: 1_700_000_000_000, logical: 3 });
  assert.deepEqual(
    [schedulerpb.ErrorType.OK, schedulerpb.ErrorType.UNKNOWN, schedulerpb.ErrorType.NOT_BOOTSTRAPPED,
      schedulerpb.ErrorType.STORE_TOMBSTONE, schedulerpb.ErrorType.ALREADY_BOOTSTRAPPED,
      schedulerpb.ErrorType.INCOMPATIBLE_VERSION, schedulerpb.ErrorType.REGION_NOT_FOUND],
    [0, 1, 2, 3, 4, 5, 6],
  );
  const gc = schedulerpb.UpdateGCSafePointResponse.fromPartial({ newSafePoint: (1n << 60n) + 1n });
  const gcBack = schedulerpb.UpdateGCSafePointResponse.decode(schedulerpb.UpdateGCSafePointResponse.encode(gc).finish());
  assert.equal(gcBack.newSafePoint, (1n << 60n) + 1n);
  assert.deepEqual(fields(schedulerpb.UpdateGCSafePointResponse.encode(gc).finish()), [[2, VARINT]]);
});

test('coprocessor field numbers (start_ts is field 7, bigint)', () => {
  const req = coprocessor.Request.fromPartial({ context: { regionId: 1 }, tp: 103, data: b(1), startTs: 5n, ranges: [{ start: b(1), end: b(2) }] });
  assert.deepEqual(fields(coprocessor.Request.encode(req).finish()), [[1, LEN], [2, VARINT], [3, LEN], [7, VARINT], [4, LEN]]);
  const resp = coprocessor.Response.fromPartial({ data: b(1), regionError: {}, locked: {}, otherError: 'e', range: {} });
  assert.deepEqual(fields(coprocessor.Response.encode(resp).finish()), [[1, LEN], [2, LEN], [3, LEN], [4, LEN], [5, LEN]]);
});

test('TSO-sized bigint GetRequest.version round-trips exactly', () => {
  const version = (1n << 62n) + 3n;
  const msg = kvrpcpb.GetRequest.fromPartial({ key: b(0x6b), version });
  const bytes = kvrpcpb.GetRequest.encode(msg).finish();
  // 2: key = "k"; 3: varint of 0x4000_0000_0000_0003 (9 bytes, 7 bits each, LSB first).
  assert.deepEqual([...bytes], [0x12, 0x01, 0x6b, 0x18, 0x83, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]);
  const back = kvrpcpb.GetRequest.decode(bytes);
  assert.equal(typeof back.version, 'bigint');
  assert.equal(back.version, version);
  // proto3 JSON writes 64-bit integers as decimal strings.
  const json = kvrpcpb.GetRequest.toJSON(back) as { version: string };
  assert.equal(json.version, '4611686018427387907');
  assert.equal(kvrpcpb.GetRequest.fromJSON(json).version, version);
  // The largest uint64 survives too.
  const max = (1n << 64n) - 1n;
  const lock = kvrpcpb.LockInfo.decode(kvrpcpb.LockInfo.encode(kvrpcpb.LockInfo.fromPartial({ lockVersion: max })).finish());
  assert.equal(lock.lockVersion, max);
});

test('JS_NUMBER fields: numbers, JSON numbers, and decoding a value >= 2^53 throws', () => {
  const ctx = kvrpcpb.Context.decode(kvrpcpb.Context.encode(kvrpcpb.Context.fromPartial({ regionId: 2 ** 53 - 1 })).finish());
  assert.equal(ctx.regionId, Number.MAX_SAFE_INTEGER);
  assert.equal(typeof ctx.regionId, 'number');
  assert.deepEqual(kvrpcpb.Context.toJSON(kvrpcpb.Context.fromPartial({ regionId: 5, term: 6 })), { regionId: 5, term: 6 });
  // JSON from a Go/jsonpb peer carries 64-bit values as strings; accepted.
  assert.equal(kvrpcpb.Context.fromJSON({ regionId: '5' }).regionId, 5);
  // Hand-built wire bytes: Context.region_id = 2^53 (not a safe integer).
  const tooBig = new BinaryWriter().uint32(0x08).uint64(2n ** 53n).finish();
  assert.throws(() => kvrpcpb.Context.decode(tooBig), /larger than Number\.MAX_SAFE_INTEGER/);
  const hugeTerm = new BinaryWriter().uint32(0x20).uint64((1n << 64n) - 1n).finish(); // eraftpb.Message.term
  assert.throws(() => eraftpb.Message.decode(hugeTerm), /larger than Number\.MAX_SAFE_INTEGER/);
  // Encoding rejects values that are not uint64 at all.
  assert.throws(() => kvrpcpb.Context.encode(kvrpcpb.Context.fromPartial({ regionId: -1 })), /too large/);
  assert.throws(() => kvrpcpb.Context.encode(kvrpcpb.Context.fromPartial({ regionId: 1.5 })), RangeError);
});

test('TinyKvService: 14 methods, paths and streaming modes', () => {
  const methods = Object.values(tinykvpb.TinyKvService);
  assert.equal(methods.length, 14);
  const byPath = new Map<string, (typeof methods)[number]>(methods.map((m) => [m.path, m]));
  const names = [
    'KvGet', 'KvScan', 'KvPrewrite', 'KvCommit', 'KvCheckTxnStatus', 'KvBatchRollback', 'KvResolveLock',
    'RawGet', 'RawPut', 'RawDelete', 'RawScan', 'Raft', 'Snapshot', 'Coprocessor',
  ];
  for (const name of names) {
    const m = byPath.get(`/tinykvpb.TinyKv/${name}`);
    assert.ok(m, `missing /tinykvpb.TinyKv/${name}`);
    const clientStreaming = name === 'Raft' || name === 'Snapshot';
    assert.equal(m.requestStream, clientStreaming, `${name} requestStream`);
    assert.equal(m.responseStream, false, `${name} responseStream`);
  }
  assert.equal(tinykvpb.TinyKvService.rawGet.path, '/tinykvpb.TinyKv/RawGet');
  // Serializers are the message codecs.
  const req = kvrpcpb.RawGetRequest.fromPartial({ key: b(1), cf: 'default' });
  const wire = tinykvpb.TinyKvService.rawGet.requestSerialize(req);
  assert.deepEqual(tinykvpb.TinyKvService.rawGet.requestDeserialize(wire), req);
  const done = tinykvpb.TinyKvService.raft.responseSerialize(raft_serverpb.Done.create());
  assert.equal(done.length, 0);
});

test('SchedulerService: 21 methods, Tso and RegionHeartbeat are bidi streams', () => {
  const methods = Object.values(schedulerpb.SchedulerService);
  assert.equal(methods.length, 21);
  const byPath = new Map<string, (typeof methods)[number]>(methods.map((m) => [m.path, m]));
  const names = [
    'GetMembers', 'Tso', 'Bootstrap', 'IsBootstrapped', 'AllocID', 'GetStore', 'PutStore', 'GetAllStores',
    'StoreHeartbeat', 'RegionHeartbeat', 'GetRegion', 'GetPrevRegion', 'GetRegionByID', 'ScanRegions',
    'AskSplit', 'GetClusterConfig', 'PutClusterConfig', 'ScatterRegion', 'GetGCSafePoint',
    'UpdateGCSafePoint', 'GetOperator',
  ];
  for (const name of names) {
    const m = byPath.get(`/schedulerpb.Scheduler/${name}`);
    assert.ok(m, `missing /schedulerpb.Scheduler/${name}`);
    const bidi = name === 'Tso' || name === 'RegionHeartbeat';
    assert.equal(m.requestStream, bidi, `${name} requestStream`);
    assert.equal(m.responseStream, bidi, `${name} responseStream`);
  }
  // GetPrevRegion takes GetRegionRequest; GetRegionByID answers GetRegionResponse.
  const prev = schedulerpb.SchedulerService.getPrevRegion;
  const reqBytes = prev.requestSerialize(schedulerpb.GetRegionRequest.fromPartial({ regionKey: b(1) }));
  assert.deepEqual([...prev.requestDeserialize(reqBytes).regionKey], [1]);
  const byId = schedulerpb.SchedulerService.getRegionById;
  const respBytes = byId.responseSerialize(schedulerpb.GetRegionResponse.fromPartial({ slaves: [peer] }));
  assert.equal(byId.responseDeserialize(respBytes).slaves[0]?.storeId, 4);
});
