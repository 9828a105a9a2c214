/** Small helpers shared by the raft core. */
import type { Entry } from './types.js';

/** Bytes an entry costs in a message (payload plus fixed overhead). */
export function entrySizeBytes(e: Entry): number {
  return e.data.length + 24;
}

/** Payload bytes of entries, for the uncommitted-size limit. */
export function payloadsSize(ents: readonly Entry[]): number {
  let s = 0;
  for (const e of ents) s += e.data.length;
  return s;
}

/** The longest prefix of `ents` within `maxSizeBytes`, but at least one entry. */
export function limitSize(ents: Entry[], maxSizeBytes: number): Entry[] {
  if (ents.length <= 1 || maxSizeBytes >= Number.MAX_SAFE_INTEGER) return ents;
  let size = entrySizeBytes(ents[0] as Entry);
  let limit = 1;
  for (; limit < ents.length; limit++) {
    size += entrySizeBytes(ents[limit] as Entry);
    if (size > maxSizeBytes) break;
  }
  return limit === ents.length ? ents : ents.slice(0, limit);
}

/** Sorted copy of a set or array of ids (deterministic iteration, STYLE.md 12). */
export function sortedIds(ids: Iterable<number>): number[] {
  return [...ids].sort((a, b) => a - b);
}
