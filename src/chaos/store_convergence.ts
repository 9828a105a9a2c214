/**
 * Convergence of the stores' data after the run, read from their LMDB
 * engines once every process has exited (an engine holds its data-dir lock
 * while open, so this must not run while a store does).
 *
 * What each store holds (raftstore/meta/keys.ts): RegionLocalState at
 * `0x01 0x03 <id> 0x01` (CF meta), RaftApplyState at `0x01 0x02 <id> 0x03`
 * (CF meta), and the raw KV data under the raw keys (CF default).
 *
 * Checks (the pure part is {@link compareStores}):
 * - replicas of a region (on 2+ stores, each a live member of it) at the same
 *   applied index have applied the same entries, so their region epochs and
 *   their data in the region's range must be identical; a difference is a
 *   divergence and fails the run;
 * - replicas at different applied indexes are counted as lagging (a follower
 *   that had not applied the last entries when the store stopped), not
 *   compared;
 * - the live regions of one store never overlap (fails the run);
 * - data of a store outside every region it holds is counted as orphan data
 *   (a destroyed peer's data left behind): reported, not failed.
 */
import type { Region } from '../pb/metapb.js';
import { PeerState, RaftApplyState, RegionLocalState, StoreIdent } from '../pb/raft_serverpb.js';
import { applyStateKey, LOCAL_PREFIX, REGION_META_PREFIX, REGION_STATE_SUFFIX, STORE_IDENT_KEY } from '../raftstore/meta/keys.js';
import { CF_DEFAULT, CF_META } from '../storage/engine.js';
import type { KvEntry } from '../storage/engine.js';
import { LmdbEngine } from '../storage/lmdb_engine.js';
import { compareBytes, equalBytes } from '../util/bytes.js';
import { decodeValue } from './workload.js';

/** One region's replica as a store holds it. */
export interface RegionReplica {
  readonly region: Region;
  readonly tombstone: boolean;
  /** The region lists a peer on this store (false: removed, waiting to be destroyed). */
  readonly member: boolean;
  readonly appliedIndex: number;
  /** Default-CF data inside the region's range (empty for tombstones). */
  readonly data: readonly KvEntry[];
}

export interface StoreContents {
  readonly storeId: number;
  readonly replicas: readonly RegionReplica[];
  /** Default-CF keys outside every non-tombstone region of the store. */
  readonly orphanKeys: readonly Uint8Array[];
}

export interface ConvergenceReport {
  readonly ok: boolean;
  readonly stores: number;
  /** Regions with 2+ live member replicas at a shared applied index, compared. */
  readonly regionsCompared: number;
  /** Regions whose live replicas are all at one applied index. */
  readonly regionsConverged: number;
  readonly regionsTotal: number;
  readonly replicasCompared: number;
  /** Live member replicas behind the highest applied index of their region. */
  readonly laggingReplicas: number;
  readonly tombstones: number;
  readonly removedPeers: number;
  readonly orphanKeys: number;
  /** Each divergence, described (fails the run). */
  readonly divergences: readonly string[];
  /** Overlapping regions on a store (fails the run). */
  readonly overlaps: readonly string[];
  /** Lagging replicas, described (first few). */
  readonly lagging: readonly string[];
}

/** Reads one store's regions, apply states and data. @throws {EngineError} when the dir is locked or unreadable */
export async function readStore(dataDir: string): Promise<StoreContents> {
  const engine = new LmdbEngine({ dataDir });
  try {
    const rawIdent = engine.get(CF_META, STORE_IDENT_KEY);
    const storeId = rawIdent === undefined ? 0 : StoreIdent.decode(rawIdent).storeId;
    const replicas: RegionReplica[] = [];
    const start = Uint8Array.of(LOCAL_PREFIX, REGION_META_PREFIX);
    const end = Uint8Array.of(LOCAL_PREFIX, REGION_META_PREFIX + 1);
    for (const { key, value } of engine.scan(CF_META, { start, end })) {
      if (key.length !== 11 || key[10] !== REGION_STATE_SUFFIX) continue;
      const state = RegionLocalState.decode(value);
      const region = state.region;
      if (region === undefined) continue;
      const tombstone = state.state === PeerState.Tombstone;
      const rawApply = engine.get(CF_META, applyStateKey(region.id));
      const appliedIndex = rawApply === undefined ? 0 : RaftApplyState.decode(rawApply).appliedIndex;
      const data = tombstone ? [] : [...engine.scan(CF_DEFAULT, { start: region.startKey, end: region.endKey })];
      replicas.push({ region, tombstone, member: region.peers.some((p) => p.storeId === storeId), appliedIndex, data });
    }
    const live = replicas.filter((r) => !r.tombstone);
    const orphanKeys: Uint8Array[] = [];
    for (const { key } of engine.scan(CF_DEFAULT)) {
      if (!live.some((r) => inRange(key, r.region))) orphanKeys.push(key);
    }
    return { storeId, replicas, orphanKeys };
  } finally {
    await engine.close();
  }
}

/** Compares the stores' replicas (see the file comment). Pure. */
export function compareStores(stores: readonly StoreContents[]): ConvergenceReport {
  const overlaps: string[] = [];
  const byRegion = new Map<number, { storeId: number; replica: RegionReplica }[]>();
  let tombstones = 0;
  let removedPeers = 0;
  let orphanKeys = 0;
  for (const s of stores) {
    orphanKeys += s.orphanKeys.length;
    const members = s.replicas.filter((r) => !r.tombstone && r.member);
    tombstones += s.replicas.filter((r) => r.tombstone).length;
    removedPeers += s.replicas.filter((r) => !r.tombstone && !r.member).length;
    overlaps.push(...findOverlaps(s.storeId, members.map((r) => r.region)));
    for (const replica of members) {
      const list = byRegion.get(replica.region.id) ?? [];
      list.push({ storeId: s.storeId, replica });
      byRegion.set(replica.region.id, list);
    }
  }
  const divergences: string[] = [];
  const lagging: string[] = [];
  let regionsCompared = 0;
  let regionsConverged = 0;
  let replicasCompared = 0;
  let laggingReplicas = 0;
  for (const [regionId, list] of [...byRegion].sort((a, b) => a[0] - b[0])) {
    const maxApplied = Math.max(...list.map((e) => e.replica.appliedIndex));
    const behind = list.filter((e) => e.replica.appliedIndex < maxApplied);
    laggingReplicas += behind.length;
    if (behind.length === 0) regionsConverged++;
    for (const e of behind) if (lagging.length < 10) lagging.push(`region ${regionId} on store ${e.storeId} at applied ${e.replica.appliedIndex} < ${maxApplied}`);
    let compared = false;
    for (const group of groupBy(list, (e) => e.replica.appliedIndex).values()) {
      if (group.length < 2) continue;
      compared = true;
      replicasCompared += group.length;
      const base = group[0] as (typeof group)[number];
      for (const other of group.slice(1)) {
        const d = replicaDifference(base.replica, other.replica);
        if (d !== undefined) divergences.push(`region ${regionId} at applied index ${base.replica.appliedIndex}: store ${base.storeId} and store ${other.storeId} differ: ${d}`);
      }
    }
    if (compared) regionsCompared++;
  }
  return {
    ok: divergences.length === 0 && overlaps.length === 0,
    stores: stores.length, regionsCompared, regionsConverged, regionsTotal: byRegion.size, replicasCompared,
    laggingReplicas, tombstones, removedPeers, orphanKeys, divergences, overlaps, lagging,
  };
}

/** How two replicas at one applied index differ, or undefined when they do not. */
function replicaDifference(a: RegionReplica, b: RegionReplica): string | undefined {
  const ea = a.region.regionEpoch;
  const eb = b.region.regionEpoch;
  if (ea?.version !== eb?.version || ea?.confVer !== eb?.confVer) {
    return `epoch v${ea?.version ?? '?'}/c${ea?.confVer ?? '?'} vs v${eb?.version ?? '?'}/c${eb?.confVer ?? '?'}`;
  }
  if (!equalBytes(a.region.startKey, b.region.startKey) || !equalBytes(a.region.endKey, b.region.endKey)) return 'key range differs';
  let i = 0;
  let j = 0;
  while (i < a.data.length || j < b.data.length) {
    const x = a.data[i];
    const y = b.data[j];
    const c = x === undefined ? 1 : y === undefined ? -1 : compareBytes(x.key, y.key);
    if (c === 0 && x !== undefined && y !== undefined) {
      if (!equalBytes(x.value, y.value)) return `key ${showKey(x.key)} is ${showValue(x.value)} vs ${showValue(y.value)}`;
      i++;
      j++;
    } else if (c < 0 && x !== undefined) return `key ${showKey(x.key)} is ${showValue(x.value)} vs absent`;
    else if (y !== undefined) return `key ${showKey(y.key)} is absent vs ${showValue(y.value)}`;
  }
  return undefined;
}

/** Overlapping pairs among one store's regions, described. */
export function findOverlaps(storeId: number, regions: readonly Region[]): string[] {
  const sorted = [...regions].sort((a, b) => compareBytes(a.startKey, b.startKey));
  const out: string[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1] as Region;
    const cur = sorted[i] as Region;
    // prev = [s, e) with an empty e meaning +infinity; it overlaps cur unless e <= cur.start.
    if (prev.endKey.length === 0 || compareBytes(prev.endKey, cur.startKey) > 0) {
      out.push(`store ${storeId}: region ${prev.id} [${showKey(prev.startKey)}, ${showKey(prev.endKey)}) overlaps region ${cur.id} [${showKey(cur.startKey)}, ${showKey(cur.endKey)})`);
    }
  }
  return out;
}

function inRange(key: Uint8Array, region: Region): boolean {
  return compareBytes(key, region.startKey) >= 0 && (region.endKey.length === 0 || compareBytes(key, region.endKey) < 0);
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => number): Map<number, T[]> {
  const m = new Map<number, T[]>();
  for (const item of items) {
    const k = keyOf(item);
    const list = m.get(k) ?? [];
    list.push(item);
    m.set(k, list);
  }
  return m;
}

function showKey(key: Uint8Array): string {
  return key.length === 0 ? '""' : JSON.stringify(new TextDecoder().decode(key));
}

function showValue(value: Uint8Array): string {
  return JSON.stringify(decodeValue(value));
}
