/**
 * One simulated world: the virtual clock, the network, a raft KV group of N
 * nodes each with its own disk, the clients and their history, and the
 * safety checker, all built from one seed and its drawn options. This is
 * the imperative shell of the simulator: it owns every component and routes
 * delivered messages; the runner drives it through the two phases.
 */
import { assert } from '../util/assert.js';
import { emptyConfState } from '../raft/types.js';
import { WriteBatch } from '../storage/write_batch.js';
import type { ReplicaState } from './checkers/convergence.js';
import { SimClient } from './client.js';
import { SimClock } from './clock.js';
import { SimDisk } from './disk.js';
import { clientIdBase, eventsPerRunMax } from './limits.js';
import { clonePayload, describeEnvelope, fingerprintPayload } from './messages.js';
import type { SimEnvelope, SimPayload } from './messages.js';
import { SimNetwork } from './network.js';
import { SimRandom } from './prng.js';
import { RaftKvNode } from './raft_kv.js';
import { formatRaftState } from './raft_storage.js';
import { HistoryRecorder } from './recorder.js';
import { SafetyChecker } from './safety.js';
import { validateOptions } from './scenario.js';
import type { SimOptions } from './scenario.js';
import { Trace } from './trace.js';
import { Workload } from './workload.js';

export interface SimulationHooks {
  /** Hash the trace (the meta-test compares hashes). @default true */
  readonly traceEnabled?: boolean;
  /** Receives every trace line (`--verbose`). */
  readonly traceSink?: (line: string) => void;
}

export class Simulation {
  readonly seed: number;
  readonly options: SimOptions;
  readonly clock = new SimClock();
  readonly trace: Trace;
  readonly random: SimRandom;
  readonly network: SimNetwork<SimPayload>;
  readonly nodeIds: readonly number[];
  readonly history: HistoryRecorder;
  readonly safety = new SafetyChecker();
  /** Workload clients, then the liveness phase's client (last). */
  readonly clients: readonly SimClient[];
  readonly workload: Workload;
  private readonly nodes = new Map<number, RaftKvNode>();
  private readonly disks = new Map<number, SimDisk>();
  private readonly down = new Map<number, number>();
  private readonly clientsByEndpoint = new Map<number, SimClient>();

  constructor(seed: number, options: SimOptions, hooks: SimulationHooks = {}) {
    validateOptions(options);
    this.seed = seed;
    this.options = options;
    this.random = new SimRandom(seed);
    this.trace = new Trace({ enabled: hooks.traceEnabled ?? true, ...(hooks.traceSink === undefined ? {} : { sink: hooks.traceSink }), nowMs: () => this.clock.nowMs });
    this.nodeIds = Array.from({ length: options.nodeCount }, (_, i) => i + 1);
    this.history = new HistoryRecorder(() => this.clock.nowMs);
    this.network = new SimNetwork<SimPayload>(
      {
        clock: this.clock, prng: this.random.stream('network'), trace: this.trace, serverIds: this.nodeIds,
        deliver: (e) => this.deliver(e), clone: clonePayload, describe: describeEnvelope, fingerprint: fingerprintPayload,
      },
      options.network,
    );
    for (const id of this.nodeIds) this.buildNode(id);
    this.clients = Array.from({ length: options.clientCount + 1 }, (_, i) => this.buildClient(i));
    this.workload = new Workload(
      { clients: this.clients.slice(0, options.clientCount), clock: this.clock, prng: this.random.stream('workload') },
      options.workload,
    );
  }

  /** The client the liveness phase uses for its final write and read. */
  get finalClient(): SimClient {
    return this.clients[this.clients.length - 1] as SimClient;
  }

  node(id: number): RaftKvNode {
    const node = this.nodes.get(id);
    assert(node !== undefined, `no node ${id}`);
    return node;
  }

  disk(id: number): SimDisk {
    const disk = this.disks.get(id);
    assert(disk !== undefined, `no disk ${id}`);
    return disk;
  }

  /** Formats every disk, starts every node and the workload. */
  start(): void {
    this.startNodes();
    this.workload.start();
  }

  /** Formats every disk and starts every node, without the workload (tests drive clients by hand). */
  startNodes(): void {
    for (const id of this.nodeIds) {
      const batch = new WriteBatch();
      formatRaftState(batch, { ...emptyConfState(), nodes: [...this.nodeIds] });
      this.disk(id).format(batch);
      this.node(id).start();
    }
  }

  crash(id: number): void {
    assert(!this.down.has(id), `node ${id} is already down`);
    this.node(id).crash();
    this.down.set(id, this.clock.nowMs);
  }

  restart(id: number): void {
    assert(this.down.has(id), `node ${id} is not down`);
    this.down.delete(id);
    this.node(id).start();
  }

  /** When node `id` went down, or undefined when it is up. */
  downSince(id: number): number | undefined {
    return this.down.get(id);
  }

  downCount(): number {
    return this.down.size;
  }

  /** Restarts every down node, in id order. */
  restartAll(): void {
    for (const id of this.nodeIds) if (this.down.has(id)) this.restart(id);
  }

  /** Runs every event up to virtual time `timeMs`, within the run's event budget. */
  runUntil(timeMs: number): void {
    this.clock.runUntil(timeMs, eventsPerRunMax - this.clock.executed);
  }

  /** The live node that leads the highest term, if any. */
  leaderId(): number | undefined {
    let best: { id: number; term: number } | undefined;
    for (const id of this.nodeIds) {
      const status = this.node(id).status();
      if (status === undefined || !status.isLeader) continue;
      if (best === undefined || status.term > best.term) best = { id, term: status.term };
    }
    return best?.id;
  }

  /** The applied state of every node, or undefined if some node is down. */
  replicaStates(): ReplicaState[] | undefined {
    const out: ReplicaState[] = [];
    for (const id of this.nodeIds) {
      const state = this.node(id).appliedState();
      if (state === undefined) return undefined;
      out.push({ nodeId: id, appliedIndex: state.appliedIndex, contents: state.contents });
    }
    return out;
  }

  private buildNode(id: number): void {
    const disk = new SimDisk({ clock: this.clock, prng: this.random.stream(`disk${id}`), trace: this.trace, owner: id }, this.options.disk);
    this.disks.set(id, disk);
    const node = new RaftKvNode(
      {
        id, clock: this.clock, trace: this.trace, disk, prng: this.random.stream(`node${id}`),
        send: (e, onOutcome) => this.network.send(e, onOutcome), observer: this.safety,
      },
      { ...this.options.raft, nodeIds: this.nodeIds },
    );
    this.nodes.set(id, node);
  }

  private buildClient(index: number): SimClient {
    const endpoint = clientIdBase + index;
    const client = new SimClient(
      {
        clientId: index, endpoint, nodeIds: this.nodeIds, clock: this.clock, prng: this.random.stream(`client${index}`),
        trace: this.trace, history: this.history, send: (e) => this.network.send(e),
      },
      this.options.client,
    );
    this.clientsByEndpoint.set(endpoint, client);
    return client;
  }

  private deliver(envelope: SimEnvelope): void {
    const node = this.nodes.get(envelope.to);
    if (node !== undefined) return node.receive(envelope);
    const client = this.clientsByEndpoint.get(envelope.to);
    assert(client !== undefined, `message to unknown address ${envelope.to}`);
    client.receive(envelope);
  }
}
