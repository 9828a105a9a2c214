/**
 * Test harness for the raft core, a port of TinyKV's raft_test.go helpers
 * (newTestRaft, newNetwork, nextEnts, ltoa): a synchronous, breadth-first,
 * deterministic in-memory network with per-link drop rates and message-type
 * filters. Used by the ported TinyKV and etcd tests; not by production code.
 */
import { assert } from '../../util/assert.js';
import { Prng } from '../../util/prng.js';
import type { Config } from '../config.js';
import { restoreConfState } from '../confchange/restore.js';
import { Raft } from '../raft.js';
import type { RaftLog } from '../raft_log.js';
import type { Ready } from '../ready.js';
import { MemoryStorage } from '../storage.js';
import { ProgressTracker } from '../tracker/tracker.js';
import { emptyConfState, MessageType, newEntry, newMessage } from '../types.js';
import type { ConfState, Entry, Message, RaftError } from '../types.js';
import { describeEntry } from '../describe.js';

/** Anything a network can deliver messages to. */
export interface StateMachine {
  step(m: Message): RaftError | undefined;
  readMessages(): Message[];
}

/** A peer that swallows every message (TinyKV's nopStepper). */
export class BlackHole implements StateMachine {
  step(_m: Message): RaftError | undefined {
    return undefined;
  }
  readMessages(): Message[] {
    return [];
  }
}

export const blackHole = (): BlackHole => new BlackHole();

export type ConfigOverrides = Partial<Omit<Config, 'id' | 'storage' | 'electionTick' | 'heartbeatTick'>>;

export function newTestConfig(id: number, peers: readonly number[], election: number, heartbeat: number, storage: MemoryStorage, overrides: ConfigOverrides = {}): Config {
  return { id, peers, electionTick: election, heartbeatTick: heartbeat, storage, rng: new Prng(id), maxInflightMsgs: 256, ...overrides };
}

/** A Raft node; `peers` are ignored when `storage` already holds a ConfState. */
export function newTestRaft(id: number, peers: readonly number[], election: number, heartbeat: number, storage: MemoryStorage, overrides: ConfigOverrides = {}): Raft {
  const cs = storage.initialState().confState;
  const hasConf = cs.nodes.length + cs.learners.length + cs.votersOutgoing.length > 0;
  return new Raft(newTestConfig(id, hasConf ? [] : peers, election, heartbeat, storage, overrides));
}

/** A storage whose snapshot holds the given voters (so peers need not be passed). */
export function newTestMemoryStorage(voters: readonly number[], learners: readonly number[] = []): MemoryStorage {
  const s = new MemoryStorage();
  const cs: ConfState = { ...emptyConfState(), nodes: [...voters], learners: [...learners] };
  s.bootstrap(cs);
  return s;
}

/** Replaces the configuration of `r` with voters `ids` and resets its role state. */
export function resetConfigForTest(r: Raft, ids: readonly number[], learners: readonly number[] = []): void {
  const fresh = new ProgressTracker(r.prs.maxInflight, r.prs.maxInflightBytes);
  restoreConfState(fresh, r.raftLog.lastIndex(), { ...emptyConfState(), nodes: [...ids], learners: [...learners] });
  r.prs.config = fresh.config;
  r.prs.progress = fresh.progress;
  r.isLearner = learners.includes(r.id);
  r.becomeFollower(r.term, r.lead);
}

const linkKey = (from: number, to: number): string => `${from}->${to}`;

export class Network {
  readonly peers = new Map<number, StateMachine>();
  readonly storage = new Map<number, MemoryStorage>();
  /** Drop probability per link, in percent (100 = always). */
  private readonly dropm = new Map<string, number>();
  private readonly ignorem = new Set<MessageType>();
  /** Returns false to drop a message. */
  msgHook: ((m: Message) => boolean) | undefined = undefined;
  private readonly rng: Prng;

  constructor(seed = 1) {
    this.rng = new Prng(seed);
  }

  /** Delivers `msgs` and everything they cause, breadth-first, until quiet. */
  send(...msgs: Message[]): void {
    const queue = [...msgs];
    // Bounded: a healthy exchange of a few thousand messages always quiesces.
    for (let steps = 0; queue.length > 0; steps++) {
      assert(steps < 1_000_000, 'network.send did not quiesce');
      const m = queue.shift() as Message;
      const p = this.peers.get(m.to);
      if (p === undefined) continue;
      p.step(m);
      queue.push(...this.filter(p.readMessages()));
    }
  }

  /** Drops messages from `from` to `to` with probability `percent`/100. */
  drop(from: number, to: number, percent: number): void {
    this.dropm.set(linkKey(from, to), percent);
  }

  cut(one: number, other: number): void {
    this.drop(one, other, 100);
    this.drop(other, one, 100);
  }

  isolate(id: number): void {
    for (const other of this.peers.keys()) {
      if (other !== id) this.cut(id, other);
    }
  }

  ignore(t: MessageType): void {
    this.ignorem.add(t);
  }

  recover(): void {
    this.dropm.clear();
    this.ignorem.clear();
  }

  filter(msgs: readonly Message[]): Message[] {
    const out: Message[] = [];
    for (const m of msgs) {
      if (this.ignorem.has(m.msgType)) continue;
      assert(m.msgType !== MessageType.MsgHup, 'unexpected MsgHup on the network');
      const perc = this.dropm.get(linkKey(m.from, m.to)) ?? 0;
      if (perc >= 100 || (perc > 0 && this.rng.intInclusive(0, 99) < perc)) continue;
      if (this.msgHook !== undefined && !this.msgHook(m)) continue;
      out.push(m);
    }
    return out;
  }

  raft(id: number): Raft {
    const p = this.peers.get(id);
    assert(p instanceof Raft, `peer ${id} is not a Raft`);
    return p;
  }
}

/**
 * A network of peers with ids 1..n. `null` makes a fresh Raft on a new
 * MemoryStorage; a Raft is re-configured to the network's ids (its id must
 * match its position); anything else (e.g. a BlackHole) is used as is.
 */
export function newNetwork(...peers: (StateMachine | null)[]): Network {
  return newNetworkWithConfig(undefined, ...peers);
}

export function newNetworkWithConfig(overrides: ConfigOverrides | undefined, ...peers: (StateMachine | null)[]): Network {
  const nw = new Network();
  const ids = peers.map((_, i) => i + 1);
  peers.forEach((p, i) => {
    const id = i + 1;
    if (p === null) {
      const storage = new MemoryStorage();
      nw.storage.set(id, storage);
      nw.peers.set(id, newTestRaft(id, ids, 10, 1, storage, overrides));
    } else if (p instanceof Raft) {
      assert(p.id === id, `raft at position ${id} has id ${p.id}`);
      resetConfigForTest(p, ids);
      nw.peers.set(id, p);
    } else {
      nw.peers.set(id, p);
    }
  });
  return nw;
}

/**
 * Step 1 of the Ready contract (ready.ts) on a MemoryStorage: the snapshot
 * first (it replaces the log), then the entries, then the HardState.
 */
export function persistReady(s: MemoryStorage, rd: Ready): void {
  if (rd.snapshot !== undefined) s.applySnapshot(rd.snapshot);
  s.append(rd.entries);
  if (rd.hardState !== undefined) s.setHardState(rd.hardState);
}

/** Moves unstable entries to storage and returns the newly committed entries, marking them applied. */
export function nextEnts(r: Raft, s: MemoryStorage): Entry[] {
  s.append(r.raftLog.unstableEntries());
  r.raftLog.stableTo(r.raftLog.lastIndex(), r.raftLog.lastTerm());
  const ents = r.raftLog.nextEnts();
  r.raftLog.appliedTo(r.raftLog.committed);
  return ents;
}

/** TinyKV's ltoa: a comparable rendering of a log. */
export function ltoa(l: RaftLog): string {
  const lines = [`committed: ${l.committed}`, `applied:  ${l.applied}`];
  l.allEntries().forEach((e, i) => lines.push(`#${i}: ${describeEntry(e)}`));
  return lines.join('\n');
}

/** Shorthands used throughout the ported tests. */
export const msgHup = (id: number): Message => newMessage({ msgType: MessageType.MsgHup, from: id, to: id });
export const msgBeat = (id: number): Message => newMessage({ msgType: MessageType.MsgBeat, from: id, to: id });
export function msgProp(id: number, data = 'somedata'): Message {
  return newMessage({ msgType: MessageType.MsgPropose, from: id, to: id, entries: [newEntry({ data: Buffer.from(data) })] });
}

/** Entries with the given terms at indexes 1.. (TinyKV's entsWithConfig storage). */
export function storageWithTerms(...terms: number[]): MemoryStorage {
  const s = new MemoryStorage();
  s.append(terms.map((term, i) => newEntry({ term, index: i + 1 })));
  return s;
}
