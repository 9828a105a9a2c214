/**
 * TinyKV's raftstore test Cluster (kv/test_raftstore/cluster.go) on the
 * simulator: N stores, each with its own simulated disk, bootstrapped with
 * region 1 = ["", "") on every store (peer i on store i, index and term 5),
 * the mock scheduler, the network with TinyKV's filters, and the clients'
 * history. Built from one seed; every random choice comes from its streams.
 *
 * Differences from TinyKV's harness, all stricter: messages have delays and
 * may be reordered; StopServer is a crash that loses every unsynced write
 * (TinyKV keeps its engines open); commands travel over client links.
 */
import type { Region } from '../../pb/metapb.js';
import type { Entry } from '../../raft/types.js';
import type { RaftstoreConfig } from '../../raftstore/config.js';
import type { PeerObserver } from '../../raftstore/peer.js';
import { StoreCore } from '../../raftstore/store.js';
import { WriteBatch } from '../../storage/write_batch.js';
import { assert } from '../../util/assert.js';
import { SimClock } from '../clock.js';
import { SimDisk } from '../disk.js';
import type { DiskOptions } from '../disk.js';
import { clientIdBase, eventsPerRunMax } from '../limits.js';
import { SimNetwork } from '../network.js';
import type { MessageFilter, MessageInfo, NetworkFaults } from '../network.js';
import { SimRandom } from '../prng.js';
import type { Prng } from '../prng.js';
import { HistoryRecorder } from '../recorder.js';
import { SafetyChecker } from '../safety.js';
import { Trace } from '../trace.js';
import { MockScheduler } from './mock_scheduler.js';
import type { ClusterEnvelope, ClusterPayload } from './payload.js';
import { clonePayload, describeEnvelope, fingerprintPayload } from './payload.js';
import { SimStore } from './sim_store.js';
import type { SimStoreConfig } from './sim_store.js';

export interface ClusterOptions {
  readonly storeCount: number;
  readonly store: SimStoreConfig;
  readonly network: NetworkFaults;
  readonly disk: DiskOptions;
}

export interface ClusterHooks {
  readonly traceEnabled?: boolean;
  readonly traceSink?: (line: string) => void;
}

/** Receives the messages addressed to a client endpoint. */
export type EndpointHandler = (envelope: ClusterEnvelope) => void;

/** Raft safety per region: election safety and state machine safety (safety.ts), for every region. */
class RegionSafety implements PeerObserver {
  private readonly checkers = new Map<number, SafetyChecker>();
  appliedEntries = 0;

  private checker(regionId: number): SafetyChecker {
    let c = this.checkers.get(regionId);
    if (c === undefined) {
      c = new SafetyChecker();
      this.checkers.set(regionId, c);
    }
    return c;
  }

  onApply(regionId: number, peerId: number, entry: Entry): void {
    this.appliedEntries++;
    this.checker(regionId).onApply(peerId, entry);
  }

  onLeader(regionId: number, peerId: number, term: number): void {
    this.checker(regionId).onLeader(peerId, term);
  }
}

export const CLUSTER_ID = 1;
export const FIRST_REGION_ID = 1;

export class Cluster {
  readonly seed: number;
  readonly options: ClusterOptions;
  readonly clock = new SimClock();
  readonly trace: Trace;
  readonly random: SimRandom;
  readonly network: SimNetwork<ClusterPayload>;
  readonly storeIds: readonly number[];
  readonly scheduler: MockScheduler;
  readonly history: HistoryRecorder;
  readonly safety = new RegionSafety();
  private readonly stores = new Map<number, SimStore>();
  private readonly disks = new Map<number, SimDisk>();
  private readonly endpoints = new Map<number, EndpointHandler>();
  private nextEndpoint = clientIdBase;
  private nextFilterId = 1;
  /** Sees every message a store sends (scripted scenarios record and replay with it). */
  tap: ((envelope: ClusterEnvelope) => void) | undefined;
  /**
   * Set when code on the clock settled a promise (a store's raft storage, a
   * client's rpc): the async driver (async_driver.ts) then runs the promise
   * continuations before the next clock event.
   */
  private asyncWork = false;
  /** The first error thrown by async work on the stores (a bug: it fails the seed). */
  private asyncFailure: { readonly error: unknown } | undefined;

  constructor(seed: number, options: ClusterOptions, hooks: ClusterHooks = {}) {
    assert(options.storeCount >= 1 && options.storeCount < clientIdBase, `cluster: ${options.storeCount} stores`);
    this.seed = seed;
    this.options = options;
    this.scheduler = new MockScheduler(options.storeCount + 1);
    this.random = new SimRandom(seed);
    this.trace = new Trace({ enabled: hooks.traceEnabled ?? true, ...(hooks.traceSink === undefined ? {} : { sink: hooks.traceSink }), nowMs: () => this.clock.nowMs });
    this.storeIds = Array.from({ length: options.storeCount }, (_, i) => i + 1);
    this.history = new HistoryRecorder(() => this.clock.nowMs);
    this.network = new SimNetwork<ClusterPayload>(
      {
        clock: this.clock, prng: this.random.stream('network'), trace: this.trace, serverIds: this.storeIds,
        deliver: (e) => this.deliver(e), clone: clonePayload, describe: describeEnvelope, fingerprint: fingerprintPayload,
      },
      options.network,
    );
    for (const id of this.storeIds) {
      const disk = new SimDisk({ clock: this.clock, prng: this.random.stream(`disk${id}`), trace: this.trace, owner: id }, options.disk);
      this.disks.set(id, disk);
      this.stores.set(id, new SimStore(
        {
          storeId: id, clock: this.clock, trace: this.trace, disk, prng: this.random.stream(`store${id}`),
          send: (e, onOutcome) => {
            this.tap?.(e);
            this.network.send(e, onOutcome);
          },
          scheduler: this.scheduler, observer: this.safety,
          noteAsync: () => this.noteAsync(), failAsync: (error) => this.failAsync(error),
        },
        options.store,
      ));
    }
  }

  get raftstoreConfig(): RaftstoreConfig {
    return this.options.store.raftstore;
  }

  /** The first region as TinyKV bootstraps it: ["", ""), epoch {1, 1}, peer i on store i. */
  firstRegion(): Region {
    return {
      id: FIRST_REGION_ID, startKey: Buffer.alloc(0), endKey: Buffer.alloc(0),
      regionEpoch: { confVer: 1, version: 1 }, peers: this.storeIds.map((id) => ({ id, storeId: id })),
    };
  }

  /** Bootstraps every store's disk, the scheduler, and starts every store (TinyKV `Cluster.Start`). */
  start(): void {
    const region = this.firstRegion();
    for (const id of this.storeIds) {
      const disk = this.disk(id);
      const batch = new WriteBatch();
      StoreCore.stageBootstrap(batch, disk, CLUSTER_ID, id, region);
      disk.format(batch);
    }
    this.scheduler.bootstrap(region);
    for (const id of this.storeIds) this.store(id).start();
  }

  store(id: number): SimStore {
    const s = this.stores.get(id);
    assert(s !== undefined, `no store ${id}`);
    return s;
  }

  /** The store's engine as its node reads it (TinyKV tests read `cluster.engines[i]`). */
  disk(id: number): SimDisk {
    const d = this.disks.get(id);
    assert(d !== undefined, `no disk ${id}`);
    return d;
  }

  /** TinyKV `StopServer`, as a crash. */
  stopServer(id: number): void {
    this.store(id).crash();
  }

  startServer(id: number): void {
    this.store(id).start();
  }

  /** A new client endpoint (network address) delivering to `handler`. */
  registerEndpoint(handler: EndpointHandler): number {
    const endpoint = this.nextEndpoint++;
    this.endpoints.set(endpoint, handler);
    return endpoint;
  }

  /** Code on the clock settled a promise: its continuations must run before the next event. */
  noteAsync(): void {
    this.asyncWork = true;
  }

  /** Whether {@link noteAsync} was called since the last call of this (which clears it). */
  takeAsyncWork(): boolean {
    const work = this.asyncWork;
    this.asyncWork = false;
    return work;
  }

  /** Async work on a store threw: the first such error fails the run at the driver's next check. */
  failAsync(error: unknown): void {
    this.asyncFailure ??= { error };
  }

  /** The error {@link failAsync} recorded, if any (cleared). */
  takeAsyncFailure(): { readonly error: unknown } | undefined {
    const failure = this.asyncFailure;
    this.asyncFailure = undefined;
    return failure;
  }

  /** Runs every event up to virtual time `timeMs`. */
  runUntil(timeMs: number): void {
    this.clock.runUntil(timeMs, eventsPerRunMax - this.clock.executed);
  }

  runFor(durationMs: number): void {
    this.runUntil(this.clock.nowMs + durationMs);
  }

  // ---- TinyKV's filters (transport only: client commands pass) ----

  /** TinyKV `PartitionFilter{s1, s2}`: drops raft traffic across the cut. */
  addPartition(s1: readonly number[], s2: readonly number[]): void {
    const a = new Set(s1);
    const b = new Set(s2);
    const isRaft = (i: MessageInfo): boolean => this.network.isServerLink(i.from, i.to);
    this.addFilter(`partition ${s1.join(',')}|${s2.join(',')}`, (i) => isRaft(i) && ((a.has(i.from) && b.has(i.to)) || (b.has(i.from) && a.has(i.to))));
  }

  /** TinyKV `DropFilter`: each instance drops 10.1% of raft messages. */
  addDropFilter(prng: Prng): void {
    this.addFilter('drop', (i) => this.network.isServerLink(i.from, i.to) && prng.intInclusive(0, 999) <= 100);
  }

  /**
   * A scripted filter: drops every message (raft, snapshot chunk, client
   * command or answer) for which `drop` returns true, e.g. by message type,
   * region or direction (HARD-CASES scenarios). Removed by `clearFilters`.
   */
  addMessageFilter(label: string, drop: (envelope: ClusterEnvelope) => boolean): void {
    // The network hands each filter the envelope being sent (MessageInfo is its header).
    this.addFilter(label, (i) => drop(i as ClusterEnvelope));
  }

  clearFilters(): void {
    this.network.clearFilters();
    if (this.trace.enabled) this.trace.record('filters cleared');
  }

  private addFilter(label: string, drop: (info: MessageInfo) => boolean): void {
    const filter: MessageFilter = { name: `${label} #${this.nextFilterId++}`, drop };
    this.network.addFilter(filter);
  }

  private deliver(envelope: ClusterEnvelope): void {
    const store = this.stores.get(envelope.to);
    if (store !== undefined) return store.receive(envelope);
    const handler = this.endpoints.get(envelope.to);
    assert(handler !== undefined, `message to unknown address ${envelope.to}`);
    handler(envelope);
  }
}
