/**
 * Shared placement rules of the schedulers and checkers: which stores may
 * take data, and the quorum-safety check every peer-changing plan passes.
 *
 * Quorum safety ("never below a majority of live peers"). A peer is live when
 * its store is known, not tombstone and not down. A peer a plan adds is not
 * live between its conf change and the end of its catch-up; the AddPeer step
 * only finishes once it is no longer pending, so later steps count it live. A pending peer on a live
 * store counts as live: it is behind but will catch up, and TinyKV's
 * TestReplacePendingRegion3C moves such regions.
 * Walking a plan's steps, after every conf change the live peers must still
 * be a majority of the new membership. One exception: adding a peer to a
 * region whose peers are all live, which is the only way to grow a region
 * from 1 replica (1 live of 2 is not a majority, and nothing better exists
 * without learners). Consequences:
 * - Replacing a down peer of a 3-replica region must REMOVE first: 3 peers /
 *   2 live → remove → 2 / 2 live → add → 3 / 2 live. Adding first would pass
 *   through 4 peers / 2 live, where one more failure (or just the new peer's
 *   snapshot still running) stops the region from committing.
 * - Moving a healthy peer (balance, offline store) must ADD first:
 *   3 / 3 live → 4 / 3 live → 3 / 2 live; removing first would pass through
 *   2 / 2, which loses the region on any single failure.
 * - A region that already lacks a live majority gets no plan at all: its
 *   conf changes could not commit anyway.
 */
import { assertNever } from '../util/assert.js';
import type { ScheduleConfig } from './config.js';
import type { OpStep } from './operator.js';
import type { RegionInfo } from './region_info.js';
import type { ScheduleCluster } from './schedule_cluster.js';
import type { StoreInfo } from './stores_info.js';

/** TinyKV balance-region's suitable store: Up and silent for less than MaxStoreDownTime. */
export function isSuitableStore(s: StoreInfo, nowMs: number, config: ScheduleConfig): boolean {
  return s.isUp() && s.downTimeMs(nowMs) < config.maxStoreDownTimeMs;
}

/** A store that may receive a new peer or leadership now: suitable, recently heard from, not busy. */
export function canTakeLoad(s: StoreInfo, nowMs: number, config: ScheduleConfig): boolean {
  return s.isUp() && s.downTimeMs(nowMs) < config.storeDisconnectTimeMs && !s.isBusy();
}

/**
 * Whether a peer on `storeId` is lost for good: the store is a tombstone or
 * down. A store the scheduler does not know is NOT lost: that only happens
 * when the scheduler lost its own data, and the peer may be fine (TinyKV
 * TestLostStore expects no operator then).
 */
export function isStoreLost(cluster: ScheduleCluster, storeId: number, nowMs: number): boolean {
  const s = cluster.getStore(storeId);
  return s !== undefined && (s.isTombstone() || s.isDown(nowMs, cluster.config.maxStoreDownTimeMs));
}

export function majority(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/**
 * Whether executing `steps` on `region` keeps a live majority after every
 * conf change (see the file comment).
 */
export function isQuorumSafe(cluster: ScheduleCluster, region: RegionInfo, steps: readonly OpStep[], nowMs: number): boolean {
  // storeId -> live?
  const members = new Map<number, boolean>();
  for (const p of region.meta.peers) members.set(p.storeId, !isStoreLost(cluster, p.storeId, nowMs));
  const liveCount = (): number => [...members.values()].filter((x) => x).length;
  if (liveCount() < majority(members.size)) return false;
  for (const s of steps) {
    switch (s.type) {
      case 'addPeer': {
        const allLive = liveCount() === members.size;
        // Between the conf change and the end of the catch-up the new peer holds no data...
        members.set(s.storeId, false);
        if (liveCount() < majority(members.size) && !allLive) return false;
        // ...and the step only finishes once the leader no longer reports it pending.
        members.set(s.storeId, true);
        break;
      }
      case 'removePeer':
        members.delete(s.storeId);
        if (members.size === 0 || liveCount() < majority(members.size)) return false;
        break;
      case 'transferLeader':
        break;
      default:
        assertNever(s);
    }
  }
  return true;
}
