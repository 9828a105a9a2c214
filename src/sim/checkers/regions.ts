/**
 * Region invariants of a multi-raft cluster, checked while it runs and after
 * it converged (issue 6):
 * - on every store, a region's epoch never goes back (neither conf_ver nor
 *   version), across restarts too: the region state is synced with the
 *   change that bumped it;
 * - on every store, no two regions overlap (the store asserts it on every
 *   change; checked here from the outside as well);
 * - in the scheduler's view after convergence, every key is covered by
 *   exactly one region.
 */
import type { Region, RegionEpoch } from '../../pb/metapb.js';
import { compareBytes } from '../../util/bytes.js';

export class RegionInvariants {
  /** "<store>:<region>" → the newest epoch seen. */
  private readonly epochs = new Map<string, RegionEpoch>();

  /** One store's initialized regions at one moment; returns the violation, if any. */
  observe(storeId: number, regions: readonly Region[]): string | undefined {
    for (const r of regions) {
      const key = `${storeId}:${r.id}`;
      const now = r.regionEpoch ?? { confVer: 0, version: 0 };
      const seen = this.epochs.get(key);
      if (seen !== undefined && (now.confVer < seen.confVer || now.version < seen.version)) {
        return `store ${storeId}: region ${r.id} epoch went back from {conf_ver ${seen.confVer}, version ${seen.version}} to {${now.confVer}, ${now.version}}`;
      }
      this.epochs.set(key, { confVer: now.confVer, version: now.version });
    }
    const sorted = [...regions].sort((a, b) => compareBytes(a.startKey, b.startKey));
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1] as Region;
      const cur = sorted[i] as Region;
      if (prev.endKey.length === 0 || compareBytes(prev.endKey, cur.startKey) > 0) {
        return `store ${storeId}: regions ${prev.id} and ${cur.id} overlap`;
      }
    }
    return undefined;
  }
}

/** The scheduler's regions cover the key space exactly once; returns the gap or overlap found, if any. */
export function checkCoverage(regions: readonly Region[]): string | undefined {
  const sorted = [...regions].sort((a, b) => compareBytes(a.startKey, b.startKey));
  let expected: Uint8Array = Buffer.alloc(0);
  for (const r of sorted) {
    if (compareBytes(r.startKey, expected) !== 0) {
      return `key space not covered exactly once: region ${r.id} starts at ${hex(r.startKey)}, expected ${hex(expected)}`;
    }
    if (r.endKey.length === 0) {
      return r === sorted[sorted.length - 1] ? undefined : `region ${r.id} is unbounded but is not the last region`;
    }
    expected = r.endKey;
  }
  return `key space not covered to the end: last region ends at ${hex(expected)}`;
}

function hex(b: Uint8Array): string {
  return b.length === 0 ? '""' : Buffer.from(b).toString('hex');
}
