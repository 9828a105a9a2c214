/**
 * The simulated network. Every message is an event: sent at `now`, delivered
 * after a delay drawn from its link's range (random delays reorder messages),
 * unless it is lost (drop ratio), filtered, or cut by a partition. Server
 * links may also duplicate messages (a replay), and can be clogged: a clogged
 * link holds its messages until it is unclogged (FDB's clogging), including
 * FDB's swizzle-clog (clog a random subset of nodes one by one, then unclog
 * them one by one in random order).
 *
 * Client links (one end is not a server) model a client's TCP connection:
 * they delay and lose messages but never duplicate them, and partitions and
 * clogs only concern servers. (A replayed client request would be proposed
 * twice; clients of TiKV talk over gRPC, where this does not happen.)
 *
 * Partitions and clogs are checked again at delivery, so a message in flight
 * when a partition starts is lost, as on a real wire. Filters are checked at
 * send time so scripted scenarios control exactly which sends they drop.
 */
import { assert } from '../util/assert.js';
import { WORLD } from './clock.js';
import type { SimClock } from './clock.js';
import { heldMessagesPerLinkMax, networkFiltersMax } from './limits.js';
import { pick, RATIO_NEVER, shuffle } from './prng.js';
import type { Prng, Ratio } from './prng.js';
import type { Trace } from './trace.js';

/** What filters and partitions see of a message. */
export interface MessageInfo {
  readonly from: number;
  readonly to: number;
  /** The message type name, e.g. `MsgAppend`, `request`, `response`. */
  readonly type: string;
  /** The raft group the message belongs to (0 for client traffic). */
  readonly regionId: number;
}

export interface Envelope<P> extends MessageInfo {
  readonly payload: P;
}

/** A scripted fault: drops every message for which `drop` returns true. */
export interface MessageFilter {
  readonly name: string;
  drop(info: MessageInfo): boolean;
}

export interface DelayRange {
  readonly minMs: number;
  readonly maxMs: number;
}

export interface NetworkFaults {
  /** Delay of server-to-server messages. */
  readonly delay: DelayRange;
  /** Loss on server links. */
  readonly dropRatio: Ratio;
  /** Duplication (replay) on server links. */
  readonly duplicateRatio: Ratio;
  /** Delay of client-server messages. */
  readonly clientDelay: DelayRange;
  /** Loss on client links. */
  readonly clientDropRatio: Ratio;
}

export const RELIABLE_FAULTS: NetworkFaults = {
  delay: { minMs: 1, maxMs: 5 },
  dropRatio: RATIO_NEVER,
  duplicateRatio: RATIO_NEVER,
  clientDelay: { minMs: 1, maxMs: 5 },
  clientDropRatio: RATIO_NEVER,
};

export interface NetworkDeps<P> {
  readonly clock: SimClock;
  readonly prng: Prng;
  readonly trace: Trace;
  /** Ids of the servers; every other id is a client. */
  readonly serverIds: readonly number[];
  /** Hands a delivered message to its destination (which may be down). */
  readonly deliver: (envelope: Envelope<P>) => void;
  /** A copy for a duplicate (receivers may mutate what they are given). */
  readonly clone: (payload: P) => P;
  /** One-line rendering for the verbose trace. */
  readonly describe: (envelope: Envelope<P>) => string;
  /** A 32-bit summary of the payload (term, index...) for the hashed trace. */
  readonly fingerprint: (payload: P) => number;
}

export type PartitionMode = 'uniform_size' | 'uniform_partition' | 'isolate_single';
export const PARTITION_MODES: readonly PartitionMode[] = ['uniform_size', 'uniform_partition', 'isolate_single'];

export interface NetworkStats {
  sent: number;
  delivered: number;
  duplicated: number;
  droppedLoss: number;
  droppedFilter: number;
  droppedPartition: number;
  droppedOverflow: number;
  held: number;
}

/** Called with whether a message reached its destination's inbox (the sender's transport report). */
export type OutcomeCallback = (delivered: boolean) => void;

interface InFlight<P> {
  readonly envelope: Envelope<P>;
  readonly onOutcome: OutcomeCallback | undefined;
}

/** Numeric trace event kinds of the network. */
const TRACE_DELIVER = 1;
const TRACE_DROP = 2;

const linkKey = (from: number, to: number): number => from * 65_536 + to;

export class SimNetwork<P> {
  faults: NetworkFaults;
  readonly stats: NetworkStats = {
    sent: 0, delivered: 0, duplicated: 0, droppedLoss: 0, droppedFilter: 0, droppedPartition: 0, droppedOverflow: 0, held: 0,
  };
  private readonly deps: NetworkDeps<P>;
  private readonly servers: ReadonlySet<number>;
  private readonly sortedServers: readonly number[];
  /** Directed server links that a partition cuts. */
  private readonly blocked = new Set<number>();
  private readonly filters: MessageFilter[] = [];
  private readonly linkDelays = new Map<number, DelayRange>();
  /** Clogged nodes and links, with the time the clog ends (Infinity: until unclogged). */
  private readonly cloggedNodes = new Map<number, number>();
  private readonly cloggedLinks = new Map<number, number>();
  private readonly typeCodes = new Map<string, number>();
  /** Messages held by clogged links, per directed link, in send order. */
  private readonly held = new Map<number, InFlight<P>[]>();

  constructor(deps: NetworkDeps<P>, faults: NetworkFaults) {
    assert(deps.serverIds.length > 0, 'network: no servers');
    for (const id of deps.serverIds) assert(Number.isSafeInteger(id) && id > 0 && id < 65_536, `network: bad server id ${id}`);
    this.deps = deps;
    this.faults = faults;
    this.servers = new Set(deps.serverIds);
    this.sortedServers = [...deps.serverIds].sort((a, b) => a - b);
  }

  isServerLink(from: number, to: number): boolean {
    return this.servers.has(from) && this.servers.has(to);
  }

  /**
   * Sends a message. `onOutcome` (optional) is told, in a later event owned
   * by the sender, whether the message was delivered; snapshot senders use it
   * to report the snapshot's status to raft.
   */
  send(envelope: Envelope<P>, onOutcome?: OutcomeCallback): void {
    if (!(envelope.from !== envelope.to)) assert(false, `network: message to self ${envelope.from}`);
    this.stats.sent++;
    const flight: InFlight<P> = { envelope, onOutcome };
    const filter = this.filters.length === 0 ? undefined : this.filters.find((f) => f.drop(envelope));
    if (filter !== undefined) return this.dropped(flight, `filter ${filter.name}`, 'droppedFilter');
    const server = this.isServerLink(envelope.from, envelope.to);
    if (server && this.blocked.has(linkKey(envelope.from, envelope.to))) {
      return this.dropped(flight, 'partition', 'droppedPartition');
    }
    const loss = server ? this.faults.dropRatio : this.faults.clientDropRatio;
    if (this.deps.prng.chance(loss)) return this.dropped(flight, 'loss', 'droppedLoss');
    this.schedule(flight);
    if (server && this.deps.prng.chance(this.faults.duplicateRatio)) {
      this.stats.duplicated++;
      this.schedule({ envelope: { ...envelope, payload: this.deps.clone(envelope.payload) }, onOutcome: undefined });
    }
  }

  /** Sets the delay range of one directed link (overrides the global range). */
  setLinkDelay(from: number, to: number, delay: DelayRange): void {
    checkDelay(delay);
    this.linkDelays.set(linkKey(from, to), delay);
  }

  // --- partitions --------------------------------------------------------

  /** Cuts `sideA` -> `sideB`, and `sideB` -> `sideA` too when symmetric. */
  partition(sideA: readonly number[], sideB: readonly number[], symmetric: boolean): void {
    for (const a of sideA) assert(!sideB.includes(a), `partition: node ${a} on both sides`);
    for (const a of sideA) {
      for (const b of sideB) {
        this.blocked.add(linkKey(a, b));
        if (symmetric) this.blocked.add(linkKey(b, a));
      }
    }
    this.traceFault(`partition [${sideA.join(',')}] ${symmetric ? '<->' : '->'} [${sideB.join(',')}]`);
  }

  /** Cuts `node` off from every other server. */
  isolate(node: number, symmetric = true): void {
    assert(this.servers.has(node), `isolate: ${node} is not a server`);
    this.partition([node], this.sortedServers.filter((id) => id !== node), symmetric);
  }

  /** Cuts the single direction `from` -> `to`. */
  cutOneWay(from: number, to: number): void {
    assert(this.isServerLink(from, to), `cutOneWay: ${from}->${to} is not a server link`);
    this.blocked.add(linkKey(from, to));
    this.traceFault(`cut ${from}->${to}`);
  }

  /** Draws and installs a random partition (TigerBeetle's partition modes). */
  partitionRandom(mode: PartitionMode, symmetric: boolean): void {
    const prng = this.deps.prng;
    const nodes = this.sortedServers;
    assert(nodes.length >= 2, 'partitionRandom: needs two servers');
    let sideA: number[];
    if (mode === 'isolate_single') {
      sideA = [pick(prng, nodes)];
    } else if (mode === 'uniform_size') {
      const size = prng.intInclusive(1, nodes.length - 1);
      sideA = shuffle(prng, nodes).slice(0, size).sort((a, b) => a - b);
    } else {
      sideA = nodes.filter(() => prng.chance({ numerator: 1, denominator: 2 }));
      if (sideA.length === 0 || sideA.length === nodes.length) sideA = [pick(prng, nodes)];
    }
    const sideB = nodes.filter((id) => !sideA.includes(id));
    // An asymmetric partition cuts one direction, chosen at random.
    if (symmetric || prng.chance({ numerator: 1, denominator: 2 })) this.partition(sideA, sideB, symmetric);
    else this.partition(sideB, sideA, symmetric);
  }

  isPartitioned(): boolean {
    return this.blocked.size > 0;
  }

  isBlocked(from: number, to: number): boolean {
    return this.blocked.has(linkKey(from, to));
  }

  /** Removes every partition and one-way cut (not clogs or filters). */
  heal(): void {
    if (this.blocked.size === 0) return;
    this.blocked.clear();
    this.traceFault('heal');
  }

  // --- filters -----------------------------------------------------------

  addFilter(filter: MessageFilter): void {
    assert(this.filters.length < networkFiltersMax, `network: more than ${networkFiltersMax} filters`);
    assert(!this.filters.some((f) => f.name === filter.name), `network: filter "${filter.name}" already installed`);
    this.filters.push(filter);
    this.traceFault(`filter+ ${filter.name}`);
  }

  removeFilter(name: string): void {
    const i = this.filters.findIndex((f) => f.name === name);
    assert(i >= 0, `network: no filter "${name}"`);
    this.filters.splice(i, 1);
    this.traceFault(`filter- ${name}`);
  }

  clearFilters(): void {
    this.filters.length = 0;
  }

  // --- clogging ----------------------------------------------------------

  /** Clogs every server link of `node` for `durationMs` (undefined: until unclogged). */
  clogNode(node: number, durationMs?: number): void {
    assert(this.servers.has(node), `clogNode: ${node} is not a server`);
    const until = this.clogUntil(durationMs);
    this.cloggedNodes.set(node, Math.max(until, this.cloggedNodes.get(node) ?? 0));
    this.traceFault(`clog node ${node} ${durationMs === undefined ? 'until unclogged' : `for ${durationMs} ms`}`);
  }

  unclogNode(node: number): void {
    this.cloggedNodes.delete(node);
    this.traceFault(`unclog node ${node}`);
    this.releaseUnclogged();
  }

  /** Clogs the directed link `from` -> `to` for `durationMs` (undefined: until unclogged). */
  clogLink(from: number, to: number, durationMs?: number): void {
    assert(this.isServerLink(from, to), `clogLink: ${from}->${to} is not a server link`);
    const key = linkKey(from, to);
    this.cloggedLinks.set(key, Math.max(this.clogUntil(durationMs), this.cloggedLinks.get(key) ?? 0));
    this.traceFault(`clog ${from}->${to} ${durationMs === undefined ? 'until unclogged' : `for ${durationMs} ms`}`);
  }

  unclogLink(from: number, to: number): void {
    this.cloggedLinks.delete(linkKey(from, to));
    this.traceFault(`unclog ${from}->${to}`);
    this.releaseUnclogged();
  }

  isClogged(from: number, to: number): boolean {
    if (this.cloggedLinks.size === 0 && this.cloggedNodes.size === 0) return false;
    const now = this.deps.clock.nowMs;
    return (
      (this.cloggedLinks.get(linkKey(from, to)) ?? 0) > now ||
      (this.cloggedNodes.get(from) ?? 0) > now ||
      (this.cloggedNodes.get(to) ?? 0) > now
    );
  }

  /** True when some link is clogged or holds messages. */
  hasClogs(): boolean {
    const now = this.deps.clock.nowMs;
    const active = (m: Map<number, number>): boolean => [...m.values()].some((until) => until > now);
    return active(this.cloggedNodes) || active(this.cloggedLinks) || this.held.size > 0;
  }

  /**
   * FDB's swizzle-clog: picks a random non-empty subset of servers, clogs
   * them one by one every `stepMs`, holds for `holdMs`, then unclogs them one
   * by one in a new random order. Returns the virtual time of the last unclog.
   */
  swizzleClog(options: { readonly stepMs: number; readonly holdMs: number }): number {
    assert(options.stepMs > 0 && options.holdMs >= options.stepMs, 'swizzleClog: hold must be at least one step');
    const prng = this.deps.prng;
    const count = prng.intInclusive(1, this.sortedServers.length);
    const subset = shuffle(prng, this.sortedServers).slice(0, count);
    const unclogOrder = shuffle(prng, subset);
    this.traceFault(`swizzle clog [${subset.join(',')}] unclog order [${unclogOrder.join(',')}]`);
    const clock = this.deps.clock;
    let at = clock.nowMs;
    for (const node of subset) {
      clock.scheduleAt(at, WORLD, 'swizzle clog', () => this.clogNode(node));
      at += options.stepMs;
    }
    at += options.holdMs - options.stepMs;
    for (const node of unclogOrder) {
      at += options.stepMs;
      clock.scheduleAt(at, WORLD, 'swizzle unclog', () => this.unclogNode(node));
    }
    return at;
  }

  /** Ends every clog and releases every held message. */
  unclogAll(): void {
    this.cloggedNodes.clear();
    this.cloggedLinks.clear();
    this.releaseUnclogged();
  }

  /** The liveness phase: no partitions, clogs, filters, loss or duplication. */
  healAll(): void {
    this.heal();
    this.unclogAll();
    this.clearFilters();
    this.faults = { ...this.faults, dropRatio: RATIO_NEVER, duplicateRatio: RATIO_NEVER, clientDropRatio: RATIO_NEVER };
    this.traceFault('heal all');
  }

  // --- internals ---------------------------------------------------------

  private clogUntil(durationMs: number | undefined): number {
    if (durationMs === undefined) return Number.POSITIVE_INFINITY;
    assert(Number.isSafeInteger(durationMs) && durationMs > 0, `clog: bad duration ${durationMs}`);
    const until = this.deps.clock.nowMs + durationMs;
    // A timed clog ends by itself; its held messages go out then.
    this.deps.clock.scheduleAt(until, WORLD, 'clog ends', () => this.releaseUnclogged());
    return until;
  }

  private drawDelay(from: number, to: number): number {
    const server = this.isServerLink(from, to);
    const range = this.linkDelays.get(linkKey(from, to)) ?? (server ? this.faults.delay : this.faults.clientDelay);
    return this.deps.prng.intInclusive(range.minMs, range.maxMs);
  }

  private schedule(flight: InFlight<P>): void {
    const { from, to } = flight.envelope;
    const delay = this.drawDelay(from, to);
    this.deps.clock.schedule(delay, WORLD, 'deliver', () => this.arrive(flight));
  }

  private arrive(flight: InFlight<P>): void {
    const { from, to } = flight.envelope;
    if (this.isServerLink(from, to)) {
      if (this.blocked.has(linkKey(from, to))) return this.dropped(flight, 'partition', 'droppedPartition');
      if (this.isClogged(from, to)) return this.hold(flight);
    }
    this.stats.delivered++;
    this.traceMessage(TRACE_DELIVER, flight.envelope, 'net');
    this.report(flight, true);
    this.deps.deliver(flight.envelope);
  }

  private hold(flight: InFlight<P>): void {
    const key = linkKey(flight.envelope.from, flight.envelope.to);
    const queue = this.held.get(key) ?? [];
    if (queue.length >= heldMessagesPerLinkMax) return this.dropped(flight, 'clog overflow', 'droppedOverflow');
    queue.push(flight);
    this.held.set(key, queue);
    this.stats.held++;
  }

  /** Sends out, with fresh delays, the held messages of links that are no longer clogged. */
  private releaseUnclogged(): void {
    const keys = [...this.held.keys()].sort((a, b) => a - b);
    for (const key of keys) {
      const queue = this.held.get(key) as InFlight<P>[];
      const first = queue[0] as InFlight<P>;
      if (this.isClogged(first.envelope.from, first.envelope.to)) continue;
      this.held.delete(key);
      for (const flight of queue) this.schedule(flight);
    }
  }

  private dropped(flight: InFlight<P>, reason: string, counter: keyof NetworkStats): void {
    this.stats[counter]++;
    this.traceMessage(TRACE_DROP, flight.envelope, `net drop (${reason})`);
    this.report(flight, false);
  }

  private report(flight: InFlight<P>, delivered: boolean): void {
    const callback = flight.onOutcome;
    if (callback === undefined) return;
    // The sender learns the outcome in its own event, so a crash of the sender cancels it.
    this.deps.clock.schedule(0, flight.envelope.from, 'send outcome', () => callback(delivered));
  }

  private traceMessage(kind: number, envelope: Envelope<P>, what: string): void {
    const trace = this.deps.trace;
    if (!trace.enabled) return;
    trace.event(kind, envelope.from, envelope.to, this.typeCode(envelope.type), this.deps.fingerprint(envelope.payload));
    if (trace.verbose) trace.detail(`${what} ${this.deps.describe(envelope)}`);
  }

  /** Small numbers for type names, assigned in first-seen order (deterministic for a seed). */
  private typeCode(type: string): number {
    let code = this.typeCodes.get(type);
    if (code === undefined) {
      code = this.typeCodes.size + 1;
      this.typeCodes.set(type, code);
    }
    return code;
  }

  private traceFault(text: string): void {
    if (this.deps.trace.enabled) this.deps.trace.record(`fault ${text}`);
  }
}

function checkDelay(delay: DelayRange): void {
  assert(Number.isSafeInteger(delay.minMs) && delay.minMs >= 0, `network: bad min delay ${delay.minMs}`);
  assert(Number.isSafeInteger(delay.maxMs) && delay.maxMs >= delay.minMs, `network: bad max delay ${delay.maxMs}`);
}

/** TinyKV's PartitionFilter: drops every message between `sideA` and `sideB`, both ways. */
export function partitionFilter(name: string, sideA: readonly number[], sideB: readonly number[]): MessageFilter {
  const a = new Set(sideA);
  const b = new Set(sideB);
  return { name, drop: (m) => (a.has(m.from) && b.has(m.to)) || (b.has(m.from) && a.has(m.to)) };
}

export interface DropSpec {
  readonly from?: number;
  readonly to?: number;
  /** Message type names; all types when absent. */
  readonly types?: readonly string[];
  readonly regionId?: number;
}

/** TinyKV's DropFilter generalized: drops messages matching every given field. */
export function dropFilter(name: string, spec: DropSpec): MessageFilter {
  return {
    name,
    drop: (m) =>
      (spec.from === undefined || m.from === spec.from) &&
      (spec.to === undefined || m.to === spec.to) &&
      (spec.types === undefined || spec.types.includes(m.type)) &&
      (spec.regionId === undefined || m.regionId === spec.regionId),
  };
}

/** TiKV's RegionPacketFilter direction: drops what `store` sends, receives, or both. */
export function directionFilter(
  name: string,
  spec: { readonly store: number; readonly direction: 'send' | 'recv' | 'both'; readonly types?: readonly string[] },
): MessageFilter {
  return {
    name,
    drop: (m) => {
      const typeMatches = spec.types === undefined || spec.types.includes(m.type);
      const sends = m.from === spec.store && spec.direction !== 'recv';
      const receives = m.to === spec.store && spec.direction !== 'send';
      return typeMatches && (sends || receives);
    },
  };
}
