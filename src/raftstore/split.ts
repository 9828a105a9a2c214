/**
 * Region split (TinyKV 3B), as pure functions: the split checker that finds
 * a split key from a consistent view of the region's data, and the split
 * itself, validated against the region as applied so far.
 *
 * HARD-CASES P3: the checker only runs when apply has seen enough new bytes
 * (the peer keeps a size delta), and a split resets the estimates. P4: a
 * split request is checked against the current region at apply (epoch
 * version, split key strictly inside the range, one new peer id per peer)
 * and refused when stale. P5: the new region's peers are derived from the
 * current region's peers, in order, paired with the new ids.
 */
import type { Region } from '../pb/metapb.js';
import type { RaftCmdRequest } from '../pb/raft_cmdpb.js';
import { DATA_CFS } from '../storage/engine.js';
import type { Reader } from '../storage/engine.js';
import type { KvEntry } from '../storage/engine.js';
import { compareBytes } from '../util/bytes.js';
import type { Refused } from './conf_change.js';
import { keyInRegion } from './cmd_check.js';
import { epochNotMatch, invalidRequest } from './region_errors.js';
import { cloneRegion } from './responses.js';

export interface SplitCheckResult {
  /** Bytes of keys and values in the region, over every data CF, counted up to the limit. */
  readonly sizeBytes: number;
  /** Set when the region is larger than the maximum. */
  readonly splitKey: Buffer | undefined;
}

/**
 * Walks the region's data in key order across the data CFs (TinyKV's checker
 * sums key and value bytes) and picks the first key at which the running
 * size passes `splitSizeBytes`, if the whole exceeds `maxSizeBytes`. Stops
 * counting at the maximum: the size then only says "more than that".
 */
export function checkSplit(reader: Reader, region: Region, maxSizeBytes: number, splitSizeBytes: number): SplitCheckResult {
  let size = 0;
  let splitKey: Buffer | undefined;
  for (const e of mergedEntries(reader, region)) {
    size += e.key.length + e.value.length;
    // Not the region's first key: both halves must be non-empty ranges.
    if (splitKey === undefined && size > splitSizeBytes && compareBytes(e.key, region.startKey) > 0) splitKey = Buffer.from(e.key);
    // Past the maximum only a split key is still wanted (the first entries may alone exceed it).
    if (size > maxSizeBytes && splitKey !== undefined) return { sizeBytes: size, splitKey };
  }
  return { sizeBytes: size, splitKey: size > maxSizeBytes ? splitKey : undefined };
}

/** Entries of every data CF in the region's range, merged in key order. */
function* mergedEntries(reader: Reader, region: Region): Generator<KvEntry> {
  const its = DATA_CFS.map((cf) => reader.scan(cf, { start: region.startKey, end: region.endKey }));
  const heads: (KvEntry | undefined)[] = its.map((it) => next(it));
  for (;;) {
    let min = -1;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i];
      if (h !== undefined && (min < 0 || compareBytes(h.key, (heads[min] as KvEntry).key) < 0)) min = i;
    }
    if (min < 0) return;
    yield heads[min] as KvEntry;
    heads[min] = next(its[min] as Iterator<KvEntry>);
  }
}

function next(it: Iterator<KvEntry>): KvEntry | undefined {
  const r = it.next();
  return r.done === true ? undefined : r.value;
}

export interface AppliedSplit {
  /** The parent, shrunk to [start, split key), with the parent's id. */
  readonly left: Region;
  /** The new region [split key, end). */
  readonly right: Region;
}

/** The two regions after applying a Split admin command, or the error to answer when it is stale or malformed. */
export function applySplit(region: Region, request: RaftCmdRequest): AppliedSplit | Refused {
  const split = request.adminRequest?.split;
  if (split === undefined) return { error: invalidRequest('Split without body') };
  const epoch = region.regionEpoch ?? { confVer: 0, version: 0 };
  const seen = request.header?.regionEpoch;
  if (seen === undefined || seen.version !== epoch.version || seen.confVer !== epoch.confVer) {
    return { error: epochNotMatch(`split proposed at {conf_ver ${seen?.confVer ?? '?'}, version ${seen?.version ?? '?'}}, region is at {${epoch.confVer}, ${epoch.version}}`, [cloneRegion(region)]) };
  }
  const key = split.splitKey;
  if (key.length === 0 || !keyInRegion(key, region) || compareBytes(key, region.startKey) === 0) {
    return { error: invalidRequest(`split key ${key.toString('hex')} is not strictly inside region ${region.id}`) };
  }
  if (split.newPeerIds.length !== region.peers.length) {
    return { error: epochNotMatch(`split has ${split.newPeerIds.length} new peer ids for ${region.peers.length} peers`, [cloneRegion(region)]) };
  }
  const ids = new Set(split.newPeerIds);
  if (!(split.newRegionId > 0 && split.newRegionId !== region.id) || ids.size !== split.newPeerIds.length || split.newPeerIds.some((id) => !(id > 0))) {
    return { error: invalidRequest(`split with region id ${split.newRegionId} and peer ids ${split.newPeerIds.join(',')}`) };
  }
  const version = epoch.version + 1;
  const left = cloneRegion(region);
  left.endKey = Buffer.from(key);
  left.regionEpoch = { confVer: epoch.confVer, version };
  const right: Region = {
    id: split.newRegionId,
    startKey: Buffer.from(key),
    endKey: Buffer.from(region.endKey),
    regionEpoch: { confVer: epoch.confVer, version },
    peers: region.peers.map((p, i) => ({ id: split.newPeerIds[i] as number, storeId: p.storeId })),
  };
  return { left, right };
}
