/**
 * Every region the scheduler knows (TinyKV `core.RegionsInfo`): by id, a
 * range index sorted by start key (a sorted array with binary search: fine
 * for ~10k regions), and per-store indexes of the regions whose leader,
 * follower or pending peer lives there, with per-store counts and size sums
 * kept up to date on every change.
 *
 * This module applies what it is told; staleness is decided by the caller
 * (cluster.ts). Invariant: no two regions in the range index overlap, and the
 * range index and the by-id map hold the same regions.
 */
import type { Peer } from '../pb/metapb.js';
import { rangesOverlap } from '../raftstore/store_meta.js';
import { assert } from '../util/assert.js';
import { compareBytes, equalBytes } from '../util/bytes.js';
import type { Rng } from '../util/prng.js';
import { IdSet } from './_id_set.js';
import type { RegionInfo } from './region_info.js';

/** A predicate random selection applies to candidates (e.g. "has no operator"). */
export type RegionFilter = (region: RegionInfo) => boolean;

class StoreIndex {
  readonly leaders = new IdSet();
  readonly followers = new IdSet();
  readonly pending = new IdSet();
  /** Sums of approximateSize over the leader / all regions with a peer here (MiB). */
  leaderSize = 0;
  regionSize = 0;
}

export class RegionsInfo {
  private readonly byId = new Map<number, RegionInfo>();
  /** Sorted by start key. Invariant: non-overlapping; same objects as `byId`. */
  private readonly tree: RegionInfo[] = [];
  private readonly stores = new Map<number, StoreIndex>();

  /**
   * Puts `region`, replacing the region with its id and removing every
   * region overlapping its range (TinyKV `SetRegion`).
   * @returns the regions removed because they overlapped (not the one with the same id).
   */
  setRegion(region: RegionInfo): RegionInfo[] {
    const old = this.byId.get(region.meta.id);
    if (old !== undefined) this.removeRegion(old.meta.id);
    const overlaps = this.getOverlaps(region.meta.startKey, region.meta.endKey);
    for (const r of overlaps) this.removeRegion(r.meta.id);
    const at = this.lastStartingAtOrBefore(region.meta.startKey) + 1;
    const before = this.tree[at - 1];
    const after = this.tree[at];
    if (before !== undefined && rangesOverlap(before.meta, region.meta)) assert(false, `regions info: region ${region.meta.id} overlaps ${before.meta.id} after removing overlaps`);
    if (after !== undefined && rangesOverlap(after.meta, region.meta)) assert(false, `regions info: region ${region.meta.id} overlaps ${after.meta.id} after removing overlaps`);
    this.tree.splice(at, 0, region);
    this.byId.set(region.meta.id, region);
    this.index(region, +1);
    return overlaps;
  }

  /** Removes the region with this id, if present. @returns it. */
  removeRegion(regionId: number): RegionInfo | undefined {
    const region = this.byId.get(regionId);
    if (region === undefined) return undefined;
    const at = this.lastStartingAtOrBefore(region.meta.startKey);
    if (this.tree[at] !== region) assert(false, `regions info: region ${regionId} is not where the range index has it`);
    this.tree.splice(at, 1);
    this.byId.delete(regionId);
    this.index(region, -1);
    return region;
  }

  getRegion(regionId: number): RegionInfo | undefined {
    return this.byId.get(regionId);
  }

  /** The region containing `key` (TinyKV `SearchRegion`). */
  getRegionByKey(key: Uint8Array): RegionInfo | undefined {
    const r = this.tree[this.lastStartingAtOrBefore(key)];
    if (r === undefined) return undefined;
    return r.meta.endKey.length === 0 || compareBytes(key, r.meta.endKey) < 0 ? r : undefined;
  }

  /**
   * The region just before the one containing `key`, if both exist and are
   * adjacent (PD `SearchPrevRegion`).
   */
  getPrevRegion(key: Uint8Array): RegionInfo | undefined {
    const cur = this.getRegionByKey(key);
    if (cur === undefined) return undefined;
    const at = this.lastStartingAtOrBefore(cur.meta.startKey);
    const prev = this.tree[at - 1];
    return prev !== undefined && equalBytes(prev.meta.endKey, cur.meta.startKey) ? prev : undefined;
  }

  /**
   * Regions intersecting [startKey, endKey) in key order, at most `limit`
   * (≤ 0: no limit); an empty endKey is +infinity (PD `ScanRange`).
   */
  scanRegions(startKey: Uint8Array, endKey: Uint8Array, limit: number): RegionInfo[] {
    const out: RegionInfo[] = [];
    let i = this.lastStartingAtOrBefore(startKey);
    const first = this.tree[i];
    if (i < 0 || (first !== undefined && first.meta.endKey.length > 0 && compareBytes(first.meta.endKey, startKey) <= 0)) i++;
    for (; i < this.tree.length; i++) {
      if (limit > 0 && out.length >= limit) break;
      const r = this.tree[i] as RegionInfo;
      if (endKey.length > 0 && compareBytes(r.meta.startKey, endKey) >= 0) break;
      out.push(r);
    }
    return out;
  }

  /** All regions sharing a key with [startKey, endKey), in key order. */
  getOverlaps(startKey: Uint8Array, endKey: Uint8Array): RegionInfo[] {
    return this.scanRegions(startKey, endKey, 0).filter((r) => rangesOverlap(r.meta, { startKey, endKey }));
  }

  getRegionCount(): number {
    return this.byId.size;
  }

  /** All regions in key order. */
  getRegions(): RegionInfo[] {
    return [...this.tree];
  }

  getStoreRegionCount(storeId: number): number {
    const s = this.stores.get(storeId);
    return s === undefined ? 0 : s.leaders.size + s.followers.size;
  }

  getStoreLeaderCount(storeId: number): number {
    return this.stores.get(storeId)?.leaders.size ?? 0;
  }

  getStoreFollowerCount(storeId: number): number {
    return this.stores.get(storeId)?.followers.size ?? 0;
  }

  getStorePendingPeerCount(storeId: number): number {
    return this.stores.get(storeId)?.pending.size ?? 0;
  }

  getStoreLeaderRegionSize(storeId: number): number {
    return this.stores.get(storeId)?.leaderSize ?? 0;
  }

  getStoreRegionSize(storeId: number): number {
    return this.stores.get(storeId)?.regionSize ?? 0;
  }

  /** Whether `regionId`'s leader is on `storeId` (TinyKV `GetLeader(storeID, region) != nil`). */
  isLeaderOn(storeId: number, regionId: number): boolean {
    return this.stores.get(storeId)?.leaders.has(regionId) ?? false;
  }

  /** Whether `regionId` has a follower on `storeId` (TinyKV `GetFollower`). */
  isFollowerOn(storeId: number, regionId: number): boolean {
    return this.stores.get(storeId)?.followers.has(regionId) ?? false;
  }

  /** A random region whose leader is on `storeId` and that passes `filter`. */
  randLeaderRegion(storeId: number, rng: Rng, filter?: RegionFilter): RegionInfo | undefined {
    return this.pick(this.stores.get(storeId)?.leaders, rng, filter);
  }

  /** A random region with a follower on `storeId` that passes `filter`. */
  randFollowerRegion(storeId: number, rng: Rng, filter?: RegionFilter): RegionInfo | undefined {
    return this.pick(this.stores.get(storeId)?.followers, rng, filter);
  }

  /** A random region with a pending peer on `storeId` that passes `filter`. */
  randPendingRegion(storeId: number, rng: Rng, filter?: RegionFilter): RegionInfo | undefined {
    return this.pick(this.stores.get(storeId)?.pending, rng, filter);
  }

  /**
   * Recomputes every per-store aggregate from scratch and compares.
   * @throws {AssertionError} on any mismatch (for tests and the simulator).
   */
  checkInvariants(): void {
    assert(this.tree.length === this.byId.size, `regions info: range index has ${this.tree.length} regions, by-id map ${this.byId.size}`);
    for (let i = 1; i < this.tree.length; i++) {
      const a = (this.tree[i - 1] as RegionInfo).meta;
      const b = (this.tree[i] as RegionInfo).meta;
      if (!(compareBytes(a.startKey, b.startKey) < 0 && !rangesOverlap(a, b))) assert(false, `regions info: regions ${a.id} and ${b.id} out of order or overlapping`);
    }
    const expected = new RegionsInfoAggregates();
    for (const r of this.tree) expected.add(r);
    for (const [storeId, s] of this.stores) {
      const e = expected.of(storeId);
      const same = e.leaders === s.leaders.size && e.followers === s.followers.size && e.pending === s.pending.size
        && e.leaderSize === s.leaderSize && e.regionSize === s.regionSize;
      if (!same) assert(false, `regions info: store ${storeId} aggregates drifted`);
    }
  }

  private pick(set: IdSet | undefined, rng: Rng, filter: RegionFilter | undefined): RegionInfo | undefined {
    if (set === undefined || set.size === 0) return undefined;
    const start = rng.intInclusive(0, set.size - 1);
    for (let k = 0; k < set.size; k++) {
      const region = this.byId.get(set.get((start + k) % set.size));
      assert(region !== undefined, 'regions info: store index names an unknown region');
      if (filter === undefined || filter(region)) return region;
    }
    return undefined;
  }

  private index(region: RegionInfo, sign: 1 | -1): void {
    const id = region.meta.id;
    const size = region.approximateSize * sign;
    for (const p of region.meta.peers) {
      const s = this.storeIndex(p.storeId);
      const isLeader = region.leader !== undefined && p.id === region.leader.id;
      const set = isLeader ? s.leaders : s.followers;
      if (sign > 0) set.add(id);
      else set.delete(id);
      s.regionSize += size;
      if (isLeader) s.leaderSize += size;
    }
    for (const p of region.pendingPeers) {
      const s = this.storeIndex(p.storeId);
      if (sign > 0) s.pending.add(id);
      else s.pending.delete(id);
    }
  }

  private storeIndex(storeId: number): StoreIndex {
    let s = this.stores.get(storeId);
    if (s === undefined) {
      s = new StoreIndex();
      this.stores.set(storeId, s);
    }
    return s;
  }

  /** Index of the last region whose start key is <= key, or -1. */
  private lastStartingAtOrBefore(key: Uint8Array): number {
    let lo = 0;
    let hi = this.tree.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes((this.tree[mid] as RegionInfo).meta.startKey, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }
}

/** Naive recount used by {@link RegionsInfo.checkInvariants}. */
class RegionsInfoAggregates {
  private readonly m = new Map<number, { leaders: number; followers: number; pending: number; leaderSize: number; regionSize: number }>();

  of(storeId: number): { leaders: number; followers: number; pending: number; leaderSize: number; regionSize: number } {
    let e = this.m.get(storeId);
    if (e === undefined) {
      e = { leaders: 0, followers: 0, pending: 0, leaderSize: 0, regionSize: 0 };
      this.m.set(storeId, e);
    }
    return e;
  }

  add(r: RegionInfo): void {
    for (const p of r.meta.peers) {
      const e = this.of(p.storeId);
      const isLeader = r.leader !== undefined && p.id === r.leader.id;
      if (isLeader) { e.leaders++; e.leaderSize += r.approximateSize; } else e.followers++;
      e.regionSize += r.approximateSize;
    }
    for (const p of r.pendingPeers as readonly Peer[]) this.of(p.storeId).pending++;
  }
}
