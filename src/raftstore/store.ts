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
import type { Region } from '../pb/metapb.js';
import type { RaftCmdRequest } from '../pb/raft_cmdpb.js';
import { PeerState, RegionLocalState, StoreIdent } from '../pb/raft_serverpb.js';
import type { RaftMessage } from '../pb/raft_serverpb.js';
import { CF_META } from '../storage/engine.js';
import type { ViewableReader } from '../storage/engine.js';
import { WriteBatch } from '../storage/write_batch.js';
import { assert } from '../util/assert.js';
import type { Rng } from '../util/prng.js';
import type { RaftstoreConfig } from './config.js';
import { validateConfig } from './config.js';
import { LOCAL_PREFIX, REGION_META_PREFIX, REGION_STATE_SUFFIX, regionIdOfKey, STORE_IDENT_KEY } from './meta/keys.js';
import { RegionPeer } from './peer.js';
import type { PeerDeps, PeerEffect, PeerObserver, PeerRound } from './peer.js';
import { PeerStorage } from './peer_storage.js';
import { errorResponse, regionNotFound } from './region_errors.js';

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
}

/** What the shell must do (every effect names its region where it matters). */
export type StoreEffect<R> = PeerEffect<R>;

const REGION_STATE_KEY_BYTES = 11;

export class StoreCore<R> {
  readonly storeId: number;
  private readonly deps: StoreDeps;
  /** Region id → peer, iterated in region id order for determinism. */
  private readonly peers = new Map<number, RegionPeer<R>>();
  /** The peers in region id order, kept sorted as peers come and go. */
  private sortedPeers: RegionPeer<R>[] = [];
  private roundInFlight = false;

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
      if (state.state === PeerState.Tombstone) continue;
      const self = region.peers.find((p) => p.storeId === deps.storeId);
      assert(self !== undefined, `store ${deps.storeId}: region ${region.id} is live here but has no peer here`);
      const storage = PeerStorage.load(deps.engine, deps.engine, region);
      store.addPeer(RegionPeer.open<R>(store.peerDeps(self.id), storage));
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
  }

  /** Routes a raft message to its region's peer; messages for unknown regions are dropped (issue 6 creates peers). */
  onRaftMessage(rm: RaftMessage): void {
    if (rm.toPeer?.storeId !== this.storeId) return;
    this.peers.get(rm.regionId)?.onRaftMessage(rm);
  }

  /** Routes a command to its region's peer, or answers RegionNotFound. */
  handleCommand(request: RaftCmdRequest, replyTo: R): readonly StoreEffect<R>[] | undefined {
    const regionId = request.header?.regionId ?? 0;
    const peer = this.peers.get(regionId);
    if (peer === undefined) return [{ kind: 'respond', replyTo, response: errorResponse(regionNotFound(regionId)) }];
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
    let sync = false;
    for (const peer of this.sortedPeers) {
      const round = peer.prepareRound(batch);
      if (round === undefined) continue;
      peers.push([peer, round]);
      sync ||= round.sync;
    }
    if (peers.length === 0 && batch.isEmpty()) return undefined;
    this.roundInFlight = true;
    return { batch, sync, peers };
  }

  /** Once the round's batch is written (and fsynced when `round.sync`). */
  finishRound(round: StoreRound<R>): void {
    assert(this.roundInFlight, `store ${this.storeId}: no round in flight`);
    this.roundInFlight = false;
    for (const [peer, pr] of round.peers) peer.finishRound(pr);
  }

  /** Every effect queued by every peer, in region id order. */
  drain(): readonly StoreEffect<R>[] {
    if (this.sortedPeers.length === 1) return (this.sortedPeers[0] as RegionPeer<R>).drain();
    const out: StoreEffect<R>[] = [];
    for (const peer of this.sortedPeers) for (const e of peer.drain()) out.push(e);
    return out;
  }

  generateSnapshot(regionId: number): void {
    this.peers.get(regionId)?.generateSnapshot();
  }

  reportSnapshot(regionId: number, toPeerId: number, delivered: boolean): void {
    this.peers.get(regionId)?.reportSnapshot(toPeerId, delivered);
  }

  reportUnreachable(regionId: number, toPeerId: number): void {
    this.peers.get(regionId)?.reportUnreachable(toPeerId);
  }

  private peerDeps(peerId: number): PeerDeps {
    return { storeId: this.storeId, peerId, raftEngine: this.deps.engine, kvEngine: this.deps.engine, rng: this.deps.rng(), config: this.deps.config, ...(this.deps.observer === undefined ? {} : { observer: this.deps.observer }) };
  }

  private addPeer(peer: RegionPeer<R>): void {
    assert(!this.peers.has(peer.regionId), `store ${this.storeId}: region ${peer.regionId} already has a peer`);
    this.peers.set(peer.regionId, peer);
    this.sortedPeers = [...this.sortedPeers, peer].sort((a, b) => a.regionId - b.regionId);
  }
}
