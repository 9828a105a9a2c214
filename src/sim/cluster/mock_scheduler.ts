/**
 * TinyKV's MockSchedulerClient (kv/test_raftstore/scheduler.go) for the
 * simulator: id allocation, the regions the leaders report (a range index by
 * start key plus a view by id), each region's leader, pending peers, AskSplit,
 * and one scheduling operator per region (AddPeer / RemovePeer /
 * TransferLeader) that rides on the heartbeat response until it is finished.
 * Everything is synchronous and deterministic: no timers, no randomness except
 * the Prng a caller passes to {@link MockScheduler.randomRegion}, and no
 * clock except the virtual time a caller passes to {@link MockScheduler.tso}
 * (the scheduler's timestamp oracle, TinyKV's `GetTS`).
 *
 * Kept from TinyKV:
 * - `allocId` counts up from `firstId` (TinyKV: baseID = store count + 1).
 * - A heartbeat records pending peers and the leader before its epoch is
 *   checked, so a new leader that has not yet applied the latest split is
 *   still found by clients.
 * - handleHeartbeatVersion: a region whose version is higher than that of
 *   every region it overlaps replaces them all; otherwise it is stale and
 *   ignored (same version and a different overlapping region included).
 * - handleHeartbeatConfVersion: conf changes happen one peer at a time. TinyKV
 *   panics; here an {@link AssertionError} fails the seed, because a broken
 *   rule means the raftstore applied something it must not have.
 * - The pending operator is re-sent on every heartbeat until it is finished,
 *   so the raftstore must tolerate duplicate conf changes and transfers.
 *   AddPeer sends AddNode until the peer is in the region, then sends nothing
 *   until the peer is no longer pending, then finishes.
 *
 * Changed (all stricter, or fixes of TinyKV quirks):
 * - Term rule: a heartbeat whose leader reports a lower raft term than the
 *   recorded leader's replaces neither the leader nor the pending peers, and
 *   gets no operator (TinyKV's `leaders[region] = req.Leader` lets a deposed
 *   leader's late heartbeat win, and then LeaderOfRegion points at it).
 * - Every region id's last accepted report is remembered, even after a newer
 *   overlapping region removed it from the range index (tombstones remember
 *   epochs). Epochs are checked against it: a report older in both parts is
 *   ignored; newer in one part and older in the other fails an assertion (the
 *   peers of one raft group applied different logs). TinyKV compares only with
 *   whatever region sits at the reported start key.
 * - The one-peer-per-conf_ver rule is checked for any jump, not only +1: each
 *   conf change toggles one peer, so after a jump of d the peer sets differ by
 *   at most d peers, with d's parity. A confVer bump that changes no peer (a
 *   duplicate AddNode/RemoveNode applied as a change) fails it, as in TinyKV.
 *   TinyKV's odd "same peer count ⇒ version+1" branch is dropped.
 * - Further assertions: start < end, unique peer ids, one peer per store, the
 *   same version ⇒ the same range, a newer version ⇒ a sub-range (TinyKV has
 *   splits and no merges), the same conf_ver ⇒ the same peers.
 * - The range index finds every overlapping region, not just the one holding
 *   the start key (TinyKV inserts a region that overlaps only at its end).
 * - `regionById` of an id missing from the range index is undefined (TinyKV's
 *   GetRegionByID then looks up the empty key and returns another region).
 * - `randomRegion` picks among the indexed regions in id order with the given
 *   Prng (TinyKV takes the first key of a Go map).
 * - AskSplit answers errors in `header.error` and compares the epoch with the
 *   region id's last accepted report.
 * - The response to an accepted heartbeat is returned (TinyKV calls the leader
 *   store's handler with it); a stale heartbeat returns undefined.
 */
import { ConfChangeType } from '../../pb/eraftpb.js';
import type { Peer, Region, RegionEpoch } from '../../pb/metapb.js';
import { ErrorType } from '../../pb/schedulerpb.js';
import type {
  AskSplitRequest, AskSplitResponse, RegionHeartbeatRequest, RegionHeartbeatResponse, ResponseHeader, StoreHeartbeatRequest, StoreStats,
} from '../../pb/schedulerpb.js';
import { keyInRegion } from '../../raftstore/cmd_check.js';
import { cloneRegion } from '../../raftstore/responses.js';
import { isEpochStale, rangesOverlap } from '../../raftstore/store_meta.js';
import { assert, assertNever, AssertionError } from '../../util/assert.js';
import { compareBytes, equalBytes, formatKey } from '../../util/bytes.js';
import { mark } from '../../util/marks.js';
import { pick } from '../prng.js';
import type { Prng } from '../prng.js';

/** A scheduling operator (TinyKV `Operator`); at most one per region. */
export type Operator =
  | { readonly kind: 'addPeer'; readonly peer: Peer }
  | { readonly kind: 'removePeer'; readonly peer: Peer }
  | { readonly kind: 'transferLeader'; readonly peer: Peer };

interface LeaderInfo {
  readonly peer: Peer;
  /** The leader's raft term; undefined when the heartbeat gave none. */
  readonly term: number | undefined;
}

const EPOCH_ZERO: RegionEpoch = { confVer: 0, version: 0 };

/** TSO logical bits (TinyKV / PD: ts = physical << 18 | logical). */
const TSO_LOGICAL_BITS = 18n;

export class MockScheduler {
  private readonly clusterId: number;
  /** The next id `allocId` returns. */
  private nextId: number;
  /** The range index: sorted by start key. Invariant: no two entries overlap. */
  private readonly index: Region[] = [];
  /** The same Region objects as `index`, by id. */
  private readonly indexed = new Map<number, Region>();
  /** Every region id's last accepted report; never deleted (tombstones remember epochs). */
  private readonly lastAccepted = new Map<number, Region>();
  private readonly storeStats = new Map<number, StoreStats>();
  private readonly leaders = new Map<number, LeaderInfo>();
  /** Peer id → peer, as the latest accepted leaders report them (TinyKV `pendingPeers`). */
  private readonly pending = new Map<number, Peer>();
  private readonly operators = new Map<number, Operator>();
  /** The last timestamp the TSO handed out (0: none yet). Invariant: only grows. */
  private lastTs = 0n;

  /**
   * @param firstId the first id `allocId` returns; TinyKV uses store count + 1,
   *   above the bootstrap region's ids.
   * @param clusterId put in response headers. @default 0 (TinyKV's test cluster)
   */
  constructor(firstId: number, clusterId = 0) {
    assert(Number.isSafeInteger(firstId) && firstId >= 1, `Cannot create the mock scheduler: first id ${firstId} is not a positive integer`);
    this.nextId = firstId;
    this.clusterId = clusterId;
  }

  /**
   * A timestamp from the TSO (PD's layout: physical ms << 18 | logical), with
   * `nowMs` (virtual ms since the cluster started) as the physical part.
   * Strictly greater than every timestamp handed out before: within one ms,
   * the logical part counts up (past 2^18 of them, the physical part runs
   * ahead of the clock, as PD's does until its clock catches up).
   */
  tso(nowMs: number): bigint {
    assert(Number.isSafeInteger(nowMs) && nowMs >= 0, `mock scheduler: bad TSO time ${nowMs}`);
    const physical = BigInt(nowMs) << TSO_LOGICAL_BITS;
    const ts = physical > this.lastTs ? physical : this.lastTs + 1n;
    assert(ts > this.lastTs, 'mock scheduler: TSO went backwards');
    this.lastTs = ts;
    return ts;
  }

  /** TinyKV `StoreHeartbeat` (its mock ignores it): the latest stats of each store are kept for checks. */
  storeHeartbeat(req: StoreHeartbeatRequest): void {
    const stats = req.stats;
    assert(stats !== undefined && stats.storeId > 0, 'mock scheduler: store heartbeat without stats');
    this.storeStats.set(stats.storeId, { ...stats });
  }

  /** The last stats store `storeId` reported, if any. */
  lastStoreStats(storeId: number): StoreStats | undefined {
    const s = this.storeStats.get(storeId);
    return s === undefined ? undefined : { ...s };
  }

  /** A new globally unique id for a region or a peer (TinyKV `AllocID`). */
  allocId(): number {
    const id = this.nextId;
    this.nextId++;
    assert(Number.isSafeInteger(this.nextId), 'mock scheduler: ids exhausted');
    return id;
  }

  /**
   * Registers the bootstrap region (TinyKV `Bootstrap` + the first heartbeat).
   * @throws {AssertionError} when already bootstrapped, or when an id of the
   *   region is not below the first allocated id (allocId would reuse it).
   */
  bootstrap(region: Region): void {
    assert(this.lastAccepted.size === 0, 'mock scheduler: already bootstrapped');
    checkRegionShape(region);
    for (const id of [region.id, ...region.peers.map((p) => p.id)]) {
      assert(id < this.nextId, `Cannot bootstrap region ${region.id}: id ${id} is not below the first allocated id ${this.nextId}`);
    }
    this.accept(region, []);
  }

  /**
   * TinyKV `RegionHeartbeat`, sent by a region's leader. `term` is the
   * leader's raft term (the pb request has no such field); without it the
   * leader is recorded unconditionally, as in TinyKV.
   * @returns the response for the leader store (with `changePeer` or
   *   `transferLeader` set when an operator is pending), or undefined when the
   *   region's epoch is stale and the heartbeat was ignored.
   * @throws {AssertionError} when the report breaks a raftstore invariant (see the file comment).
   */
  regionHeartbeat(req: RegionHeartbeatRequest, term?: number): RegionHeartbeatResponse | undefined {
    return this.heartbeat(req, term);
  }

  /**
   * TinyKV `AskSplit`: a new region id plus one new peer id per peer of the
   * request's region, in order. Errors (in `header.error`) when the region
   * was never reported or the request's epoch is older than the last accepted one.
   */
  askSplit(req: AskSplitRequest): AskSplitResponse {
    const region = req.region;
    assert(region !== undefined, 'mock scheduler: AskSplit without a region');
    const known = this.lastAccepted.get(region.id);
    if (known === undefined) {
      return this.splitError(ErrorType.REGION_NOT_FOUND, `Cannot split region ${region.id}: the scheduler does not know it`);
    }
    if (isEpochStale(region.regionEpoch, known.regionEpoch)) {
      return this.splitError(ErrorType.UNKNOWN, `Cannot split region ${region.id}: epoch is stale, ${describeEpoch(region.regionEpoch)} is older than the known ${describeEpoch(known.regionEpoch)}`);
    }
    const newRegionId = this.allocId();
    const newPeerIds = region.peers.map(() => this.allocId());
    return { header: this.header(), newRegionId, newPeerIds };
  }

  /** Schedules AddNode of `peer` (TinyKV `AddPeer`), replacing the region's pending operator. */
  addPeer(regionId: number, peer: Peer): void {
    this.schedule(regionId, { kind: 'addPeer', peer: { ...peer } });
  }

  /** Schedules RemoveNode of `peer` (TinyKV `RemovePeer`), replacing the region's pending operator. */
  removePeer(regionId: number, peer: Peer): void {
    this.schedule(regionId, { kind: 'removePeer', peer: { ...peer } });
  }

  /** Schedules a leader transfer to `peer` (TinyKV `TransferLeader`), replacing the region's pending operator. */
  transferLeader(regionId: number, peer: Peer): void {
    this.schedule(regionId, { kind: 'transferLeader', peer: { ...peer } });
  }

  /** The region's unfinished operator, if any. */
  operatorOf(regionId: number): Operator | undefined {
    const op = this.operators.get(regionId);
    return op === undefined ? undefined : { kind: op.kind, peer: { ...op.peer } };
  }

  /** The region holding `key` in the range index (TinyKV `GetRegion`). */
  regionByKey(key: Uint8Array): Region | undefined {
    const i = this.lastStartingAtOrBefore(key);
    const region = i < 0 ? undefined : this.index[i];
    return region !== undefined && keyInRegion(key, region) ? cloneRegion(region) : undefined;
  }

  /** The indexed region with this id (TinyKV `GetRegionByID`). */
  regionById(id: number): Region | undefined {
    const region = this.indexed.get(id);
    return region === undefined ? undefined : cloneRegion(region);
  }

  /**
   * The leader the heartbeats last reported (TinyKV `LeaderOfRegion`, without
   * the polling). Known even while the region is missing from the range index.
   */
  leaderOf(regionId: number): Peer | undefined {
    const leader = this.leaders.get(regionId);
    return leader === undefined ? undefined : { ...leader.peer };
  }

  /** Regions in key order. */
  allRegions(): Region[] {
    return this.index.map(cloneRegion);
  }

  /**
   * Whether the indexed region has exactly `peer` (same id on the same store):
   * TinyKV `MustHavePeer` polls for true, `MustNonePeer` for false.
   */
  hasPeer(regionId: number, peer: Peer): boolean {
    const region = this.indexed.get(regionId);
    return region !== undefined && region.peers.some((p) => p.id === peer.id && p.storeId === peer.storeId);
  }

  /** Whether the latest leader report counts the peer as pending. */
  isPending(peerId: number): boolean {
    return this.pending.has(peerId);
  }

  /** The indexed region's peers that its leader reports as pending, by id. */
  pendingPeers(regionId: number): Peer[] {
    const region = this.indexed.get(regionId);
    if (region === undefined) return [];
    return region.peers.filter((p) => this.pending.has(p.id)).map((p) => ({ ...p })).sort((a, b) => a.id - b.id);
  }

  /** One indexed region, chosen with `prng` among them in id order (TinyKV `getRandomRegion`). */
  randomRegion(prng: Prng): Region | undefined {
    if (this.indexed.size === 0) return undefined;
    const ids = [...this.indexed.keys()].sort((a, b) => a - b);
    const region = this.indexed.get(pick(prng, ids));
    assert(region !== undefined, 'mock scheduler: indexed id without a region');
    return cloneRegion(region);
  }

  private heartbeat(req: RegionHeartbeatRequest, term: number | undefined): RegionHeartbeatResponse | undefined {
    const region = req.region;
    const leader = req.leader;
    assert(region !== undefined, 'mock scheduler: heartbeat without a region');
    if (leader === undefined) assert(false, `mock scheduler: heartbeat of region ${region.id} without a leader`);
    if (term !== undefined && !Number.isSafeInteger(term)) assert(false, `mock scheduler: heartbeat of region ${region.id} with bad term ${term}`);
    checkRegionShape(region);
    const fromLeader = this.recordLeader(region.id, leader, term);
    if (fromLeader) {
      for (const p of region.peers) this.pending.delete(p.id);
      for (const p of req.pendingPeers) this.pending.set(p.id, { ...p });
    }
    if (!this.tryAccept(region)) {
      mark('mock scheduler: stale heartbeat ignored');
      return undefined;
    }
    const resp: RegionHeartbeatResponse = {
      header: this.header(), changePeer: undefined, transferLeader: undefined, regionId: region.id,
      regionEpoch: { ...(region.regionEpoch ?? EPOCH_ZERO) }, targetPeer: { ...leader },
    };
    if (fromLeader) this.attachOperator(region, leader, resp);
    return resp;
  }

  /** Records `leader` unless the recorded one reported a higher term. @returns whether it was recorded. */
  private recordLeader(regionId: number, leader: Peer, term: number | undefined): boolean {
    const known = this.leaders.get(regionId);
    if (term !== undefined && known?.term !== undefined && term < known.term) {
      mark('mock scheduler: heartbeat from a lower term keeps the leader');
      return false;
    }
    this.leaders.set(regionId, { peer: { ...leader }, term });
    return true;
  }

  /** handleHeartbeatVersion + handleHeartbeatConfVersion. @returns false when the report is stale. */
  private tryAccept(region: Region): boolean {
    const prev = this.lastAccepted.get(region.id);
    if (prev !== undefined) {
      if (compareEpochs(region, prev) === 'older') return false;
      checkSuccessor(prev, region);
    }
    const overlaps = this.overlapping(region).filter((r) => r.id !== region.id);
    const version = (region.regionEpoch ?? EPOCH_ZERO).version;
    for (const other of overlaps) {
      if (version <= (other.regionEpoch ?? EPOCH_ZERO).version) return false;
    }
    if (overlaps.length > 0) mark('mock scheduler: heartbeat replaced overlapping regions');
    this.accept(region, overlaps);
    return true;
  }

  /** Replaces `region`'s own entry and `overlaps` in the range index with `region`. */
  private accept(region: Region, overlaps: readonly Region[]): void {
    const own = this.indexed.get(region.id);
    for (const r of own === undefined ? overlaps : [own, ...overlaps]) this.removeFromIndex(r);
    const copy = cloneRegion(region);
    const at = this.lastStartingAtOrBefore(copy.startKey) + 1;
    const before = this.index[at - 1];
    const after = this.index[at];
    // Invariant: the index stays non-overlapping; the neighbours are the only candidates.
    if (before !== undefined && rangesOverlap(before, copy)) assert(false, `mock scheduler: region ${copy.id} overlaps region ${before.id} after replacement`);
    if (after !== undefined && rangesOverlap(after, copy)) assert(false, `mock scheduler: region ${copy.id} overlaps region ${after.id} after replacement`);
    this.index.splice(at, 0, copy);
    this.indexed.set(copy.id, copy);
    this.lastAccepted.set(copy.id, copy);
  }

  private removeFromIndex(region: Region): void {
    const at = this.lastStartingAtOrBefore(region.startKey);
    if (this.index[at] !== region) assert(false, `mock scheduler: region ${region.id} is not where the range index has it`);
    this.index.splice(at, 1);
    this.indexed.delete(region.id);
  }

  /** Indexed regions sharing a key with `region`, in key order. */
  private overlapping(region: Region): Region[] {
    const out: Region[] = [];
    for (let i = Math.max(0, this.lastStartingAtOrBefore(region.startKey)); i < this.index.length; i++) {
      const r = this.index[i] as Region;
      if (region.endKey.length > 0 && compareBytes(r.startKey, region.endKey) >= 0) break;
      if (rangesOverlap(r, region)) out.push(r);
    }
    return out;
  }

  /** Position of the last indexed region whose start key is <= `key`, or -1 (binary search). */
  private lastStartingAtOrBefore(key: Uint8Array): number {
    let lo = 0;
    let hi = this.index.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareBytes((this.index[mid] as Region).startKey, key) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /** TinyKV tryFinished + makeRegionHeartbeatResponse for the region's operator. */
  private attachOperator(region: Region, leader: Peer, resp: RegionHeartbeatResponse): void {
    const op = this.operators.get(region.id);
    if (op === undefined) return;
    const member = region.peers.find((p) => p.id === op.peer.id);
    if (member !== undefined && member.storeId !== op.peer.storeId) {
      assert(false, `mock scheduler: operator ${op.kind} names peer ${op.peer.id} on store ${op.peer.storeId}, region ${region.id} has it on store ${member.storeId}`);
    }
    switch (op.kind) {
      case 'addPeer':
        if (member === undefined) resp.changePeer = { changeType: ConfChangeType.AddNode, peer: { ...op.peer } };
        else if (!this.pending.has(op.peer.id)) this.finish(region.id);
        return;
      case 'removePeer':
        if (member !== undefined) resp.changePeer = { changeType: ConfChangeType.RemoveNode, peer: { ...op.peer } };
        else this.finish(region.id);
        return;
      case 'transferLeader':
        if (leader.id !== op.peer.id) resp.transferLeader = { peer: { ...op.peer } };
        else this.finish(region.id);
        return;
      default:
        assertNever(op);
    }
  }

  private finish(regionId: number): void {
    mark('mock scheduler: operator finished');
    this.operators.delete(regionId);
  }

  private schedule(regionId: number, op: Operator): void {
    assert(Number.isSafeInteger(regionId) && Number.isSafeInteger(op.peer.id) && Number.isSafeInteger(op.peer.storeId), `mock scheduler: bad ${op.kind} operator for region ${regionId}`);
    this.operators.set(regionId, op);
  }

  private header(): ResponseHeader {
    return { clusterId: this.clusterId, error: undefined };
  }

  private splitError(type: ErrorType, message: string): AskSplitResponse {
    return { header: { clusterId: this.clusterId, error: { type, message } }, newRegionId: 0, newPeerIds: [] };
  }
}

/** TinyKV panics "start key > end key"; ids and stores are unique within a region. */
function checkRegionShape(region: Region): void {
  if (region.regionEpoch === undefined) assert(false, `mock scheduler: region ${region.id} without an epoch`);
  if (region.endKey.length > 0 && compareBytes(region.startKey, region.endKey) >= 0) {
    assert(false, `mock scheduler: region ${region.id} has start ${formatKey(region.startKey)} not below end ${formatKey(region.endKey)}`);
  }
  const ids = new Set(region.peers.map((p) => p.id));
  const stores = new Set(region.peers.map((p) => p.storeId));
  if (ids.size !== region.peers.length) assert(false, `mock scheduler: region ${region.id} has a peer id twice: ${describePeers(region.peers)}`);
  if (stores.size !== region.peers.length) assert(false, `mock scheduler: region ${region.id} has two peers on one store: ${describePeers(region.peers)}`);
}

/**
 * How `next`'s epoch relates to `prev`'s (both of the same region id).
 * @throws {AssertionError} when one part is newer and the other older: the
 *   peers of one raft group applied different logs.
 */
function compareEpochs(next: Region, prev: Region): 'older' | 'same' | 'newer' {
  const a = next.regionEpoch ?? EPOCH_ZERO;
  const b = prev.regionEpoch ?? EPOCH_ZERO;
  const mixed = (a.version < b.version && a.confVer > b.confVer) || (a.version > b.version && a.confVer < b.confVer);
  if (mixed) assert(false, `Cannot accept heartbeat for region ${next.id}: epoch ${describeEpoch(a)} is neither older nor newer than the accepted ${describeEpoch(b)}`);
  if (a.version === b.version && a.confVer === b.confVer) return 'same';
  return a.version <= b.version && a.confVer <= b.confVer ? 'older' : 'newer';
}

/**
 * `next` is a report of `prev`'s region id with an epoch not older: its range
 * and peers must follow from `prev` by splits (no merges in TinyKV) and one
 * peer per conf change (TinyKV handleHeartbeatConfVersion). Messages are
 * built only on failure: this runs on every heartbeat.
 * @throws {AssertionError} on a violation.
 */
function checkSuccessor(prev: Region, next: Region): void {
  const a = prev.regionEpoch ?? EPOCH_ZERO;
  const b = next.regionEpoch ?? EPOCH_ZERO;
  const fail = (rule: string): never => {
    const from = `${describeEpoch(a)} ${describeRange(prev)} ${describePeers(prev.peers)}`;
    const to = `${describeEpoch(b)} ${describeRange(next)} ${describePeers(next.peers)}`;
    throw new AssertionError(`mock scheduler: ${rule}: region ${next.id} went from ${from} to ${to}`);
  };
  if (b.version === a.version) {
    if (!equalBytes(prev.startKey, next.startKey) || !equalBytes(prev.endKey, next.endKey)) fail('the range changed without a version bump');
  } else {
    const startsInside = compareBytes(next.startKey, prev.startKey) >= 0;
    const endsInside = prev.endKey.length === 0 || (next.endKey.length > 0 && compareBytes(next.endKey, prev.endKey) <= 0);
    if (!startsInside || !endsInside) fail('a split grew the range');
  }
  const diff = peerDifference(prev.peers, next.peers);
  if (diff === undefined) fail('a peer id moved to another store');
  const steps = b.confVer - a.confVer;
  if (steps === 0 && diff !== 0) fail('the peers changed without a conf_ver bump');
  // Each conf change adds or removes exactly one peer, so `steps` changes leave
  // a difference of at most `steps` peers, with the same parity.
  if (diff === undefined || diff > steps || (steps - diff) % 2 !== 0) fail('should be one conf change per conf_ver step');
}

/** Size of the symmetric difference of two peer sets by peer id; undefined when an id is on two stores. */
function peerDifference(a: readonly Peer[], b: readonly Peer[]): number | undefined {
  let diff = 0;
  for (const p of a) {
    const q = b.find((x) => x.id === p.id);
    if (q === undefined) diff++;
    else if (q.storeId !== p.storeId) return undefined;
  }
  for (const q of b) if (!a.some((p) => p.id === q.id)) diff++;
  return diff;
}

/** `a` is older than `b` in either part (TinyKV `util.IsEpochStale`). */
function describeEpoch(e: RegionEpoch | undefined): string {
  const x = e ?? EPOCH_ZERO;
  return `{confVer ${x.confVer}, version ${x.version}}`;
}

function describeRange(r: Region): string {
  return `[${formatKey(r.startKey)}, ${formatKey(r.endKey)})`;
}

function describePeers(peers: readonly Peer[]): string {
  return `[${[...peers].sort((x, y) => x.id - y.id).map((p) => `${p.id}@${p.storeId}`).join(' ')}]`;
}
