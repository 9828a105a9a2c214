/**
 * Checks of request fields before they reach the scheduler core, whose
 * constructors assert (crash) on what a well-behaved store never sends: a
 * peer that is not a safe id, a region whose range is inverted. Each check
 * throws a {@link SchedulerError} INVALID_ARGUMENT, answered in the response
 * header. The decoder already refused integers beyond 2^53.
 */
import { schedulerKeyBytesMax, schedulerRegionPeersMax } from '../../config/limits.js';
import type { Peer, Region } from '../../pb/metapb.js';
import { compareBytes } from '../../util/bytes.js';
import { SchedulerError } from '../errors.js';

function invalid(message: string): never {
  throw new SchedulerError('INVALID_ARGUMENT', message);
}

/** @throws {SchedulerError} INVALID_ARGUMENT unless `id` is a positive safe integer. */
export function checkId(what: string, id: number): void {
  if (!(Number.isSafeInteger(id) && id > 0)) invalid(`${what} must be a positive id, got ${id}`);
}

/** @throws {SchedulerError} INVALID_ARGUMENT for a key longer than schedulerKeyBytesMax. */
export function checkKey(what: string, key: Uint8Array): void {
  if (key.length > schedulerKeyBytesMax) invalid(`${what} is ${key.length} bytes, the limit is ${schedulerKeyBytesMax}`);
}

/** @throws {SchedulerError} INVALID_ARGUMENT when absent. */
export function required<T>(what: string, value: T | undefined): T {
  if (value === undefined) invalid(`${what} is missing`);
  return value;
}

/** @throws {SchedulerError} INVALID_ARGUMENT for a peer without a positive id and store id. */
export function checkPeer(what: string, peer: Peer): void {
  checkId(`${what} id`, peer.id);
  checkId(`${what} store id`, peer.storeId);
}

/**
 * A region as a store reports it: positive ids, bounded keys, `start < end`
 * (an empty end is +infinity), at most schedulerRegionPeersMax peers with
 * distinct ids and stores.
 * @throws {SchedulerError} INVALID_ARGUMENT.
 */
export function checkRegion(region: Region): void {
  checkId('region id', region.id);
  checkKey(`region ${region.id} start key`, region.startKey);
  checkKey(`region ${region.id} end key`, region.endKey);
  if (region.endKey.length > 0 && compareBytes(region.startKey, region.endKey) >= 0) {
    invalid(`region ${region.id} has an empty or inverted range: its start key is not below its end key`);
  }
  if (region.peers.length > schedulerRegionPeersMax) invalid(`region ${region.id} has ${region.peers.length} peers, the limit is ${schedulerRegionPeersMax}`);
  const ids = new Set<number>();
  const stores = new Set<number>();
  for (const p of region.peers) {
    checkPeer(`region ${region.id} peer`, p);
    if (ids.has(p.id) || stores.has(p.storeId)) invalid(`region ${region.id} has two peers with id ${p.id} or on store ${p.storeId}`);
    ids.add(p.id);
    stores.add(p.storeId);
  }
}
