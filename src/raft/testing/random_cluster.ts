/**
 * A deterministic randomized raft cluster for safety and liveness testing
 * (used by raft_random.test.ts).
 *
 * 3 or 5 voters, each a RawNode on its own MemoryStorage, driven on virtual
 * ticks by one seeded Prng, split per component (schedule, network, one
 * election-jitter stream per node incarnation). Membership is fixed.
 *
 * Fault phase: a fixed number of random steps, each one of: tick a node;
 * deliver the oldest / a random pending message (random order = reordering);
 * deliver a burst; drop or duplicate a pending message; partition (two-sided
 * split, isolate one node, one-way cut) or heal; crash a node (its RawNode and
 * everything not yet handed out in a Ready is lost) and restart it from its
 * stable storage (the MemoryStorage, written only by processed Readys) with
 * either the applied index persisted with the state machine or applied = 0
 * and a state machine rebuilt from the storage snapshot; propose unique
 * values at a random node (a RaftError refusal = "reported dropped");
 * compact a node's storage up to (at most) its applied index, so snapshots
 * flow; process a node's Ready; leader transfer (on the leader, or forwarded
 * by a follower); forced campaign; reboot (crash + immediate restart).
 * Steps come in alternating "calm" and "storm" spells (different mixes).
 * Lost MsgSnapshot are reported to the sender (ReportSnapshot Failure,
 * delivered ones Finish); other losses sometimes as ReportUnreachable. The
 * seed also draws the configuration: pre-vote, check-quorum, election and
 * heartbeat ticks, and sometimes tight flow control (maxSizePerMsg,
 * maxInflightMsgs, maxUncommittedEntriesSize, maxCommittedSizePerReady).
 *
 * Readys are processed in the documented order: check + persist snapshot,
 * entries, hardState -> send messages -> apply committed entries -> advance.
 * Sometimes a Ready is taken and processed only at a later step (like
 * etcd's asynchronous storage): the node keeps stepping and ticking meanwhile.
 *
 * After every step (and every delivery) the invariants are checked (see
 * `checkStep`): one leader per term; log matching (incrementally: an (index,
 * term) pair determines the entry and the term before it, which by induction
 * is the log matching property); committed-prefix agreement; leader
 * completeness (every entry committed at term <= C is in the log of every
 * leader of a term > C, unless compacted there); state-machine safety (one
 * global index -> applied entry map, and a digest chain checked against
 * snapshots); applied indexes only move forward by one (across restarts: a
 * re-applied entry is the same entry). Every 100 steps and at the end the
 * logs are re-checked in full, and at the end pairwise. Any violation, or any
 * exception thrown by the core, throws a {@link RaftInvariantError} naming
 * the seed, the replay command and the tail of the event trace.
 *
 * Liveness phase: heal everything, restart every node, deliver every message;
 * a leader known to all must appear, every node must catch up, a final batch
 * proposed through the leader must be applied everywhere, all within bounds;
 * then every proposal must be applied on all nodes or on none, refused ones
 * on none, and none twice.
 */
import { Prng } from '../../util/prng.js';
import { RawNode, SnapshotStatus } from '../raw_node.js';
import type { Ready } from '../ready.js';
import { MemoryStorage } from '../storage.js';
import { cloneMessage, emptyConfState, MessageType, NONE, RaftError, StateType } from '../types.js';
import type { Entry, Message, Snapshot } from '../types.js';

export interface RandomClusterOptions {
  /** Random steps in the fault phase. @default 1000 */
  readonly faultSteps?: number;
  /** Values proposed through the leader after healing. @default 6 */
  readonly finalBatch?: number;
  /** Events shown on failure. @default 60 */
  readonly traceTail?: number;
  /** The command printed to replay a failing seed. */
  readonly replayCommand?: (seed: number) => string;
  /**
   * Deliberately broken application behaviour, to show the checks catch it
   * (testing the tester): 'forgetVote' persists the HardState without its vote;
   * 'applyUncommitted' applies entries when they are persisted, before they commit.
   */
  readonly mutation?: 'none' | 'forgetVote' | 'applyUncommitted';
}

export interface RandomClusterResult {
  readonly seed: number;
  readonly voters: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Every event of the run, in order (the determinism tests hash it). */
  readonly trace: readonly string[];
  readonly stats: Readonly<Record<string, number>>;
}

/** A broken safety or liveness property; the message carries seed, replay command and trace tail. */
export class RaftInvariantError extends Error {
  override readonly name = 'RaftInvariantError';
}

const DEFAULT_REPLAY = (seed: number): string => `SEED=${seed} node --test dist/src/raft/raft_random.test.js`;

// --- small pure helpers --------------------------------------------------

/** Identity of an entry within an index: its term, type and payload. */
function entryKey(e: Entry): string {
  return `${e.term}|${e.entryType}|${e.data.toString('latin1')}`;
}

/** FNV-1a over `key`, chained from `prev`: the state machine's digest. */
function chainHash(prev: number, index: number, key: string): number {
  let h = (prev ^ 0x811c9dc5 ^ Math.imul(index, 0x9e3779b1)) >>> 0;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function encodeSnapData(index: number, hash: number): Buffer {
  return Buffer.from(`sm:${index}:${hash}`);
}

function decodeSnapData(data: Buffer): { index: number; hash: number } | undefined {
  const m = /^sm:(\d+):(\d+)$/.exec(data.toString('latin1'));
  if (m === null) return undefined;
  return { index: Number(m[1]), hash: Number(m[2]) };
}

/** A compact rendering of a message for the trace. */
export function describeMsgShort(m: Message): string {
  const head = `${m.from}->${m.to} ${MessageType[m.msgType]} t${m.term}`;
  switch (m.msgType) {
    case MessageType.MsgAppend: {
      const n = m.entries.length;
      const ents = n === 0 ? '' : ` [${m.entries[0]!.index}..${m.entries[n - 1]!.index}]`;
      return `${head} prev:${m.logTerm}/${m.index} c${m.commit}${ents}`;
    }
    case MessageType.MsgAppendResponse:
      return m.reject ? `${head} i${m.index} REJ hint:${m.logTerm}/${m.rejectHint}` : `${head} i${m.index}`;
    case MessageType.MsgRequestVote:
    case MessageType.MsgPreVote:
      return `${head} last:${m.logTerm}/${m.index}`;
    case MessageType.MsgRequestVoteResponse:
    case MessageType.MsgPreVoteResponse:
      return m.reject ? `${head} REJ` : head;
    case MessageType.MsgHeartbeat:
      return `${head} c${m.commit}`;
    case MessageType.MsgSnapshot:
      return `${head} snap:${m.snapshot?.metadata?.term ?? 0}/${m.snapshot?.metadata?.index ?? 0}`;
    case MessageType.MsgPropose:
      return `${head} n${m.entries.length}`;
    default:
      return head;
  }
}

const ROLE: Record<StateType, string> = {
  [StateType.Follower]: 'Follower',
  [StateType.Candidate]: 'Candidate',
  [StateType.Leader]: 'Leader',
  [StateType.PreCandidate]: 'PreCandidate',
};

// --- the model ---------------------------------------------------------------

/** The application state machine: a digest chain over applied entries. */
interface StateMachine {
  applied: number;
  /** hashes[k] is the digest after applying index base + k. */
  base: number;
  hashes: number[];
}

class SimNode {
  raw: RawNode | undefined;
  incarnation = 0;
  sm: StateMachine = { applied: 0, base: 0, hashes: [0] };
  /** Committed indexes already checked against the global committed map (this incarnation). */
  checkedCommit = 0;
  lastRole = '';
  /** A Ready taken from the RawNode and not yet processed (lost in a crash). */
  pendingReady: Ready | undefined;
  /** True while finishReady runs (guards against re-entrant processing). */
  inReady = false;

  constructor(
    readonly id: number,
    /** Stable storage: survives crashes; written only when a Ready is processed. */
    readonly storage: MemoryStorage,
    /** Source of the election-jitter rng of each incarnation. */
    readonly rngSource: Prng,
  ) {}

  get up(): boolean {
    return this.raw !== undefined;
  }

  hashAt(i: number): number | undefined {
    return this.sm.hashes[i - this.sm.base];
  }
}

interface Envelope {
  /** The node whose Ready sent it (m.from may differ, e.g. a forwarded transfer). */
  readonly from: number;
  readonly fromIncarnation: number;
  readonly to: number;
  readonly msg: Message;
}

interface Proposal {
  readonly node: number;
  readonly step: number;
  /** The RaftError code when refused; undefined when accepted. */
  readonly refused: string | undefined;
}

const ONE_IN = (n: number): { numerator: number; denominator: number } => ({ numerator: 1, denominator: n });

type Action =
  | 'tick'
  | 'tickAll'
  | 'deliverOldest'
  | 'deliverRandom'
  | 'deliverBurst'
  | 'drop'
  | 'duplicate'
  | 'propose'
  | 'ready'
  | 'partition'
  | 'heal'
  | 'crash'
  | 'restart'
  | 'reboot'
  | 'compact'
  | 'transfer'
  | 'campaign';

interface Weights {
  readonly entries: readonly (readonly [Action, number])[];
  readonly total: number;
}

function weights(w: Partial<Record<Action, number>>): Weights {
  const entries = (Object.entries(w) as [Action, number][]).filter(([, n]) => n > 0);
  return { entries, total: entries.reduce((acc, [, n]) => acc + n, 0) };
}

/** Step mix in calm spells: mostly progress, a few restarts of crashed nodes. */
const CALM = weights({
  tick: 18, tickAll: 6, deliverOldest: 30, deliverRandom: 10, deliverBurst: 8, propose: 14, ready: 4,
  heal: 2, restart: 3, compact: 3, transfer: 1, duplicate: 1,
});
/** Step mix in storms: every fault. */
const STORM = weights({
  tick: 24, tickAll: 3, deliverOldest: 16, deliverRandom: 14, deliverBurst: 5, drop: 4, duplicate: 3, propose: 10, ready: 4,
  partition: 4, heal: 2, crash: 2, restart: 2, reboot: 1, compact: 3, transfer: 1, campaign: 2,
});
/** Only for the 'forgetVote' mutation: elections and fast crash/restart cycles. */
const CRASHY = weights({
  tick: 24, tickAll: 3, deliverOldest: 10, deliverRandom: 20, deliverBurst: 2, propose: 5, ready: 4,
  crash: 4, restart: 6, reboot: 10, campaign: 8,
});

export class RandomCluster {
  readonly seed: number;
  readonly ids: number[];
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly electionTick: number;
  readonly heartbeatTick: number;
  readonly maxSizePerMsg: number | undefined;
  readonly maxInflightMsgs: number | undefined;
  readonly maxUncommittedEntriesSize: number | undefined;
  readonly maxCommittedSizePerReady: number | undefined;
  readonly nodes = new Map<number, SimNode>();
  readonly trace: string[] = [];
  readonly stats: Record<string, number> = {};

  private readonly sched: Prng;
  private readonly net: Prng;
  private readonly opts: Required<RandomClusterOptions>;
  private queue: Envelope[] = [];
  /** Blocked directed links, as `from*64+to`. */
  private readonly blocked = new Set<number>();
  private lossless = false;
  private step = 0;
  private stormy = false;
  private weatherUntil = 0;

  // Global knowledge used by the invariant checks.
  private readonly leaderOfTerm = new Map<number, number>();
  /** (index, term) -> the entry's key and the term of the entry before it. */
  private readonly entryAt = new Map<string, { key: string; prevTerm: number }>();
  /** index -> term of the committed entry there. */
  private readonly committedTerm = new Map<number, number>();
  /** index -> lowest leader term observed with that index committed (>= the term that committed it). */
  private readonly commitTerm: number[] = [0];
  /** index -> key of the entry applied there, and the state digest after it. */
  private readonly appliedKey: (string | undefined)[] = [''];
  private readonly appliedHash: number[] = [0];
  /** Leader (id@term#incarnation) -> committed indexes verified present in its log. */
  private readonly leaderVerified = new Map<string, number>();
  private readonly proposals = new Map<string, Proposal>();
  /** proposal value -> index it was applied at. */
  private readonly proposalApplied = new Map<string, number>();
  private nextValue = 1;

  constructor(seed: number, opts: RandomClusterOptions = {}) {
    this.seed = seed;
    this.opts = {
      faultSteps: opts.faultSteps ?? 1000,
      finalBatch: opts.finalBatch ?? 6,
      traceTail: opts.traceTail ?? 60,
      replayCommand: opts.replayCommand ?? DEFAULT_REPLAY,
      mutation: opts.mutation ?? 'none',
    };
    const master = new Prng(seed);
    const cfg = master.split();
    this.sched = master.split();
    this.net = master.split();
    const n = cfg.chance(ONE_IN(3)) ? 5 : 3;
    this.ids = Array.from({ length: n }, (_, i) => i + 1);
    this.preVote = cfg.chance(ONE_IN(2));
    this.checkQuorum = cfg.chance(ONE_IN(2));
    this.electionTick = cfg.intInclusive(5, 10);
    this.heartbeatTick = cfg.intInclusive(1, 2);
    // Flow control: sometimes tight, so windows fill and messages get split.
    this.maxSizePerMsg = cfg.chance(ONE_IN(3)) ? cfg.intInclusive(1, 40) : undefined;
    this.maxInflightMsgs = cfg.chance(ONE_IN(3)) ? cfg.intInclusive(1, 4) : undefined;
    this.maxUncommittedEntriesSize = cfg.chance(ONE_IN(4)) ? cfg.intInclusive(4, 40) : undefined;
    // Committed entries handed out a few at a time, across several Readys.
    this.maxCommittedSizePerReady = cfg.chance(ONE_IN(4)) ? cfg.intInclusive(1, 20) : undefined;
    for (const id of this.ids) {
      const storage = new MemoryStorage();
      storage.bootstrap({ ...emptyConfState(), nodes: [...this.ids] });
      const node = new SimNode(id, storage, master.split());
      this.nodes.set(id, node);
      this.boot(node, 0);
    }
    this.event(`init seed=${seed} voters=${n} preVote=${this.preVote} checkQuorum=${this.checkQuorum} election=${this.electionTick} heartbeat=${this.heartbeatTick} maxSizePerMsg=${this.maxSizePerMsg ?? '-'} maxInflight=${this.maxInflightMsgs ?? '-'} maxUncommitted=${this.maxUncommittedEntriesSize ?? '-'} maxCommittedPerReady=${this.maxCommittedSizePerReady ?? '-'}`);
  }

  // --- running ---------------------------------------------------------------

  run(): RandomClusterResult {
    try {
      for (let i = 0; i < this.opts.faultSteps; i++) {
        this.step++;
        this.randomStep();
        this.checkStep();
        if (this.step % 100 === 0) this.fullCheck();
      }
      this.fullCheck();
      this.livenessPhase();
      this.fullCheck();
      this.pairwiseLogCheck();
    } catch (err: unknown) {
      if (err instanceof RaftInvariantError) throw err;
      // A crash of the core (e.g. an AssertionError) is a failure too.
      const e = err instanceof Error ? err : new Error(String(err));
      throw this.failure(`core threw ${e.name}: ${e.message}\n${e.stack ?? ''}`);
    }
    return {
      seed: this.seed,
      voters: this.ids.length,
      preVote: this.preVote,
      checkQuorum: this.checkQuorum,
      trace: this.trace,
      stats: this.stats,
    };
  }

  private count(name: string): void {
    this.stats[name] = (this.stats[name] ?? 0) + 1;
  }

  private event(s: string): void {
    this.trace.push(`#${this.step} ${s}`);
  }

  private failure(what: string): RaftInvariantError {
    const tail = this.trace.slice(-this.opts.traceTail).join('\n  ');
    return new RaftInvariantError(
      `raft random cluster, seed ${this.seed}: ${what}\n` +
        `replay: ${this.opts.replayCommand(this.seed)}\n` +
        `trace tail (last ${this.opts.traceTail} of ${this.trace.length} events):\n  ${tail}`,
    );
  }

  private violation(cond: boolean, what: () => string): void {
    if (!cond) throw this.failure(what());
  }

  private upNodes(): SimNode[] {
    const out: SimNode[] = [];
    for (const n of this.nodes.values()) if (n.up) out.push(n);
    return out;
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[this.sched.intInclusive(0, xs.length - 1)] as T;
  }

  private randomStep(): void {
    if (this.step >= this.weatherUntil) {
      // Alternate calm spells (progress: long logs, compaction, snapshots)
      // with storms (loss, partitions, crashes).
      this.stormy = this.sched.chance(ONE_IN(2));
      this.weatherUntil = this.step + this.sched.intInclusive(20, 100);
      this.event(this.stormy ? 'weather: storm' : 'weather: calm');
    }
    // The forgotten-vote mutation needs a crash between two votes of one
    // term: use a crash-heavy mix so the tester-test stays small.
    const weights = this.opts.mutation === 'forgetVote' ? CRASHY : this.stormy ? STORM : CALM;
    let r = this.sched.intInclusive(0, weights.total - 1);
    let action: Action = 'tick';
    for (const [a, w] of weights.entries) {
      if (r < w) {
        action = a;
        break;
      }
      r -= w;
    }
    this.doAction(action);
  }

  private doAction(action: Action): void {
    const up = this.upNodes();
    switch (action) {
      case 'tick': {
        if (up.length === 0) return this.restartRandom();
        const n = this.pick(up);
        this.event(`tick ${n.id}`);
        n.raw!.tick();
        this.maybeReady(n);
        return;
      }
      case 'tickAll':
        // "Time passes": every live node ticks once.
        this.event('tick all');
        for (const n of up) {
          n.raw!.tick();
          this.maybeReady(n);
          this.checkStep();
        }
        return;
      case 'deliverOldest':
        return this.deliverAt(0);
      case 'deliverRandom':
        if (this.queue.length > 0) this.deliverAt(this.net.intInclusive(0, this.queue.length - 1));
        return;
      case 'deliverBurst': {
        const k = this.sched.intInclusive(2, 10);
        for (let i = 0; i < k && this.queue.length > 0; i++) this.deliverAt(0);
        return;
      }
      case 'drop':
        if (this.queue.length > 0) this.drop(this.net.intInclusive(0, this.queue.length - 1), 'drop');
        return;
      case 'duplicate':
        return this.duplicate();
      case 'propose':
        return this.proposeRandom(up);
      case 'ready':
        if (up.length > 0) {
          const n = this.pick(up);
          this.event(`ready ${n.id}`);
          this.processReady(n);
        }
        return;
      case 'partition':
        return this.partition();
      case 'heal':
        if (this.blocked.size > 0) {
          this.blocked.clear();
          this.event('heal network');
        }
        return;
      case 'crash':
        if (up.length > 0) this.crash(this.pick(up));
        return;
      case 'restart':
        return this.restartRandom();
      case 'reboot':
        // A process restart: crash and come back at once.
        if (up.length > 0) {
          const n = this.pick(up);
          this.crash(n);
          this.restart(n);
        }
        return;
      case 'compact':
        if (up.length > 0) this.compact(this.pick(up));
        return;
      case 'transfer':
        return this.transfer(up);
      case 'campaign':
        if (up.length > 0) {
          const n = this.pick(up);
          this.event(`campaign ${n.id}`);
          n.raw!.campaign();
          this.maybeReady(n);
        }
        return;
    }
  }

  private maybeReady(n: SimNode): void {
    // Usually right away; sometimes later, so Readys batch more work.
    if (this.lossless || this.sched.intInclusive(0, 3) !== 0) this.processReady(n);
  }

  // --- nodes -----------------------------------------------------------------

  private boot(n: SimNode, applied: number): void {
    n.raw = new RawNode({
      id: n.id,
      electionTick: this.electionTick,
      heartbeatTick: this.heartbeatTick,
      storage: n.storage,
      rng: n.rngSource.split(),
      applied,
      preVote: this.preVote,
      checkQuorum: this.checkQuorum,
      ...(this.maxSizePerMsg !== undefined ? { maxSizePerMsg: this.maxSizePerMsg } : {}),
      ...(this.maxInflightMsgs !== undefined ? { maxInflightMsgs: this.maxInflightMsgs } : {}),
      ...(this.maxUncommittedEntriesSize !== undefined ? { maxUncommittedEntriesSize: this.maxUncommittedEntriesSize } : {}),
      ...(this.maxCommittedSizePerReady !== undefined ? { maxCommittedSizePerReady: this.maxCommittedSizePerReady } : {}),
    });
    n.checkedCommit = 0;
    n.lastRole = '';
    n.pendingReady = undefined;
  }

  private crash(n: SimNode): void {
    this.event(`crash ${n.id} (applied ${n.sm.applied}, stable last ${n.storage.lastIndex()}, unstable ${n.raw!.raft.raftLog.unstable.entries.length})`);
    this.count('crash');
    n.raw = undefined;
    n.pendingReady = undefined;
    n.incarnation++;
  }

  private restartRandom(): void {
    const down = [...this.nodes.values()].filter((n) => !n.up);
    if (down.length > 0) this.restart(this.pick(down));
  }

  private restart(n: SimNode): void {
    const persistApplied = this.sched.chance(ONE_IN(2));
    if (!persistApplied) {
      // The state machine was volatile: rebuild it from the storage snapshot and re-apply.
      const snap = n.storage.snapshot();
      const si = snap.metadata?.index ?? 0;
      let hash = 0;
      if (si > 0) {
        const d = decodeSnapData(snap.data);
        this.violation(d !== undefined && d.index === si, () => `node ${n.id} storage snapshot ${si} has bad data`);
        hash = d!.hash;
      }
      n.sm = { applied: si, base: si, hashes: [hash] };
    }
    this.event(`restart ${n.id} applied=${persistApplied ? n.sm.applied : 0} (sm at ${n.sm.applied}) hs=${JSON.stringify(n.storage.hardState)} first=${n.storage.firstIndex()} last=${n.storage.lastIndex()}`);
    this.count('restart');
    this.boot(n, persistApplied ? n.sm.applied : 0);
    this.violation(n.raw!.raft.raftLog.applied === n.sm.applied, () => `node ${n.id} restarted with raft applied ${n.raw!.raft.raftLog.applied} != state machine ${n.sm.applied}`);
    this.maybeReady(n);
  }

  private compact(n: SimNode): void {
    const first = n.storage.firstIndex();
    const applied = n.sm.applied;
    if (applied < first) return;
    // Often right up to the applied index, so lagging followers need a snapshot.
    const i = this.sched.chance(ONE_IN(2)) ? applied : this.sched.intInclusive(first, applied);
    const hash = n.hashAt(i);
    this.violation(hash !== undefined, () => `node ${n.id} has no state digest at ${i}`);
    n.storage.createSnapshot(i, n.raw!.raft.prs.confState(), encodeSnapData(i, hash!));
    n.storage.compact(i);
    this.event(`compact ${n.id} to ${i} (applied ${applied})`);
    this.count('compact');
  }

  private transfer(up: SimNode[]): void {
    if (up.length === 0) return;
    // Mostly on a leader; sometimes on a follower, which forwards it.
    const leaders = up.filter((n) => n.raw!.raft.state === StateType.Leader);
    const n = leaders.length > 0 && this.sched.intInclusive(0, 3) !== 0 ? this.pick(leaders) : this.pick(up);
    const to = this.pick(this.ids);
    this.event(`transfer via ${n.id} to ${to}`);
    this.count('transfer');
    n.raw!.transferLeader(to);
    this.maybeReady(n);
  }

  private newValue(): string {
    return `v${this.nextValue++}`;
  }

  private proposeRandom(up: SimNode[]): void {
    if (up.length === 0) return;
    const n = this.pick(up);
    const k = this.sched.chance(ONE_IN(4)) ? this.sched.intInclusive(2, 4) : 1;
    const values = Array.from({ length: k }, () => this.newValue());
    const atLeader = n.raw!.raft.state === StateType.Leader;
    const err = this.propose(n, values);
    this.event(`propose ${n.id}${atLeader ? '(leader)' : ''} [${values.join(',')}] -> ${err === undefined ? 'ok' : err.code}`);
    this.maybeReady(n);
  }

  private propose(n: SimNode, values: string[]): RaftError | undefined {
    const datas = values.map((v) => Buffer.from(v));
    const err = datas.length === 1 ? n.raw!.propose(datas[0]!) : n.raw!.proposeBatch(datas);
    if (err !== undefined) this.violation(err instanceof RaftError, () => `propose returned a non-RaftError ${String(err)}`);
    for (const v of values) this.proposals.set(v, { node: n.id, step: this.step, refused: err?.code });
    this.count(err === undefined ? 'proposeAccepted' : 'proposeRefused');
    return err;
  }

  // --- network -------------------------------------------------------------

  private partition(): void {
    const kind = this.sched.intInclusive(0, 2);
    if (kind === 0) {
      // Two-sided split: a random non-empty proper subset against the rest.
      const side = this.ids.filter(() => this.sched.chance(ONE_IN(2)));
      if (side.length === 0 || side.length === this.ids.length) return;
      const other = this.ids.filter((id) => !side.includes(id));
      for (const a of side) {
        for (const b of other) {
          this.blocked.add(a * 64 + b);
          this.blocked.add(b * 64 + a);
        }
      }
      this.event(`partition {${side.join(',')}} | {${other.join(',')}}`);
    } else if (kind === 1) {
      const a = this.pick(this.ids);
      for (const b of this.ids) {
        if (b === a) continue;
        this.blocked.add(a * 64 + b);
        this.blocked.add(b * 64 + a);
      }
      this.event(`isolate ${a}`);
    } else {
      const a = this.pick(this.ids);
      const b = this.pick(this.ids.filter((id) => id !== a));
      this.blocked.add(a * 64 + b);
      this.event(`cut ${a}->${b}`);
    }
    this.count('partition');
  }

  private enqueue(from: SimNode, m: Message): void {
    this.queue.push({ from: from.id, fromIncarnation: from.incarnation, to: m.to, msg: m });
    if (!this.lossless && this.queue.length > 300) this.drop(0, 'overflow');
  }

  private drop(idx: number, why: string): void {
    const [env] = this.queue.splice(idx, 1);
    if (env === undefined) return;
    this.event(`${why} ${describeMsgShort(env.msg)}`);
    this.count('dropped');
    this.reportSnapshot(env, SnapshotStatus.Failure);
  }

  /** The transport tells the sender how a snapshot send ended (etcd's ReportSnapshot). */
  private reportSnapshot(env: Envelope, status: SnapshotStatus): void {
    if (env.msg.msgType !== MessageType.MsgSnapshot) return;
    const sender = this.nodes.get(env.from)!;
    if (!sender.up || sender.incarnation !== env.fromIncarnation) return;
    sender.raw!.reportSnapshot(env.to, status);
    this.maybeReady(sender);
  }

  private duplicate(): void {
    // Proposals are not duplicated: raft does not deduplicate them, and the
    // "no value applied twice" check relies on it.
    const candidates = this.queue.filter((e) => e.msg.msgType !== MessageType.MsgPropose);
    if (candidates.length === 0) return;
    const env = candidates[this.net.intInclusive(0, candidates.length - 1)]!;
    this.event(`duplicate ${describeMsgShort(env.msg)}`);
    this.count('duplicated');
    this.deliver(env);
  }

  private deliverAt(idx: number): void {
    const [env] = this.queue.splice(idx, 1);
    if (env !== undefined) this.deliver(env);
  }

  private deliver(env: Envelope): void {
    const to = this.nodes.get(env.to);
    if (to === undefined || !to.up || this.blocked.has(env.from * 64 + env.to)) {
      this.event(`lost ${describeMsgShort(env.msg)}${to?.up === false ? ' (down)' : ' (partition)'}`);
      this.count('dropped');
      this.reportSnapshot(env, SnapshotStatus.Failure);
      // Sometimes the transport notices and tells the sender (etcd's ReportUnreachable).
      const sender = this.nodes.get(env.from)!;
      if (sender.up && sender.incarnation === env.fromIncarnation && this.net.chance(ONE_IN(2))) {
        sender.raw!.reportUnreachable(env.to);
        this.maybeReady(sender);
      }
      return;
    }
    const m = cloneMessage(env.msg);
    const err = to.raw!.step(m);
    this.event(`deliver ${describeMsgShort(env.msg)}${err === undefined ? '' : ` -> ${err.code}`}`);
    this.count('delivered');
    this.maybeReady(to);
    this.reportSnapshot(env, SnapshotStatus.Finish);
    this.checkStep();
  }

  // --- Ready -----------------------------------------------------------------

  /**
   * Handles the node's Ready. Usually all at once; sometimes (like etcd's
   * asynchronous storage) the Ready is only taken now and processed at a
   * later step, while the node keeps stepping messages and ticking.
   */
  private processReady(n: SimNode): void {
    // Not re-entrant: processing a Ready may drop an overflowing message whose
    // transport report steps this same node (and ready() must not be called
    // again before advance()).
    if (n.raw === undefined || n.inReady) return;
    if (n.pendingReady !== undefined) {
      this.finishReady(n);
      if (!this.lossless) return;
    }
    if (!n.raw.hasReady()) return;
    this.takeReady(n);
    if (!this.lossless && this.sched.chance(ONE_IN(5))) {
      this.event(`  n${n.id} ready taken, processing deferred`);
      this.count('readyDeferred');
      return;
    }
    this.finishReady(n);
  }

  private takeReady(n: SimNode): void {
    const raw = n.raw!;
    const rd: Ready = raw.ready();
    n.pendingReady = rd;
    const r = raw.raft;
    if (rd.softState !== undefined) {
      const role = `${ROLE[rd.softState.raftState]} lead=${rd.softState.lead}`;
      if (role !== n.lastRole) {
        n.lastRole = role;
        this.event(`  n${n.id} ${role} t${r.term}`);
      }
    }
    // Log matching for the entries about to be persisted (their predecessor
    // is still readable in the log).
    for (const e of rd.entries) this.checkEntry(n, e, r.raftLog.term(e.index - 1));
  }

  private finishReady(n: SimNode): void {
    n.inReady = true;
    try {
      this.finishReadyInner(n);
    } finally {
      n.inReady = false;
    }
  }

  private finishReadyInner(n: SimNode): void {
    const raw = n.raw!;
    const rd = n.pendingReady!;
    n.pendingReady = undefined;
    const r = raw.raft;
    // 1. Persist: snapshot, entries, hard state (and install the snapshot's state).
    if (rd.snapshot !== undefined) this.installSnapshot(n, rd.snapshot);
    if (rd.entries.length > 0) n.storage.append(rd.entries);
    if (rd.hardState !== undefined) {
      this.violation(
        rd.hardState.commit >= n.storage.hardState.commit || rd.snapshot !== undefined,
        () => `node ${n.id} persisted commit goes back ${n.storage.hardState.commit} -> ${rd.hardState!.commit}`,
      );
      n.storage.setHardState(this.opts.mutation === 'forgetVote' ? { ...rd.hardState, vote: 0 } : rd.hardState);
    }
    // 2. Send.
    for (const m of rd.messages) this.enqueue(n, m);
    // 3. Apply.
    if (this.opts.mutation === 'applyUncommitted') {
      // Broken on purpose: a tentative apply of what was just persisted.
      for (const e of rd.entries) if (e.index === n.sm.applied + 1) this.apply(n, e);
      for (const e of rd.committedEntries) if (e.index === n.sm.applied + 1) this.apply(n, e);
      raw.advance(rd);
      return;
    }
    for (const e of rd.committedEntries) this.apply(n, e);
    raw.advance(rd);
    this.violation(r.raftLog.applied === n.sm.applied, () => `node ${n.id} raft applied ${r.raftLog.applied} != state machine applied ${n.sm.applied}`);
  }

  private installSnapshot(n: SimNode, s: Snapshot): void {
    const idx = s.metadata?.index ?? 0;
    const term = s.metadata?.term ?? 0;
    this.violation(idx > n.sm.applied, () => `node ${n.id} got snapshot at ${idx} <= its applied index ${n.sm.applied} (applied must only increase)`);
    const d = decodeSnapData(s.data);
    this.violation(d !== undefined && d.index === idx, () => `node ${n.id} got snapshot ${term}/${idx} with bad data ${s.data.toString('latin1')}`);
    const key = this.appliedKey[idx];
    this.violation(key !== undefined, () => `node ${n.id} got snapshot ${term}/${idx} of an index never applied anywhere`);
    this.violation(key!.startsWith(`${term}|`), () => `node ${n.id} got snapshot ${term}/${idx} but the entry applied at ${idx} is ${key}`);
    this.violation(d!.hash === this.appliedHash[idx], () => `node ${n.id} got snapshot ${idx} whose state digest differs from the applied state at ${idx}`);
    n.storage.applySnapshot(s);
    n.sm = { applied: idx, base: idx, hashes: [d!.hash] };
    this.event(`  n${n.id} installs snapshot ${term}/${idx}`);
    this.count('snapshotInstalled');
  }

  private apply(n: SimNode, e: Entry): void {
    this.violation(e.index === n.sm.applied + 1, () => `node ${n.id} applies index ${e.index} after ${n.sm.applied} (applied must move by one)`);
    const key = entryKey(e);
    const known = this.appliedKey[e.index];
    const hash = chainHash(n.hashAt(n.sm.applied)!, e.index, key);
    if (known === undefined) {
      this.violation(this.appliedKey.length === e.index, () => `global applied map has a gap before ${e.index}`);
      this.appliedKey.push(key);
      this.appliedHash.push(hash);
      if (e.data.length > 0) {
        const v = e.data.toString('latin1');
        const prev = this.proposalApplied.get(v);
        this.violation(prev === undefined, () => `value ${v} applied twice, at ${prev} and ${e.index}`);
        this.proposalApplied.set(v, e.index);
      }
    } else {
      this.violation(known === key, () => `STATE MACHINE SAFETY: node ${n.id} applies ${key} at ${e.index}, another node applied ${known}`);
      this.violation(hash === this.appliedHash[e.index], () => `node ${n.id} state digest at ${e.index} differs from the global one`);
    }
    n.sm.applied = e.index;
    n.sm.hashes.push(hash);
    this.count('applied');
  }

  // --- invariants --------------------------------------------------------------

  /** Log matching, incrementally: (index, term) determines the entry and the term before it. */
  private checkEntry(n: SimNode, e: Entry, prevTerm: number): void {
    const at = `${e.index}/${e.term}`;
    const key = entryKey(e);
    const known = this.entryAt.get(at);
    if (known === undefined) {
      this.entryAt.set(at, { key, prevTerm });
      return;
    }
    this.violation(known.key === key, () => `LOG MATCHING: node ${n.id} has ${key} at ${at}, another log has ${known.key}`);
    this.violation(
      known.prevTerm === prevTerm,
      () => `LOG MATCHING: node ${n.id} has entry ${at} after term ${prevTerm} at ${e.index - 1}, another log has it after term ${known.prevTerm}`,
    );
  }

  /** The per-step checks: all incremental, run after every step. */
  private checkStep(): void {
    for (const n of this.nodes.values()) {
      const raw = n.raw;
      if (raw === undefined) continue;
      const r = raw.raft;
      const log = r.raftLog;
      // Unstable entries not yet handed out in a Ready.
      const un = log.unstable;
      for (let k = 0; k < un.entries.length; k++) {
        const e = un.entries[k]!;
        this.checkEntry(n, e, k > 0 ? un.entries[k - 1]!.term : log.term(e.index - 1));
      }
      this.violation(log.applied <= log.committed && log.committed <= log.lastIndex(), () => `node ${n.id} log cursors out of order: ${log.toString()}`);
      this.checkCommitted(n);
      if (r.state === StateType.Leader) this.checkLeader(n);
    }
  }

  /** Committed-prefix agreement: every node's committed entries are the same. */
  private checkCommitted(n: SimNode): void {
    const log = n.raw!.raft.raftLog;
    const committed = log.committed;
    if (committed <= n.checkedCommit) return;
    const dummy = log.firstIndex() - 1;
    let from = n.checkedCommit + 1;
    if (from <= dummy) {
      // Compacted or in a snapshot: only the snapshot's own entry is visible.
      this.checkCommittedTerm(n, dummy, log.term(dummy));
      from = dummy + 1;
    }
    if (from <= committed) {
      const ents = log.slice(from, committed + 1, Number.MAX_SAFE_INTEGER);
      for (const e of ents) this.checkCommittedTerm(n, e.index, e.term);
    }
    n.checkedCommit = committed;
  }

  private checkCommittedTerm(n: SimNode, index: number, term: number): void {
    if (index === 0) return;
    const known = this.committedTerm.get(index);
    if (known === undefined) {
      this.committedTerm.set(index, term);
      return;
    }
    this.violation(known === term, () => `COMMITTED PREFIX: node ${n.id} has term ${term} at committed index ${index}, another node committed term ${known}`);
  }

  private checkLeader(n: SimNode): void {
    const r = n.raw!.raft;
    const term = r.term;
    const prev = this.leaderOfTerm.get(term);
    if (prev === undefined) {
      this.leaderOfTerm.set(term, n.id);
      this.event(`  leader of term ${term}: ${n.id}`);
    } else {
      this.violation(prev === n.id, () => `ELECTION SAFETY: two leaders in term ${term}: ${prev} and ${n.id}`);
    }
    // Record the commit term of newly committed indexes (leaders commit first).
    const log = r.raftLog;
    for (let i = this.commitTerm.length; i <= log.committed; i++) this.commitTerm.push(term);
    // Leader completeness: every entry committed in an earlier term is in this leader's log.
    const key = `${n.id}@${term}#${n.incarnation}`;
    let v = this.leaderVerified.get(key) ?? 0;
    const dummy = log.firstIndex() - 1;
    for (let i = v + 1; i < this.commitTerm.length; i++) {
      if (this.commitTerm[i]! >= term) break;
      if (i < dummy) {
        v = i;
        continue;
      }
      const t = log.termOrUndefined(i);
      const want = this.committedTerm.get(i);
      this.violation(
        t !== undefined && (want === undefined || t === want),
        () => `LEADER COMPLETENESS: leader ${n.id} of term ${term} has ${t === undefined ? 'no entry' : `term ${t}`} at ${i}, committed in term <= ${this.commitTerm[i]} with term ${want}`,
      );
      v = i;
    }
    this.leaderVerified.set(key, v);
  }

  /** A non-incremental re-check of every live log against the global maps. */
  private fullCheck(): void {
    for (const n of this.upNodes()) {
      const log = n.raw!.raft.raftLog;
      const ents = log.allEntries();
      let prevTerm = log.term(log.firstIndex() - 1);
      for (const e of ents) {
        this.checkEntry(n, e, prevTerm);
        prevTerm = e.term;
        if (e.index <= log.committed) this.checkCommittedTerm(n, e.index, e.term);
      }
      // Everything applied here is what was applied everywhere.
      for (let i = n.sm.base + 1; i <= n.sm.applied; i++) {
        this.violation(n.hashAt(i) === this.appliedHash[i], () => `node ${n.id} state digest at ${i} differs from the global one`);
      }
    }
  }

  /** The log matching property checked directly on every pair of live logs. */
  private pairwiseLogCheck(): void {
    const logs = this.upNodes().map((n) => {
      const log = n.raw!.raft.raftLog;
      const m = new Map<number, string>();
      for (const e of log.allEntries()) m.set(e.index, entryKey(e));
      return { id: n.id, m, first: log.firstIndex() };
    });
    for (let a = 0; a < logs.length; a++) {
      for (let b = a + 1; b < logs.length; b++) {
        const A = logs[a]!;
        const B = logs[b]!;
        // The highest index where both have the same term...
        let top = 0;
        for (const [i, k] of A.m) if (B.m.get(i) === k && i > top) top = i;
        // ...and everything before it (that both still hold) is identical.
        for (let i = Math.max(A.first, B.first); i < top; i++) {
          this.violation(A.m.get(i) === B.m.get(i), () => `LOG MATCHING: nodes ${A.id} and ${B.id} agree at ${top} but differ at ${i}`);
        }
      }
    }
  }

  // --- liveness --------------------------------------------------------------

  private livenessPhase(): void {
    this.step++;
    this.event('=== heal: no partitions, no drops, all nodes up ===');
    this.blocked.clear();
    this.lossless = true;
    for (const n of this.nodes.values()) if (!n.up) this.restart(n);
    for (const n of this.nodes.values()) this.processReady(n);
    this.checkStep();
    // Deliver everything still in flight from the fault phase first.
    this.settle();

    const bound = 50 * this.electionTick;
    const leader = this.runUntil(bound, 'a leader known to every node', () => this.stableLeader());
    this.runUntil(bound, 'every node caught up with the leader', () => (this.caughtUp() ? true : undefined));

    // Final batch, through the leader (retrying refusals, e.g. during a transfer).
    const finalValues: string[] = [];
    let rounds = 0;
    while (finalValues.length < this.opts.finalBatch) {
      const l = this.stableLeader();
      if (l !== undefined) {
        const v = this.newValue();
        const err = this.propose(l, [v]);
        this.event(`final propose ${l.id} ${v} -> ${err === undefined ? 'ok' : err.code}`);
        if (err === undefined) finalValues.push(v);
        this.processReady(l);
        this.settle();
        if (err === undefined) continue;
      }
      this.violation(rounds++ < bound, () => `LIVENESS: could not propose the final batch within ${bound} ticks (leader ${leader.id})`);
      this.round();
    }
    this.runUntil(bound, 'the final batch applied on every node', () => {
      if (!this.caughtUp()) return undefined;
      return finalValues.every((v) => this.proposalApplied.has(v)) ? true : undefined;
    });
    this.checkProposals();
  }

  /** Ticks every node once and delivers everything that follows; `bound` rounds at most. */
  private runUntil<T>(bound: number, what: string, done: () => T | undefined): T {
    for (let i = 0; i <= bound; i++) {
      const res = done();
      if (res !== undefined) return res;
      this.round();
    }
    throw this.failure(`LIVENESS: no ${what} after ${bound} ticks of a healed cluster (${this.describeNodes()})`);
  }

  private round(): void {
    this.step++;
    this.event('tick all');
    for (const n of this.nodes.values()) {
      n.raw!.tick();
      this.processReady(n);
    }
    this.checkStep();
    this.settle();
  }

  /** Delivers every message (in random order) until the network is quiet. */
  private settle(): void {
    for (let k = 0; this.queue.length > 0; k++) {
      this.violation(k < 100_000, () => 'LIVENESS: the healed network did not quiesce (message storm)');
      this.deliverAt(this.net.intInclusive(0, this.queue.length - 1));
    }
    for (const n of this.nodes.values()) this.processReady(n);
    if (this.queue.length > 0) this.settle();
  }

  private stableLeader(): SimNode | undefined {
    const nodes = [...this.nodes.values()];
    const l = nodes.find((n) => n.raw!.raft.state === StateType.Leader);
    if (l === undefined) return undefined;
    const term = l.raw!.raft.term;
    const ok = nodes.every((n) => n.raw!.raft.term === term && n.raw!.raft.lead === l.id);
    return ok ? l : undefined;
  }

  private caughtUp(): boolean {
    const l = this.stableLeader();
    if (l === undefined) return false;
    if (this.queue.length > 0 || l.raw!.raft.leadTransferee !== NONE) return false;
    const last = l.raw!.raft.raftLog.lastIndex();
    return [...this.nodes.values()].every((n) => {
      const log = n.raw!.raft.raftLog;
      return log.lastIndex() === last && log.committed === last && n.sm.applied === last && n.pendingReady === undefined && !n.raw!.hasReady();
    });
  }

  private describeNodes(): string {
    return [...this.nodes.values()]
      .map((n) => {
        const r = n.raw!.raft;
        return `n${n.id}: ${ROLE[r.state]} t${r.term} lead=${r.lead} last=${r.raftLog.lastIndex()} commit=${r.raftLog.committed} applied=${n.sm.applied}`;
      })
      .join('; ');
  }

  /** Every proposal is applied on all nodes or on none; refused ones on none. */
  private checkProposals(): void {
    const minApplied = Math.min(...[...this.nodes.values()].map((n) => n.sm.applied));
    let applied = 0;
    let lost = 0;
    let refused = 0;
    for (const [v, p] of this.proposals) {
      const at = this.proposalApplied.get(v);
      if (p.refused !== undefined) {
        refused++;
        this.violation(at === undefined, () => `proposal ${v} was refused (${p.refused}) at node ${p.node} but applied at ${at}`);
        continue;
      }
      if (at === undefined) {
        lost++; // accepted but never committed: legitimate, and applied nowhere
        continue;
      }
      applied++;
      this.violation(at <= minApplied, () => `proposal ${v} applied at ${at} but some node only applied up to ${minApplied}`);
    }
    this.stats.proposalsApplied = applied;
    this.stats.proposalsLost = lost;
    this.stats.proposalsRefused = refused;
    this.event(`proposals: ${applied} applied everywhere, ${lost} accepted-but-lost, ${refused} refused`);
  }
}

/** Runs one seed; throws a {@link RaftInvariantError} on any violation. */
export function runRandomCluster(seed: number, opts: RandomClusterOptions = {}): RandomClusterResult {
  return new RandomCluster(seed, opts).run();
}

/** Parses `SEED=n` / `SEEDS=a..b` (or `a-b`), falling back to `fallback`. */
export function seedsFromEnv(env: NodeJS.ProcessEnv, fallback: readonly [number, number]): [number, number] {
  const one = env.SEED;
  if (one !== undefined && one !== '') {
    const n = Number(one);
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`SEED must be a non-negative integer, got ${one}`);
    return [n, n];
  }
  const range = env.SEEDS;
  if (range !== undefined && range !== '') {
    const m = /^(\d+)(?:\.\.|-)(\d+)$/.exec(range.trim());
    if (m === null) throw new RangeError(`SEEDS must look like a..b, got ${range}`);
    const a = Number(m[1]);
    const b = Number(m[2]);
    if (a > b) throw new RangeError(`SEEDS range ${range} is empty`);
    return [a, b];
  }
  return [fallback[0], fallback[1]];
}

