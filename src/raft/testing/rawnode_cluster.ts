/**
 * Test harness: a group of RawNodes, each on its own MemoryStorage, driven the
 * way an application must drive them (the Ready contract of ready.ts):
 * persist snapshot / entries / hardState, then send messages, then apply
 * committed entries (conf changes through `applyConfChange`), then advance.
 *
 * Unlike the Raft-level `Network` of network.ts, this exercises the RawNode
 * surface, and lets a test script application-side faults: hold back a Ready
 * (the application is still busy with it), drop or record messages, compact a
 * node's storage. Deterministic: nodes are processed in ascending id order and
 * messages are delivered in the order they were sent. Used only by tests.
 */
import { assert } from '../../util/assert.js';
import { decodeConfChangeEntry } from '../conf_change_codec.js';
import { RawNode, SnapshotStatus } from '../raw_node.js';
import type { Ready } from '../ready.js';
import { MemoryStorage } from '../storage.js';
import { EntryType, MessageType } from '../types.js';
import type { Entry, Message, RaftError } from '../types.js';
import { newTestConfig, persistReady } from './network.js';
import type { ConfigOverrides } from './network.js';

export interface RawNodeClusterOptions {
  readonly electionTick?: number;
  readonly heartbeatTick?: number;
  readonly overrides?: ConfigOverrides;
  /**
   * After delivering a MsgSnapshot, report SnapshotStatus.Finish to its
   * sender, as a transport does once the snapshot is sent. @default true
   */
  readonly reportSnapshotOnDelivery?: boolean;
}

export class RawNodeCluster {
  readonly nodes = new Map<number, RawNode>();
  readonly storages = new Map<number, MemoryStorage>();
  /** Committed entries each node applied, in order (the state machine). */
  readonly applied = new Map<number, Entry[]>();
  /** Data of the snapshots each node applied, in order. */
  readonly appliedSnapshots = new Map<number, Buffer[]>();
  /** Every message handed to the network, in send order, with whether it was delivered. */
  readonly log: { readonly m: Message; readonly delivered: boolean }[] = [];
  /** Returns false to drop a message (a lossy or partitioned network). */
  filter: ((m: Message) => boolean) | undefined = undefined;
  private readonly held = new Map<number, Ready>();
  private readonly holdWhen = new Map<number, (rn: RawNode) => boolean>();
  private queue: Message[] = [];
  private readonly reportSnapshotOnDelivery: boolean;

  /** A group whose voters are `ids`, all starting as followers at term 0. */
  constructor(ids: readonly number[], opts: RawNodeClusterOptions = {}) {
    this.reportSnapshotOnDelivery = opts.reportSnapshotOnDelivery ?? true;
    for (const id of ids) {
      const storage = new MemoryStorage();
      const cfg = newTestConfig(id, ids, opts.electionTick ?? 10, opts.heartbeatTick ?? 1, storage, opts.overrides);
      this.storages.set(id, storage);
      this.nodes.set(id, new RawNode(cfg));
      this.applied.set(id, []);
      this.appliedSnapshots.set(id, []);
    }
  }

  node(id: number): RawNode {
    const rn = this.nodes.get(id);
    assert(rn !== undefined, `no node ${id}`);
    return rn;
  }

  storage(id: number): MemoryStorage {
    const s = this.storages.get(id);
    assert(s !== undefined, `no storage ${id}`);
    return s;
  }

  /** Entries node `id` applied whose type is normal and whose data is not empty. */
  appliedData(id: number): string[] {
    return (this.applied.get(id) ?? []).filter((e) => e.entryType === EntryType.EntryNormal && e.data.length > 0).map((e) => e.data.toString());
  }

  /** Ids of the nodes, ascending. */
  ids(): number[] {
    return [...this.nodes.keys()].sort((a, b) => a - b);
  }

  tick(id: number, times = 1): void {
    for (let i = 0; i < times; i++) this.node(id).tick();
  }

  propose(id: number, data: string): RaftError | undefined {
    return this.node(id).propose(Buffer.from(data));
  }

  /**
   * The next Ready of `id` taken while `pred` holds is kept by the
   * application, unprocessed and not advanced, until `completeReady(id)`.
   * Meanwhile the node still receives messages.
   */
  holdReadyWhen(id: number, pred: (rn: RawNode) => boolean): void {
    this.holdWhen.set(id, pred);
  }

  /** The Ready held for `id`, if any. */
  heldReady(id: number): Ready | undefined {
    return this.held.get(id);
  }

  /** Processes the held Ready of `id` (persist, send, apply, advance). */
  completeReady(id: number): void {
    const rd = this.held.get(id);
    assert(rd !== undefined, `no Ready held for ${id}`);
    this.held.delete(id);
    this.processReady(id, rd);
  }

  /**
   * Steps `m` into its recipient now, bypassing the filter (a message the
   * test injects: a delayed duplicate, a retransmission).
   */
  inject(m: Message): RaftError | undefined {
    return this.node(m.to).step(m);
  }

  /**
   * Writes a snapshot at `index` (already applied by `id`) with the node's
   * current membership and discards the log up to it, as a raftstore's log GC.
   */
  compact(id: number, index: number, data = `snap@${index}`): void {
    const rn = this.node(id);
    assert(index <= rn.raft.raftLog.applied, `compact ${index} beyond applied ${rn.raft.raftLog.applied}`);
    const s = this.storage(id);
    s.createSnapshot(index, rn.status().confState, Buffer.from(data));
    s.compact(index);
  }

  /**
   * Processes Readys and delivers messages until nothing is left to do.
   * Nodes with a held Ready are skipped (but still receive messages).
   * @throws {AssertionError} when the group does not quiesce within `maxRounds`.
   */
  stabilize(maxRounds = 10_000): void {
    for (let round = 0; ; round++) {
      assert(round < maxRounds, 'RawNodeCluster.stabilize did not quiesce');
      let progressed = false;
      for (const id of this.ids()) {
        if (this.held.has(id)) continue;
        const rn = this.node(id);
        if (!rn.hasReady()) continue;
        progressed = true;
        const pred = this.holdWhen.get(id);
        if (pred?.(rn) === true) {
          this.holdWhen.delete(id);
          this.held.set(id, rn.ready());
          continue;
        }
        this.processReady(id, rn.ready());
      }
      if (this.queue.length > 0) {
        progressed = true;
        this.deliver();
      }
      if (!progressed) return;
    }
  }

  /** Ticks every node (ascending id) once and stabilizes, `times` times. */
  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const id of this.ids()) this.node(id).tick();
      this.stabilize();
    }
  }

  /** The Ready contract: persist, send, apply, advance. */
  private processReady(id: number, rd: Ready): void {
    const rn = this.node(id);
    const s = this.storage(id);
    // 1. Persist: the snapshot first (it replaces the log), then entries, then the HardState.
    persistReady(s, rd);
    // 2. Apply the snapshot to the state machine.
    if (rd.snapshot !== undefined) this.appliedSnapshots.get(id)?.push(rd.snapshot.data);
    // 3. Send.
    this.queue.push(...rd.messages);
    // 4. Apply committed entries; conf changes go back to raft.
    for (const e of rd.committedEntries) {
      this.applied.get(id)?.push(e);
      if (e.entryType !== EntryType.EntryNormal) rn.applyConfChange(decodeConfChangeEntry(e));
    }
    // 5. Advance.
    rn.advance(rd);
  }

  private deliver(): void {
    const msgs = this.queue;
    this.queue = [];
    for (const m of msgs) {
      const ok = this.filter === undefined || this.filter(m);
      this.log.push({ m, delivered: ok });
      if (!ok) continue;
      const to = this.nodes.get(m.to);
      if (to === undefined) continue;
      to.step(m);
      if (m.msgType === MessageType.MsgSnapshot && this.reportSnapshotOnDelivery) {
        this.nodes.get(m.from)?.reportSnapshot(m.to, SnapshotStatus.Finish);
      }
    }
  }
}
