/**
 * Test helpers shared by the scheduler tests: TinyKV's region fixtures
 * (`newTestRegions`, `SplitRegions`, `MergeRegions`, the `Clone(With...)`
 * options) and a cluster factory over {@link MemorySchedulerStorage}.
 */
import assert from 'node:assert/strict';
import type { Peer, Region } from '../pb/metapb.js';
import type { Operator, OperatorKind } from './operator.js';
import { RaftCluster } from './cluster.js';
import type { ScheduleConfig } from './config.js';
import { IdAllocator } from './id_allocator.js';
import { epochOf, newRegionInfo, withRegion } from './region_info.js';
import type { RegionInfo } from './region_info.js';
import { MemorySchedulerStorage } from './storage.js';

export function key(...bytes: number[]): Buffer {
  return Buffer.from(bytes);
}

export const EMPTY = Buffer.alloc(0);

/** A cluster over fresh memory storage, ids from 1000 up (TinyKV's mockid counts from its own base too). */
export function newTestCluster(opts: { config?: ScheduleConfig; nowMs?: number; storage?: MemorySchedulerStorage } = {}): { cluster: RaftCluster; storage: MemorySchedulerStorage } {
  const storage = opts.storage ?? new MemorySchedulerStorage({ idBound: 999 });
  const ids = new IdAllocator({ savedBound: 999, persist: (b) => storage.saveIdBound(b), step: 100 });
  const cluster = new RaftCluster({ storage, ids, nowMs: opts.nowMs ?? 0, ...(opts.config === undefined ? {} : { config: opts.config }) });
  return { cluster, storage };
}

/** TinyKV `newTestRegions(n, np)`: region i = id i, [i, i+1), epoch {2, 2}, peers i*np+j on store (i+j)%n, leader peer 0. */
export function newTestRegions(n: number, np: number): RegionInfo[] {
  const out: RegionInfo[] = [];
  for (let i = 0; i < n; i++) {
    const peers: Peer[] = [];
    for (let j = 0; j < np; j++) peers.push({ id: i * np + j, storeId: (i + j) % n });
    const meta: Region = { id: i, peers, startKey: key(i), endKey: key(i + 1), regionEpoch: { confVer: 2, version: 2 } };
    out.push(newRegionInfo(meta, peers[0]));
  }
  return out;
}

export function incVersion(r: RegionInfo): RegionInfo {
  const e = epochOf(r);
  return withRegion(r, { meta: { ...r.meta, regionEpoch: { confVer: e.confVer, version: e.version + 1 } } });
}

export function incConfVer(r: RegionInfo): RegionInfo {
  const e = epochOf(r);
  return withRegion(r, { meta: { ...r.meta, regionEpoch: { confVer: e.confVer + 1, version: e.version } } });
}

/** TinyKV `core.SetPeers`: the leader is kept only if it stays a peer. */
export function setPeers(r: RegionInfo, peers: readonly Peer[]): RegionInfo {
  const leader = r.leader !== undefined && peers.some((p) => p.id === r.leader?.id) ? r.leader : undefined;
  const pendingPeers = r.pendingPeers.filter((p) => peers.some((q) => q.id === p.id));
  return withRegion(r, { meta: { ...r.meta, peers: [...peers] }, leader, pendingPeers });
}

export function regionMeta(id: number, start: Buffer, end: Buffer, epoch: { confVer: number; version: number }, peers: Peer[] = []): Region {
  return { id, startKey: start, endKey: end, regionEpoch: { ...epoch }, peers };
}

/** TinyKV `core.SplitRegions`: each region splits at the middle of its first key bytes. */
export function splitRegions(regions: readonly RegionInfo[]): RegionInfo[] {
  const out: RegionInfo[] = [];
  for (const r of regions) {
    const start = r.meta.startKey.length > 0 ? (r.meta.startKey[0] as number) : 0;
    const end = r.meta.endKey.length > 0 ? (r.meta.endKey[0] as number) : 255;
    const middle = key(Math.floor(start / 2) + Math.floor(end / 2));
    const e = epochOf(r);
    const epoch = { confVer: e.confVer, version: e.version + 1 };
    out.push(withRegion(r, { meta: { ...r.meta, id: r.meta.id + regions.length, endKey: middle, regionEpoch: epoch } }));
    out.push(withRegion(r, { meta: { ...r.meta, id: r.meta.id + regions.length * 2, startKey: middle, regionEpoch: epoch } }));
  }
  return out;
}

/** TinyKV `core.MergeRegions`: adjacent pairs merge, taking the higher version + 1. */
export function mergeRegions(regions: readonly RegionInfo[]): RegionInfo[] {
  const out: RegionInfo[] = [];
  for (let i = 0; i < regions.length; i += 2) {
    const left = regions[i] as RegionInfo;
    const right = regions[i + 1] ?? left;
    const src = epochOf(left).version > epochOf(right).version ? epochOf(left) : epochOf(right);
    const meta = regionMeta(left.meta.id + regions.length, Buffer.from(left.meta.startKey), Buffer.from(right.meta.endKey), { confVer: src.confVer, version: src.version + 1 });
    out.push(newRegionInfo(meta, undefined));
  }
  return out;
}

// ---- TinyKV testutil operator checks ----


/** TinyKV `CheckTransferPeer`: add on target, (transfer leader from source,) remove source. */
export function checkTransferPeer(op: Operator | undefined, kind: OperatorKind, sourceId: number, targetId: number): Operator {
  assert.ok(op !== undefined, 'expected an operator');
  assert.equal(op.kind, kind);
  const [s0, s1, s2] = op.steps;
  assert.ok(s0?.type === 'addPeer' && s0.storeId === targetId, `first step should add a peer on ${targetId}: ${op.describe()}`);
  if (op.steps.length === 2) {
    assert.ok(s1?.type === 'removePeer' && s1.storeId === sourceId, `then remove ${sourceId}: ${op.describe()}`);
  } else {
    assert.equal(op.steps.length, 3, op.describe());
    assert.ok(s1?.type === 'transferLeader' && s1.fromStoreId === sourceId, `then transfer leader from ${sourceId}: ${op.describe()}`);
    assert.ok(s2?.type === 'removePeer' && s2.storeId === sourceId, `then remove ${sourceId}: ${op.describe()}`);
  }
  return op;
}

/** TinyKV `CheckTransferPeerWithLeaderTransfer`: the 3-step form. */
export function checkTransferPeerWithLeaderTransfer(op: Operator | undefined, kind: OperatorKind, sourceId: number, targetId: number): void {
  assert.equal(checkTransferPeer(op, kind, sourceId, targetId).steps.length, 3);
}

/** TinyKV `CheckTransferLeader`. */
export function checkTransferLeader(op: Operator | undefined, kind: OperatorKind, sourceId: number, targetId: number): void {
  assert.ok(op !== undefined, 'expected an operator');
  assert.equal(op.kind, kind);
  assert.deepEqual(op.steps, [{ type: 'transferLeader', fromStoreId: sourceId, toStoreId: targetId }]);
}

/** TinyKV `CheckAddPeer`. */
export function checkAddPeer(op: Operator | undefined, kind: OperatorKind, storeId: number): void {
  assert.ok(op !== undefined, 'expected an operator');
  assert.equal(op.kind, kind);
  assert.equal(op.steps.length, 1);
  assert.ok(op.steps[0]?.type === 'addPeer' && op.steps[0].storeId === storeId, op.describe());
}

/** TinyKV `CheckRemovePeer`: remove, possibly after moving leadership off the store. */
export function checkRemovePeer(op: Operator | undefined, storeId: number): void {
  assert.ok(op !== undefined, 'expected an operator');
  const last = op.steps[op.steps.length - 1];
  assert.ok(last?.type === 'removePeer' && last.storeId === storeId, op.describe());
  if (op.steps.length === 2) assert.ok(op.steps[0]?.type === 'transferLeader' && op.steps[0].fromStoreId === storeId, op.describe());
  else assert.equal(op.steps.length, 1, op.describe());
}
