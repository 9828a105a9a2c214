/**
 * The first consumer of the simulator: a minimal replicated KV on the raft
 * core. One raft group of N nodes; each node keeps its raft log, HardState
 * and state machine on its own simulated disk, follows the Ready contract
 * strictly (persist, with sync when required, before sending; apply after
 * persisting; advance last; one Ready in flight at a time), serves writes by
 * proposal and reads by ReadIndex (raft thesis §6.4), and compacts its log,
 * sending snapshots (the whole KV contents) to nodes that fall behind.
 *
 * Clients reach nodes over the simulated network. A node that is not the
 * leader answers `notLeader` with a hint. A crash drops every in-memory
 * structure and the node's pending events; restart rebuilds from the disk.
 *
 * `buggyFollowerReads` is a deliberate bug for testing the tester: followers
 * answer reads from their local state without ReadIndex, which can be stale.
 */
import { assert } from '../util/assert.js';
import { RawNode, SnapshotStatus } from '../raft/raw_node.js';
import type { Ready } from '../raft/ready.js';
import { EntryType, MessageType, StateType } from '../raft/types.js';
import type { Entry, Message, Snapshot, SoftState } from '../raft/types.js';
import { WriteBatch } from '../storage/write_batch.js';
import type { SimClock } from './clock.js';
import type { SimDisk } from './disk.js';
import type { KvOutput } from './history.js';
import {
  contents, decodeCommand, encodeCommand, encodeSnapshotData, proposalKey, read, stageApplied, stageSnapshotData, stageWrite,
} from './kv_state_machine.js';
import { committedEntriesPerReadyMax, pendingProposalsMax, pendingReadsMax } from './limits.js';
import { REGION_ID } from './messages.js';
import type { KvRequest, KvResult, SimEnvelope } from './messages.js';
import type { OutcomeCallback } from './network.js';
import type { Prng } from './prng.js';
import { readApplied, SimRaftStorage } from './raft_storage.js';
import type { Trace } from './trace.js';

export interface RaftKvConfig {
  readonly nodeIds: readonly number[];
  /** Virtual milliseconds per raft tick. */
  readonly tickMs: number;
  readonly electionTick: number;
  readonly heartbeatTick: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxSizePerMsgBytes: number;
  readonly maxInflightMsgs: number;
  /** Compact the log once it holds this many applied entries. */
  readonly compactLogEntriesMin: number;
  /** A node gives up on a proposal or read it could not finish in this time. */
  readonly requestTimeoutMs: number;
  /** Deliberate bug: followers serve reads locally, without ReadIndex. */
  readonly buggyFollowerReads: boolean;
}

/** Hooks through which the simulation checks raft safety as the run goes. */
export interface SafetyObserver {
  onApply(nodeId: number, entry: Entry): void;
  onLeader(nodeId: number, term: number): void;
}

export interface RaftKvDeps {
  readonly id: number;
  readonly clock: SimClock;
  readonly trace: Trace;
  readonly disk: SimDisk;
  /** The node's stream: tick phases and each incarnation's election jitter. */
  readonly prng: Prng;
  readonly send: (envelope: SimEnvelope, onOutcome?: OutcomeCallback) => void;
  readonly observer: SafetyObserver;
}

interface Pending {
  readonly request: KvRequest;
  /** Where to answer (the client's network id). */
  readonly replyTo: number;
  readonly deadlineMs: number;
}

interface PendingRead extends Pending {
  /** Set when the ReadState arrives: serve once applied >= index. */
  index: number | undefined;
}

/** Everything a crash loses. */
interface Incarnation {
  readonly number: number;
  readonly rawNode: RawNode;
  readonly storage: SimRaftStorage;
  /** Invariant: equals the applied index written to the disk with the state machine. */
  applied: number;
  softState: SoftState;
  /** A Ready is being persisted; no other Ready may be taken until it completes. */
  persisting: boolean;
  readonly proposals: Map<string, Pending>;
  /** By read id (the ReadIndex context carries the incarnation number and the read id). */
  readonly reads: Map<number, PendingRead>;
  nextReadId: number;
}

/** Readys processed back to back in one call (each needs new input to exist; this bounds the loop). */
const readyLoopsMax = 64;
/** A ReadIndex context: the incarnation number and the read id, u32 little-endian each. */
const readCtxBytes = 8;

export class RaftKvNode {
  readonly id: number;
  private readonly deps: RaftKvDeps;
  private readonly config: RaftKvConfig;
  private state: Incarnation | undefined;
  private incarnations = 0;

  constructor(deps: RaftKvDeps, config: RaftKvConfig) {
    assert(config.nodeIds.includes(deps.id), `raft kv: node ${deps.id} is not in the group`);
    assert(config.tickMs > 0 && config.requestTimeoutMs > 0, 'raft kv: bad timing config');
    this.id = deps.id;
    this.deps = deps;
    this.config = config;
  }

  get alive(): boolean {
    return this.state !== undefined;
  }

  /** (Re)starts the node from its disk. */
  start(): void {
    assert(this.state === undefined, `node ${this.id} is already running`);
    const disk = this.deps.disk;
    const storage = new SimRaftStorage(disk, () => this.snapshotNow());
    const applied = readApplied(disk);
    const rawNode = new RawNode({
      id: this.id,
      electionTick: this.config.electionTick,
      heartbeatTick: this.config.heartbeatTick,
      storage,
      applied,
      preVote: this.config.preVote,
      checkQuorum: this.config.checkQuorum,
      maxSizePerMsg: this.config.maxSizePerMsgBytes,
      maxInflightMsgs: this.config.maxInflightMsgs,
      // Only the leader proposes: others answer notLeader, so a refusal is definite.
      disableProposalForwarding: true,
      rng: this.deps.prng.split(),
    });
    this.incarnations++;
    this.state = {
      number: this.incarnations, rawNode, storage, applied, softState: { lead: 0, raftState: StateType.Follower },
      persisting: false, proposals: new Map(), reads: new Map(), nextReadId: 1,
    };
    this.record(`start #${this.incarnations} applied ${applied} log ${storage.firstIndex()}..${storage.lastIndex()}`);
    this.scheduleTick(this.deps.prng.intInclusive(1, this.config.tickMs));
  }

  /** Loses all in-memory state, every pending event and every unsynced write. */
  crash(): void {
    assert(this.state !== undefined, `node ${this.id} is not running`);
    this.state = undefined;
    const cancelled = this.deps.clock.cancelOwner(this.id);
    const lost = this.deps.disk.crash();
    this.record(`crash: ${cancelled} events cancelled, ${lost} unsynced writes lost`);
  }

  /** Leader, term and applied index, for the simulation's checks (undefined when down). */
  status(): { readonly isLeader: boolean; readonly term: number; readonly lead: number; readonly applied: number } | undefined {
    const s = this.state;
    if (s === undefined) return undefined;
    const st = s.rawNode.status();
    return { isLeader: st.softState.raftState === StateType.Leader, term: st.hardState.term, lead: st.softState.lead, applied: s.applied };
  }

  /** Applied index and KV contents, for the convergence checker. */
  appliedState(): { readonly appliedIndex: number; readonly contents: readonly (readonly [string, string])[] } | undefined {
    const s = this.state;
    if (s === undefined) return undefined;
    return { appliedIndex: s.applied, contents: contents(this.deps.disk) };
  }

  /** A message from the network. A down node drops it. */
  receive(envelope: SimEnvelope): void {
    const s = this.state;
    if (s === undefined) return;
    const p = envelope.payload;
    if (p.kind === 'raft') {
      // Refusals of stray messages (a response from an unknown peer) are expected under faults.
      // No copy: the network copies duplicates, and the core does not mutate the
      // messages a node steps (only proposals and transfers, never sent here).
      s.rawNode.step(p.message);
    } else if (p.kind === 'request') {
      this.handleRequest(s, p.request, envelope.from);
    } else {
      assert(false, `node ${this.id} received a client response`);
    }
    this.processReady();
  }

  private scheduleTick(delayMs: number): void {
    this.deps.clock.schedule(delayMs, this.id, 'tick', () => {
      const s = this.state;
      assert(s !== undefined, 'tick of a down node');
      s.rawNode.tick();
      this.expirePending(s);
      this.scheduleTick(this.config.tickMs);
      this.processReady();
    });
  }

  private handleRequest(s: Incarnation, request: KvRequest, replyTo: number): void {
    const input = request.input;
    const isLeader = s.softState.raftState === StateType.Leader;
    if (input.kind === 'get' || input.kind === 'scan') {
      if (!isLeader && this.config.buggyFollowerReads) {
        return this.respond(replyTo, request, { kind: 'ok', output: read(this.deps.disk, input) });
      }
      if (!isLeader) return this.respond(replyTo, request, { kind: 'notLeader', leaderHint: s.softState.lead });
      return this.startRead(s, request, replyTo);
    }
    if (!isLeader) return this.respond(replyTo, request, { kind: 'notLeader', leaderHint: s.softState.lead });
    if (s.proposals.size >= pendingProposalsMax) return this.respond(replyTo, request, { kind: 'refused', reason: 'busy' });
    const key = proposalKey(request.clientId, request.opId, request.attempt);
    if (s.proposals.has(key)) assert(false, `proposal ${key} proposed twice`);
    const err = s.rawNode.propose(encodeCommand({ clientId: request.clientId, opId: request.opId, attempt: request.attempt, input }));
    // A refusal (not leader after all, leader transfer) means it was not proposed: definite.
    if (err !== undefined) return this.respond(replyTo, request, { kind: 'refused', reason: err.code });
    s.proposals.set(key, { request, replyTo, deadlineMs: this.deps.clock.nowMs + this.config.requestTimeoutMs });
  }

  private startRead(s: Incarnation, request: KvRequest, replyTo: number): void {
    if (s.reads.size >= pendingReadsMax) return this.respond(replyTo, request, { kind: 'refused', reason: 'busy' });
    // The incarnation number keeps a ReadState answering a request of a former life from matching.
    const id = s.nextReadId++;
    const ctx = Buffer.allocUnsafe(readCtxBytes);
    ctx.writeUInt32LE(s.number, 0);
    ctx.writeUInt32LE(id, 4);
    const err = s.rawNode.readIndex(ctx);
    if (err !== undefined) return this.respond(replyTo, request, { kind: 'refused', reason: err.code });
    s.reads.set(id, { request, replyTo, deadlineMs: this.deps.clock.nowMs + this.config.requestTimeoutMs, index: undefined });
  }

  /** Takes Readys while there are some and no persist is in flight. */
  private processReady(): void {
    for (let i = 0; i < readyLoopsMax; i++) {
      const s = this.state;
      if (s === undefined || s.persisting || !s.rawNode.hasReady()) return;
      const rd = s.rawNode.ready();
      this.onSoftState(s, rd);
      const batch = new WriteBatch();
      s.storage.stageReady(batch, rd);
      if (rd.snapshot !== undefined) this.stageSnapshot(s, batch, rd.snapshot);
      const sync = rd.mustSync || rd.snapshot !== undefined;
      if (!sync) {
        // Nothing to fsync (only the commit index moved): the write need not complete first.
        if (!batch.isEmpty()) this.deps.disk.submit(batch, false);
        this.finishReady(s, rd);
        continue;
      }
      s.persisting = true;
      this.deps.disk.submit(batch, true, () => {
        assert(this.state === s, 'persist completion of another incarnation');
        s.persisting = false;
        this.finishReady(s, rd);
        this.processReady();
      });
      return;
    }
  }

  /** Steps 2-5 of the Ready contract, once step 1 (persist) is durable, then advance. */
  private finishReady(s: Incarnation, rd: Ready): void {
    s.storage.commitReady(rd);
    if (rd.snapshot !== undefined) {
      const index = rd.snapshot.metadata?.index ?? 0;
      this.record(`applied snapshot at ${index}`);
      s.applied = index;
    }
    for (const m of rd.messages) this.sendRaft(s, m);
    this.applyCommitted(s, rd.committedEntries);
    for (const rs of rd.readStates) {
      const ctx = rs.requestCtx;
      if (ctx.length !== readCtxBytes || ctx.readUInt32LE(0) !== s.number) continue;
      const read = s.reads.get(ctx.readUInt32LE(4));
      if (read !== undefined) read.index = rs.index;
    }
    this.serveReads(s);
    s.rawNode.advance(rd);
    this.maybeCompact(s);
  }

  private onSoftState(s: Incarnation, rd: Ready): void {
    const soft = rd.softState;
    if (soft === undefined) return;
    const wasLeader = s.softState.raftState === StateType.Leader;
    s.softState = soft;
    const isLeader = soft.raftState === StateType.Leader;
    if (isLeader && !wasLeader) {
      const term = rd.hardState?.term ?? s.rawNode.status().hardState.term;
      this.record(`leader at term ${term}`);
      this.deps.observer.onLeader(this.id, term);
    }
    if (wasLeader && !isLeader) {
      // ReadIndex requests not yet confirmed die with the leadership; confirmed ones stay valid.
      for (const [ctx, r] of [...s.reads].sort((a, b) => a[0] - b[0])) {
        if (r.index !== undefined) continue;
        s.reads.delete(ctx);
        this.respond(r.replyTo, r.request, { kind: 'refused', reason: 'leadership lost' });
      }
    }
  }

  /** Replaces the state machine by the snapshot's contents, in the persist batch (Ready step 2). */
  private stageSnapshot(s: Incarnation, batch: WriteBatch, snap: Snapshot): void {
    const index = snap.metadata?.index ?? 0;
    assert(index > s.applied, `snapshot at ${index} is not newer than applied ${s.applied}`);
    stageSnapshotData(batch, snap.data, index);
  }

  private sendRaft(s: Incarnation, m: Message): void {
    const envelope: SimEnvelope = {
      from: this.id, to: m.to, type: MessageType[m.msgType] ?? String(m.msgType), regionId: REGION_ID, payload: { kind: 'raft', message: m },
    };
    if (m.msgType !== MessageType.MsgSnapshot) return this.deps.send(envelope);
    // The transport reports a snapshot's fate, or the leader would wait for it forever.
    this.deps.send(envelope, (delivered) => {
      if (this.state !== s) return;
      s.rawNode.reportSnapshot(m.to, delivered ? SnapshotStatus.Finish : SnapshotStatus.Failure);
      this.processReady();
    });
  }

  private applyCommitted(s: Incarnation, entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    if (!(entries.length <= committedEntriesPerReadyMax)) assert(false, `too many committed entries: ${entries.length}`);
    const batch = new WriteBatch();
    const answers: [Pending, KvOutput][] = [];
    for (const e of entries) {
      if (!(e.index === s.applied + 1)) assert(false, `node ${this.id}: applying ${e.index} after ${s.applied}`);
      if (!(e.entryType === EntryType.EntryNormal)) assert(false, `node ${this.id}: membership is fixed, got entry type ${e.entryType}`);
      this.deps.observer.onApply(this.id, e);
      s.applied = e.index;
      if (e.data.length === 0) continue; // a new leader's empty entry
      const cmd = decodeCommand(e.data);
      const output = stageWrite(batch, cmd);
      const key = cmd.proposalKey;
      const pending = s.proposals.get(key);
      if (pending === undefined) continue;
      s.proposals.delete(key);
      answers.push([pending, output]);
    }
    stageApplied(batch, s.applied);
    this.deps.disk.submit(batch, false);
    for (const [p, output] of answers) this.respond(p.replyTo, p.request, { kind: 'ok', output });
  }

  private serveReads(s: Incarnation): void {
    if (s.reads.size === 0) return;
    const servable: [number, PendingRead][] = [];
    for (const entry of s.reads) if (entry[1].index !== undefined && entry[1].index <= s.applied) servable.push(entry);
    // Answers go out in read-id order, whatever order the ReadStates arrived in.
    if (servable.length > 1) servable.sort((a, b) => a[0] - b[0]);
    for (const [ctx, r] of servable) {
      s.reads.delete(ctx);
      const input = r.request.input;
      assert(input.kind === 'get' || input.kind === 'scan', 'pending read is not a read');
      this.respond(r.replyTo, r.request, { kind: 'ok', output: read(this.deps.disk, input) });
    }
  }

  private maybeCompact(s: Incarnation): void {
    const first = s.storage.firstIndex();
    if (s.applied - first + 1 < this.config.compactLogEntriesMin) return;
    const batch = new WriteBatch();
    s.storage.compact(batch, s.applied);
    this.deps.disk.submit(batch, false);
  }

  /** Gives up on proposals and reads past their deadline: exactly one answer each. */
  private expirePending(s: Incarnation): void {
    const now = this.deps.clock.nowMs;
    for (const [key, p] of expired(s.proposals, now)) {
      s.proposals.delete(key);
      this.respond(p.replyTo, p.request, { kind: 'unknown', reason: 'not applied in time' });
    }
    for (const [ctx, r] of expired(s.reads, now)) {
      s.reads.delete(ctx);
      this.respond(r.replyTo, r.request, { kind: 'refused', reason: 'read not served in time' });
    }
  }

  private snapshotNow(): Snapshot {
    const s = this.state;
    assert(s !== undefined, 'snapshot of a down node');
    return {
      data: encodeSnapshotData(this.deps.disk),
      metadata: { index: s.applied, term: s.storage.term(s.applied), confState: s.storage.membership },
    };
  }

  private respond(replyTo: number, request: KvRequest, result: KvResult): void {
    const response = { clientId: request.clientId, opId: request.opId, attempt: request.attempt, result };
    this.deps.send({ from: this.id, to: replyTo, type: 'response', regionId: 0, payload: { kind: 'response', response } });
  }

  private record(text: string): void {
    if (this.deps.trace.enabled) this.deps.trace.record(`n${this.id} ${text}`);
  }
}

/** Entries past their deadline, in key order (answers go out in a deterministic order). */
function expired<K extends string | number, T extends Pending>(pending: ReadonlyMap<K, T>, nowMs: number): [K, T][] {
  const out: [K, T][] = [];
  for (const entry of pending) if (entry[1].deadlineMs <= nowMs) out.push(entry);
  return out.length > 1 ? out.sort((a, b) => compareKeys(a[0], b[0])) : out;
}

function compareKeys<K extends string | number>(a: K, b: K): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
