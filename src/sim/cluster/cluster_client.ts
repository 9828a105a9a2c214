/**
 * TinyKV's test client (cluster.go `Request` + `CallCommandOnLeader`) on
 * virtual time, with a region cache as real clients keep (TiKV client-go):
 * find the key's region and leader in the cache (on a miss, in the
 * scheduler), send the command to the leader's store, wait up to
 * `attemptTimeoutMs`, and retry on NotLeader (at once, to the hinted
 * leader), StaleCommand, EpochNotMatch, RegionNotFound, ServerIsBusy, an
 * unknown outcome or silence (after a pause that doubles up to
 * `retryPauseMaxMs`, at the cached or scheduler's leader or a random peer)
 * until `requestTimeoutMs` has passed and at least `attemptsMin` attempts
 * were made ("request timeout"). Errors correct the cache: EpochNotMatch
 * brings the store's current regions (and the ones split off since; the
 * request is retried at once unless the store was behind), a NotLeader hint
 * the leader; RegionNotFound and KeyNotInRegion drop the region, silence the
 * leader.
 *
 * Retrying a write after silence or an unknown outcome re-proposes it. That
 * is how TinyKV's harness works, and it is sound for the workloads that use
 * this client: a timed-out attempt's entry either applies before a later
 * attempt's entry or never (once an entry of a newer term commits, older
 * terms' entries after it cannot: docs/RAFTSTORE.md), and every write is a
 * put of a fixed value or a delete, so applying it twice in a row is
 * invisible. The caller records one operation for all attempts.
 *
 * {@link ClusterClient.requestRegion} addresses a region by id instead of a
 * key (TinyKV builds such a request from `GetRegionByID` and sends it with
 * `CallCommandOnLeader`): an admin command such as TransferLeader, or a
 * normal request a test sends to a region on purpose (a key outside it).
 */
import type { Peer, Region } from '../../pb/metapb.js';
import type { AdminRequest, RaftCmdRequest, RaftCmdResponse, Request } from '../../pb/raft_cmdpb.js';
import { isOutcomeUnknown } from '../../raftstore/region_errors.js';
import { isEpochStale } from '../../raftstore/store_meta.js';
import { assert } from '../../util/assert.js';
import { WORLD } from '../clock.js';
import type { EventHandle } from '../clock.js';
import { pick } from '../prng.js';
import type { Prng } from '../prng.js';
import type { Cluster } from './cluster.js';
import type { ClusterEnvelope, ScanBounds } from './payload.js';
import { memberOf, RegionCache } from '../../client/region_cache.js';
import type { CachedRegion } from '../../client/region_cache.js';

export interface ClientTimings {
  /** `Request`'s overall budget (TinyKV: 5 s). */
  readonly requestTimeoutMs: number;
  /** Attempts made at least, whatever the time (TinyKV: 10). */
  readonly attemptsMin: number;
  /** One `CallCommandOnLeader` wait (TinyKV: 1 s). */
  readonly attemptTimeoutMs: number;
  /** Pause after an error answer (TinyKV: 100 ms); doubles with each error in a row. */
  readonly retryPauseMs: number;
  /** The longest pause (bounded backoff). @default 4 × retryPauseMs */
  readonly retryPauseMaxMs?: number;
  /**
   * Whether silence or OutcomeUnknown is retried (TinyKV: yes, sound only
   * when each key has one writer, see the file comment). When false the
   * request ends as a timeout at the first ambiguous outcome. @default true
   */
  readonly retryAmbiguous?: boolean;
}

export const TINYKV_CLIENT_TIMINGS: ClientTimings = { requestTimeoutMs: 5_000, attemptsMin: 10, attemptTimeoutMs: 1_000, retryPauseMs: 100 };

export type RequestOutcome =
  | { readonly ok: true; readonly response: RaftCmdResponse; readonly entries: readonly (readonly [string, string])[] | undefined }
  /** A non-retryable error answer (e.g. KeyNotInRegion), returned to the caller as TinyKV does. */
  | { readonly ok: false; readonly kind: 'error'; readonly response: RaftCmdResponse }
  | { readonly ok: false; readonly kind: 'timeout'; readonly attempts: number };

/** How a command finds its region: the one holding a key (TinyKV `Request`), or an id (`GetRegionByID`). */
type Route = { readonly key: Buffer } | { readonly regionId: number };

interface InFlight {
  reqId: number;
  readonly route: Route;
  readonly requests: readonly Request[];
  /** Sent instead of `requests` when set (an admin command carries no normal requests). */
  readonly admin: AdminRequest | undefined;
  readonly scan: ScanBounds | undefined;
  readonly startMs: number;
  readonly onDone: (outcome: RequestOutcome) => void;
  attempts: number;
  /** Error answers in a row that taught nothing new (the backoff's exponent). */
  errors: number;
  target: Peer | undefined;
  /** The region the current attempt went to, as the client knew it. */
  sent: Region | undefined;
  timer: EventHandle | undefined;
}

export class ClusterClient {
  readonly endpoint: number;
  private readonly cluster: Cluster;
  private readonly prng: Prng;
  private readonly timings: ClientTimings;
  private nextReqId = 1;
  private current: InFlight | undefined;
  private readonly cache = new RegionCache();

  constructor(cluster: Cluster, prng: Prng, timings: ClientTimings = TINYKV_CLIENT_TIMINGS) {
    this.cluster = cluster;
    this.prng = prng;
    this.timings = timings;
    this.endpoint = cluster.registerEndpoint((e) => this.receive(e));
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  /** TinyKV `Request(key, reqs, timeout)`: one command for the region of `key`. One at a time. */
  request(key: Buffer, requests: readonly Request[], onDone: (outcome: RequestOutcome) => void, scan?: ScanBounds): void {
    this.start({ key }, requests, undefined, scan, onDone);
  }

  /**
   * One command for the region with this id, at the scheduler's current epoch
   * (TinyKV `NewRequest`/`NewAdminRequest` from `GetRegionByID`, then
   * `CallCommandOnLeader`): `command` is either the normal requests or one
   * admin request. Retried and answered like {@link request}.
   */
  requestRegion(regionId: number, command: readonly Request[] | AdminRequest, onDone: (outcome: RequestOutcome) => void): void {
    assert(Number.isSafeInteger(regionId) && regionId > 0, `client ${this.endpoint}: bad region id ${regionId}`);
    if (isAdmin(command)) this.start({ regionId }, [], command, undefined, onDone);
    else this.start({ regionId }, command, undefined, undefined, onDone);
  }

  private start(route: Route, requests: readonly Request[], admin: AdminRequest | undefined, scan: ScanBounds | undefined, onDone: (outcome: RequestOutcome) => void): void {
    assert(this.current === undefined, `client ${this.endpoint}: a request is already in flight`);
    this.current = {
      reqId: 0, route, requests, admin, scan, startMs: this.cluster.clock.nowMs, onDone, attempts: 0, errors: 0, target: undefined, sent: undefined, timer: undefined,
    };
    this.attempt(this.current);
  }

  private attempt(op: InFlight): void {
    const c = this.cluster;
    if (op.attempts >= this.timings.attemptsMin && c.clock.nowMs - op.startMs >= this.timings.requestTimeoutMs) {
      return this.finish(op, { ok: false, kind: 'timeout', attempts: op.attempts });
    }
    const cached = this.lookup(op.route);
    if (cached === undefined) return this.retryLater(op, undefined);
    const region = cached.region;
    const target = op.target ?? cached.leader ?? c.scheduler.leaderOf(region.id) ?? pick(this.prng, region.peers);
    op.target = target;
    op.sent = region;
    op.attempts++;
    const reqId = this.nextReqId++;
    op.reqId = reqId;
    const request: RaftCmdRequest = {
      header: { regionId: region.id, peer: { ...target }, regionEpoch: region.regionEpoch, term: 0 },
      requests: [...op.requests],
      adminRequest: op.admin,
    };
    c.network.send({
      from: this.endpoint, to: target.storeId, type: 'request', regionId: 0,
      payload: op.scan === undefined ? { kind: 'cmd', reqId, request } : { kind: 'cmd', reqId, request, scan: op.scan },
    });
    op.timer = c.clock.schedule(this.timings.attemptTimeoutMs, WORLD, 'client attempt timeout', () => {
      op.timer = undefined;
      if (this.timings.retryAmbiguous === false) return this.finish(op, { ok: false, kind: 'timeout', attempts: op.attempts });
      // Silence: the scheduler's leader if it changed, else a random peer (TinyKV).
      this.cache.setLeader(region.id, undefined);
      const leader = c.scheduler.leaderOf(region.id);
      op.target = leader !== undefined && leader.id !== target.id ? leader : pick(this.prng, region.peers);
      this.attempt(op);
    });
  }

  /**
   * The region for a route. A key's: from the cache, else from the scheduler
   * (then cached). An id's: always the scheduler's, as TinyKV's
   * `GetRegionByID` (admin commands carry the scheduler's epoch), with the
   * cached leader if the cache holds that region.
   */
  private lookup(route: Route): CachedRegion | undefined {
    const s = this.cluster.scheduler;
    if ('regionId' in route) {
      const region = s.regionById(route.regionId);
      return region === undefined ? undefined : { region, leader: memberOf(this.cache.byId(route.regionId)?.leader, region) };
    }
    const hit = this.cache.byKey(route.key);
    if (hit !== undefined) return hit;
    const region = s.regionByKey(route.key);
    if (region === undefined) return undefined;
    this.cache.put(region, s.leaderOf(region.id));
    // The cache may know a newer region over the key than the scheduler yet (from an EpochNotMatch).
    return this.cache.byKey(route.key);
  }

  private retryLater(op: InFlight, target: Peer | undefined): void {
    op.target = target;
    const base = this.timings.retryPauseMs;
    const pause = Math.min(base * 2 ** Math.min(op.errors, 16), this.timings.retryPauseMaxMs ?? 4 * base);
    op.errors++;
    op.timer = this.cluster.clock.schedule(pause, WORLD, 'client retry', () => {
      op.timer = undefined;
      this.attempt(op);
    });
  }

  private receive(envelope: ClusterEnvelope): void {
    const p = envelope.payload;
    assert(p.kind === 'cmdResp', `client ${this.endpoint}: unexpected ${p.kind}`);
    const op = this.current;
    // Answers to earlier attempts or requests are stale: the outcome is decided by the current attempt.
    if (op === undefined || p.reqId !== op.reqId) return;
    if (op.timer !== undefined) this.cluster.clock.cancel(op.timer);
    op.timer = undefined;
    const err = p.response.header?.error;
    const sent = op.sent;
    assert(sent !== undefined, `client ${this.endpoint}: an answer to an attempt that was not sent`);
    if (err === undefined) {
      if (op.target !== undefined) this.cache.setLeader(sent.id, op.target);
      return this.finish(op, { ok: true, response: p.response, entries: p.entries });
    }
    if (err.notLeader !== undefined) {
      const hint = err.notLeader.leader;
      this.cache.setLeader(sent.id, memberOf(hint, sent));
      if (hint !== undefined && hint.id !== 0) {
        op.errors = 0;
        op.target = hint;
        return this.attempt(op);
      }
      return this.retryLater(op, undefined);
    }
    if (err.epochNotMatch !== undefined) {
      // Newer regions learnt: try them at once (a region that keeps splitting under load is
      // chased one round trip behind, not one pause behind). A store behind us, or a route by
      // id (whose region comes from the scheduler, maybe still the old one): pause.
      if (this.onEpochNotMatch(sent, err.epochNotMatch.currentRegions) && 'key' in op.route) {
        op.errors = 0;
        op.target = undefined;
        return this.attempt(op);
      }
    } else if (err.regionNotFound !== undefined || err.keyNotInRegion !== undefined || err.storeNotMatch !== undefined) this.cache.drop(sent.id);
    else this.cache.setLeader(sent.id, undefined);
    if (err.keyNotInRegion !== undefined || err.storeNotMatch !== undefined || err.message.startsWith('InvalidRequest')) {
      return this.finish(op, { ok: false, kind: 'error', response: p.response });
    }
    if (this.timings.retryAmbiguous === false && isOutcomeUnknown(err)) return this.finish(op, { ok: false, kind: 'timeout', attempts: op.attempts });
    // StaleCommand, EpochNotMatch, RegionNotFound, ServerIsBusy, OutcomeUnknown: retry after a pause.
    this.retryLater(op, undefined);
  }

  /**
   * A store's current regions replace what the cache holds, unless the store
   * is behind the region the client sent (a peer that has not applied a
   * change the client already knows of): then only its leadership is doubted.
   * @returns whether the cache learnt newer regions (false: the store is behind).
   */
  private onEpochNotMatch(sent: Region, current: readonly Region[]): boolean {
    const same = current.find((r) => r.id === sent.id);
    if (same === undefined || isEpochStale(same.regionEpoch, sent.regionEpoch)) {
      this.cache.setLeader(sent.id, undefined);
      return false;
    }
    this.cache.drop(sent.id);
    for (const r of current) this.cache.put(r, undefined);
    return isEpochStale(sent.regionEpoch, same.regionEpoch);
  }

  private finish(op: InFlight, outcome: RequestOutcome): void {
    assert(this.current === op, 'client: finishing a request that is not current');
    if (op.timer !== undefined) this.cluster.clock.cancel(op.timer);
    this.current = undefined;
    op.onDone(outcome);
  }
}

function isAdmin(command: readonly Request[] | AdminRequest): command is AdminRequest {
  return !Array.isArray(command);
}
