// Goal: a ChangePeer admin command becomes a raft ConfChange whose context is
// the whole encoded RaftCmdRequest (HARD-CASES C1), and malformed commands
// are refused before proposing; applying a committed conf change entry
// validates it against the region as applied so far: conf_ver must be the
// one the proposal saw, an added peer must be new and its store must hold no
// other peer of the region, a removed peer must be there on that store, and
// the entry's context must be the request for the entry's node. Success bumps
// conf_ver by one and leaves version alone; a refusal is EpochNotMatch (or
// InvalidRequest for a malformed entry) and changes nothing. Method: build
// requests by hand, turn them into entry data exactly as the proposer does
// (`ConfChange.encode(confChangeOf(req))`), and apply them to hand-built regions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChange, ConfChangeType } from '../pb/eraftpb.js';
import type { Error as RegionError } from '../pb/errorpb.js';
import type { Peer, Region, RegionEpoch } from '../pb/metapb.js';
import { AdminCmdType, RaftCmdRequest } from '../pb/raft_cmdpb.js';
import { applyChangePeer, confChangeOf } from './conf_change.js';
import type { AppliedChange, Refused } from './conf_change.js';
import { cloneRegion } from './responses.js';

const EPOCH: RegionEpoch = { confVer: 3, version: 5 };

/** Region 1 = [a, z) at EPOCH with peer i on store i, for i in 1..3. */
function region3(): Region {
  return {
    id: 1, startKey: Buffer.from('a'), endKey: Buffer.from('z'), regionEpoch: { ...EPOCH },
    peers: [{ id: 1, storeId: 1 }, { id: 2, storeId: 2 }, { id: 3, storeId: 3 }],
  };
}

/** `epoch: null` sends no epoch in the header. */
function changePeerReq(changeType: ConfChangeType, peer: Peer | undefined, epoch: RegionEpoch | null = EPOCH): RaftCmdRequest {
  return {
    header: { regionId: 1, peer: { id: 1, storeId: 1 }, regionEpoch: epoch === null ? undefined : { ...epoch }, term: 7 },
    requests: [],
    adminRequest: {
      cmdType: AdminCmdType.ChangePeer, changePeer: { changeType, peer },
      compactLog: undefined, transferLeader: undefined, split: undefined,
    },
  };
}

function isRefused<T extends object>(r: T | Refused): r is Refused {
  return 'error' in r;
}

function confChange(req: RaftCmdRequest): ConfChange {
  const cc = confChangeOf(req);
  if (isRefused(cc)) assert.fail(`refused: ${cc.error.message}`);
  return cc;
}

/** Entry data as the proposer writes it. */
function entryData(req: RaftCmdRequest): Uint8Array {
  return ConfChange.encode(confChange(req)).finish();
}

function applied(r: AppliedChange | Refused): AppliedChange {
  if (isRefused(r)) assert.fail(`refused: ${r.error.message}`);
  return r;
}

function refusal<T extends object>(r: T | Refused): RegionError {
  if (!isRefused(r)) assert.fail('expected a refusal');
  return r.error;
}

function assertInvalidRequest(r: object): void {
  const err = refusal(r);
  assert.match(err.message, /^InvalidRequest/);
  assert.equal(err.epochNotMatch, undefined);
}

/** Refused with EpochNotMatch carrying the region as it is; the region itself is untouched. */
function assertEpochNotMatch(r: object, region: Region, before: Region): void {
  const err = refusal(r);
  assert.deepEqual(err.epochNotMatch?.currentRegions, [before]);
  assert.deepEqual(region, before, 'region changed by a refused conf change');
}

// ---- confChangeOf ----

test('confChangeOf() carries the whole encoded request in the context (C1)', () => {
  for (const changeType of [ConfChangeType.AddNode, ConfChangeType.RemoveNode]) {
    const req = changePeerReq(changeType, { id: 4, storeId: 9 });
    const cc = confChange(req);
    assert.equal(cc.changeType, changeType);
    assert.equal(cc.nodeId, 4);
    assert.deepEqual(Buffer.from(cc.context), Buffer.from(RaftCmdRequest.encode(req).finish()));
    // The store id rides along, so apply never has to guess it.
    const decoded = RaftCmdRequest.decode(cc.context);
    assert.deepEqual(decoded.adminRequest?.changePeer?.peer, { id: 4, storeId: 9 });
    assert.deepEqual(decoded.header?.regionEpoch, EPOCH);
    assert.deepEqual(decoded, req);
  }
});

test('confChangeOf() refuses a command without a ChangePeer peer', () => {
  assertInvalidRequest(confChangeOf(changePeerReq(ConfChangeType.AddNode, undefined)));
  const noChangePeer = changePeerReq(ConfChangeType.AddNode, { id: 4, storeId: 4 });
  assert.ok(noChangePeer.adminRequest !== undefined);
  noChangePeer.adminRequest.changePeer = undefined;
  assertInvalidRequest(confChangeOf(noChangePeer));
  assertInvalidRequest(confChangeOf({ ...noChangePeer, adminRequest: undefined }));
});

test('confChangeOf() refuses zero peer or store ids', () => {
  assertInvalidRequest(confChangeOf(changePeerReq(ConfChangeType.AddNode, { id: 0, storeId: 4 })));
  assertInvalidRequest(confChangeOf(changePeerReq(ConfChangeType.AddNode, { id: 4, storeId: 0 })));
  assertInvalidRequest(confChangeOf(changePeerReq(ConfChangeType.RemoveNode, { id: 0, storeId: 0 })));
});

test('confChangeOf() refuses change types other than AddNode and RemoveNode', () => {
  for (const changeType of [ConfChangeType.AddLearnerNode, ConfChangeType.UNRECOGNIZED, 7 as ConfChangeType]) {
    assertInvalidRequest(confChangeOf(changePeerReq(changeType, { id: 4, storeId: 4 })));
  }
});

// ---- applyChangePeer: add ----

test('applyChangePeer() adds a new peer: appended, conf_ver + 1, version unchanged', () => {
  const region = region3();
  const before = cloneRegion(region);
  const res = applied(applyChangePeer(region, entryData(changePeerReq(ConfChangeType.AddNode, { id: 4, storeId: 4 }))));
  assert.equal(res.changeType, ConfChangeType.AddNode);
  assert.deepEqual(res.peer, { id: 4, storeId: 4 });
  assert.deepEqual(res.region, {
    ...before,
    regionEpoch: { confVer: EPOCH.confVer + 1, version: EPOCH.version },
    peers: [...before.peers, { id: 4, storeId: 4 }],
  });
  assert.deepEqual(region, before, 'the input region is not mutated');
});

test('applyChangePeer() on a region without an epoch treats it as {0, 0}', () => {
  const region = { ...region3(), regionEpoch: undefined };
  const data = entryData(changePeerReq(ConfChangeType.AddNode, { id: 4, storeId: 4 }, { confVer: 0, version: 0 }));
  assert.deepEqual(applied(applyChangePeer(region, data)).region.regionEpoch, { confVer: 1, version: 0 });
});

test('applyChangePeer() refuses adding a peer that is already there', () => {
  const region = region3();
  const before = cloneRegion(region);
  assertEpochNotMatch(applyChangePeer(region, entryData(changePeerReq(ConfChangeType.AddNode, { id: 2, storeId: 2 }))), region, before);
});

test('applyChangePeer() refuses a second peer of the region on one store', () => {
  const region = region3();
  const before = cloneRegion(region);
  // A new peer id on store 3, which already holds peer 3.
  assertEpochNotMatch(applyChangePeer(region, entryData(changePeerReq(ConfChangeType.AddNode, { id: 9, storeId: 3 }))), region, before);
  // An existing peer id claimed for another store.
  assertEpochNotMatch(applyChangePeer(region, entryData(changePeerReq(ConfChangeType.AddNode, { id: 2, storeId: 8 }))), region, before);
});

test('an add proposed twice at one conf_ver applies once; the second is stale', () => {
  // A re-sent scheduler operator: both proposals saw EPOCH.
  const data = entryData(changePeerReq(ConfChangeType.AddNode, { id: 4, storeId: 4 }));
  const once = applied(applyChangePeer(region3(), data)).region;
  const before = cloneRegion(once);
  assertEpochNotMatch(applyChangePeer(once, data), once, before);
});

// ---- applyChangePeer: remove ----

test('applyChangePeer() removes a present peer: conf_ver + 1, version unchanged, others keep their order', () => {
  const region = region3();
  const before = cloneRegion(region);
  const res = applied(applyChangePeer(region, entryData(changePeerReq(ConfChangeType.RemoveNode, { id: 2, storeId: 2 }))));
  assert.equal(res.changeType, ConfChangeType.RemoveNode);
  assert.deepEqual(res.peer, { id: 2, storeId: 2 });
  assert.deepEqual(res.region.peers, [{ id: 1, storeId: 1 }, { id: 3, storeId: 3 }]);
  assert.deepEqual(res.region.regionEpoch, { confVer: EPOCH.confVer + 1, version: EPOCH.version });
  assert.deepEqual(region, before, 'the input region is not mutated');
});

test('applyChangePeer() refuses removing an absent peer or a peer named with the wrong store', () => {
  const region = region3();
  const before = cloneRegion(region);
  assertEpochNotMatch(applyChangePeer(region, entryData(changePeerReq(ConfChangeType.RemoveNode, { id: 4, storeId: 4 }))), region, before);
  assertEpochNotMatch(applyChangePeer(region, entryData(changePeerReq(ConfChangeType.RemoveNode, { id: 2, storeId: 3 }))), region, before);
});

// ---- applyChangePeer: epoch ----

test('applyChangePeer() refuses a change proposed at another conf_ver', () => {
  const region = region3();
  const before = cloneRegion(region);
  for (const epoch of [{ confVer: EPOCH.confVer - 1, version: EPOCH.version }, { confVer: EPOCH.confVer + 1, version: EPOCH.version }]) {
    assertEpochNotMatch(applyChangePeer(region, entryData(changePeerReq(ConfChangeType.AddNode, { id: 4, storeId: 4 }, epoch))), region, before);
    assertEpochNotMatch(applyChangePeer(region, entryData(changePeerReq(ConfChangeType.RemoveNode, { id: 3, storeId: 3 }, epoch))), region, before);
  }
  // A request without an epoch cannot be checked, so it is refused too.
  assertEpochNotMatch(applyChangePeer(region, entryData(changePeerReq(ConfChangeType.AddNode, { id: 4, storeId: 4 }, null))), region, before);
});

test('applyChangePeer() ignores the version: a split in between does not stale a conf change', () => {
  // TinyKV CheckRegionEpoch: ChangePeer depends on conf_ver only.
  const data = entryData(changePeerReq(ConfChangeType.AddNode, { id: 4, storeId: 4 }, { confVer: EPOCH.confVer, version: EPOCH.version - 1 }));
  const res = applied(applyChangePeer(region3(), data));
  assert.deepEqual(res.region.regionEpoch, { confVer: EPOCH.confVer + 1, version: EPOCH.version });
});

// ---- applyChangePeer: entry payload (C1) ----

test('applyChangePeer() refuses an entry whose context is not the request for its node', () => {
  const region = region3();
  const before = cloneRegion(region);
  const cc = confChange(changePeerReq(ConfChangeType.AddNode, { id: 4, storeId: 4 }));
  // The node id says 5, the request inside says peer 4.
  assertInvalidRequest(applyChangePeer(region, ConfChange.encode({ ...cc, nodeId: 5 }).finish()));
  // The change type says remove, the request says add.
  assertInvalidRequest(applyChangePeer(region, ConfChange.encode({ ...cc, changeType: ConfChangeType.RemoveNode }).finish()));
  // No request at all (an etcd-style conf change with an empty context).
  assertInvalidRequest(applyChangePeer(region, ConfChange.encode({ ...cc, context: Buffer.alloc(0) }).finish()));
  // A context with a request but no ChangePeer peer.
  const noPeer = changePeerReq(ConfChangeType.AddNode, undefined);
  assertInvalidRequest(applyChangePeer(region, ConfChange.encode({ ...cc, context: Buffer.from(RaftCmdRequest.encode(noPeer).finish()) }).finish()));
  assert.deepEqual(region, before);
});

// C1: apply validates the payload, including its change type (an entry only a
// raft-level proposal or corruption could carry must not remove a peer).
test('applyChangePeer() refuses a change type other than AddNode/RemoveNode', () => {
  const region = region3();
  const before = cloneRegion(region);
  const req = changePeerReq(ConfChangeType.AddLearnerNode, { id: 3, storeId: 3 });
  const data = ConfChange.encode({
    changeType: ConfChangeType.AddLearnerNode, nodeId: 3, context: Buffer.from(RaftCmdRequest.encode(req).finish()),
  }).finish();
  assertInvalidRequest(applyChangePeer(region, data));
  assert.deepEqual(region, before);
});
