/**
 * Test harness for RawNode-driven scenarios (joint consensus, learners,
 * ReadIndex answered through a Ready): a small cluster of RawNodes on
 * MemoryStorage whose driver handles every Ready the way an application must
 * (persist snapshot, entries and HardState; queue the messages; apply the
 * committed entries, including conf changes; advance), and delivers messages
 * synchronously and breadth-first over links that can be cut. Deterministic:
 * nodes are visited in ascending id order and the only randomness is each
 * node's seeded election jitter. Used by the extension tests only.
 */
import { assert } from '../../util/assert.js';
import { decodeConfChangeEntry } from '../conf_change_codec.js';
import type { Raft } from '../raft.js';
import { RawNode } from '../raw_node.js';
import type { ReadState } from '../read_only.js';
import type { Ready } from '../ready.js';
import { MemoryStorage } from '../storage.js';
import { ConfChangeTransition, ConfChangeType, EntryType, RaftError } from '../types.js';
import type { ConfChangeSingle, ConfChangeV2, ConfState, Entry, Message } from '../types.js';
import { newTestConfig, newTestMemoryStorage, persistReady } from './network.js';
import type { ConfigOverrides } from './network.js';

const linkKey = (from: number, to: number): string => `${from}->${to}`;

/** Shorthands for ConfChangeSingle lists: `v(4)` adds a voter, `l(3)` a learner, `r(2)` removes. */
export const v = (nodeId: number): ConfChangeSingle => ({ changeType: ConfChangeType.AddNode, nodeId });
export const l = (nodeId: number): ConfChangeSingle => ({ changeType: ConfChangeType.AddLearnerNode, nodeId });
export const r = (nodeId: number): ConfChangeSingle => ({ changeType: ConfChangeType.RemoveNode, nodeId });

export function confChangeV2(transition: ConfChangeTransition, ...changes: ConfChangeSingle[]): ConfChangeV2 {
  return { transition, changes, context: Buffer.alloc(0) };
}

/** The empty ConfChangeV2 that leaves a joint configuration. */
export const leaveJoint = (): ConfChangeV2 => confChangeV2(ConfChangeTransition.Auto);

export interface RawClusterOptions {
  /** Ids of the nodes to create; nodes outside `voters`/`learners` start as non-members. */
  readonly ids: readonly number[];
  readonly voters: readonly number[];
  readonly learners?: readonly number[];
  readonly overrides?: ConfigOverrides;
}

export class RawCluster {
  readonly nodes = new Map<number, RawNode>();
  readonly storages = new Map<number, MemoryStorage>();
  /** Payloads of the normal entries each node applied, in order. */
  readonly applied = new Map<number, string[]>();
  /** Every conf-change entry each node applied, in order. */
  readonly appliedConfChanges = new Map<number, Entry[]>();
  /** The ConfState after each conf change a node applied, in order. */
  readonly confStates = new Map<number, ConfState[]>();
  /** Committed conf changes a node refused to apply. */
  readonly refusedConfChanges = new Map<number, RaftError[]>();
  /** ReadStates each node handed out in its Readys. */
  readonly readStates = new Map<number, ReadState[]>();
  /** Returns false to drop a message. */
  msgHook: ((m: Message) => boolean) | undefined = undefined;
  private readonly cutLinks = new Set<string>();
  private queue: Message[] = [];

  constructor(opts: RawClusterOptions) {
    for (const id of opts.ids) {
      const storage = newTestMemoryStorage(opts.voters, opts.learners ?? []);
      this.storages.set(id, storage);
      this.nodes.set(id, new RawNode(newTestConfig(id, [], 10, 1, storage, opts.overrides ?? {})));
      this.applied.set(id, []);
      this.appliedConfChanges.set(id, []);
      this.confStates.set(id, []);
      this.refusedConfChanges.set(id, []);
      this.readStates.set(id, []);
    }
  }

  node(id: number): RawNode {
    const n = this.nodes.get(id);
    assert(n !== undefined, `no node ${id}`);
    return n;
  }

  raft(id: number): Raft {
    return this.node(id).raft;
  }

  /** The latest ConfState node `id` applied (undefined before any conf change). */
  lastConfState(id: number): ConfState | undefined {
    const css = this.confStates.get(id) ?? [];
    return css[css.length - 1];
  }

  cut(a: number, b: number): void {
    this.cutLinks.add(linkKey(a, b));
    this.cutLinks.add(linkKey(b, a));
  }

  isolate(id: number): void {
    for (const other of this.nodes.keys()) if (other !== id) this.cut(id, other);
  }

  recover(): void {
    this.cutLinks.clear();
  }

  tick(id: number, n = 1): void {
    for (let i = 0; i < n; i++) this.node(id).tick();
  }

  /** Handles one Ready of node `id` as an application would. */
  handleReady(id: number): Ready {
    const node = this.node(id);
    const storage = this.storages.get(id) as MemoryStorage;
    const rd = node.ready();
    // 1. Persist (snapshot, entries, hard state) before anything is sent.
    persistReady(storage, rd);
    // 2. Send.
    this.queue.push(...this.filter(rd.messages));
    // 3. Apply.
    for (const e of rd.committedEntries) this.apply(id, node, e);
    (this.readStates.get(id) as ReadState[]).push(...rd.readStates);
    node.advance(rd);
    return rd;
  }

  private apply(id: number, node: RawNode, e: Entry): void {
    if (e.entryType === EntryType.EntryNormal) {
      if (e.data.length > 0) (this.applied.get(id) as string[]).push(e.data.toString());
      return;
    }
    (this.appliedConfChanges.get(id) as Entry[]).push(e);
    const res = node.applyConfChange(decodeConfChangeEntry(e));
    if (res instanceof RaftError) (this.refusedConfChanges.get(id) as RaftError[]).push(res);
    else (this.confStates.get(id) as ConfState[]).push(res);
  }

  /** Delivers the queued messages (and only those); returns how many were delivered. */
  deliver(): number {
    const msgs = this.queue;
    this.queue = [];
    for (const m of msgs) this.nodes.get(m.to)?.step(m);
    return msgs.length;
  }

  /** Handles Readys and delivers messages until every node is quiet. */
  stabilize(): void {
    for (let round = 0; ; round++) {
      assert(round < 10_000, 'RawCluster.stabilize did not quiesce');
      let progressed = false;
      for (const id of [...this.nodes.keys()].sort((a, b) => a - b)) {
        const node = this.node(id);
        while (node.hasReady()) {
          this.handleReady(id);
          progressed = true;
        }
      }
      if (this.deliver() > 0) progressed = true;
      if (!progressed) return;
    }
  }

  /** Campaigns on `id` and stabilizes. */
  elect(id: number): void {
    assert(this.node(id).campaign() === undefined, `campaign of ${id} refused`);
    this.stabilize();
  }

  propose(id: number, data: string): RaftError | undefined {
    return this.node(id).propose(Buffer.from(data));
  }

  proposeConfChange(id: number, cc: ConfChangeV2): RaftError | undefined {
    return this.node(id).proposeConfChange(cc);
  }

  private filter(msgs: readonly Message[]): Message[] {
    return msgs.filter((m) => !this.cutLinks.has(linkKey(m.from, m.to)) && (this.msgHook === undefined || this.msgHook(m)));
  }
}
