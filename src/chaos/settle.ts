/**
 * Settling after the faults stop: wait (bounded) until the scheduler's
 * regions cover the key space exactly once and every region has its full
 * replica count and a leader. This is the liveness half of the chaos test: a
 * cluster that never settles after every process is back fails the run.
 */
import { PdClient } from '../client/scheduler_client.js';
import type { RegionInfo } from '../client/scheduler_client.js';
import { compareBytes } from '../util/bytes.js';
import { sleep } from './workload.js';

export interface RegionsSummary {
  readonly count: number;
  /** Highest `regionEpoch.version` (one per split, so splits happened when > 1). */
  readonly maxVersion: number;
  readonly maxConfVer: number;
  readonly withLeader: number;
  /** Regions whose peer count is not the wanted replica count. */
  readonly misreplicated: number;
}

export interface SettleResult {
  readonly settled: boolean;
  /** How long the wait took, ms. */
  readonly ms: number;
  /** Why not settled (the last check's complaint), or 'ok'. */
  readonly detail: string;
  /** The scheduler's regions at the last check (undefined if it never answered). */
  readonly regions: RegionsSummary | undefined;
}

const POLL_MS = 500;
const CALL_DEADLINE_MS = 3_000;

/** Polls the scheduler until the cluster settles or `timeoutMs` passes. */
export async function waitSettled(pdAddr: string, replicas: number, timeoutMs: number): Promise<SettleResult> {
  const started = performance.now();
  const pd = new PdClient({ addrs: pdAddr, deadlineMs: CALL_DEADLINE_MS });
  let last: { readonly detail: string; readonly regions: RegionsSummary | undefined } = { detail: 'the scheduler never answered', regions: undefined };
  try {
    for (;;) {
      last = await checkOnce(pd, replicas, last.regions);
      if (last.detail === 'ok') return { settled: true, ms: Math.round(performance.now() - started), ...last };
      if (performance.now() - started + POLL_MS > timeoutMs) break;
      await sleep(POLL_MS);
    }
  } finally {
    pd.close();
  }
  return { settled: false, ms: Math.round(performance.now() - started), ...last };
}

/** One look at the scheduler's regions: 'ok', or what keeps them from being settled. */
async function checkOnce(pd: PdClient, replicas: number, previous: RegionsSummary | undefined): Promise<{ readonly detail: string; readonly regions: RegionsSummary | undefined }> {
  try {
    const infos = await pd.scanRegions(new Uint8Array(), new Uint8Array(), 0);
    return { detail: settleProblem(infos, replicas) ?? 'ok', regions: summarize(infos, replicas) };
  } catch (err: unknown) {
    return { detail: `scheduler: ${err instanceof Error ? err.message : String(err)}`, regions: previous };
  }
}

export function summarize(infos: readonly RegionInfo[], replicas: number): RegionsSummary {
  let maxVersion = 0;
  let maxConfVer = 0;
  for (const { region } of infos) {
    maxVersion = Math.max(maxVersion, region.regionEpoch?.version ?? 0);
    maxConfVer = Math.max(maxConfVer, region.regionEpoch?.confVer ?? 0);
  }
  return {
    count: infos.length,
    maxVersion,
    maxConfVer,
    withLeader: infos.filter((i) => i.leader !== undefined).length,
    misreplicated: infos.filter((i) => i.region.peers.length !== replicas).length,
  };
}

/** What keeps the regions from being settled, or undefined when they are. */
export function settleProblem(infos: readonly RegionInfo[], replicas: number): string | undefined {
  if (infos.length === 0) return 'the scheduler knows no region';
  const sorted = [...infos].sort((a, b) => compareBytes(a.region.startKey, b.region.startKey));
  let expectedStart: Uint8Array = new Uint8Array();
  for (const { region, leader } of sorted) {
    if (compareBytes(region.startKey, expectedStart) !== 0) {
      return `regions do not tile the key space: region ${region.id} starts at ${show(region.startKey)}, expected ${show(expectedStart)}`;
    }
    if (region.peers.length !== replicas) return `region ${region.id} has ${region.peers.length} peers, want ${replicas}`;
    if (leader === undefined) return `region ${region.id} has no leader`;
    if (region.endKey.length === 0) {
      if (region !== sorted[sorted.length - 1]?.region) return `region ${region.id} ends the key space but is not the last`;
      return undefined;
    }
    expectedStart = region.endKey;
  }
  return `the last region ends at ${show(expectedStart)}, not at the end of the key space`;
}

function show(key: Uint8Array): string {
  return key.length === 0 ? '""' : JSON.stringify(new TextDecoder().decode(key));
}
