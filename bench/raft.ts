/**
 * Raft core benchmark: `npm run bench:raft [-- --entries N] [--batch 1|64|512]`.
 *
 * A 3-node group in memory: RawNodes on MemoryStorage, messages delivered
 * synchronously in-process (no serialization), Readys processed in the
 * documented order (persist -> send -> apply -> advance). The leader proposes
 * 100-byte entries with `RawNode.proposeBatch`, one batch per replication
 * round; a scenario ends when all N entries are applied on all 3 nodes.
 * Storage is compacted to the applied index every COMPACT_EVERY entries, as
 * an application's log GC would.
 *
 * One JSON line per scenario:
 *  - commit_batch_{1,64,512}: committed entries/s (applied on all 3 nodes),
 *    and the time spent inside RawNode.step per delivered message.
 *  - step: ns per RawNode.step over all three runs.
 *
 * Where the time goes (node --cpu-prof dist/bench/raft.js --batch B, 2-core
 * VM, Node 20.20; measured 2026-11, read with a self/inclusive-time script):
 *  - Measured: batch 1 ~29k entries/s, batch 64 ~1.0-1.2M/s, batch 512
 *    ~2.8-4.1M/s (noisy on a shared VM). RawNode.step is only ~21-27% of the
 *    time; the rest is the Ready loop, proposal intake and GC.
 *  - batch 1 (8 messages and ~6 Readys per entry): RawNode.ready() 25% self /
 *    29% inclusive -- the hot lines are the Ready object literal built from
 *    conditional spreads (`...(softChanged ? { softState } : {})` etc.), which
 *    V8 compiles to slow generic object cloning; plus unstableEntries() and
 *    nextEnts() copies. Raft.step 33% inclusive, of which maybeCommit ->
 *    ProgressTracker.committed -> majorityCommittedIndex 6.4% (allocates and
 *    sorts an array of acked indexes on every commit check); bcastAppend 13%
 *    (ProgressTracker.visit copies and sorts the progress ids with sortedIds
 *    on every call, 3%; newMessage builds a 12-field object). GC 8%.
 *  - batch 64 / 512: GC 11-13%; ready() 6-14% self; proposeBatch + newEntry
 *    per entry and appendEntry's per-entry term/index loop (~24% inclusive at
 *    512); Unstable.truncateAndAppend + RaftLog.append (5-8%);
 *    MemoryStorage.append (4.5%, it rebuilds its whole array with
 *    `[...ents.slice(0, offset), ...ents]` on every append -- O(stored log),
 *    bounded here only because the bench compacts every 4096 entries);
 *    payloadsSize (2%, recomputed per append for the uncommitted limit);
 *    RaftLog.slice/mustCheckOutOfBounds for every MsgAppend and nextEnts.
 *  Suggested core optimizations, biggest first: a fixed-shape Ready (no
 *  conditional spreads); no array copy in unstableEntries()/nextEnts() when
 *  the caller does not keep them; an in-place push in MemoryStorage.append
 *  when appending at the end; a cached sorted id list in ProgressTracker
 *  (invalidated on config change) instead of sortedIds per visit; a reused
 *  scratch array in majorityCommittedIndex; skipping payloadsSize when
 *  maxUncommittedSize is unlimited.
 */
import { MemoryStorage } from '../src/raft/storage.js';
import { RawNode } from '../src/raft/raw_node.js';
import { emptyConfState, StateType } from '../src/raft/types.js';
import type { Message } from '../src/raft/types.js';
import { Prng } from '../src/util/prng.js';
import { argNumber, nowMs, report, round } from './_report.js';

const ENTRY_BYTES = 100;
const COMPACT_EVERY = 4096;
const IDS = [1, 2, 3];

interface Node {
  readonly id: number;
  readonly raw: RawNode;
  readonly storage: MemoryStorage;
  applied: number;
  lastCompact: number;
  inbox: Message[];
}

class Group {
  readonly nodes: Node[];
  stepNs = 0;
  steps = 0;

  constructor() {
    this.nodes = IDS.map((id) => {
      const storage = new MemoryStorage();
      storage.bootstrap({ ...emptyConfState(), nodes: [...IDS] });
      const raw = new RawNode({ id, electionTick: 10, heartbeatTick: 1, storage, rng: new Prng(id) });
      return { id, raw, storage, applied: 0, lastCompact: 0, inbox: [] };
    });
  }

  get leader(): Node {
    return this.nodes[0] as Node;
  }

  /** Processes Readys and delivers messages until nothing moves. */
  pump(): void {
    for (;;) {
      let moved = false;
      for (const n of this.nodes) {
        while (n.raw.hasReady()) {
          moved = true;
          const rd = n.raw.ready();
          if (rd.snapshot !== undefined) n.storage.applySnapshot(rd.snapshot);
          if (rd.entries.length > 0) n.storage.append(rd.entries);
          if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState);
          for (const m of rd.messages) (this.nodes[m.to - 1] as Node).inbox.push(m);
          const ce = rd.committedEntries;
          if (ce.length > 0) n.applied = (ce[ce.length - 1] as (typeof ce)[number]).index;
          n.raw.advance(rd);
          if (n.applied - n.lastCompact >= COMPACT_EVERY) {
            n.storage.createSnapshot(n.applied, undefined, Buffer.alloc(0));
            n.storage.compact(n.applied);
            n.lastCompact = n.applied;
          }
        }
      }
      for (const n of this.nodes) {
        if (n.inbox.length === 0) continue;
        moved = true;
        const inbox = n.inbox;
        n.inbox = [];
        const t0 = process.hrtime.bigint();
        for (const m of inbox) n.raw.step(m);
        this.stepNs += Number(process.hrtime.bigint() - t0);
        this.steps += inbox.length;
      }
      if (!moved) return;
    }
  }

  elect(): void {
    this.leader.raw.campaign();
    this.pump();
    if (this.leader.raw.raft.state !== StateType.Leader) throw new Error('node 1 did not become leader');
  }
}

function scenario(batch: number, entries: number, print = true): { stepNs: number; steps: number } {
  const g = new Group();
  g.elect();
  const base = g.leader.raw.raft.raftLog.lastIndex();
  const payload = Buffer.alloc(ENTRY_BYTES, 0x61);
  const datas = Array.from({ length: batch }, () => payload);
  g.stepNs = 0;
  g.steps = 0;
  const start = nowMs();
  for (let proposed = 0; proposed < entries; proposed += batch) {
    const err = g.leader.raw.proposeBatch(proposed + batch <= entries ? datas : datas.slice(0, entries - proposed));
    if (err !== undefined) throw err;
    g.pump();
  }
  g.pump();
  const ms = nowMs() - start;
  for (const n of g.nodes) {
    if (n.applied !== base + entries) throw new Error(`node ${n.id} applied ${n.applied - base} of ${entries}`);
  }
  if (print) {
  report('raft', `commit_batch_${batch}`, {
    nodes: 3,
    batch,
    entries,
    entry_bytes: ENTRY_BYTES,
    entries_per_sec: round((entries / ms) * 1000, 0),
    mb_per_sec: round((entries * ENTRY_BYTES) / 1e6 / (ms / 1000), 1),
    steps: g.steps,
    steps_per_entry: round(g.steps / entries, 3),
    ns_per_step: round(g.stepNs / g.steps, 0),
    step_share: round(g.stepNs / 1e6 / ms, 3),
  });
  }
  return { stepNs: g.stepNs, steps: g.steps };
}

function main(): void {
  const n = argNumber('entries', 500_000);
  // `--batch B` runs only that scenario (handy under --cpu-prof).
  const only = process.argv.includes('--batch') ? argNumber('batch', 1) : undefined;
  // Warm-up so the JIT has compiled the hot paths before measuring.
  scenario(64, 20_000, false);
  const totals = { stepNs: 0, steps: 0 };
  const plan: [number, number][] = [
    [1, Math.min(n, 50_000)],
    [64, n],
    [512, 4 * n],
  ];
  for (const [batch, entries] of plan) {
    if (only !== undefined && batch !== only) continue;
    const t = scenario(batch, entries);
    totals.stepNs += t.stepNs;
    totals.steps += t.steps;
  }
  if (only === undefined) report('raft', 'step', { steps: totals.steps, ns_per_step: round(totals.stepNs / totals.steps, 0) });
}

main();
