/**
 * The HARD-CASES 3B rows about region ranges and splits, as scripted
 * scenario bodies: P1 (a scan's keyless Snap), P2 (a read view's region),
 * P3 (the split checker), P4 (stale split requests), P5 (a split applied
 * on a store no longer in the new region) and P7 (a snapshot overlapping a
 * region on the store). Assembled into scenarios by hard_cases_3b.ts; the
 * helpers are in hard_cases_support.ts.
 */
import { ConfChangeType } from '../../pb/eraftpb.js';
import type { Peer, Region, RegionEpoch } from '../../pb/metapb.js';
import type { RaftCmdRequest, RaftCmdResponse } from '../../pb/raft_cmdpb.js';
import type { RegionPeer } from '../../raftstore/peer.js';
import { compareBytes } from '../../util/bytes.js';
import { WORLD } from '../clock.js';
import type { Cluster } from './cluster.js';
import { FIRST_REGION_ID } from './cluster.js';
import {
  mustAddPeer, mustGet, mustGetEngineEqual, mustPut, mustRemovePeer, mustScan, runUntilTrue, scanAcross, text,
} from './harness.js';
import type { MarkHits } from './hard_cases_support.js';
import {
  AdminLink, adminCommand, changePeer, describePeers, errorOf, fail, keys, localPeer, mustAdmin, mustLocalLeader, mustSplit, peerOn, putAll,
  regionBytes, resetDelay, setDelay, split, waitUntilFine, warmUp,
} from './hard_cases_support.js';
import type { ClusterEnvelope } from './payload.js';
import type { ReplyTo } from './sim_store.js';

// ---- P1 ------------------------------------------------------------------

/**
 * P1: region checks on a request without a key. Schedule: 3 stores,
 * regions split at 300 bytes; put 40 keys (480 bytes) and wait for
 * the splits; then Snap (a scan's read view, no key) of every region,
 * region by region. Mark: "raftstore: split applied" (precondition: regions
 * with a non-empty start key exist). The key check itself has no mark:
 * checked explicitly: every Snap succeeds, including those of regions not
 * starting at "" (checking an absent key would answer KeyNotInRegion), and
 * the scan returns every key.
 */
export function p1Body(cluster: Cluster): void {
  const client = warmUp(cluster);
  const ks = keys('k', 40);
  for (const k of ks) mustPut(cluster, client, k, `value-${k}`);
  runUntilTrue(cluster, () => cluster.scheduler.allRegions().length >= 2, 15_000, 'region "" splits');
  let snaps = 0;
  let keyless = 0;
  cluster.tap = (e) => {
    if (e.payload.kind !== 'cmdResp' || e.to !== client.endpoint) return;
    const region = e.payload.response.responses[0]?.snap?.region;
    if (region === undefined || e.payload.response.header?.error !== undefined) return;
    snaps++;
    if (region.startKey.length > 0) keyless++;
  };
  const got = mustScan(cluster, client, 'k', 'l');
  cluster.tap = undefined;
  if (keyless === 0) fail('liveness', `P1: no Snap of a region with a non-empty start key succeeded (${snaps} Snaps)`);
  const want = ks.map((k) => `${k}=value-${k}`).join(',');
  if (got.map(([k, v]) => `${k}=${v}`).join(',') !== want) fail('safety', `P1: scan returned ${got.length} of ${ks.length} keys`);
}

// ---- P2 ------------------------------------------------------------------

/**
 * P2: a read view holds its region. Schedule: 3 stores; the leader's
 * answers to the client take 300 ms; scan [a, c) (a Snap); as soon as the
 * leader has answered it, split the region at "b00" (applies within the
 * 300 ms). Mark: "raftstore: split applied". The read view's copy has no
 * mark: checked explicitly: the split applied before the answer arrived;
 * the answer's region, as delivered, is still the range and epoch at the
 * read (not the shrunk region); the scan returned the whole pre-split range.
 */
export function p2Body(cluster: Cluster): void {
  const client = warmUp(cluster);
  const link = new AdminLink(cluster);
  const ks = [...keys('a', 10), ...keys('b', 10)];
  putAll(cluster, client, ks);
  const leader = mustLocalLeader(cluster, FIRST_REGION_ID);
  const atRead = describeRegion(leader.peer.region);
  let answer: { region: Region; copy: string } | undefined;
  cluster.tap = (e) => {
    const region = e.payload.kind === 'cmdResp' && e.to === client.endpoint ? e.payload.response.responses[0]?.snap?.region : undefined;
    if (region !== undefined) answer = { region, copy: describeRegion(region) };
  };
  setDelay(cluster, leader.storeId, client.endpoint, { minMs: 300, maxMs: 300 });
  let scanned: [string, string][] | undefined;
  let scannedAtMs = 0;
  scanAcross(cluster, client, 'a', 'c', (entries) => {
    scanned = entries;
    scannedAtMs = cluster.clock.nowMs;
  });
  runUntilTrue(cluster, () => answer !== undefined, 10_000, 'P2: the Snap is answered');
  cluster.tap = undefined;
  const newRegion = mustSplit(cluster, link, FIRST_REGION_ID, 'b00');
  const splitAtMs = cluster.clock.nowMs;
  runUntilTrue(cluster, () => scanned !== undefined, 20_000, 'P2: the scan completes');
  resetDelay(cluster, leader.storeId, client.endpoint);
  const a = answer as { region: Region; copy: string };
  if (!(splitAtMs < scannedAtMs)) fail('liveness', `P2: the split (${splitAtMs} ms) did not apply before the answer arrived (${scannedAtMs} ms)`);
  if (describeRegion(a.region) !== a.copy || a.copy !== atRead) {
    fail('safety', `P2: the read view's region changed after the read: ${describeRegion(a.region)}, was ${a.copy} (region at the read ${atRead})`);
  }
  if ((scanned ?? []).length !== ks.length) fail('safety', `P2: scan returned ${(scanned ?? []).length} of ${ks.length} keys`);
  if (mustGet(cluster, client, 'b05') !== 'v-b05') fail('safety', `P2: b05 lost after the split into region ${newRegion}`);
}

function describeRegion(r: Region): string {
  return `${r.id}[${text(r.startKey)},${text(r.endKey)}) v${r.regionEpoch?.version ?? '?'}/c${r.regionEpoch?.confVer ?? '?'} ${describePeers(r.peers)}`;
}

// ---- P3 ------------------------------------------------------------------

/**
 * P3: the split checker sees regions grow. Schedule: 3 stores, regions
 * split at 300 bytes (split size 200); only puts, no scan or get: 60 keys
 * of 24 bytes (1440 bytes). Mark: "raftstore: split key found" (the checker
 * ran on the size delta of applied puts), hit at least twice (estimates
 * reset after a split, the halves split again). Checks: within 15 s every
 * region is at most 300 bytes plus what the last delta may hold.
 */
export function p3Body(cluster: Cluster, hits: MarkHits): void {
  const client = warmUp(cluster);
  for (let i = 0; i < 60; i++) mustPut(cluster, client, `p${String(i).padStart(3, '0')}`, 'x'.repeat(20));
  const c = cluster.raftstoreConfig;
  const slack = c.regionSplitSizeBytes / 8 + 24;
  const oversized = (): string | undefined => {
    for (const r of cluster.scheduler.allRegions()) {
      const l = cluster.scheduler.leaderOf(r.id);
      if (l === undefined) return `region ${r.id} has no leader`;
      const size = regionBytes(cluster, l.storeId, r);
      if (size > c.regionMaxSizeBytes + slack) return `region ${r.id} holds ${size} bytes`;
    }
    return undefined;
  };
  waitUntilFine(cluster, oversized, 15_000, `P3: regions split to at most ${c.regionMaxSizeBytes} + ${slack} bytes`);
  const n = cluster.scheduler.allRegions().length;
  if (n < 4) fail('liveness', `P3: 1440 bytes in ${n} regions`);
  if (hits('raftstore: split key found') < 2) fail('liveness', 'P3: the split checker found a key only once');
}

// ---- P4 ------------------------------------------------------------------

/**
 * P4: a split request that no longer fits the region is refused. Schedule:
 * 3 stores; (1) two Splits at one epoch (keys k03 and k06, ids from
 * AskSplit) reach the leader in the same millisecond; (2) RemoveNode of a
 * follower and a Split with AskSplit ids for the 3 peers, both at the
 * current epoch, reach the leader in the same millisecond: the split passes
 * the propose checks and the removal applies before it; (3) with those 3
 * ids, Splits at the old epoch, at the current epoch (3 ids for 2 peers)
 * and with a key outside the region. Mark: "raftstore: split refused at
 * apply" (2). The stale split of (1) is refused at apply by the epoch check
 * (no mark there: checked by its answer). Checks: exactly one split of (1)
 * succeeds; (2)'s split and every (3) answer an error and change no region
 * (no region with a peer per stale id appears); data stays readable.
 */
export function p4Body(cluster: Cluster): void {
  const client = warmUp(cluster);
  const link = new AdminLink(cluster);
  putAll(cluster, client, keys('k', 10));
  const askIds = (r: Region): { newRegionId: number; newPeerIds: number[] } => {
    const a = cluster.scheduler.askSplit({ header: undefined, region: r });
    if (a.header?.error !== undefined) fail('liveness', `P4: AskSplit: ${a.header.error.message}`);
    return a;
  };
  /** Sends `build`'s commands so that they reach the leader in the same millisecond, in order. */
  const sameMs = (what: string, build: (region: Region, self: Peer) => RaftCmdRequest[]): RaftCmdResponse[] => {
    const l = mustLocalLeader(cluster, FIRST_REGION_ID);
    setDelay(cluster, link.endpoint, l.storeId, { minMs: 5, maxMs: 5 });
    const ids = build(l.peer.region, { id: l.peer.peerId, storeId: l.storeId }).map((req) => link.send(l.storeId, req));
    resetDelay(cluster, link.endpoint, l.storeId);
    return ids.map((id, i) => link.mustAnswer(id, `P4 ${what} #${i}`));
  };
  const pair = sameMs('two splits at one epoch', (region, self) => ['k03', 'k06'].map((key) => {
    const ids = askIds(region);
    return adminCommand(region, self, split(key, ids.newRegionId, ids.newPeerIds));
  }));
  const ok = pair.filter((r) => errorOf(r) === undefined).length;
  if (ok !== 1) fail('safety', `P4: ${ok} of two splits at one epoch succeeded (${pair.map((r) => errorOf(r) ?? 'ok').join('; ')})`);
  const left = mustLocalLeader(cluster, FIRST_REGION_ID).peer.region;
  const stale = askIds(left);
  const [removed, raced] = sameMs('removal racing a split', (region, self) => {
    const f = region.peers.find((p) => p.id !== self.id) as Peer;
    return [adminCommand(region, self, changePeer(ConfChangeType.RemoveNode, f)), adminCommand(region, self, split('k01', stale.newRegionId, stale.newPeerIds))];
  }) as [RaftCmdResponse, RaftCmdResponse];
  if (errorOf(removed) !== undefined) fail('liveness', `P4: the removal failed: ${errorOf(removed) ?? ''}`);
  if (errorOf(raced) === undefined) fail('safety', `P4: a split with ${stale.newPeerIds.length} new peer ids applied after a removal`);
  const cases: [string, (r: Region) => RegionEpoch | undefined, string][] = [
    ['the epoch before the removal', () => left.regionEpoch, 'k01'],
    ['3 peer ids for 2 peers', (r) => r.regionEpoch, 'k01'],
    ['a key outside the region', (r) => r.regionEpoch, 'zzz'],
  ];
  for (const [what, epoch, key] of cases) {
    const before = mustLocalLeader(cluster, FIRST_REGION_ID).peer.region;
    const resp = mustAdmin(cluster, link, FIRST_REGION_ID, `P4 split with ${what}`, (r, ldr) => adminCommand(r, ldr, split(key, stale.newRegionId, stale.newPeerIds), epoch(r)));
    if (errorOf(resp) === undefined) fail('safety', `P4: split with ${what} succeeded`);
    cluster.runFor(100);
    const now = mustLocalLeader(cluster, FIRST_REGION_ID).peer.region;
    if (describeRegion(now) !== describeRegion(before)) fail('safety', `P4: split with ${what} changed region ${describeRegion(before)} to ${describeRegion(now)}`);
  }
  if (cluster.scheduler.regionById(stale.newRegionId) !== undefined) fail('safety', `P4: region ${stale.newRegionId} of a stale split exists`);
  for (const k of ['k00', 'k05', 'k09']) if (mustGet(cluster, client, k) !== `v-${k}`) fail('safety', `P4: ${k} lost`);
}

// ---- P5, P7: a store lagging on region 1 while it splits -----------------

/** Drops every raft message of `regionId` to `storeId` (its other regions' traffic passes). */
function lagOn(cluster: Cluster, storeId: number, regionId: number): void {
  cluster.addMessageFilter(`region ${regionId} to store ${storeId}`, (e) => e.to === storeId && e.regionId === regionId && cluster.network.isServerLink(e.from, e.to));
}

/**
 * P5: a split applied on a store no longer in the new region. Schedule: 3
 * stores; region 1's messages to follower S are dropped; region 1 splits
 * at "m" (the new region R has a peer on S, by the parent's peers); R
 * removes S's peer through the scheduler; then the filter is lifted: S's
 * region 1 catches up and applies the split, which makes a stale peer of R
 * on S from the parent region as applied; R's members tell it to go. Marks:
 * "raftstore: peer not created, its range is owned by a region here" (R's
 * messages did not create a peer on S: only the split creates it) and
 * "raftstore: split applied". Checks: whenever S holds a peer of R, its
 * region has exactly the parent's stores and the split's ids; S's region 1
 * ends at "m"; S's peer of R is destroyed; no store holds R beyond the
 * scheduler's peers.
 */
export function p5Body(cluster: Cluster): void {
  const client = warmUp(cluster);
  const link = new AdminLink(cluster);
  putAll(cluster, client, [...keys('a', 5), ...keys('n', 5)]);
  const leader = mustLocalLeader(cluster, FIRST_REGION_ID);
  const parentStores = leader.peer.region.peers.map((p) => p.storeId).sort((a, b) => a - b).join(',');
  const s = cluster.storeIds.find((id) => id !== leader.storeId) as number;
  lagOn(cluster, s, FIRST_REGION_ID);
  const r = mustSplit(cluster, link, FIRST_REGION_ID, 'm');
  const right = cluster.scheduler.regionById(r) as Region;
  let watching = true;
  const watch = (): void => {
    const p = localPeer(cluster, s, r);
    if (p !== undefined && p.storage.isInitialized()) {
      const stores = p.region.peers.map((x) => x.storeId).sort((a, b) => a - b).join(',');
      if (stores !== parentStores || describePeers(p.region.peers) !== describePeers(right.peers)) {
        fail('safety', `P5: store ${s} holds region ${r} with peers ${describePeers(p.region.peers)}, the split made ${describePeers(right.peers)}`);
      }
    }
    if (watching) cluster.clock.schedule(5, WORLD, 'P5 watch', watch);
  };
  watch();
  mustPut(cluster, client, 'n90', 'right');
  mustRemovePeer(cluster, r, peerOn(right, s), 10_000);
  mustPut(cluster, client, 'n91', 'right');
  cluster.clearFilters();
  runUntilTrue(cluster, () => text(localPeer(cluster, s, FIRST_REGION_ID)?.region.endKey ?? Buffer.alloc(0)) === 'm', 10_000, `P5: store ${s} applies the split`);
  runUntilTrue(cluster, () => localPeer(cluster, s, r) === undefined, 15_000, `P5: store ${s} destroys its stale peer of region ${r}`);
  watching = false;
  const now = cluster.scheduler.regionById(r);
  if (now === undefined || now.peers.some((p) => p.storeId === s)) fail('safety', `P5: region ${r} is ${now === undefined ? 'unknown' : describePeers(now.peers)}`);
  mustGetEngineEqual(cluster, s, 'a04', 'v-a04');
}

/** Replayed snapshot streams get stream ids no sender uses (as in S1). */
const REPLAY_STREAM_OFFSET = 1_000_000;

/** Sends a recorded snapshot stream again, each chunk once the previous one arrived (a stream delayed in the network). */
function replayStream(cluster: Cluster, stream: readonly ClusterEnvelope[], onDone: (delivered: boolean) => void): void {
  const send = (i: number): void => {
    const e = stream[i];
    if (e === undefined || e.payload.kind !== 'snapChunk') return onDone(true);
    const payload = { ...e.payload, streamId: e.payload.streamId + REPLAY_STREAM_OFFSET };
    cluster.network.send({ ...e, payload }, (delivered) => (delivered ? send(i + 1) : onDone(false)));
  };
  send(0);
}

/**
 * P7: a snapshot whose range overlaps a region on the store. Schedule: 3
 * stores; remove follower S's peer of region 1, then add a new one while
 * the last chunk of every region-1 snapshot stream to S is dropped (S's
 * peer stays uninitialized; the full stream of a snapshot of the unsplit
 * region is recorded); split region 1 at "m": the new region R has a peer
 * on S, which R's leader creates and initializes with a snapshot of
 * [m, ""); then the recorded stream of region 1's old snapshot [, "")
 * arrives at S (a stream delayed in the network). Mark: "raftstore:
 * snapshot refused, its range overlaps another region here (P7)". Checks:
 * S's region 1 stays uninitialized and R keeps its range and data on S
 * (ranges never overlap: also asserted by the store meta and the region
 * invariants); once the filter is lifted, S's region 1 gets a snapshot of
 * ["", m) from its leader and holds region 1's data.
 */
export function p7Body(cluster: Cluster, hits: MarkHits): void {
  const client = warmUp(cluster);
  const link = new AdminLink(cluster);
  putAll(cluster, client, [...keys('a', 5), ...keys('n', 5)]);
  const leader = mustLocalLeader(cluster, FIRST_REGION_ID);
  const s = cluster.storeIds.find((id) => id !== leader.storeId) as number;
  mustRemovePeer(cluster, FIRST_REGION_ID, peerOn(leader.peer.region, s));
  runUntilTrue(cluster, () => localPeer(cluster, s, FIRST_REGION_ID) === undefined, 10_000, `P7: store ${s} destroys its removed peer`);
  const streams = new Map<number, ClusterEnvelope[]>();
  let complete: ClusterEnvelope[] | undefined;
  cluster.tap = (e) => {
    if (complete !== undefined || e.to !== s || e.regionId !== FIRST_REGION_ID || e.payload.kind !== 'snapChunk') return;
    const key = e.from * 2 ** 32 + e.payload.streamId;
    const stream = streams.get(key) ?? [];
    streams.set(key, stream);
    if (e.payload.chunk.message !== undefined) stream.length = 0;
    stream.push(e);
    if (e.payload.last) complete = stream;
  };
  cluster.addMessageFilter(`last snapshot chunk of region 1 to ${s}`, (e) => e.to === s && e.regionId === FIRST_REGION_ID && e.payload.kind === 'snapChunk' && e.payload.last && e.payload.streamId < REPLAY_STREAM_OFFSET);
  mustAddPeer(cluster, FIRST_REGION_ID, { id: cluster.scheduler.allocId(), storeId: s }, 10_000);
  runUntilTrue(cluster, () => complete !== undefined, 10_000, `P7: region 1 streams a snapshot to store ${s}`);
  cluster.tap = undefined;
  const r = mustSplit(cluster, link, FIRST_REGION_ID, 'm');
  const initialized = (regionId: number): boolean => localPeer(cluster, s, regionId)?.storage.isInitialized() === true;
  runUntilTrue(cluster, () => initialized(r), 10_000, `P7: store ${s} gets region ${r}`);
  const rangeOfR = describeRegion((localPeer(cluster, s, r) as RegionPeer<ReplyTo>).region);
  let replayed: boolean | undefined;
  replayStream(cluster, complete as ClusterEnvelope[], (delivered) => { replayed = delivered; });
  runUntilTrue(cluster, () => replayed !== undefined, 10_000, 'P7: the delayed stream arrives');
  cluster.runFor(50);
  const refused = 'raftstore: snapshot refused, its range overlaps another region here (P7)';
  if (hits(refused) === 0) fail('liveness', `P7: store ${s} got the old snapshot of region 1 (delivered: ${String(replayed)}) and did not refuse it`);
  if (initialized(FIRST_REGION_ID)) fail('safety', `P7: store ${s} initialized region 1 from a snapshot overlapping region ${r}`);
  const ranges = cluster.store(s).store?.ranges() ?? [];
  for (let i = 1; i < ranges.length; i++) {
    const a = ranges[i - 1] as (typeof ranges)[number];
    const b = ranges[i] as (typeof ranges)[number];
    if (a.endKey.length === 0 || compareBytes(a.endKey, b.startKey) > 0) fail('safety', `P7: store ${s}: regions ${a.regionId} and ${b.regionId} overlap`);
  }
  const nowR = localPeer(cluster, s, r);
  if (nowR === undefined || describeRegion(nowR.region) !== rangeOfR) fail('safety', `P7: region ${r} on store ${s} changed to ${nowR === undefined ? 'nothing' : describeRegion(nowR.region)}`);
  cluster.clearFilters();
  runUntilTrue(cluster, () => initialized(FIRST_REGION_ID), 15_000, `P7: store ${s} initializes region 1 once its snapshot fits`);
  mustGetEngineEqual(cluster, s, 'a04', 'v-a04');
  mustGetEngineEqual(cluster, s, 'n04', 'v-n04');
  const region1 = localPeer(cluster, s, FIRST_REGION_ID)?.region;
  if (region1 === undefined || text(region1.endKey) !== 'm') fail('safety', `P7: region 1 on store ${s} is ${region1 === undefined ? 'gone' : describeRegion(region1)}`);
}
