/**
 * A client's view of the regions (TiKV client-go's region cache, reduced to
 * what our clients need): regions by id and by key, each with the leader
 * last heard of. Shared by the routing `RawClient` and the simulator's
 * client (`src/sim/cluster/cluster_client.ts`), which is why it stays
 * synchronous and free of I/O: the simulator replays it bit for bit.
 *
 * `byKey` scans every cached region, fine for the hundreds of regions a
 * client of this cluster sees; a sorted index would be the next step.
 */
import type { Peer, Region } from '../pb/metapb.js';
import { keyInRegion } from '../raftstore/cmd_check.js';
import { cloneRegion } from '../raftstore/responses.js';
import { isEpochStale, rangesOverlap } from '../raftstore/store_meta.js';

/** `peer` if it is a member of `region`. */
export function memberOf(peer: Peer | undefined, region: Region): Peer | undefined {
  return peer !== undefined && peer.id !== 0 && region.peers.some((p) => p.id === peer.id) ? peer : undefined;
}

export interface CachedRegion {
  readonly region: Region;
  leader: Peer | undefined;
}

/**
 * A client's regions and their leaders, never overlapping: a region enters
 * only when no overlapping cached region is as new (a split's regions have a
 * higher version than their parent: TinyKV's scheduler rule), and it evicts
 * the older regions it overlaps.
 */
export class RegionCache {
  private readonly regions = new Map<number, CachedRegion>();

  byId(id: number): CachedRegion | undefined {
    return this.regions.get(id);
  }

  byKey(key: Uint8Array): CachedRegion | undefined {
    for (const c of this.regions.values()) if (keyInRegion(key, c.region)) return c;
    return undefined;
  }

  put(region: Region, leader: Peer | undefined): void {
    // An uninitialized peer's region has no members: nothing to route to.
    if (region.peers.length === 0) return;
    const known = this.regions.get(region.id);
    if (known !== undefined && isEpochStale(region.regionEpoch, known.region.regionEpoch)) return;
    const version = region.regionEpoch?.version ?? 0;
    const overlapped: number[] = [];
    for (const [id, c] of this.regions) {
      if (id === region.id || !rangesOverlap(c.region, region)) continue;
      if ((c.region.regionEpoch?.version ?? 0) >= version) return;
      overlapped.push(id);
    }
    for (const id of overlapped) this.regions.delete(id);
    const keep = leader ?? memberOf(known?.leader, region);
    this.regions.set(region.id, { region: cloneRegion(region), leader: keep === undefined ? undefined : { ...keep } });
  }

  setLeader(regionId: number, leader: Peer | undefined): void {
    const c = this.regions.get(regionId);
    if (c !== undefined) c.leader = leader === undefined ? undefined : { ...leader };
  }

  drop(regionId: number): void {
    this.regions.delete(regionId);
  }
}
