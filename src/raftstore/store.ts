/**
 * A store's raftstore core: its region peers, the router from region id to
 * peer, and group commit (TinyKV `raftstore.go` + `router.go`, TiKV
 * raftstore-v2's store fsm). Still a functional core: the shell feeds it
 * messages, commands and ticks, runs rounds (one write batch and at most one
 * fsync for every peer that became ready: group commit), and executes the
 * effects it drains.
 *
 * One engine holds both raft state (CF raft) and region data and apply state
 * (CF default/lock/write/meta), so a round's batch is atomic across them: a
 * crash can never leave data applied without its apply state, or an apply
 * state ahead of the log it came from. (TinyKV uses two badger instances and
 * TiKV two engines, which needs recovery rules; one LMDB environment gives
 * atomic multi-CF batches for free. docs/RAFTSTORE.md.)
 */
import type { Region, RegionEpoch } from '../pb/metapb.js';
import { AdminCmdType } from '../pb/raft_cmdpb.js';
import type { AdminRequest, RaftCmdRequest } from '../pb/raft_cmdpb.js';
import { PeerState, RegionLocalState, StoreIdent } from '../pb/raft_serverpb.js';
import type { RaftMessage } from '../pb/raft_serverpb.js';
import type { AskSplitResponse, RegionHeartbeatRequest, RegionHeartbeatResponse, StoreStats } from '../pb/schedulerpb.js';
import { MessageType } from '../raft/types.js';
import { CF_META } from '../storage/engine.js';
import type { ViewableReader } from '../storage/engine.js';
import { WriteBatch } from '../storage/write_batch.js';
import { assert } from '../util/assert.js';
import { mark } from '../util/marks.js';
import type { Rng } from '../util/prng.js';
import type { RaftstoreConfig } from './config.js';
import { validateConfig } from './config.js';
import { LOCAL_PREFIX, REGION_META_PREFIX, REGION_STATE_SUFFIX, regionIdOfKey, STORE_IDENT_KEY } from './meta/keys.js';
import { RegionPeer } from './peer.js';
import type { PeerDeps, PeerEffect, PeerObserver, PeerRound } from './peer.js';
import { PeerStorage } from './peer_storage.js';
import { errorResponse, regionNotFound } from './region_errors.js';
import { cloneRegion } from './responses.js';
import { decodeSnapshotData, SnapshotError, stageClearRange } from './snapshot.js';
import type { AppliedSplit } from './split.js';
import { isEpochStale, StoreMeta } from './store_meta.js';
import type { KeyRange } from './store_meta.js';

export interface StoreDeps {
  readonly storeId: number;
  /** The store's engine (raft and kv column families in one). */
  readonly engine: ViewableReader;
  /** Each peer gets its own stream (election jitter). */
  readonly rng: () => Rng;
  readonly config: RaftstoreConfig;
  readonly observer?: PeerObserver;
}

/** One round of group commit: the batch to write, and whether it needs an fsync. */
export interface StoreRound<R> {
  readonly batch: WriteBatch;
  readonly sync: boolean;
  readonly peers: readonly [RegionPeer<R>, PeerRound<R>][];
  /** Peers destroyed by this round's batch (stale ones, and followers that applied their own removal). */
  readonly destroyed: readonly Destroy<R>[];
  /** Regions split off in this round whose peers here start once the batch is durable. */
  readonly created: readonly Creation<R>[];
}

/** A peer (or, at restart, only its storage) to destroy, and the region its tombstone remembers. */
interface Destroy<R> {
  readonly regionId: number;
  readonly peer: RegionPeer<R> | undefined;
  readonly storage: PeerStorage;
  readonly tombstone: Region;
}

interface Creation<R> {
  readonly region: Region;
  readonly peerId: number;
  /** The parent's peer here led it: the new region campaigns at once. */
  readonly campaign: boolean;
  /** An uninitialized peer of the region that the split replaces. */
  readonly replaced: RegionPeer<R> | undefined;
}

/** What the shell must do (every effect names its region where it matters). */
export type StoreEffect<R> = PeerEffect<R>;

const REGION_STATE_KEY_BYTES = 11;
/** Regions an EpochNotMatch carries besides the region itself (TiKV: MAX_REGIONS_IN_ERROR). */
const MAX_SIBLINGS = 10;

export class StoreCore<R> {
  readonly storeId: number;
  private readonly deps: StoreDeps;
  /** Region id → peer, iterated in region id order for determinism. */
  private readonly peers = new Map<number, RegionPeer<R>>();
  /** The peers in region id order, kept sorted as peers come and go. */
  private sortedPeers: RegionPeer<R>[] = [];
  private roundInFlight = false;
  /**
   * Regions whose peer may have work for the next round: it was handed a
   * message, command, tick or report since its last round. A store holds
   * many idle regions; a round looks only at these (TiKV's batch system
   * polls only mailboxes with messages).
   */
  private readonly dirty = new Set<number>();
  /** Every peer ticked since the last round: all may have work. */
  private allDirty = false;
  /** Regions whose peer queued effects since the last drain. */
  private readonly withEffects = new Set<number>();
  private readonly meta = new StoreMeta();
  /** Destroys decided since the last round, staged by the next one (C2: only the store removes peers). */
  private readonly pendingDestroys = new Map<number, Destroy<R>>();
  /**
   * Regions whose peer is destroyed or created by the round in flight: the
   * batch already changes their state on the engine (a write is visible once
   * submitted), so nothing may reach them until the round finishes.
   */
  private readonly transitioning = new Set<number>();
  /** Regions the round in flight creates by splits: their parents already show the split. */
  private creating: readonly Region[] = [];
  /** Effects of peers that left the store (answers to their pending commands). */
  private storeOutbox: StoreEffect<R>[] = [];

  private constructor(deps: StoreDeps) {
    validateConfig(deps.config);
    this.deps = deps;
    this.storeId = deps.storeId;
  }

  /**
   * Stages a fresh store's identity and the first region's initial state
   * (TinyKV `BootstrapStore` + `PrepareBootstrapCluster`): every store of a
   * new cluster gets the same region, with index and term 5.
   */
  static stageBootstrap(batch: WriteBatch, engine: ViewableReader, clusterId: number, storeId: number, region: Region): void {
    assert(engine.get(CF_META, STORE_IDENT_KEY) === undefined, `store ${storeId} is already bootstrapped`);
    assert(region.peers.some((p) => p.storeId === storeId), `region ${region.id} has no peer on store ${storeId}`);
    batch.put(CF_META, STORE_IDENT_KEY, StoreIdent.encode({ clusterId, storeId }).finish());
    PeerStorage.create(engine, engine, region).stageInitialState(batch, batch);
  }

  /** Rebuilds the store from its engine: every region it holds a live peer of (TinyKV `loadPeers`). */
  static load<R>(deps: StoreDeps): StoreCore<R> {
    const raw = deps.engine.get(CF_META, STORE_IDENT_KEY);
    assert(raw !== undefined, `store ${deps.storeId}: the engine is not bootstrapped`);
    const ident = StoreIdent.decode(raw);
    assert(ident.storeId === deps.storeId, `engine belongs to store ${ident.storeId}, not ${deps.storeId}`);
    const store = new StoreCore<R>(deps);
    const start = Uint8Array.of(LOCAL_PREFIX, REGION_META_PREFIX);
    const end = Uint8Array.of(LOCAL_PREFIX, REGION_META_PREFIX + 1);
    for (const { key, value } of deps.engine.scan(CF_META, { start, end })) {
      if (key.length !== REGION_STATE_KEY_BYTES || key[10] !== REGION_STATE_SUFFIX) continue;
      const state = RegionLocalState.decode(value);
      const region = state.region;
      assert(region !== undefined && region.id === regionIdOfKey(key), 'region state key and value disagree');
      if (state.state === PeerState.Tombstone) {
        store.meta.setTombstone(region);
        continue;
      }
      const storage = PeerStorage.load(deps.engine, deps.engine, region);
      const self = region.peers.find((p) => p.storeId === deps.storeId);
      if (self === undefined) {
        // A leader that applied its own removal and crashed before the stale check destroyed it.
        mark('raftstore: removed peer destroyed at restart');
        store.pendingDestroys.set(region.id, { regionId: region.id, peer: undefined, storage, tombstone: region });
        continue;
      }
      const peer = RegionPeer.open<R>(store.peerDeps(self.id), storage);
      store.addPeer(peer);
      store.meta.setRange(region);
    }
    return store;
  }

  peer(regionId: number): RegionPeer<R> | undefined {
    return this.peers.get(regionId);
  }

  regionIds(): number[] {
    return this.sortedPeers.map((p) => p.regionId);
  }

  tick(): void {
    for (const peer of this.sortedPeers) peer.tick();
    this.allDirty = true;
  }

  /** Initialized regions here, for checks (copies). */
  regions(): Region[] {
    return this.sortedPeers.filter((p) => p.storage.isInitialized()).map((p) => cloneRegion(p.region));
  }

  /** The range index (ordered, non-overlapping: asserted on every change). */
  ranges(): readonly (KeyRange & { readonly regionId: number })[] {
    return this.meta.allRanges();
  }

  /**
   * Routes a raft message to its region's peer, creating an uninitialized
   * peer when the message may (S3), dropping it when it is for a destroyed
   * peer (P6) or would make ranges overlap (P7).
   */
  onRaftMessage(rm: RaftMessage): void {
    const to = rm.toPeer;
    if (to === undefined || to.storeId !== this.storeId || to.id === 0 || this.transitioning.has(rm.regionId)) return;
    let peer = this.peers.get(rm.regionId);
    if (peer !== undefined && peer.peerId !== to.id) {
      // A larger peer id with an epoch not older than ours: the region removed us and re-added this store.
      if (to.id > peer.peerId && !isEpochStale(rm.regionEpoch, peer.region.regionEpoch) && !rm.isTombstone) {
        mark('raftstore: local peer superseded by a newer peer id');
        // The tombstone keeps the local epoch: the message's epoch already holds the new peer,
        // whose messages must still create it (P6 drops only epochs up to the tombstone's).
        this.queueDestroy(peer);
      }
      return;
    }
    if (rm.isTombstone) {
      if (peer !== undefined) this.onGcMessage(peer, rm);
      return;
    }
    const m = rm.message;
    if (m === undefined) return;
    let snapRange: KeyRange | undefined;
    if (m.msgType === MessageType.MsgSnapshot) {
      snapRange = snapshotRange(m.snapshot?.data);
      if (snapRange === undefined) return;
      if (this.meta.overlapping(snapRange, rm.regionId).length > 0) {
        mark('raftstore: snapshot refused, its range overlaps another region here (P7)');
        return;
      }
    }
    if (peer === undefined) {
      if (!this.mayCreatePeer(rm, m.msgType)) return;
      peer = this.createUninitialized(rm.regionId, to.id);
    } else if (!peer.storage.isInitialized() && this.tombstoneRefuses(rm)) {
      // A message from before the destroyed incarnation's end (say, an old leader's heartbeat whose
      // commit counts what that incarnation had) must not reach the new, empty one: it has no term
      // yet to refuse it by (P6).
      mark('raftstore: message for a destroyed peer dropped (P6)');
      return;
    }
    if (this.pendingDestroys.has(rm.regionId)) return;
    this.dirty.add(rm.regionId);
    peer.onRaftMessage(rm);
    if (snapRange !== undefined && peer.hasPendingSnapshot) this.meta.addPendingSnapshot(rm.regionId, snapRange);
  }

  /**
   * A leader's messages and vote requests create peers (a new member must be
   * able to vote before any leader reached it, or a two-member group whose
   * leader stepped down waits for ever: TiKV's initial messages), but not for
   * a destroyed peer's older epochs (P6) or a range a region here owns.
   */
  private mayCreatePeer(rm: RaftMessage, type: MessageType): boolean {
    const creating = [MessageType.MsgAppend, MessageType.MsgHeartbeat, MessageType.MsgSnapshot, MessageType.MsgRequestVote, MessageType.MsgPreVote];
    if (!creating.includes(type)) return false;
    if (this.tombstoneRefuses(rm)) {
      mark('raftstore: message for a destroyed peer dropped (P6)');
      return false;
    }
    if (this.meta.overlapping({ startKey: rm.startKey, endKey: rm.endKey }, rm.regionId).length > 0) {
      // The region is still part of a region here that has not applied its split: the split creates it.
      mark('raftstore: peer not created, its range is owned by a region here');
      return false;
    }
    return true;
  }

  /**
   * P6. A peer recreated with the id of a destroyed one, in a configuration
   * that still counts it, would vote and acknowledge with an empty log: a
   * stale message must never do that. The tombstone is the region as the
   * destroyed peer knew it, at an epoch where the peer is known to be
   * removed (its own applied removal, a gc message's or the scheduler's
   * epoch). If it still lists the destroyed peer (destroyed before applying
   * its removal), a message to an older id is refused, to that id only from
   * a newer conf_ver (a re-add of the same id), to a newer id always
   * accepted (peer ids only grow; it is a later member). Otherwise a message
   * is accepted only from a newer conf_ver.
   */
  private tombstoneRefuses(rm: RaftMessage): boolean {
    const tomb = this.meta.tombstone(rm.regionId);
    if (tomb === undefined) return false;
    const newer = (rm.regionEpoch?.confVer ?? 0) > (tomb.regionEpoch?.confVer ?? 0);
    const local = tomb.peers.find((p) => p.storeId === this.storeId);
    const to = rm.toPeer?.id ?? 0;
    if (local === undefined || to === local.id) return !newer;
    return to < local.id;
  }

  private createUninitialized(regionId: number, peerId: number): RegionPeer<R> {
    const region: Region = { id: regionId, startKey: Buffer.alloc(0), endKey: Buffer.alloc(0), regionEpoch: { confVer: 0, version: 0 }, peers: [] };
    const peer = RegionPeer.open<R>(this.peerDeps(peerId), PeerStorage.load(this.deps.engine, this.deps.engine, region));
    this.addPeer(peer);
    // The tombstone stays until a snapshot initializes the peer: if this peer is destroyed uninitialized, it still holds.
    mark('raftstore: uninitialized peer created');
    return peer;
  }

  /** A member told this peer that the region removed it (TinyKV handleGCPeerMsg): destroy it if the news is newer. */
  private onGcMessage(peer: RegionPeer<R>, rm: RaftMessage): void {
    if (!isEpochStale(peer.region.regionEpoch, rm.regionEpoch) || peer.isLeader) return;
    // A removal this peer has since been added back after (same id, newer configuration) is old news.
    if ((rm.regionEpoch?.confVer ?? 0) <= peer.memberAt) return;
    mark('raftstore: stale peer destroyed on a gc message');
    this.queueDestroy(peer, rm.regionEpoch);
  }

  /**
   * Queues destroying `peer`. Its tombstone is the region as the peer knew
   * it, at `removedAt` when that is newer and the region still lists a peer
   * of this store (an epoch where the region no longer holds that peer; see
   * {@link tombstoneRefuses}). A region that lists no peer here already is
   * such an epoch; raising it would make the tombstone refuse a later peer
   * here whose first messages carry an epoch up to `removedAt` (the
   * scheduler's or a gc message's region may already hold it), and a
   * region of two members would wait for that peer for ever. An
   * uninitialized peer knew nothing: an earlier tombstone of the region, if
   * any, is kept.
   */
  private queueDestroy(peer: RegionPeer<R>, removedAt?: RegionEpoch): void {
    if (this.pendingDestroys.has(peer.regionId)) return;
    const earlier = this.meta.tombstone(peer.regionId);
    const tombstone = !peer.storage.isInitialized() && earlier !== undefined ? cloneRegion(earlier) : cloneRegion(peer.region);
    const listsLocal = tombstone.peers.some((p) => p.storeId === this.storeId);
    if (!listsLocal && removedAt !== undefined) mark('raftstore: tombstone lists no peer here, kept at its own epoch');
    if (listsLocal && removedAt !== undefined && isEpochStale(tombstone.regionEpoch, removedAt)) {
      const a = tombstone.regionEpoch ?? { confVer: 0, version: 0 };
      tombstone.regionEpoch = { confVer: Math.max(a.confVer, removedAt.confVer), version: Math.max(a.version, removedAt.version) };
    }
    this.pendingDestroys.set(peer.regionId, { regionId: peer.regionId, peer, storage: peer.storage, tombstone });
  }

  /** Routes a command to its region's peer, or answers RegionNotFound. */
  handleCommand(request: RaftCmdRequest, replyTo: R): readonly StoreEffect<R>[] | undefined {
    const regionId = request.header?.regionId ?? 0;
    // An uninitialized peer has no region to serve yet (and no range to check keys against).
    const peer = this.transitioning.has(regionId) ? undefined : this.peers.get(regionId);
    if (peer === undefined || !peer.storage.isInitialized()) return [{ kind: 'respond', replyTo, response: errorResponse(regionNotFound(regionId)) }];
    this.dirty.add(regionId);
    peer.handleCommand(request, replyTo);
    return undefined;
  }

  /**
   * Takes every peer's Ready into one batch. Undefined when no peer has work.
   * One round at a time: the next one waits for `finishRound`.
   */
  prepareRound(): StoreRound<R> | undefined {
    assert(!this.roundInFlight, `store ${this.storeId}: a round is already in flight`);
    const batch = new WriteBatch();
    const peers: [RegionPeer<R>, PeerRound<R>][] = [];
    // A peer queued while a round was in flight may have left meanwhile (it applied its own removal).
    const destroyed: Destroy<R>[] = [...this.pendingDestroys.values()].filter((d) => d.peer === undefined || this.peers.get(d.regionId) === d.peer);
    this.pendingDestroys.clear();
    for (const d of destroyed) {
      d.storage.stageDestroy(batch, d.tombstone);
      this.unroute(d.regionId, d.peer);
    }
    const created: Creation<R>[] = [];
    let sync = destroyed.length > 0;
    for (const peer of this.takeDirty()) {
      // Peers unrouted above or by a split replacing them earlier in this loop sit the round out.
      if (this.peers.get(peer.regionId) !== peer) continue;
      this.withEffects.add(peer.regionId);
      const round = peer.prepareRound(batch);
      if (round === undefined) continue;
      peers.push([peer, round]);
      sync ||= round.sync;
      if (round.removedSelf) {
        peer.storage.stageDestroy(batch, peer.storage.appliedRegion);
        destroyed.push({ regionId: peer.regionId, peer, storage: peer.storage, tombstone: peer.storage.appliedRegion });
        this.unroute(peer.regionId, peer);
      }
      for (const split of round.splits) {
        const c = this.stageSplitTarget(batch, split, peer);
        if (c !== undefined) created.push(c);
      }
    }
    if (peers.length === 0 && batch.isEmpty()) return undefined;
    this.roundInFlight = true;
    this.creating = created.map((c) => c.region);
    return { batch, sync, peers, destroyed, created };
  }

  /**
   * The peers that may have work, in region id order (as a round over all
   * peers would meet them). A peer not among them has none: it returned no
   * round last time and nothing has reached it since.
   */
  private takeDirty(): RegionPeer<R>[] {
    let out: RegionPeer<R>[];
    if (this.allDirty) {
      out = this.sortedPeers;
    } else {
      out = [];
      for (const id of [...this.dirty].sort((a, b) => a - b)) {
        const peer = this.peers.get(id);
        if (peer !== undefined) out.push(peer);
      }
    }
    this.allDirty = false;
    this.dirty.clear();
    return out;
  }

  /**
   * Stages the region a split created, on this store (P5: the parent's peer
   * here applied the split, so the new region has a peer here by
   * construction). Not when the region already has an initialized peer
   * here, or this store already destroyed a later peer of it (its range
   * is then cleared: nobody here owns it).
   */
  private stageSplitTarget(batch: WriteBatch, split: AppliedSplit, parent: RegionPeer<R>): Creation<R> | undefined {
    const right = split.right;
    const self = right.peers.find((p) => p.storeId === this.storeId);
    assert(self !== undefined, `store ${this.storeId}: split of region ${parent.regionId} made region ${right.id} without a peer here`);
    const existing = this.peers.get(right.id);
    if (existing !== undefined && existing.storage.isInitialized()) {
      mark('raftstore: split target already initialized here');
      return undefined;
    }
    const tomb = this.meta.tombstone(right.id);
    if (tomb !== undefined && isEpochStale(right.regionEpoch, tomb.regionEpoch)) {
      mark('raftstore: split target already removed here, its range cleared');
      stageClearRange(batch, right.startKey, right.endKey);
      return undefined;
    }
    if (existing !== undefined) mark('raftstore: split replaces an uninitialized peer');
    PeerStorage.create(this.deps.engine, this.deps.engine, right, existing?.hardState).stageInitialState(batch, batch);
    this.unroute(right.id, existing);
    return { region: right, peerId: self.id, campaign: parent.isLeader, replaced: existing };
  }

  /** Once the round's batch is written (and fsynced when `round.sync`). */
  finishRound(round: StoreRound<R>): void {
    assert(this.roundInFlight, `store ${this.storeId}: no round in flight`);
    this.roundInFlight = false;
    this.transitioning.clear();
    this.creating = [];
    for (const [peer, pr] of round.peers) {
      peer.finishRound(pr);
      if (this.peers.get(peer.regionId) !== peer) continue;
      // Advancing may leave more to do (entries committed meanwhile, reads to serve).
      this.dirty.add(peer.regionId);
      if (pr.ready.snapshot !== undefined) {
        this.meta.removePendingSnapshot(peer.regionId);
        this.meta.clearTombstone(peer.regionId);
      }
      if (peer.storage.isInitialized() && (pr.ready.snapshot !== undefined || pr.splits.length > 0)) this.meta.setRange(peer.region);
    }
    for (const d of round.destroyed) this.removePeer(d);
    for (const c of round.created) {
      if (c.replaced !== undefined) this.release(c.replaced);
      const peer = RegionPeer.open<R>(this.peerDeps(c.peerId), PeerStorage.load(this.deps.engine, this.deps.engine, c.region));
      this.addPeer(peer);
      this.meta.clearTombstone(c.region.id);
      this.meta.setRange(c.region);
      if (c.campaign) peer.campaign();
    }
  }

  /** C2: the one place a destroyed peer leaves the store's metadata. */
  private removePeer(d: Destroy<R>): void {
    if (d.peer !== undefined) this.release(d.peer);
    this.meta.setTombstone(d.tombstone);
    mark('raftstore: peer destroyed');
  }

  /**
   * Stops routing to a region's peer (and to the region, until the round in
   * flight finishes): its state on the engine is about to change under it.
   */
  private unroute(regionId: number, peer: RegionPeer<R> | undefined): void {
    this.transitioning.add(regionId);
    if (peer === undefined) return;
    assert(this.peers.get(regionId) === peer, `store ${this.storeId}: unrouting a peer of region ${regionId} that is not routed`);
    this.peers.delete(regionId);
    this.sortedPeers = this.sortedPeers.filter((p) => p !== peer);
    this.meta.removeRange(regionId);
    this.meta.removePendingSnapshot(regionId);
  }

  /** An unrouted peer's last answers and messages go out; then it is gone. */
  private release(peer: RegionPeer<R>): void {
    peer.abandonPending(regionNotFound(peer.regionId));
    for (const e of peer.drain()) this.storeOutbox.push(e);
  }

  /** Every effect queued by every peer, in region id order. */
  drain(): readonly StoreEffect<R>[] {
    if (this.sortedPeers.length === 1 && this.storeOutbox.length === 0) {
      this.withEffects.clear();
      return (this.sortedPeers[0] as RegionPeer<R>).drain();
    }
    const out: StoreEffect<R>[] = this.storeOutbox;
    this.storeOutbox = [];
    if (this.withEffects.size === 0) return out;
    const ids = [...this.withEffects].sort((a, b) => a - b);
    this.withEffects.clear();
    for (const id of ids) {
      const peer = this.peers.get(id);
      if (peer !== undefined) for (const e of peer.drain()) out.push(e);
    }
    return out;
  }

  // ---- the scheduler ----

  /**
   * The store's statistics for a store heartbeat (TinyKV `StoreHeartbeat`):
   * what the core knows; the shell adds what it measures (snapshot streams,
   * disk space).
   */
  storeStats(): StoreStats {
    return {
      storeId: this.storeId, capacity: 0, available: 0, regionCount: this.sortedPeers.length,
      sendingSnapCount: 0, receivingSnapCount: 0, startTime: 0,
      applyingSnapCount: this.sortedPeers.filter((p) => p.applyingSnapshot).length,
      isBusy: false, usedSize: 0, interval: undefined, cpuUsages: [], readIoRates: [], writeIoRates: [], opLatencies: [],
    };
  }

  /** Region heartbeats of the regions led here (the shell sends them to the scheduler). */
  heartbeats(): { readonly request: RegionHeartbeatRequest; readonly term: number }[] {
    const out: { request: RegionHeartbeatRequest; term: number }[] = [];
    for (const peer of this.sortedPeers) {
      const request = peer.heartbeat();
      if (request !== undefined) out.push({ request, term: peer.term });
    }
    return out;
  }

  /**
   * An operator from the scheduler (TinyKV onRegionHeartbeatResponse): it
   * becomes an admin command of the region's leader here, stamped with the
   * epoch the scheduler decided on, so a stale operator fails the epoch check.
   */
  onHeartbeatResponse(resp: RegionHeartbeatResponse): void {
    const peer = this.peers.get(resp.regionId);
    if (peer === undefined || !peer.isLeader) return;
    let admin: AdminRequest | undefined;
    if (resp.changePeer !== undefined) {
      admin = { cmdType: AdminCmdType.ChangePeer, changePeer: { changeType: resp.changePeer.changeType, peer: resp.changePeer.peer }, compactLog: undefined, transferLeader: undefined, split: undefined };
    } else if (resp.transferLeader !== undefined) {
      admin = { cmdType: AdminCmdType.TransferLeader, transferLeader: { peer: resp.transferLeader.peer }, changePeer: undefined, compactLog: undefined, split: undefined };
    }
    if (admin === undefined) return;
    this.dirty.add(resp.regionId);
    const request: RaftCmdRequest = {
      header: { regionId: resp.regionId, peer: { id: peer.peerId, storeId: this.storeId }, regionEpoch: resp.regionEpoch ?? peer.region.regionEpoch, term: 0 },
      requests: [],
      adminRequest: admin,
    };
    peer.handleCommand(request, undefined);
  }

  /** Runs a region's split checker (after its `splitCheck` effect). */
  checkSplit(regionId: number): void {
    this.dirty.add(regionId);
    this.peers.get(regionId)?.checkSplit();
  }

  /** The scheduler's answer to an `askSplit` effect. */
  onAskSplit(regionId: number, asked: Region, splitKey: Buffer, resp: AskSplitResponse): void {
    const peer = this.peers.get(regionId);
    if (peer === undefined) return;
    if (resp.header?.error !== undefined) {
      mark('raftstore: split refused by the scheduler');
      return;
    }
    this.dirty.add(regionId);
    peer.proposeSplit(asked, splitKey, resp.newRegionId, resp.newPeerIds);
  }

  /**
   * The scheduler's view of a region whose peer here missed its leader for
   * long: a region at least as new as ours that does not hold our peer
   * removed it (a removed leader waits for exactly this, C4).
   */
  onStaleCheck(regionId: number, region: Region | undefined): void {
    const peer = this.peers.get(regionId);
    if (peer === undefined || region === undefined || !peer.storage.isInitialized()) return;
    if (region.peers.some((p) => p.id === peer.peerId)) return;
    if ((region.regionEpoch?.confVer ?? 0) < (peer.region.regionEpoch?.confVer ?? 0)) return;
    if ((region.regionEpoch?.confVer ?? 0) <= peer.memberAt) return;
    mark('raftstore: removed peer destroyed after the stale check');
    this.queueDestroy(peer, region.regionEpoch);
  }

  generateSnapshot(regionId: number): void {
    this.dirty.add(regionId);
    this.peers.get(regionId)?.generateSnapshot();
  }

  reportSnapshot(regionId: number, toPeerId: number, delivered: boolean): void {
    this.dirty.add(regionId);
    this.peers.get(regionId)?.reportSnapshot(toPeerId, delivered);
  }

  reportUnreachable(regionId: number, toPeerId: number): void {
    this.dirty.add(regionId);
    this.peers.get(regionId)?.reportUnreachable(toPeerId);
  }

  /**
   * Regions right of `regionId` here, contiguous, newer than `version`: the
   * ones split off it since (copies), including those the round in flight
   * creates (the parent already shows that split; its answer must not lose
   * them).
   */
  private siblings(regionId: number, version: number): Region[] {
    const out: Region[] = [];
    let end = this.peers.get(regionId)?.region.endKey;
    while (end !== undefined && end.length > 0 && out.length < MAX_SIBLINGS) {
      const next = this.regionStartingAt(end);
      if (next === undefined || (next.regionEpoch?.version ?? 0) <= version) break;
      out.push(cloneRegion(next));
      end = next.endKey;
    }
    return out;
  }

  /** The region here (or being created by the round in flight) whose range starts at `key`. */
  private regionStartingAt(key: Uint8Array): Region | undefined {
    const creating = this.creating.find((r) => Buffer.compare(r.startKey, key) === 0);
    if (creating !== undefined) {
      mark('raftstore: EpochNotMatch carries a region the round in flight creates');
      return creating;
    }
    const id = this.meta.regionIdOfKey(key);
    const region = id === undefined ? undefined : this.peers.get(id)?.region;
    return region !== undefined && Buffer.compare(region.startKey, key) === 0 ? region : undefined;
  }

  private peerDeps(peerId: number): PeerDeps {
    const onEffect = (regionId: number): void => {
      this.withEffects.add(regionId);
    };
    const siblings = (regionId: number, version: number): Region[] => this.siblings(regionId, version);
    return { storeId: this.storeId, peerId, raftEngine: this.deps.engine, kvEngine: this.deps.engine, rng: this.deps.rng(), config: this.deps.config, onEffect, siblings, ...(this.deps.observer === undefined ? {} : { observer: this.deps.observer }) };
  }

  private addPeer(peer: RegionPeer<R>): void {
    assert(!this.peers.has(peer.regionId), `store ${this.storeId}: region ${peer.regionId} already has a peer`);
    this.peers.set(peer.regionId, peer);
    this.sortedPeers = [...this.sortedPeers, peer].sort((a, b) => a.regionId - b.regionId);
    this.dirty.add(peer.regionId);
  }
}

/** The key range of a snapshot's region, or undefined when the snapshot does not decode (it is dropped). */
function snapshotRange(data: Uint8Array | undefined): KeyRange | undefined {
  if (data === undefined) return undefined;
  try {
    const region = decodeSnapshotData(data).region;
    return { startKey: region.startKey, endKey: region.endKey };
  } catch (err) {
    if (err instanceof SnapshotError) return undefined;
    throw err;
  }
}
