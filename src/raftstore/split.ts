/**
 * Region split (TinyKV 3B), as pure functions: the split checker that finds
 * a split key from a consistent view of the region's data, and the split
 * itself, validated against the region as applied so far.
 *
 * Split keys and transactional data. Percolator's data of one user key `k`
 * lies in three CFs under different keys: `k` in the lock CF,
 * `EncodeBytes(k) ++ ts` in the write and default CFs (TinyKV's byte
 * formats). Regions are ranges of user keys (clients route by user key) and
 * the engine holds each region's data as raw byte ranges of every CF, so a
 * region boundary `b` must put all of k's keys on the side k is on. Not
 * every `b` does: EncodeBytes puts a marker byte after each 8-byte group, so
 * for keys of 9 bytes and more, `k < b` and `EncodeBytes(k) > b` can both
 * hold, and a boundary taken from an encoded key would split one key's
 * versions apart. A boundary of at most 8 bytes whose last byte is not 0x00
 * is safe: for every k, `k < b` ⇔ `EncodeBytes(k) ++ anything < b` (the
 * comparison is decided in the first 8 bytes, where the encoding equals the
 * key, or by b's nonzero last byte against the encoding's zero padding).
 * With `txnSafeSplitKeys` (the default) the checker only picks such
 * boundaries: the user key of the entry at the split point (decoded when it
 * is an MVCC key), cut to 8 bytes and stripped of trailing 0x00 bytes. Keys
 * that share their first 8 bytes then stay in one region (docs/TXN.md). The
 * rule is a store setting, not a guess from the region's data: data can
 * arrive between the check and the split's apply. TiKV avoids the limit by
 * storing lock keys encoded too, which TinyKV's format does not.
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
import { decodeKey } from '../txn/codec.js';
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
export function checkSplit(reader: Reader, region: Region, maxSizeBytes: number, splitSizeBytes: number, txnSafe: boolean): SplitCheckResult {
  let size = 0;
  let splitKey: Buffer | undefined;
  const txn = txnSafe;
  // Txn-safe boundaries at or below the first entry's would leave the left half without data.
  let floor: Uint8Array = region.startKey;
  let first = true;
  for (const e of mergedEntries(reader, region)) {
    size += e.key.length + e.value.length;
    if (txn && first) {
      const bound = txnSafeBoundary(e.key);
      if (bound !== undefined && compareBytes(bound, floor) > 0) floor = bound;
    }
    first = false;
    if (splitKey === undefined && size > splitSizeBytes) {
      const candidate = txn ? txnSafeBoundary(e.key) : e.key;
      // Not at or before the region's first key: both halves must be non-empty ranges.
      if (candidate !== undefined && compareBytes(candidate, floor) > 0) splitKey = Buffer.from(candidate);
    }
    // Past the maximum only a split key is still wanted (the first entries may alone exceed it).
    if (size > maxSizeBytes && splitKey !== undefined) return { sizeBytes: size, splitKey };
  }
  return { sizeBytes: size, splitKey: size > maxSizeBytes ? splitKey : undefined };
}

/** At most 8 bytes, last byte not 0x00 (see the file comment). */
export function isTxnSafeBoundary(key: Uint8Array): boolean {
  return key.length > 0 && key.length <= TXN_BOUNDARY_BYTES_MAX && key[key.length - 1] !== 0;
}

const TXN_BOUNDARY_BYTES_MAX = 8;

/**
 * The txn-safe boundary at or before a stored key: its user key (an MVCC
 * key is decoded; a lock-CF or raw key is its own user key) cut to 8 bytes,
 * trailing 0x00 bytes dropped. Undefined when nothing is left.
 */
export function txnSafeBoundary(stored: Uint8Array): Uint8Array | undefined {
  let user = stored;
  try {
    user = decodeKey(stored).userKey;
  } catch {
    // Not an MVCC key: a lock-CF key or raw data, already a user key.
  }
  let end = Math.min(user.length, TXN_BOUNDARY_BYTES_MAX);
  while (end > 0 && user[end - 1] === 0) end--;
  return end === 0 ? undefined : user.subarray(0, end);
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
