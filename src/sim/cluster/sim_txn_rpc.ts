/**
 * `TxnRpc` (src/client/txn_rpc.ts) on the simulator: the transport a
 * `TxnClient` uses, over the simulated network and the mock scheduler, on
 * virtual time. Every promise it settles from a clock event is reported with
 * `cluster.noteAsync()`, so the async driver (async_driver.ts) runs the
 * client's continuations before the next event; all randomness comes from
 * the Prng stream it is given.
 *
 * - `tso()`: the mock scheduler's TSO, answered after one drawn client round
 *   trip (the scheduler is a remote process for a client).
 * - `locate()`: the region cache, else the scheduler (after a round trip),
 *   whose region and leader then enter the cache.
 * - `call()`: the request, its context filled in (region id, the caller's
 *   epoch, the target peer), goes to the target's store; each attempt waits
 *   up to `attemptTimeoutMs`. Retries follow `ClusterClient`'s rules
 *   (cluster_client.ts, docs/RAFTSTORE.md "EpochNotMatch and region
 *   caches"): NotLeader with a hint retries at once on the hint (at most
 *   `immediateRetriesMax` times in a row); silence tries the scheduler's
 *   leader or another peer; StaleCommand, ServerIsBusy, OutcomeUnknown,
 *   NotLeader without a hint and unknown errors pause, doubling from
 *   `retryPauseMs` up to `retryPauseMaxMs`, and retry. When the region the
 *   caller built the request for no longer matches, the answer is
 *   REGION_CHANGED instead (TxnRpc's division of labour: the client regroups
 *   the keys): EpochNotMatch that teaches a newer region (now cached),
 *   RegionNotFound, KeyNotInRegion, StoreNotMatch (the region is dropped from
 *   the cache), or a cached region whose epoch differs from the caller's.
 *   EpochNotMatch from a store behind the caller's epoch only doubts the
 *   leader and pauses, as in ClusterClient.
 *
 * Retrying after silence or OutcomeUnknown is sound here: Percolator's
 * commands are idempotent (txn_rpc.ts), unlike a raw put.
 *
 * Many calls may be in flight at once (a TxnClient sends a batch's requests
 * in parallel): each attempt has its own request id, and only the current
 * attempt of a call is answered (an answer to an abandoned attempt is
 * dropped, as ClusterClient drops it).
 */
import type { Context } from '../../pb/kvrpcpb.js';
import type { Peer, Region, RegionEpoch } from '../../pb/metapb.js';
import type { Error as RegionError } from '../../pb/errorpb.js';
import { isEpochStale } from '../../raftstore/store_meta.js';
import { assert, AssertionError } from '../../util/assert.js';
import { Backoff } from '../../client/backoff.js';
import { ClientError, CLIENT_ERROR_CODES } from '../../client/errors.js';
import { memberOf, RegionCache } from '../../client/region_cache.js';
import { REGION_CHANGED } from '../../client/txn_rpc.js';
import type { RegionChanged, RegionRef, TxnMethod, TxnRequest, TxnResponse, TxnRpc } from '../../client/txn_rpc.js';
import { WORLD } from '../clock.js';
import type { EventHandle } from '../clock.js';
import { pick } from '../prng.js';
import type { Prng } from '../prng.js';
import type { Cluster } from './cluster.js';
import type { ClusterEnvelope, ClusterPayload, TxnCall } from './payload.js';

export interface SimTxnRpcOptions {
  /** How long one attempt waits for an answer before the store counts as silent. @default 1000 (TinyKV's harness) */
  readonly attemptTimeoutMs?: number;
  /** First pause after an answer that taught nothing; doubles with each in a row. @default 100 */
  readonly retryPauseMs?: number;
  /** The longest pause. @default 4 × retryPauseMs */
  readonly retryPauseMaxMs?: number;
}

/** Retries made at once in a row (NotLeader hints) before the next one pauses: two peers naming each other must not spin. */
const immediateRetriesMax = 10;

/** Scheduler lookups one `locate` makes at most (each takes a round trip and a pause; the deadline ends it long before). */
const locateLookupsMax = 10_000;

type Outcome = TxnResponse<TxnMethod> | RegionChanged;

/** One `call` in progress. */
interface InFlightCall {
  readonly call: TxnCall;
  readonly region: RegionRef;
  readonly deadlineMs: number;
  readonly backoff: Backoff;
  readonly resolve: (outcome: Outcome) => void;
  readonly reject: (error: ClientError) => void;
  /** The current attempt's request id; 0 between attempts. */
  reqId: number;
  attempts: number;
  /** Retries made at once in a row. */
  immediate: number;
  /** The peer the next attempt goes to, when an answer named one. */
  target: Peer | undefined;
  /** The attempt timeout or the pause before the next attempt. */
  timer: EventHandle | undefined;
  /** Why the last attempt failed (a deadline error's message). */
  lastFailure: string;
}

/** A pending `tso`, `locate` or `sleep` wait on the clock. */
interface Waiter {
  readonly timer: EventHandle;
  /** What closing the rpc does to the wait: sleeps end, everything else rejects with CLOSED. */
  readonly close: () => void;
}

export class SimTxnRpc implements TxnRpc {
  /** This client's network address. */
  readonly endpoint: number;
  private readonly cluster: Cluster;
  private readonly prng: Prng;
  private readonly attemptTimeoutMs: number;
  private readonly retryPauseMs: number;
  private readonly retryPauseMaxMs: number;
  private readonly cache = new RegionCache();
  private nextReqId = 1;
  private closed = false;
  private readonly calls = new Set<InFlightCall>();
  /** Calls by the request id of their current attempt. */
  private readonly attempts = new Map<number, InFlightCall>();
  private readonly waiters = new Set<Waiter>();

  constructor(cluster: Cluster, prng: Prng, options: SimTxnRpcOptions = {}) {
    this.cluster = cluster;
    this.prng = prng;
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 1_000;
    this.retryPauseMs = options.retryPauseMs ?? 100;
    this.retryPauseMaxMs = options.retryPauseMaxMs ?? 4 * this.retryPauseMs;
    assert(Number.isSafeInteger(this.attemptTimeoutMs) && this.attemptTimeoutMs > 0, `sim txn rpc: bad attempt timeout ${this.attemptTimeoutMs}`);
    assert(Number.isSafeInteger(this.retryPauseMs) && this.retryPauseMs > 0, `sim txn rpc: bad retry pause ${this.retryPauseMs}`);
    assert(Number.isSafeInteger(this.retryPauseMaxMs) && this.retryPauseMaxMs >= this.retryPauseMs, `sim txn rpc: bad longest pause ${this.retryPauseMaxMs}`);
    this.endpoint = cluster.registerEndpoint((e) => this.receive(e));
  }

  /** Calls not finished yet (tests check that nothing is left behind). */
  get inFlight(): number {
    return this.calls.size;
  }

  /** @throws {ClientError} DEADLINE_EXCEEDED or CLOSED. */
  async tso(deadlineMs: number): Promise<bigint> {
    this.checkOpen();
    await this.roundTrip('tso', deadlineMs);
    return this.cluster.scheduler.tso(this.cluster.clock.nowMs);
  }

  nowMs(): number {
    return this.cluster.clock.nowMs;
  }

  async sleep(ms: number): Promise<void> {
    assert(Number.isSafeInteger(ms) && ms >= 0, `sim txn rpc: bad sleep ${ms}`);
    if (this.closed) return;
    await this.wait(ms, 'txn sleep', 'resolve');
  }

  /** @throws {ClientError} DEADLINE_EXCEEDED or CLOSED. */
  async locate(key: Uint8Array, deadlineMs: number): Promise<RegionRef> {
    this.checkOpen();
    const hit = this.cache.byKey(key);
    if (hit !== undefined) return regionRef(hit.region);
    const backoff = new Backoff({ baseMs: this.retryPauseMs, maxMs: this.retryPauseMaxMs });
    for (let lookups = 0; lookups < locateLookupsMax; lookups++) {
      await this.roundTrip('locate', deadlineMs);
      const s = this.cluster.scheduler;
      const region = s.regionByKey(key);
      if (region !== undefined) {
        this.cache.put(region, memberOf(s.leaderOf(region.id), region));
        // The cache may hold a newer region over the key than the scheduler yet (from an EpochNotMatch).
        const cached = this.cache.byKey(key);
        if (cached !== undefined) return regionRef(cached.region);
      }
      // No region over the key yet (a split's new region before its first heartbeat): ask again.
      await this.pause(backoff.next(), 'locate', deadlineMs);
    }
    throw new AssertionError(`sim txn rpc: locate made ${locateLookupsMax} scheduler lookups`);
  }

  /** @throws {ClientError} DEADLINE_EXCEEDED, CLOSED, INVALID_ARGUMENT (an InvalidRequest region error). */
  call<M extends TxnMethod>(method: M, region: RegionRef, request: TxnRequest<M>, deadlineMs: number): Promise<TxnResponse<M> | RegionChanged> {
    if (this.closed) return Promise.reject(closedError());
    // The method and its request type go together (TxnCall is their correlated union).
    const call = { method, request } as TxnCall;
    return new Promise<TxnResponse<M> | RegionChanged>((resolve, reject) => {
      const op: InFlightCall = {
        call, region: { ...region, epoch: { ...region.epoch } }, deadlineMs, backoff: new Backoff({ baseMs: this.retryPauseMs, maxMs: this.retryPauseMaxMs }),
        // Sound: receive() checks that an answer is for the method the call sent.
        resolve: (outcome) => resolve(outcome as TxnResponse<M> | RegionChanged),
        reject, reqId: 0, attempts: 0, immediate: 0, target: undefined, timer: undefined, lastFailure: 'no attempt yet',
      };
      this.calls.add(op);
      this.attempt(op);
    });
  }

  /** Rejects every call and wait in flight with CLOSED (sleeps end); later calls reject at once. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters) {
      this.cluster.clock.cancel(w.timer);
      w.close();
    }
    this.waiters.clear();
    for (const op of [...this.calls]) this.fail(op, closedError());
    this.cluster.noteAsync();
  }

  // ---- calls ---------------------------------------------------------------

  private attempt(op: InFlightCall): void {
    const c = this.cluster;
    const now = c.clock.nowMs;
    if (now >= op.deadlineMs) return this.fail(op, this.deadlineError(op));
    const cached = this.cache.byId(op.region.id);
    if (cached === undefined || !sameEpoch(cached.region.regionEpoch, op.region.epoch)) return this.finish(op, REGION_CHANGED);
    const region = cached.region;
    const target = op.target ?? cached.leader ?? memberOf(c.scheduler.leaderOf(region.id), region) ?? pick(this.prng, region.peers);
    op.target = target;
    op.attempts++;
    const reqId = this.nextReqId++;
    op.reqId = reqId;
    this.attempts.set(reqId, op);
    const context: Context = { regionId: region.id, regionEpoch: { ...op.region.epoch }, peer: { ...target }, term: 0 };
    const payload: ClusterPayload = { kind: 'txn', reqId, ...withContext(op.call, context) };
    c.network.send({ from: this.endpoint, to: target.storeId, type: 'request', regionId: 0, payload });
    const waitMs = Math.min(this.attemptTimeoutMs, op.deadlineMs - now);
    op.timer = c.clock.schedule(waitMs, WORLD, 'txn rpc attempt timeout', () => {
      op.timer = undefined;
      this.attempts.delete(reqId);
      op.reqId = 0;
      op.lastFailure = `no answer from store ${target.storeId} in ${waitMs} ms`;
      // Silence: the scheduler's leader if it names another peer, else a random peer (as ClusterClient).
      this.cache.setLeader(region.id, undefined);
      const leader = memberOf(c.scheduler.leaderOf(region.id), region);
      op.target = leader !== undefined && leader.id !== target.id ? leader : pick(this.prng, region.peers);
      this.attempt(op);
    });
  }

  private receive(envelope: ClusterEnvelope): void {
    const p = envelope.payload;
    if (p.kind !== 'txnResp') return assert(false, `sim txn rpc ${this.endpoint}: unexpected ${p.kind}`);
    const op = this.attempts.get(p.reqId);
    // An answer to an abandoned attempt (timed out, or the rpc closed): the current attempt decides.
    if (op === undefined) return;
    this.attempts.delete(p.reqId);
    op.reqId = 0;
    if (op.timer !== undefined) this.cluster.clock.cancel(op.timer);
    op.timer = undefined;
    assert(p.method === op.call.method, `sim txn rpc: a ${p.method} answer to a ${op.call.method} request`);
    const err = p.response.regionError;
    if (err === undefined) {
      this.cache.setLeader(op.region.id, op.target);
      return this.finish(op, p.response);
    }
    this.onRegionError(op, err);
  }

  private onRegionError(op: InFlightCall, err: RegionError): void {
    const id = op.region.id;
    op.lastFailure = err.message;
    if (err.notLeader !== undefined) {
      const hint = err.notLeader.leader;
      const cached = this.cache.byId(id);
      if (cached !== undefined) this.cache.setLeader(id, memberOf(hint, cached.region));
      if (hint !== undefined && hint.id !== 0) return this.retryAtOnce(op, hint);
      return this.retryLater(op);
    }
    if (err.epochNotMatch !== undefined) {
      if (this.learnRegions(op.region, err.epochNotMatch.currentRegions)) return this.finish(op, REGION_CHANGED);
      return this.retryLater(op);
    }
    if (err.regionNotFound !== undefined || err.keyNotInRegion !== undefined || err.storeNotMatch !== undefined) {
      this.cache.drop(id);
      return this.finish(op, REGION_CHANGED);
    }
    // The request itself is wrong, not its route: retrying cannot help.
    if (err.message.startsWith('InvalidRequest')) return this.fail(op, new ClientError(CLIENT_ERROR_CODES.InvalidArgument, `${op.call.method}: ${err.message}`));
    // StaleCommand, ServerIsBusy, OutcomeUnknown, anything else: doubt the leader, pause, retry.
    this.cache.setLeader(id, undefined);
    this.retryLater(op);
  }

  /**
   * A store's current regions replace what the cache holds, unless the store
   * is behind the region the caller sent (same region, older epoch): then
   * only its leadership is doubted (ClusterClient.onEpochNotMatch).
   * @returns whether the cache learnt a newer region (false: the store is behind).
   */
  private learnRegions(sent: RegionRef, current: readonly Region[]): boolean {
    const same = current.find((r) => r.id === sent.id);
    if (same === undefined || isEpochStale(same.regionEpoch, sent.epoch)) {
      this.cache.setLeader(sent.id, undefined);
      return false;
    }
    this.cache.drop(sent.id);
    for (const r of current) this.cache.put(r, undefined);
    return isEpochStale(sent.epoch, same.regionEpoch);
  }

  private retryAtOnce(op: InFlightCall, target: Peer): void {
    op.backoff.reset();
    op.target = { ...target };
    if (++op.immediate > immediateRetriesMax) return this.retryLater(op, op.target);
    this.attempt(op);
  }

  /** The next attempt after a pause; the deadline error instead if the pause would outlast it. */
  private retryLater(op: InFlightCall, target: Peer | undefined = undefined): void {
    op.target = target;
    op.immediate = 0;
    const now = this.cluster.clock.nowMs;
    const pause = op.backoff.next();
    if (now + pause >= op.deadlineMs) {
      op.timer = this.cluster.clock.schedule(Math.max(0, op.deadlineMs - now), WORLD, 'txn rpc deadline', () => {
        op.timer = undefined;
        this.fail(op, this.deadlineError(op));
      });
      return;
    }
    op.timer = this.cluster.clock.schedule(pause, WORLD, 'txn rpc retry', () => {
      op.timer = undefined;
      this.attempt(op);
    });
  }

  private finish(op: InFlightCall, outcome: Outcome): void {
    this.retire(op);
    op.resolve(outcome);
    this.cluster.noteAsync();
  }

  private fail(op: InFlightCall, error: ClientError): void {
    this.retire(op);
    op.reject(error);
    this.cluster.noteAsync();
  }

  private retire(op: InFlightCall): void {
    assert(this.calls.delete(op), 'sim txn rpc: finishing a call that is not in flight');
    if (op.reqId !== 0) this.attempts.delete(op.reqId);
    op.reqId = 0;
    if (op.timer !== undefined) this.cluster.clock.cancel(op.timer);
    op.timer = undefined;
  }

  private deadlineError(op: InFlightCall): ClientError {
    return new ClientError(
      CLIENT_ERROR_CODES.DeadlineExceeded,
      `${op.call.method} to region ${op.region.id}: deadline exceeded after ${op.attempts} attempts (last: ${op.lastFailure})`,
    );
  }

  // ---- waits on the clock ----------------------------------------------------

  /** One client round trip to the scheduler, drawn from the client links' delays. */
  private async roundTrip(what: string, deadlineMs: number): Promise<void> {
    const d = this.cluster.network.faults.clientDelay;
    const ms = Math.max(1, this.prng.intInclusive(d.minMs, d.maxMs) + this.prng.intInclusive(d.minMs, d.maxMs));
    await this.pause(ms, what, deadlineMs);
  }

  /** Waits `ms`, or until the deadline and then rejects with DEADLINE_EXCEEDED. */
  private async pause(ms: number, what: string, deadlineMs: number): Promise<void> {
    const now = this.cluster.clock.nowMs;
    if (now + ms <= deadlineMs) return this.wait(ms, `txn rpc ${what}`, 'reject');
    await this.wait(Math.max(0, deadlineMs - now), `txn rpc ${what} deadline`, 'reject');
    throw new ClientError(CLIENT_ERROR_CODES.DeadlineExceeded, `${what}: deadline exceeded`);
  }

  private wait(ms: number, label: string, onClose: 'resolve' | 'reject'): Promise<void> {
    this.checkOpen();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        timer: this.cluster.clock.schedule(ms, WORLD, label, () => {
          this.waiters.delete(waiter);
          resolve();
          this.cluster.noteAsync();
        }),
        close: () => (onClose === 'resolve' ? resolve() : reject(closedError())),
      };
      this.waiters.add(waiter);
    });
  }

  private checkOpen(): void {
    if (this.closed) throw closedError();
  }
}

function closedError(): ClientError {
  return new ClientError(CLIENT_ERROR_CODES.Closed, 'The transactional rpc layer was closed');
}

function regionRef(region: Region): RegionRef {
  const e = region.regionEpoch ?? { confVer: 0, version: 0 };
  return { id: region.id, epoch: { confVer: e.confVer, version: e.version }, startKey: region.startKey, endKey: region.endKey };
}

function sameEpoch(a: RegionEpoch | undefined, b: RegionEpoch): boolean {
  return a !== undefined && a.confVer === b.confVer && a.version === b.version;
}

/** The call with its request's context set (the request keeps its method, so the pair stays a TxnCall). */
function withContext(call: TxnCall, context: Context): TxnCall {
  return { method: call.method, request: { ...call.request, context } } as TxnCall;
}
