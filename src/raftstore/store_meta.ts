/**
 * What a store knows about its regions, apart from the peers themselves
 * (TinyKV `storeMeta`, TiKV `StoreMeta`):
 *
 * - the key ranges of its initialized regions, ordered, never overlapping
 *   (asserted on every change: two regions owning one key on a store would
 *   serve it twice);
 * - ranges claimed by snapshots that raft accepted and the store has not
 *   applied yet: a second snapshot overlapping one of them is refused
 *   (HARD-CASES P7), or both could apply;
 * - tombstones: the last region (and so epoch) of every peer destroyed here,
 *   so that messages from before the removal cannot resurrect it (P6).
 *
 * Only the store edits it (C2: one place changes store metadata).
 */
import type { Region, RegionEpoch } from '../pb/metapb.js';
import { assert } from '../util/assert.js';
import { compareBytes } from '../util/bytes.js';
import { cloneRegion } from './responses.js';

export interface KeyRange {
  readonly startKey: Uint8Array;
  /** Empty: unbounded. */
  readonly endKey: Uint8Array;
}

interface RangeEntry extends KeyRange {
  readonly regionId: number;
}

/** [a.start, a.end) and [b.start, b.end) share a key (empty end = unbounded). */
export function rangesOverlap(a: KeyRange, b: KeyRange): boolean {
  const aEndsBeforeB = a.endKey.length > 0 && compareBytes(a.endKey, b.startKey) <= 0;
  const bEndsBeforeA = b.endKey.length > 0 && compareBytes(b.endKey, a.startKey) <= 0;
  return !aEndsBeforeB && !bEndsBeforeA;
}

/** `a` is older than `b` in either component (TinyKV `util.IsEpochStale`). */
export function isEpochStale(a: RegionEpoch | undefined, b: RegionEpoch | undefined): boolean {
  const x = a ?? { confVer: 0, version: 0 };
  const y = b ?? { confVer: 0, version: 0 };
  return x.version < y.version || x.confVer < y.confVer;
}

export class StoreMeta {
  /** Initialized regions' ranges, sorted by start key. */
  private ranges: RangeEntry[] = [];
  private readonly pendingSnapshots = new Map<number, KeyRange>();
  private readonly tombstones = new Map<number, Region>();

  /** Sets (or moves) `region`'s range. @throws {AssertionError} if it overlaps another region's. */
  setRange(region: Region): void {
    const rest = this.ranges.filter((r) => r.regionId !== region.id);
    const entry: RangeEntry = { regionId: region.id, startKey: Buffer.from(region.startKey), endKey: Buffer.from(region.endKey) };
    for (const r of rest) {
      if (rangesOverlap(r, entry)) assert(false, `store meta: region ${region.id} ${describeRange(entry)} overlaps region ${r.regionId} ${describeRange(r)}`);
    }
    rest.push(entry);
    rest.sort((a, b) => compareBytes(a.startKey, b.startKey));
    this.ranges = rest;
  }

  removeRange(regionId: number): void {
    this.ranges = this.ranges.filter((r) => r.regionId !== regionId);
  }

  /** Region ids whose range (or pending snapshot's range) overlaps `range`, other than `except`. */
  overlapping(range: KeyRange, except: number): number[] {
    const out: number[] = [];
    for (const r of this.ranges) if (r.regionId !== except && rangesOverlap(r, range)) out.push(r.regionId);
    for (const [id, r] of this.pendingSnapshots) if (id !== except && rangesOverlap(r, range) && !out.includes(id)) out.push(id);
    return out;
  }

  /** The region id owning `key`, if an initialized region here does. */
  regionIdOfKey(key: Uint8Array): number | undefined {
    for (const r of this.ranges) {
      if (compareBytes(key, r.startKey) < 0) break;
      if (r.endKey.length === 0 || compareBytes(key, r.endKey) < 0) return r.regionId;
    }
    return undefined;
  }

  /** Ranges in key order (region invariant checks read them). */
  allRanges(): readonly (KeyRange & { readonly regionId: number })[] {
    return this.ranges;
  }

  addPendingSnapshot(regionId: number, range: KeyRange): void {
    this.pendingSnapshots.set(regionId, { startKey: Buffer.from(range.startKey), endKey: Buffer.from(range.endKey) });
  }

  removePendingSnapshot(regionId: number): void {
    this.pendingSnapshots.delete(regionId);
  }

  setTombstone(region: Region): void {
    this.tombstones.set(region.id, cloneRegion(region));
  }

  clearTombstone(regionId: number): void {
    this.tombstones.delete(regionId);
  }

  tombstone(regionId: number): Region | undefined {
    return this.tombstones.get(regionId);
  }
}

function describeRange(r: KeyRange): string {
  return `[${Buffer.from(r.startKey).toString('hex')}, ${r.endKey.length === 0 ? '∞' : Buffer.from(r.endKey).toString('hex')})`;
}
