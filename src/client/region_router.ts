/**
 * `RegionRouter`: sends one keyed command to the leader of the key's region
 * and retries it by the rules the simulator's client settled on
 * (`src/sim/cluster/cluster_client.ts`, docs/RAFTSTORE.md "EpochNotMatch and
 * region caches"), over real gRPC:
 *
 * - The key's region comes from the {@link RegionCache}; on a miss, or when
 *   no leader is known, from the scheduler (`GetRegion`, which also names
 *   the leader). A store's address comes from `GetStore`, cached; there is
 *   one TinyKv channel per address.
 * - NotLeader with a leader: remember it and retry at once on it. Without:
 *   forget the leader and, after a pause, try another peer.
 * - EpochNotMatch whose current regions teach a newer region: cache them
 *   and retry at once. From a store behind the region the client sent (same
 *   region, older epoch): only forget the leader, and pause.
 * - RegionNotFound, KeyNotInRegion, StoreNotMatch: drop the region (and the
 *   store's address for StoreNotMatch) and retry after a pause. StaleCommand,
 *   ServerIsBusy, OutcomeUnknown and unknown errors: forget the leader and
 *   retry after a pause. InvalidRequest: fail (the request is wrong, not the
 *   route).
 * - A store that is unreachable or silent for `attemptTimeoutMs`: forget the
 *   leader and the store's address, and try another peer.
 * - Pauses double from `retryPauseMs` up to `retryPauseMsMax` while answers
 *   teach nothing, and restart when one does; at most `retryImmediateMax`
 *   retries in a row skip the pause. The whole operation ends by its
 *   deadline: DEADLINE_EXCEEDED with the last failure as `cause`.
 *
 * Pinned commands. A transactional request is built for one region's keys
 * (`txn_rpc.ts`): it must be served by that region as the client knew it, or
 * not at all, so that the client can regroup its keys. A command with
 * `region` set is routed to that region by id (refreshed from the scheduler,
 * by `key`, when the cache lacks it or its leader), and the run ends with
 * ClientError REGION_CHANGED as soon as the cache, taught by EpochNotMatch,
 * RegionNotFound, KeyNotInRegion or the scheduler, no longer holds that
 * region at that epoch. Everything else (leaders, pauses, deadlines) is as
 * above; commands without `region` are routed exactly as before.
 *
 * Writes and unknown outcomes. An attempt of a write whose answer is lost
 * (transport failure or timeout after sending, or the store's OutcomeUnknown)
 * may have been applied, or may still be: the abandoned attempt can sit in a
 * store's queue or an old leader's log and apply later. By default such a
 * write fails with OUTCOME_UNKNOWN at once and is not retried: a retry could
 * succeed while the abandoned attempt applies after it, and after another
 * client's write of the same key (the chaos test found exactly that history:
 * put(k, a) acknowledged, another client's put(k, b) acknowledged, then `a`
 * read back). Raw put and delete are idempotent in value but not in time, so
 * a retry is not linearizable. An attempt grpc-js never sent (no connection
 * to the store: "No connection established") is not ambiguous and is
 * retried on another peer like a refusal. `retryAmbiguousWrites: true`
 * restores TinyKV's and TiKV's raw clients' behaviour (retry, accept a late
 * duplicate) for callers that prefer availability.
 */
import * as grpc from '@grpc/grpc-js';
import { grpcMessageBytesMax } from '../config/limits.js';
import type { Error as RegionErrorPb } from '../pb/errorpb.js';
import type { Context } from '../pb/kvrpcpb.js';
import type { Peer, Region, RegionEpoch } from '../pb/metapb.js';
import { TinyKvClient } from '../pb/tinykvpb.js';
import { OUTCOME_UNKNOWN_PREFIX } from '../raftstore/region_errors.js';
import { isEpochStale } from '../raftstore/store_meta.js';
import { assert } from '../util/assert.js';
import { Backoff, pause, unboundedAbortController } from './backoff.js';
import { ClientError, CLIENT_ERROR_CODES, fromServiceError, SchedulerError, SCHEDULER_ERROR_CODES } from './errors.js';
import { memberOf, RegionCache } from './region_cache.js';
import type { CachedRegion } from './region_cache.js';
import { isServingStore } from './scheduler_client.js';
import type { PdClient } from './scheduler_client.js';
import { retryImmediateMax } from './_limits.js';

export interface RegionRouterOptions {
  readonly pd: PdClient;
  /** Longest wait for one store's answer, ms. */
  readonly attemptTimeoutMs: number;
  readonly retryPauseMs: number;
  readonly retryPauseMsMax: number;
  /** Whether a write whose outcome is unknown is retried (see the file comment). */
  readonly retryAmbiguousWrites: boolean;
}

/** What a store answered: a region error, an error string, or a value. */
export interface StoreReply<T> {
  readonly regionError: RegionErrorPb | undefined;
  readonly error: string;
  readonly value: T;
}

/** One attempt: the command sent to `client` with `context`, ending by `deadline`. */
export type StoreCall<T> = (client: TinyKvClient, context: Context, deadline: number) => Promise<StoreReply<T>>;

export interface RoutedCommand {
  /** The RPC's name, for messages. */
  readonly method: string;
  /** The key whose region serves the command. */
  readonly key: Uint8Array;
  /** A write may have taken effect when its answer is lost; a read never has. */
  readonly write: boolean;
  /** When the operation must be over, ms since the epoch. */
  readonly deadline: number;
  /**
   * Serve the command by this region only (see the file comment); `key`
   * must lie in it (its start key will do). @default routed by `key`
   */
  readonly region?: PinnedRegion;
}

/** A region as the caller knew it when it built a command for it. */
export interface PinnedRegion {
  readonly id: number;
  readonly epoch: RegionEpoch | undefined;
}

/** The value and the region (as the client knew it) that served it. */
export interface Routed<T> {
  readonly value: T;
  readonly region: Region;
}

/** How an attempt ended: done, retry at once, retry after a pause, or fail. */
type Step<T> =
  | { readonly kind: 'done'; readonly value: T }
  | { readonly kind: 'now' }
  | { readonly kind: 'later' }
  | { readonly kind: 'fail'; readonly error: unknown };

const NOW = { kind: 'now' } as const;
const LATER = { kind: 'later' } as const;

/** One operation's retry state. */
interface Op {
  readonly command: RoutedCommand;
  readonly backoff: Backoff;
  /** The peer the next attempt goes to, when an answer named it. */
  target: Peer | undefined;
  /** Peers that failed in this operation (silent, unreachable, not leader without a hint). */
  readonly failedPeers: Set<number>;
  /** Retries in a row made without a pause. */
  immediate: number;
  /** The failure of an attempt whose outcome is unknown (writes only). */
  ambiguous: unknown;
  lastError: unknown;
}

export class RegionRouter {
  readonly cache = new RegionCache();
  private readonly options: RegionRouterOptions;
  /** Store id → its address (undefined: gone), looked up once per store until a failure forgets it. */
  private readonly storeAddrs = new Map<number, Promise<string | undefined>>();
  private readonly channels = new Map<string, TinyKvClient>();
  /** Aborted by close(); every in-flight operation's pause listens to it, hence no listener cap. */
  private readonly abort = unboundedAbortController();

  constructor(options: RegionRouterOptions) {
    this.options = options;
  }

  /** Runs `call` on the leader of `command.key`'s region. @throws {ClientError | SchedulerError} */
  async run<T>(command: RoutedCommand, call: StoreCall<T>): Promise<Routed<T>> {
    const op: Op = {
      command, backoff: new Backoff({ baseMs: this.options.retryPauseMs, maxMs: this.options.retryPauseMsMax }),
      target: undefined, failedPeers: new Set(), immediate: 0, ambiguous: undefined, lastError: undefined,
    };
    // Bounded by the deadline: every round is a round trip, and at most
    // retryImmediateMax rounds in a row go without a pause of >= retryPauseMs.
    for (;;) {
      if (this.abort.signal.aborted) throw this.closedError(op);
      if (Date.now() >= command.deadline) throw this.timeoutError(op);
      const pinned = command.region;
      const located = pinned === undefined ? await this.locate(op) : await this.locatePinned(op, pinned);
      if (located === 'fail') throw this.timeoutError(op);
      if (located === 'changed') throw this.regionChangedError(op, pinned);
      let step: Step<T>;
      let region: Region | undefined;
      if (located === undefined) step = LATER;
      else {
        region = located.region;
        step = await this.attempt(op, located, call);
      }
      if (step.kind === 'done') {
        assert(region !== undefined, 'a command succeeded without a region');
        return { value: step.value, region };
      }
      if (step.kind === 'fail') throw step.error;
      if (step.kind === 'now' && op.immediate < retryImmediateMax) {
        op.immediate++;
        continue;
      }
      op.immediate = 0;
      const wait = op.backoff.next();
      if (Date.now() + wait >= command.deadline) throw this.timeoutError(op);
      await pause(wait, this.abort.signal);
    }
  }

  close(): void {
    this.abort.abort();
    for (const c of this.channels.values()) c.close();
    this.channels.clear();
  }

  /**
   * The key's region: cached, or the scheduler's on a miss or when no leader
   * is known (its answer names the leader). Scheduler failures are retried
   * (the PdClient already retried within the deadline: 'fail' ends the op).
   */
  private async locate(op: Op): Promise<CachedRegion | undefined | 'fail'> {
    const key = op.command.key;
    const hit = this.cache.byKey(key);
    if (hit !== undefined && (hit.leader !== undefined || op.target !== undefined)) return hit;
    if ((await this.refresh(op)) === 'fail') return 'fail';
    return this.cache.byKey(key);
  }

  /**
   * The pinned region, cached at the pinned epoch: refreshed as `locate`
   * does when missing or leaderless; 'changed' once the cache holds it at
   * another epoch or not at all.
   */
  private async locatePinned(op: Op, pinned: PinnedRegion): Promise<CachedRegion | 'fail' | 'changed'> {
    let hit = this.cache.byId(pinned.id);
    if (hit === undefined || (hit.leader === undefined && op.target === undefined)) {
      if ((await this.refresh(op)) === 'fail') return 'fail';
      hit = this.cache.byId(pinned.id);
    }
    if (hit === undefined || !sameEpoch(hit.region.regionEpoch, pinned.epoch)) return 'changed';
    return hit;
  }

  /** Asks the scheduler for the region of the command's key and caches it with its leader. */
  private async refresh(op: Op): Promise<'fail' | undefined> {
    let info;
    try {
      info = await this.options.pd.getRegion(op.command.key, { deadline: op.command.deadline });
    } catch (err: unknown) {
      // The PdClient retried an unreachable scheduler until the deadline: the op is out of time.
      // Anything else (a refusal such as NOT_BOOTSTRAPPED, a closed client) ends the op as is.
      if (!(err instanceof ClientError) || err.code !== CLIENT_ERROR_CODES.DeadlineExceeded) throw err;
      op.lastError = err;
      return 'fail';
    }
    if (info !== undefined) {
      this.cache.put(info.region, info.leader);
      // The cache may hold a newer epoch of the same region than the scheduler: keep it, take the leader.
      const cached = this.cache.byId(info.region.id);
      if (cached !== undefined && cached.leader === undefined) this.cache.setLeader(cached.region.id, memberOf(info.leader, cached.region));
    }
    return undefined;
  }

  /** The peer to try: the one an answer named, the cached leader, else the first peer not failed yet. */
  private chooseTarget(op: Op, located: CachedRegion): Peer {
    const named = op.target;
    op.target = undefined;
    if (named !== undefined) return named;
    const leader = located.leader;
    if (leader !== undefined && !op.failedPeers.has(leader.id)) return leader;
    const peers = located.region.peers;
    assert(peers.length > 0, `cached region ${located.region.id} has no peers`);
    const fresh = peers.find((p) => !op.failedPeers.has(p.id));
    if (fresh !== undefined) return fresh;
    // Every peer failed once: start over (leaders move, stores come back).
    op.failedPeers.clear();
    return leader ?? (peers[0] as Peer);
  }

  private async attempt<T>(op: Op, located: CachedRegion, call: StoreCall<T>): Promise<Step<T>> {
    const region = located.region;
    const peer = this.chooseTarget(op, located);
    const address = await this.storeAddress(op, peer.storeId);
    if (address === undefined) return this.onPeerLost(op, region, peer, undefined);
    const epoch = region.regionEpoch;
    const context: Context = { regionId: region.id, regionEpoch: epoch === undefined ? undefined : { ...epoch }, peer: { ...peer }, term: 0 };
    const attemptDeadline = Math.min(op.command.deadline, Date.now() + this.options.attemptTimeoutMs);
    let reply: StoreReply<T>;
    try {
      reply = await call(this.channel(address), context, attemptDeadline);
    } catch (err: unknown) {
      if (!(err instanceof ClientError)) throw err;
      return this.onTransportError(op, region, peer, err);
    }
    if (reply.regionError !== undefined) return this.onRegionError(op, region, peer, reply.regionError);
    if (reply.error !== '') {
      const code = reply.error.startsWith('InvalidArgument:') ? CLIENT_ERROR_CODES.InvalidArgument : CLIENT_ERROR_CODES.ServerError;
      return this.fail(op, new ClientError(code, `${op.command.method} failed: ${reply.error}`));
    }
    this.cache.setLeader(region.id, peer);
    return { kind: 'done', value: reply.value };
  }

  /** A transport failure: an unreachable or silent store is a lost peer; anything else ends the op. */
  private onTransportError(op: Op, region: Region, peer: Peer, err: ClientError): Step<never> {
    op.lastError = err;
    if (this.abort.signal.aborted) return { kind: 'fail', error: this.closedError(op) };
    if (err.code !== CLIENT_ERROR_CODES.Unavailable && err.code !== CLIENT_ERROR_CODES.DeadlineExceeded) return this.fail(op, err);
    // The request may have reached the store before the connection failed or the wait ended,
    // unless grpc-js never had a connection to send it on.
    if (op.command.write && !neverSent(err)) {
      op.ambiguous = err;
      if (!this.options.retryAmbiguousWrites) return { kind: 'fail', error: this.outcomeUnknown(op) };
    }
    // The store may have moved (restarted on another address): ask the scheduler again next time.
    this.storeAddrs.delete(peer.storeId);
    return this.onPeerLost(op, region, peer, err);
  }

  /** The peer cannot be reached: forget it as leader and try another peer, at once while there is one. */
  private onPeerLost(op: Op, region: Region, peer: Peer, err: unknown): Step<never> {
    if (err !== undefined) op.lastError = err;
    if (this.cache.byId(region.id)?.leader?.id === peer.id) this.cache.setLeader(region.id, undefined);
    op.failedPeers.add(peer.id);
    return region.peers.some((p) => !op.failedPeers.has(p.id)) ? NOW : LATER;
  }

  /** The region error rules (see the file comment); mirrors `ClusterClient.receive`. */
  private onRegionError(op: Op, sent: Region, peer: Peer, err: RegionErrorPb): Step<never> {
    op.lastError = new ClientError(CLIENT_ERROR_CODES.RegionError, `${op.command.method} failed with a region error: ${err.message}`, { cause: err });
    if (err.notLeader !== undefined) {
      const hint = err.notLeader.leader;
      this.cache.setLeader(sent.id, memberOf(hint, sent));
      if (hint !== undefined && hint.id !== 0 && hint.id !== peer.id) {
        op.backoff.reset();
        op.target = hint;
        return NOW;
      }
      op.failedPeers.add(peer.id);
      return LATER;
    }
    if (err.epochNotMatch !== undefined) {
      if (this.onEpochNotMatch(sent, err.epochNotMatch.currentRegions)) {
        op.backoff.reset();
        return NOW;
      }
    } else if (err.regionNotFound !== undefined || err.keyNotInRegion !== undefined || err.storeNotMatch !== undefined) {
      this.cache.drop(sent.id);
      if (err.storeNotMatch !== undefined) this.storeAddrs.delete(peer.storeId);
    } else this.cache.setLeader(sent.id, undefined);
    if (err.message.startsWith('InvalidRequest')) return this.fail(op, op.lastError);
    if (err.message.startsWith(OUTCOME_UNKNOWN_PREFIX) && op.command.write) {
      op.ambiguous = op.lastError;
      if (!this.options.retryAmbiguousWrites) return { kind: 'fail', error: this.outcomeUnknown(op) };
    }
    // StaleCommand, EpochNotMatch from a store behind, RegionNotFound, KeyNotInRegion, StoreNotMatch,
    // ServerIsBusy, OutcomeUnknown: retry after a pause.
    return LATER;
  }

  /**
   * A store's current regions replace the cached ones, unless the store is
   * behind the region the client sent: then only its leadership is doubted.
   * @returns whether the cache learnt a newer epoch of the sent region
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

  /** The address of a store, undefined when it is gone (unknown or a tombstone). */
  private async storeAddress(op: Op, storeId: number): Promise<string | undefined> {
    let lookup = this.storeAddrs.get(storeId);
    if (lookup === undefined) {
      lookup = this.options.pd.getStore(storeId, { deadline: op.command.deadline }).then((store) => (isServingStore(store) ? store.address : undefined));
      this.storeAddrs.set(storeId, lookup);
      // A failed lookup is not an answer: forget it so the next attempt asks again.
      lookup.catch(() => {
        if (this.storeAddrs.get(storeId) === lookup) this.storeAddrs.delete(storeId);
      });
    }
    try {
      return await lookup;
    } catch (err: unknown) {
      // Unreachable scheduler, or it knows the store no more (removed, tombstone): the peer is lost.
      const lost = (err instanceof ClientError && err.code !== CLIENT_ERROR_CODES.Closed)
        || (err instanceof SchedulerError && err.code !== SCHEDULER_ERROR_CODES.ClusterMismatch);
      if (!lost) throw err;
      op.lastError = err;
      return undefined;
    }
  }

  private channel(address: string): TinyKvClient {
    let c = this.channels.get(address);
    if (c === undefined) {
      c = new TinyKvClient(address, grpc.credentials.createInsecure(), {
        'grpc.max_receive_message_length': grpcMessageBytesMax,
        'grpc.max_send_message_length': grpcMessageBytesMax,
      });
      this.channels.set(address, c);
    }
    return c;
  }

  /** A final failure; a write that may have taken effect earlier reports OUTCOME_UNKNOWN instead. */
  private fail(op: Op, error: unknown): Step<never> {
    return { kind: 'fail', error: op.command.write && op.ambiguous !== undefined ? this.outcomeUnknown(op, error) : error };
  }

  private timeoutError(op: Op): ClientError {
    if (op.command.write && op.ambiguous !== undefined) return this.outcomeUnknown(op);
    return new ClientError(CLIENT_ERROR_CODES.DeadlineExceeded, `${op.command.method} failed: no answer before the deadline`, { cause: op.lastError });
  }

  private outcomeUnknown(op: Op, cause: unknown = op.ambiguous): ClientError {
    const why = cause instanceof Error ? ` (${cause.message})` : '';
    const message = this.options.retryAmbiguousWrites
      ? `${op.command.method} outcome unknown: an attempt's answer was lost and no later attempt settled it${why}`
      : `${op.command.method} outcome unknown: the answer was lost, the write may or may not apply; read the key to find out${why}`;
    return new ClientError(CLIENT_ERROR_CODES.OutcomeUnknown, message, { cause });
  }

  private regionChangedError(op: Op, pinned: PinnedRegion | undefined): ClientError {
    const now = pinned === undefined ? undefined : this.cache.byId(pinned.id)?.region.regionEpoch;
    const what = now === undefined ? 'is no longer known' : `is now at epoch {conf_ver ${now.confVer}, version ${now.version}}`;
    return new ClientError(CLIENT_ERROR_CODES.RegionChanged, `${op.command.method} stopped: region ${pinned?.id ?? '?'} ${what}`, { cause: op.lastError });
  }

  private closedError(op: Op): ClientError {
    return new ClientError(CLIENT_ERROR_CODES.Closed, `Cannot finish ${op.command.method}: client is closed`);
  }
}

function sameEpoch(a: RegionEpoch | undefined, b: RegionEpoch | undefined): boolean {
  return (a?.confVer ?? 0) === (b?.confVer ?? 0) && (a?.version ?? 0) === (b?.version ?? 0);
}

/** Wraps one unary TinyKv call (callback style) as a promise of its response. */
export function callStore<Res>(
  method: string,
  invoke: (md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: (err: grpc.ServiceError | null, res: Res) => void) => void,
  deadline: number,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    invoke(new grpc.Metadata(), { deadline }, (err, res) => {
      if (err !== null) reject(fromServiceError(method, err));
      else resolve(res);
    });
  });
}

/**
 * grpc-js failed the call before sending it: the channel had no connection
 * (its picker's "No connection established" failure). Such an attempt cannot
 * have reached a store.
 */
function neverSent(err: ClientError): boolean {
  const cause = err.cause as { readonly code?: unknown; readonly details?: unknown } | undefined;
  return cause?.code === grpc.status.UNAVAILABLE && typeof cause.details === 'string' && cause.details.startsWith('No connection established');
}
