/**
 * The environment of the golden-file interaction tests (a port of etcd raft's
 * rafttest.InteractionEnv): a group of RawNodes with ids 1..n, each on its
 * own MemoryStorage (an EnvStorage, whose snapshot() is the latest applied
 * state, as etcd's env does) and Prng(id), and a queue of in-flight messages
 * that the test script delivers (or drops) explicitly. Storage is synchronous,
 * so a Ready is processed in one go, in the order documented in ready.ts.
 *
 * Commands (one per test case; further commands may follow on the input
 * lines, except for propose-conf-change whose input is the change list):
 *
 *   add-nodes N [voters=(1,2,3)] [learners=(4)] [index=I] [checkquorum=true]
 *             [prevote=true] [read-only=safe|lease-based] [max-inflight=N]
 *             [step-down-on-removal=false]
 *       N new nodes, bootstrapped from a snapshot at index I (term 1) with
 *       that configuration; without voters/learners they start empty (and
 *       wait for a snapshot). Election tick 3, heartbeat tick 1.
 *   campaign N                       N campaigns now.
 *   propose N data                   N proposes `data`.
 *   propose-conf-change N [v1=true] [transition=auto|implicit|explicit]
 *   v2 r3 l4                         input: the changes (v voter, l learner,
 *                                    r remove); empty input leaves a joint config.
 *   process-ready N...               handle one Ready on each node.
 *   deliver-msgs [drop=(N...)] [type=MsgX] N...
 *                                    deliver (or drop) the queued messages to N.
 *   stabilize [N...]                 process Readys and deliver messages among
 *                                    the nodes (default all) until quiet.
 *   tick-heartbeat N / tick-election N   heartbeatTick / electionTick ticks.
 *   set-randomized-election-timeout N timeout=T
 *   transfer-leadership from=N to=M
 *   compact N I                      snapshot N's storage at I and discard the
 *                                    log up to I; prints the remaining log.
 *   raft-log N                       the entries in N's storage.
 *   raft-state                       describeRaftState of every node.
 *   status N                         N's Status and, on a leader, progress.
 *   report-unreachable N M           N learns that M is unreachable.
 *   report-snapshot N M [failure]    N learns M applied (or failed) a snapshot.
 *   read-index N ctx                 N requests a read index for `ctx`.
 *   log-level L                      `none` silences all output but errors
 *                                    (for setups); any other level restores it.
 *
 * Output is etcd's layout: `> 1 handling Ready`, `> 2 receiving messages`,
 * with indented describeReady / describeMessage text. In place of etcd's log
 * lines, the coverage marks (src/util/marks.ts) a core call hits are printed
 * as `mark: <name>` right after it, and refusals (RaftError) as
 * `error: <code>: <message>`.
 */
import { assert } from '../../util/assert.js';
import { expectMark } from '../../util/marks.js';
import { Prng } from '../../util/prng.js';
import type { Config } from '../config.js';
import { decodeConfChangeEntry } from '../conf_change_codec.js';
import {
  describeConfState,
  describeEntry,
  describeHardState,
  describeMessage,
  describeRaftState,
  describeReady,
  describeSoftState,
} from '../describe.js';
import { ReadOnlyOption } from '../read_only.js';
import { RawNode, SnapshotStatus } from '../raw_node.js';
import { MemoryStorage } from '../storage.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  emptyConfState,
  EntryType,
  MessageType,
  RaftError,
} from '../types.js';
import type { ConfChange, ConfChangeSingle, ConfChangeV2, ConfState, Message, Snapshot } from '../types.js';
import { findArg, parseLine } from './datadriven.js';
import type { CmdArg, TestData } from './datadriven.js';

/**
 * The marks of src/raft that are printed when hit (they stand in for the log
 * lines of etcd's goldens). Keep in sync with `grep -rn "mark('" src/raft`.
 */
export const PRINTED_MARKS: readonly string[] = [
  'raft: ignore append/snapshot, pending snapshot not applied',
  'raft: append below committed, answer with committed index',
  'raft: check-quorum failed, leader steps down',
  'raft: proposal refused, leader transfer in progress',
  'raft: conf change refused, another is pending',
  'raft: snapshot temporarily unavailable, retry later',
  'raft: send snapshot, needed entries compacted',
  'raft: proposal dropped, uncommitted size limit',
  'raft: leader transfer timed out, aborted',
  'raft: campaign delayed, unapplied conf change',
  'raft: vote request ignored, leader lease',
  'raft: committed conf change refused at apply',
  'raft: leader removed, step down after broadcasting commit',
  'raft: snapshot ignored, not in its configuration',
];

/**
 * MemoryStorage whose snapshot() is the latest applied state (as etcd's env
 * does with its snapshot History): a leader sending a snapshot sends its
 * current applied index and configuration, not merely the last compaction
 * point, like a real state machine would.
 */
export class EnvStorage extends MemoryStorage {
  latest: Snapshot | undefined = undefined;

  override snapshot(): Snapshot {
    return this.latest ?? super.snapshot();
  }
}

export interface InteractionNode {
  readonly id: number;
  readonly rawNode: RawNode;
  readonly storage: EnvStorage;
  readonly config: Config;
  /** The configuration in force from each index on (snapshots and applied conf changes), for compaction. */
  readonly confHistory: { index: number; cs: ConfState }[];
}

const ELECTION_TICK = 3;
const HEARTBEAT_TICK = 1;
/** Bound on stabilize rounds: a healthy group quiesces in far fewer. */
const MAX_STABILIZE_ROUNDS = 10_000;

export class InteractionEnv {
  readonly nodes: InteractionNode[] = [];
  /** In-flight messages, in the order they were sent. */
  messages: Message[] = [];
  private out = '';
  /** `log-level none`: drop all output but errors (handy for long setups). */
  private quiet = false;

  /** Runs one test case and returns its output (`ok` when it printed nothing). */
  handle(d: TestData): string {
    this.out = '';
    if (d.cmd === 'propose-conf-change') {
      this.proposeConfChange(d.cmdArgs, d.input);
    } else {
      this.handleSingle(d.cmd, d.cmdArgs);
      for (const line of d.input.split('\n')) {
        if (line.trim() === '') continue;
        const { cmd, args } = parseLine(line);
        this.handleSingle(cmd, args);
      }
    }
    return this.out === '' ? 'ok' : this.out;
  }

  private handleSingle(cmd: string, args: readonly CmdArg[]): void {
    switch (cmd) {
      case 'add-nodes':
        return this.addNodes(args);
      case 'campaign':
        return this.campaign(this.node(firstInt(args)));
      case 'propose':
        return this.propose(args);
      case 'process-ready':
        return this.handleProcessReady(args);
      case 'deliver-msgs':
        return this.handleDeliverMsgs(args);
      case 'stabilize':
        return this.stabilize(nodeIds(args));
      case 'tick-heartbeat':
        return this.tick(this.node(firstInt(args)), HEARTBEAT_TICK);
      case 'tick-election':
        return this.tick(this.node(firstInt(args)), ELECTION_TICK);
      case 'set-randomized-election-timeout': {
        const n = this.node(firstInt(args));
        n.rawNode.raft.randomizedElectionTimeout = intArg(args, 'timeout');
        return;
      }
      case 'transfer-leadership': {
        const from = this.node(intArg(args, 'from'));
        const to = intArg(args, 'to');
        this.withMarks(() => from.rawNode.transferLeader(to));
        return;
      }
      case 'compact':
        return this.compact(this.node(firstInt(args)), nthInt(args, 1));
      case 'raft-log':
        return this.raftLog(this.node(firstInt(args)));
      case 'raft-state':
        for (const n of this.nodes) this.writeln(describeRaftState(n.rawNode.raft));
        return;
      case 'status':
        return this.status(this.node(firstInt(args)));
      case 'report-unreachable': {
        const n = this.node(firstInt(args));
        const peer = nthInt(args, 1);
        this.withMarks(() => n.rawNode.reportUnreachable(peer));
        return;
      }
      case 'report-snapshot': {
        const n = this.node(firstInt(args));
        const peer = nthInt(args, 1);
        const status = args.some((a) => a.key === 'failure') ? SnapshotStatus.Failure : SnapshotStatus.Finish;
        this.withMarks(() => n.rawNode.reportSnapshot(peer, status));
        return;
      }
      case 'read-index': {
        const n = this.node(firstInt(args));
        const ctx = args[1]?.key ?? '';
        this.printError(this.withMarks(() => n.rawNode.readIndex(Buffer.from(ctx))));
        return;
      }
      case 'log-level': {
        const level = (args[0]?.key ?? '').toLowerCase();
        if (!['none', 'debug', 'info', 'warn', 'error'].includes(level)) throw new Error(`unknown log level ${level}`);
        this.quiet = level === 'none';
        return;
      }
      default:
        throw new Error(`unknown command ${cmd}`);
    }
  }

  // --- output --------------------------------------------------------------

  /** Appends a line; dropped in quiet mode unless `force` (errors). */
  private writeln(s: string, force = false): void {
    if (this.quiet && !force) return;
    this.out += s.endsWith('\n') ? s : `${s}\n`;
  }

  /** Runs `f`, indenting everything it prints by two spaces (etcd's withIndent). */
  private withIndent(f: () => void): void {
    const outer = this.out;
    this.out = '';
    try {
      f();
    } finally {
      const inner = this.out;
      this.out = outer;
      for (const line of inner.split('\n')) if (line !== '') this.out += `  ${line}\n`;
    }
  }

  /** Runs a core call with every printed mark armed; prints the marks it hit. */
  private withMarks<T>(f: () => T): T {
    const checks = PRINTED_MARKS.map((name) => expectMark(name));
    let result: T;
    try {
      result = f();
    } finally {
      for (const c of checks) {
        const hits = c.hits();
        if (hits > 0) {
          c.assertHit();
          this.writeln(hits === 1 ? `mark: ${c.name}` : `mark: ${c.name} (x${hits})`);
        } else {
          c.assertNotHit();
        }
      }
    }
    return result;
  }

  private printError(err: RaftError | undefined): void {
    if (err !== undefined) this.writeln(`error: ${err.code}: ${err.message}`, true);
  }

  // --- nodes ---------------------------------------------------------------

  node(id: number): InteractionNode {
    const n = this.nodes[id - 1];
    if (n === undefined) throw new Error(`no node ${id} (have ${this.nodes.length})`);
    return n;
  }

  private addNodes(args: readonly CmdArg[]): void {
    const count = firstInt(args);
    const voters = (findArg(args, 'voters')?.vals ?? []).map(toInt);
    const learners = (findArg(args, 'learners')?.vals ?? []).map(toInt);
    const index = optInt(args, 'index') ?? 0;
    const readOnly = findArg(args, 'read-only')?.vals[0] ?? 'safe';
    if (readOnly !== 'safe' && readOnly !== 'lease-based') throw new Error(`invalid read-only option ${readOnly}`);
    const bootstrap = voters.length + learners.length > 0;
    if (bootstrap && index < 1) throw new Error('add-nodes with a configuration needs index >= 1');
    for (let i = 0; i < count; i++) {
      const id = this.nodes.length + 1;
      const storage = new EnvStorage();
      const confHistory: { index: number; cs: ConfState }[] = [{ index: 0, cs: emptyConfState() }];
      if (bootstrap) {
        const cs: ConfState = { ...emptyConfState(), nodes: [...voters], learners: [...learners] };
        const snap: Snapshot = { data: Buffer.alloc(0), metadata: { index, term: 1, confState: cs } };
        storage.applySnapshot(snap);
        storage.latest = snap;
        assert(storage.firstIndex() === index + 1, `bootstrap: first index ${storage.firstIndex()} != ${index + 1}`);
        confHistory.push({ index, cs });
      }
      const config: Config = {
        id,
        electionTick: ELECTION_TICK,
        heartbeatTick: HEARTBEAT_TICK,
        storage,
        rng: new Prng(id),
        applied: bootstrap ? index : 0,
        maxInflightMsgs: optInt(args, 'max-inflight') ?? optInt(args, 'inflight') ?? 256,
        checkQuorum: boolArg(args, 'checkquorum'),
        preVote: boolArg(args, 'prevote'),
        readOnlyOption: readOnly === 'safe' ? ReadOnlyOption.Safe : ReadOnlyOption.LeaseBased,
        stepDownOnRemoval: findArg(args, 'step-down-on-removal') === undefined ? true : boolArg(args, 'step-down-on-removal'),
      };
      this.nodes.push({ id, rawNode: new RawNode(config), storage, config, confHistory });
    }
  }

  private campaign(n: InteractionNode): void {
    this.printError(this.withMarks(() => n.rawNode.campaign()));
  }

  private propose(args: readonly CmdArg[]): void {
    const n = this.node(firstInt(args));
    const data = args[1]?.key ?? '';
    this.printError(this.withMarks(() => n.rawNode.propose(Buffer.from(data))));
  }

  private proposeConfChange(args: readonly CmdArg[], input: string): void {
    const n = this.node(firstInt(args));
    const v1 = boolArg(args, 'v1');
    const transitionName = findArg(args, 'transition')?.vals[0] ?? 'auto';
    const transitions: Record<string, ConfChangeTransition> = {
      auto: ConfChangeTransition.Auto,
      implicit: ConfChangeTransition.JointImplicit,
      explicit: ConfChangeTransition.JointExplicit,
    };
    const transition = transitions[transitionName];
    if (transition === undefined) throw new Error(`unknown transition ${transitionName}`);
    const changes = parseConfChanges(input);
    let cc: ConfChange | ConfChangeV2;
    if (v1) {
      const only = changes[0];
      if (changes.length !== 1 || only === undefined || transition !== ConfChangeTransition.Auto) {
        throw new Error('v1 conf change can only have one operation and no transition');
      }
      cc = { changeType: only.changeType, nodeId: only.nodeId, context: Buffer.alloc(0) };
    } else {
      cc = { transition, changes, context: Buffer.alloc(0) };
    }
    this.printError(this.withMarks(() => n.rawNode.proposeConfChange(cc)));
  }

  private tick(n: InteractionNode, times: number): void {
    this.withMarks(() => {
      for (let i = 0; i < times; i++) n.rawNode.tick();
    });
  }

  // --- Ready ---------------------------------------------------------------

  private handleProcessReady(args: readonly CmdArg[]): void {
    const ids = nodeIds(args);
    for (const id of ids) {
      const n = this.node(id);
      if (ids.length > 1) {
        this.writeln(`> ${id} handling Ready`);
        this.withIndent(() => this.processReady(n));
      } else {
        this.processReady(n);
      }
    }
  }

  /**
   * Handles one Ready in the order of ready.ts: persist snapshot, entries and
   * HardState; queue the messages; apply the committed entries (conf changes
   * through applyConfChange); advance.
   */
  processReady(n: InteractionNode): void {
    const rn = n.rawNode;
    const rd = this.withMarks(() => rn.ready());
    this.writeln(`Ready MustSync=${rd.mustSync}:`);
    this.writeln(describeReady(rd));
    if (rd.snapshot !== undefined) {
      n.storage.applySnapshot(rd.snapshot);
      n.storage.latest = rd.snapshot;
      const meta = rd.snapshot.metadata;
      n.confHistory.push({ index: meta?.index ?? 0, cs: meta?.confState ?? emptyConfState() });
    }
    if (rd.entries.length > 0) n.storage.append(rd.entries);
    if (rd.hardState !== undefined) n.storage.setHardState(rd.hardState);
    this.messages.push(...rd.messages);
    for (const e of rd.committedEntries) {
      if (e.entryType !== EntryType.EntryNormal) {
        const cc = decodeConfChangeEntry(e);
        const res = this.withMarks(() => rn.applyConfChange(cc));
        if (res instanceof RaftError) {
          this.writeln(`${n.id} refused conf change ${describeEntry(e)}: ${res.code}: ${res.message}`, true);
        } else {
          this.writeln(`${n.id} applied conf change ${describeEntry(e)}: ${describeConfState(res)}`);
          n.confHistory.push({ index: e.index, cs: res });
        }
      }
      const cs = (n.confHistory[n.confHistory.length - 1] as { cs: ConfState }).cs;
      n.storage.latest = { data: Buffer.alloc(0), metadata: { index: e.index, term: e.term, confState: cs } };
    }
    this.withMarks(() => rn.advance(rd));
  }

  // --- messages ------------------------------------------------------------

  private handleDeliverMsgs(args: readonly CmdArg[]): void {
    const recipients: { id: number; drop: boolean }[] = [];
    let type: MessageType | undefined;
    for (const a of args) {
      if (a.vals.length === 0) {
        recipients.push({ id: toInt(a.key), drop: false });
      } else if (a.key === 'drop') {
        for (const v of a.vals) {
          const id = toInt(v);
          if (recipients.some((r) => r.id === id && !r.drop)) throw new Error(`can't both deliver and drop msgs to ${id}`);
          recipients.push({ id, drop: true });
        }
      } else if (a.key === 'type') {
        const name = a.vals[0] ?? '';
        const t = (MessageType as unknown as Record<string, MessageType | undefined>)[name];
        if (t === undefined) throw new Error(`unknown message type ${name}`);
        type = t;
      } else {
        throw new Error(`unknown deliver-msgs argument ${a.key}`);
      }
    }
    if (this.deliverMsgs(recipients, type) === 0) this.writeln('no messages');
  }

  /**
   * Delivers (or drops) the queued messages to each recipient, in queue
   * order; returns how many messages were handled.
   */
  deliverMsgs(recipients: readonly { id: number; drop: boolean }[], type?: MessageType): number {
    let count = 0;
    for (const r of recipients) {
      const mine: Message[] = [];
      const rest: Message[] = [];
      for (const m of this.messages) {
        if (m.to === r.id && (type === undefined || m.msgType === type)) mine.push(m);
        else rest.push(m);
      }
      this.messages = rest;
      count += mine.length;
      for (const m of mine) {
        if (r.drop) {
          this.writeln(`dropped: ${describeMessage(m)}`);
          continue;
        }
        this.writeln(describeMessage(m));
        const to = this.node(m.to);
        this.printError(this.withMarks(() => to.rawNode.step(m)));
      }
    }
    return count;
  }

  /** Processes Readys and delivers messages among `ids` (default: all) until nothing changes. */
  stabilize(ids: readonly number[]): void {
    const nodes = ids.length > 0 ? ids.map((id) => this.node(id)) : [...this.nodes];
    for (let round = 0; ; round++) {
      if (round >= MAX_STABILIZE_ROUNDS) throw new Error(`stabilize did not quiesce in ${MAX_STABILIZE_ROUNDS} rounds`);
      let done = true;
      for (const n of nodes) {
        if (!n.rawNode.hasReady()) continue;
        this.writeln(`> ${n.id} handling Ready`);
        this.withIndent(() => this.processReady(n));
        done = false;
      }
      for (const n of nodes) {
        if (!this.messages.some((m) => m.to === n.id)) continue;
        this.writeln(`> ${n.id} receiving messages`);
        this.withIndent(() => this.deliverMsgs([{ id: n.id, drop: false }]));
        done = false;
      }
      if (done) return;
    }
  }

  // --- storage and state ---------------------------------------------------

  private compact(n: InteractionNode, index: number): void {
    const applied = n.rawNode.raft.raftLog.applied;
    if (index > applied) throw new Error(`compact ${n.id} ${index}: only applied entries can be compacted (applied ${applied})`);
    let cs = emptyConfState();
    for (const h of n.confHistory) if (h.index <= index) cs = h.cs;
    n.storage.createSnapshot(index, cs, Buffer.alloc(0));
    n.storage.compact(index);
    this.raftLog(n);
  }

  private raftLog(n: InteractionNode): void {
    const fi = n.storage.firstIndex();
    const li = n.storage.lastIndex();
    if (li < fi) {
      this.writeln(`log is empty: first index=${fi}, last index=${li}`);
      return;
    }
    for (const e of n.storage.entries(fi, li + 1, Number.MAX_SAFE_INTEGER)) this.writeln(describeEntry(e));
  }

  private status(n: InteractionNode): void {
    const st = n.rawNode.status();
    this.writeln(
      `${st.id}: ${describeSoftState(st.softState)} ${describeHardState(st.hardState)} applied:${st.applied}` +
        `${st.leadTransferee !== 0 ? ` transferee:${st.leadTransferee}` : ''} ${describeConfState(st.confState)}`,
    );
    // Progress is only meaningful on the leader (Status.progress is empty elsewhere).
    if (st.progress.size === 0) return;
    n.rawNode.raft.prs.visit((id, pr) => this.writeln(`${id}: ${pr.toString()}`));
  }
}

// --- argument helpers --------------------------------------------------------

function toInt(s: string): number {
  if (!/^\d+$/.test(s)) throw new Error(`not a number: ${JSON.stringify(s)}`);
  return Number(s);
}

function firstInt(args: readonly CmdArg[]): number {
  return nthInt(args, 0);
}

function nthInt(args: readonly CmdArg[], i: number): number {
  const a = args[i];
  if (a === undefined || a.vals.length > 0) throw new Error(`argument ${i + 1} must be a number`);
  return toInt(a.key);
}

/** The positional (value-less) arguments, as node ids. */
function nodeIds(args: readonly CmdArg[]): number[] {
  return args.filter((a) => a.vals.length === 0).map((a) => toInt(a.key));
}

function optInt(args: readonly CmdArg[], key: string): number | undefined {
  const v = findArg(args, key)?.vals[0];
  return v === undefined ? undefined : toInt(v);
}

function intArg(args: readonly CmdArg[], key: string): number {
  const v = optInt(args, key);
  if (v === undefined) throw new Error(`missing argument ${key}=`);
  return v;
}

function boolArg(args: readonly CmdArg[], key: string): boolean {
  const v = findArg(args, key)?.vals[0];
  if (v === undefined) return false;
  if (v !== 'true' && v !== 'false') throw new Error(`${key}= must be true or false, got ${v}`);
  return v === 'true';
}

/** etcd's ConfChangesFromString: `v2 l3 r4` (voter, learner, remove). */
export function parseConfChanges(s: string): ConfChangeSingle[] {
  const out: ConfChangeSingle[] = [];
  for (const tok of s.split(/\s+/)) {
    if (tok === '') continue;
    const kinds: Record<string, ConfChangeType> = { v: ConfChangeType.AddNode, l: ConfChangeType.AddLearnerNode, r: ConfChangeType.RemoveNode };
    const kind = kinds[tok[0] ?? ''];
    if (kind === undefined || tok.length < 2) throw new Error(`unknown conf change token ${JSON.stringify(tok)}`);
    out.push({ changeType: kind, nodeId: toInt(tok.slice(1)) });
  }
  return out;
}
