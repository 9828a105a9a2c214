/**
 * TinyKV's MockSchedulerClient, the part the 2B/2C tests use: the regions it
 * knows, found by key or id, and each region's leader as leaders' heartbeats
 * report it. A heartbeat from an older epoch, or from a leader of an older
 * term than the one recorded, is ignored (the scheduler must not go back to
 * a deposed leader whose heartbeat arrives late). Operators, AskSplit and id
 * allocation come with issue 6.
 */
import type { Peer, Region, RegionEpoch } from '../../pb/metapb.js';
import { keyInRegion } from '../../raftstore/cmd_check.js';
import { cloneRegion } from '../../raftstore/responses.js';
import { assert } from '../../util/assert.js';
import { compareBytes } from '../../util/bytes.js';

interface RegionInfo {
  region: Region;
  leader: Peer | undefined;
  leaderTerm: number;
}

export class MockScheduler {
  private readonly regions = new Map<number, RegionInfo>();

  /** Registers the bootstrap region (TinyKV `Bootstrap`). */
  bootstrap(region: Region): void {
    assert(this.regions.size === 0, 'scheduler: already bootstrapped');
    this.regions.set(region.id, { region: cloneRegion(region), leader: undefined, leaderTerm: 0 });
  }

  regionHeartbeat(region: Region, leaderStoreId: number, leaderPeerId: number, term: number): void {
    const info = this.regions.get(region.id);
    if (info === undefined) {
      this.regions.set(region.id, { region: cloneRegion(region), leader: { id: leaderPeerId, storeId: leaderStoreId }, leaderTerm: term });
      return;
    }
    if (isStale(region.regionEpoch, info.region.regionEpoch)) return;
    info.region = cloneRegion(region);
    if (term >= info.leaderTerm) {
      info.leader = { id: leaderPeerId, storeId: leaderStoreId };
      info.leaderTerm = term;
    }
  }

  /** The region holding `key` (TinyKV `GetRegion`). */
  regionByKey(key: Uint8Array): Region | undefined {
    for (const info of this.regions.values()) if (keyInRegion(key, info.region)) return cloneRegion(info.region);
    return undefined;
  }

  regionById(id: number): Region | undefined {
    const info = this.regions.get(id);
    return info === undefined ? undefined : cloneRegion(info.region);
  }

  /** The leader the heartbeats last reported (TinyKV `LeaderOfRegion`, without the polling). */
  leaderOf(regionId: number): Peer | undefined {
    const leader = this.regions.get(regionId)?.leader;
    return leader === undefined ? undefined : { ...leader };
  }

  /** Regions in key order. */
  allRegions(): Region[] {
    return [...this.regions.values()].map((i) => cloneRegion(i.region)).sort((a, b) => compareBytes(a.startKey, b.startKey));
  }
}

function isStale(incoming: RegionEpoch | undefined, known: RegionEpoch | undefined): boolean {
  const a = incoming ?? { confVer: 0, version: 0 };
  const b = known ?? { confVer: 0, version: 0 };
  return a.version < b.version || a.confVer < b.confVer;
}
