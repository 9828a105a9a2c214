/**
 * One region as the scheduler knows it (TinyKV `core.RegionInfo`): the
 * metapb.Region its leader last reported, the leader, the peers the leader
 * counts as pending, and the approximate size. Values are immutable: the
 * scheduler copies what it is given and never mutates a RegionInfo after
 * creating it, so handing one out is safe.
 */
import type { Peer, Region, RegionEpoch } from '../pb/metapb.js';
import type { RegionHeartbeatRequest } from '../pb/schedulerpb.js';
import { assert } from '../util/assert.js';

export interface RegionInfo {
  /** Owned copy; never mutated. */
  readonly meta: Readonly<Region>;
  /** Undefined only in tests that build regions without a leader (TinyKV allows it). */
  readonly leader: Readonly<Peer> | undefined;
  /** Sorted by peer id. Invariant: each is a peer of `meta`. */
  readonly pendingPeers: readonly Readonly<Peer>[];
  /** Approximate size in MiB (TinyKV's unit). Invariant: a non-negative integer. */
  readonly approximateSize: number;
}

export const MIB = 1 << 20;

const EPOCH_ZERO: RegionEpoch = Object.freeze({ confVer: 0, version: 0 });

export function copyPeer(p: Readonly<Peer>): Peer {
  return { id: p.id, storeId: p.storeId };
}

export function copyRegion(r: Readonly<Region>): Region {
  return {
    id: r.id, startKey: Buffer.from(r.startKey), endKey: Buffer.from(r.endKey),
    regionEpoch: { ...(r.regionEpoch ?? EPOCH_ZERO) }, peers: r.peers.map(copyPeer),
  };
}

/**
 * A RegionInfo owning copies of its inputs.
 * @throws {AssertionError} when the size is not a non-negative integer, an id
 *   is not a non-negative safe integer, or a pending peer / the leader is not
 *   a peer of the region (TinyKV ids may be 0 in its tests, so 0 is allowed).
 */
export function newRegionInfo(
  meta: Readonly<Region>,
  leader: Readonly<Peer> | undefined,
  opts: { readonly pendingPeers?: readonly Readonly<Peer>[]; readonly approximateSize?: number } = {},
): RegionInfo {
  const region = copyRegion(meta);
  const size = opts.approximateSize ?? 0;
  if (!(Number.isSafeInteger(size) && size >= 0)) assert(false, `region ${region.id}: approximate size ${size} is not a non-negative integer`);
  checkId('region', region.id);
  for (const p of region.peers) { checkId('peer', p.id); checkId('store', p.storeId); }
  if (leader !== undefined && !region.peers.some((p) => p.id === leader.id)) {
    assert(false, `region ${region.id}: leader ${leader.id} is not one of its peers`);
  }
  const pending = (opts.pendingPeers ?? []).map(copyPeer).sort((a, b) => a.id - b.id);
  for (const p of pending) {
    if (!region.peers.some((q) => q.id === p.id)) assert(false, `region ${region.id}: pending peer ${p.id} is not one of its peers`);
  }
  return Object.freeze({ meta: region, leader: leader === undefined ? undefined : copyPeer(leader), pendingPeers: pending, approximateSize: size });
}

/** A copy of `r` with some fields replaced (TinyKV `RegionInfo.Clone(opts...)`). */
export function withRegion(
  r: RegionInfo,
  changes: { readonly meta?: Readonly<Region>; readonly leader?: Readonly<Peer> | undefined; readonly pendingPeers?: readonly Readonly<Peer>[]; readonly approximateSize?: number },
): RegionInfo {
  return newRegionInfo(changes.meta ?? r.meta, 'leader' in changes ? changes.leader : r.leader, {
    pendingPeers: changes.pendingPeers ?? r.pendingPeers, approximateSize: changes.approximateSize ?? r.approximateSize,
  });
}

/**
 * TinyKV `core.RegionFromHeartbeat`. The request's size is in bytes and the
 * scheduler counts MiB, as TinyKV does. Deviation: every region counts at
 * least 1 MiB (TinyKV: only a non-zero report). Our raftstore reports 0 until
 * its first split check, and zero-sized regions would make every store weigh
 * 0, so balance-region would never move anything in small clusters.
 * Pending peers not in the region are dropped (a report can race a conf change).
 * @throws {AssertionError} when the request has no region.
 */
export function regionInfoFromHeartbeat(req: Readonly<RegionHeartbeatRequest>): RegionInfo {
  const region = req.region;
  assert(region !== undefined, 'region heartbeat without a region');
  const ids = new Set(region.peers.map((p) => p.id));
  const leader = req.leader !== undefined && ids.has(req.leader.id) ? req.leader : undefined;
  return newRegionInfo(region, leader, {
    pendingPeers: req.pendingPeers.filter((p) => ids.has(p.id)),
    approximateSize: Math.max(1, Math.floor(req.approximateSize / MIB)),
  });
}

export function epochOf(r: RegionInfo): RegionEpoch {
  return r.meta.regionEpoch ?? EPOCH_ZERO;
}

/** The region's peer on `storeId`, if any (TinyKV `GetStorePeer`). */
export function storePeer(r: RegionInfo, storeId: number): Readonly<Peer> | undefined {
  return r.meta.peers.find((p) => p.storeId === storeId);
}

/** Store ids of all peers, sorted. */
export function regionStoreIds(r: RegionInfo): number[] {
  return r.meta.peers.map((p) => p.storeId).sort((a, b) => a - b);
}

/** Store ids of the peers that are not the leader, sorted (TinyKV `GetFollowers`). */
export function followerStoreIds(r: RegionInfo): number[] {
  return r.meta.peers.filter((p) => p.id !== r.leader?.id).map((p) => p.storeId).sort((a, b) => a - b);
}

export function isPendingPeer(r: RegionInfo, peerId: number): boolean {
  return r.pendingPeers.some((p) => p.id === peerId);
}

function checkId(what: string, id: number): void {
  if (!(Number.isSafeInteger(id) && id >= 0)) assert(false, `${what} id ${id} is not a non-negative safe integer`);
}
