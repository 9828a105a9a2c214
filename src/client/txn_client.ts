/**
 * `TxnClient`: snapshot-isolated transactions over the Percolator protocol
 * (Peng & Dabek, OSDI 2010, §2.2), as TiKV's client-go runs it, on nothing
 * but a {@link TxnRpc}. So the same code runs against the real cluster
 * (`txn_rpc_grpc.ts`) and inside the deterministic simulator: it reads time
 * only from `rpc.nowMs()`, sleeps only through `rpc.sleep()`, and draws no
 * random numbers (backoff has no jitter).
 *
 * - A transaction reads at its start timestamp (`begin()` takes one from the
 *   TSO) and buffers its writes, which its own reads see first.
 * - `commit()`: the buffered keys in order, the first one the primary.
 *   Prewrite locks every key, the primary's batch before the others (so a
 *   reader that meets a secondary lock always finds the primary's lock or
 *   record); then a commit timestamp from the TSO; then the primary's batch
 *   is committed, which commits the transaction (its write record is the
 *   decision); the other batches are committed in the background, and a
 *   reader meeting one of their locks commits it from the primary's record.
 * - Requests go one region each: keys are grouped by `rpc.locate` and sent
 *   in batches of at most {@link txnBatchKeysMax}; REGION_CHANGED regroups a
 *   batch's keys and resends them (every command here is idempotent, see
 *   `txn_rpc.ts`).
 * - A lock met by a read or a prewrite is resolved: CheckTxnStatus on its
 *   primary (which rolls back a lock whose TTL expired), then ResolveLock in
 *   the locked key's region for a decided txn, or a pause for a live one.
 *   Decided statuses are cached, a bounded number of them.
 * - Every operation ends by its deadline (`timeoutMs`); pauses follow a
 *   bounded exponential {@link Backoff}, taken only when an answer taught
 *   nothing (at most `retryImmediateMax` retries in a row skip it).
 */
import { scanLimitMax, scanResponseMayBeTruncated } from '../config/limits.js';
import { Op as MutationOp } from '../pb/kvrpcpb.js';
import type { KeyError, KvPair, LockInfo, Mutation } from '../pb/kvrpcpb.js';
import { toBuffer } from '../server/buffers.js';
import { checkKey, checkStartKey, checkScanLimit, checkValue } from '../server/validate.js';
import { assert } from '../util/assert.js';
import { compareBytes, equalBytes, formatKey } from '../util/bytes.js';
import { Backoff, checkBackoffOptions } from './backoff.js';
import { ClientError, CLIENT_ERROR_CODES } from './errors.js';
import { REGION_CHANGED } from './txn_rpc.js';
import type { RegionChanged, RegionRef, TxnRpc } from './txn_rpc.js';
import { TxnError, TXN_ERROR_CODES } from './txn_errors.js';
import { retryImmediateMax, scanRegionVisitsMax } from './_limits.js';

/** Most keys in one prewrite, commit or rollback request (client-go's batch is ~16 KiB; TiKV resolves 256 at a time). */
export const txnBatchKeysMax = 256;
/** Most decided transactions whose status the client remembers (oldest forgotten first). */
export const txnStatusCacheMax = 4096;
/** Most keys one transaction may buffer: its prewrite holds them all in memory and in locks. */
export const txnBufferKeysMax = 100_000;
/** New keys a write buffer keeps aside before merging them into its sorted array (see WriteBuffer). */
const bufferTailMax = 1024;

const lockTtlMsDefault = 3_000;
/** Runs of a transaction's body by {@link TxnClient.run} before a retryable failure is final. */
const runAttemptsMaxDefault = 10;
const timeoutMsDefault = 20_000;
const backoffBaseMsDefault = 10;
const backoffMaxMsDefault = 500;

assert(txnBatchKeysMax > 0 && txnBatchKeysMax <= txnBufferKeysMax, 'a batch must fit a transaction');
assert(backoffBaseMsDefault <= backoffMaxMsDefault, 'the first pause must not exceed the longest');
assert(backoffMaxMsDefault < lockTtlMsDefault, 'a reader waiting on a live lock must look again before it expires');

export interface TxnClientOptions {
  readonly rpc: TxnRpc;
  /**
   * How long our locks live without a commit before a reader may roll them
   * back, ms, counted from the time commit() starts (a lock's TTL counts
   * from its start ts, so the txn's age is added, as client-go does). @default 3000
   */
  readonly lockTtlMs?: number;
  /** Deadline of each operation (get, scan, commit, a background rollback or commit), ms. @default 20000 */
  readonly timeoutMs?: number;
  /** First pause after an answer that taught nothing (a live lock), ms. @default 10 */
  readonly backoffBaseMs?: number;
  /** Longest such pause, ms. @default 500 */
  readonly backoffMaxMs?: number;
}

export interface TxnEntry {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

export class TxnClient {
  private readonly core: TxnCore;
  private closed = false;

  /** @throws {RangeError} on a non-positive TTL or timeout, or bad backoff pauses */
  constructor(options: TxnClientOptions) {
    this.core = new TxnCore(options);
  }

  /** A new transaction reading at a fresh timestamp. @throws {ClientError} DEADLINE_EXCEEDED or CLIENT_CLOSED */
  async begin(): Promise<Transaction> {
    if (this.closed) throw new ClientError(CLIENT_ERROR_CODES.Closed, 'Cannot begin a transaction: client is closed');
    const beganMs = this.core.rpc.nowMs();
    const startTs = await this.core.rpc.tso(beganMs + this.core.timeoutMs);
    return new Transaction(this.core, startTs, beganMs);
  }

  /**
   * Runs `body` in a transaction and commits it, running it again in a new
   * transaction (after a backoff pause) while the commit fails with a
   * retryable error (WRITE_CONFLICT, TXN_ABORTED), at most `attemptsMax`
   * times in all (FoundationDB's `transact`). `body` may therefore run more
   * than once: it must only read and write through `txn`. When `body`
   * throws, its transaction is dropped (nothing was written) and the error
   * propagates.
   * @returns what the last run of `body` returned, and the commit ts (undefined: nothing to commit)
   * @throws {TxnError} the last retryable one once attempts run out, or any other; {ClientError}
   */
  async run<T>(body: (txn: Transaction) => Promise<T>, options: { readonly attemptsMax?: number } = {}): Promise<{ readonly value: T; readonly commitTs: bigint | undefined }> {
    const attemptsMax = options.attemptsMax ?? runAttemptsMaxDefault;
    if (!(Number.isSafeInteger(attemptsMax) && attemptsMax >= 1)) throw new RangeError(`Cannot run a transaction: attemptsMax must be a positive integer, got ${attemptsMax}`);
    const backoff = this.core.newBackoff();
    for (let attempt = 1; ; attempt++) {
      const txn = await this.begin();
      let value: T;
      try {
        value = await body(txn);
      } catch (err: unknown) {
        await txn.rollback();
        throw err;
      }
      try {
        return { value, commitTs: await txn.commit() };
      } catch (err: unknown) {
        if (!(err instanceof TxnError && err.retryable) || attempt >= attemptsMax) throw err;
      }
      await this.core.rpc.sleep(backoff.next());
    }
  }

  /** Waits for background secondary commits and rollbacks to finish (they never reject). */
  flush(): Promise<void> {
    return this.core.flush();
  }

  /** Flushes, then closes the rpc layer. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.core.flush();
    this.core.rpc.close();
  }
}

type TxnState = 'active' | 'committing' | 'committed' | 'rolledBack' | 'failed';

export class Transaction {
  readonly startTs: bigint;
  private readonly core: TxnCore;
  private readonly buffer = new WriteBuffer();
  private state: TxnState = 'active';
  private primary: Uint8Array | undefined;
  private commitTsValue: bigint | undefined;
  /** When begin() asked for the start ts, on the rpc's clock. */
  private readonly beganMs: number;

  /** Made by {@link TxnClient.begin}. */
  constructor(core: TxnCore, startTs: bigint, beganMs: number) {
    this.core = core;
    this.startTs = startTs;
    this.beganMs = beganMs;
  }

  /** The primary key, chosen by commit() (the smallest buffered key). */
  get primaryKey(): Uint8Array | undefined {
    return this.primary;
  }

  /** Set once the TSO gave it, before the primary commit is sent: known even when the outcome is not. */
  get commitTs(): bigint | undefined {
    return this.commitTsValue;
  }

  /**
   * The value of `key`: this transaction's own write if any, else the value
   * committed at or before `startTs`. @throws {ClientError | TxnError}
   */
  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.checkActive('get');
    validate(checkKey(key));
    const own = this.buffer.find(key);
    if (own !== undefined) return own.value === undefined ? undefined : new Uint8Array(own.value);
    return this.core.snapshotGet(key, this.startTs);
  }

  /**
   * Up to `limit` entries of [startKey, endKey) in key order (an empty
   * `endKey` is unbounded), as of `startTs`, merged with this transaction's
   * own writes. @throws {ClientError | TxnError}
   */
  async scan(startKey: Uint8Array, endKey: Uint8Array, limit: number): Promise<TxnEntry[]> {
    this.checkActive('scan');
    validate(checkStartKey(startKey) ?? checkScanLimit(limit));
    if (endKey.length > 0 && compareBytes(startKey, endKey) >= 0) return [];
    const own = this.buffer.range(startKey, endKey);
    // Each own delete hides at most one committed pair, so the first
    // limit + deletes committed pairs hold every pair of the merged answer.
    const deletes = own.filter((e) => e.value === undefined).length;
    const committed = await this.core.snapshotScan(startKey, endKey, limit + deletes, this.startTs);
    return mergeOwn(committed, own, limit);
  }

  /** Buffers a write of `value` at `key`. @throws {ClientError} INVALID_ARGUMENT; {RangeError} past txnBufferKeysMax */
  put(key: Uint8Array, value: Uint8Array): void {
    this.checkActive('put');
    validate(checkKey(key) ?? checkValue(value));
    this.buffer.set(key, value);
  }

  /** Buffers a deletion of `key`. @throws {ClientError} INVALID_ARGUMENT; {RangeError} past txnBufferKeysMax */
  delete(key: Uint8Array): void {
    this.checkActive('delete');
    validate(checkKey(key));
    this.buffer.set(key, undefined);
  }

  /**
   * Commits the buffered writes atomically; a transaction without writes
   * sends nothing and answers undefined.
   * @returns the commit timestamp
   * @throws {TxnError} WRITE_CONFLICT, TXN_ABORTED, COMMIT_OUTCOME_UNKNOWN, KEY_ERROR;
   *   {ClientError} DEADLINE_EXCEEDED or CLIENT_CLOSED before the primary commit was sent
   *   (nothing is committed: only COMMIT_OUTCOME_UNKNOWN leaves the outcome open)
   */
  async commit(): Promise<bigint | undefined> {
    this.checkActive('commit');
    this.state = 'committing';
    const mutations = this.buffer.mutations();
    const first = mutations[0];
    if (first === undefined) {
      this.state = 'committed';
      return undefined;
    }
    this.primary = new Uint8Array(first.key);
    try {
      const commitTs = await this.core.twoPhaseCommit(this.startTs, this.beganMs, mutations, (ts) => {
        this.commitTsValue = ts;
      });
      this.state = 'committed';
      return commitTs;
    } catch (err: unknown) {
      this.state = 'failed';
      throw err;
    }
  }

  /** Drops the buffered writes (nothing was sent before commit). Idempotent; a no-op after a failed commit. */
  async rollback(): Promise<void> {
    if (this.state === 'active') {
      this.buffer.clear();
      this.state = 'rolledBack';
      return;
    }
    if (this.state === 'rolledBack' || this.state === 'failed') return;
    throw new Error(`Cannot roll back transaction ${this.startTs}: it is ${this.state}`);
  }

  private checkActive(what: string): void {
    if (this.state !== 'active') throw new Error(`Cannot ${what}: transaction ${this.startTs} is ${this.state}`);
  }
}

/** Keys of one region, in order: one request's worth. */
interface Batch<T extends Keyed> {
  readonly region: RegionRef;
  readonly items: readonly T[];
}

interface Keyed {
  readonly key: Uint8Array;
}

/** Sends one batch; REGION_CHANGED asks for its keys to be regrouped and sent again. */
type BatchSend<T extends Keyed> = (batch: Batch<T>) => Promise<RegionChanged | undefined>;

/** One operation: its deadline and backoff, shared by its parallel batches; the first failure stops them all. */
interface OpState {
  readonly what: string;
  readonly deadlineMs: number;
  readonly backoff: Backoff;
  /** Retries in a row that skipped the pause. */
  immediate: number;
  failure: unknown;
}

interface PrewriteParams {
  readonly startTs: bigint;
  readonly primary: Buffer;
  readonly lockTtlMs: number;
}

/** Whether a txn is alive, committed (its commit ts) or rolled back (0n). */
type TxnStatus = bigint | 'alive';

/**
 * The protocol, shared by a client's transactions: the rpc layer, the
 * options, the cache of decided transactions and the background work.
 * Internal: built by {@link TxnClient}.
 */
export class TxnCore {
  readonly rpc: TxnRpc;
  readonly timeoutMs: number;
  private readonly lockTtlMs: number;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  /** startTs → commitTs (0n: rolled back), for decided transactions only; insertion order is age. */
  private readonly statuses = new Map<bigint, bigint>();
  private readonly pending = new Set<Promise<void>>();

  constructor(options: TxnClientOptions) {
    this.rpc = options.rpc;
    this.lockTtlMs = options.lockTtlMs ?? lockTtlMsDefault;
    this.timeoutMs = options.timeoutMs ?? timeoutMsDefault;
    this.backoffBaseMs = options.backoffBaseMs ?? backoffBaseMsDefault;
    this.backoffMaxMs = options.backoffMaxMs ?? Math.max(backoffMaxMsDefault, this.backoffBaseMs);
    if (!Number.isSafeInteger(this.lockTtlMs) || this.lockTtlMs <= 0) {
      throw new RangeError(`Cannot create TxnClient: lockTtlMs must be a positive integer, got ${this.lockTtlMs}`);
    }
    if (!Number.isFinite(this.timeoutMs) || this.timeoutMs <= 0) {
      throw new RangeError(`Cannot create TxnClient: timeoutMs must be positive, got ${this.timeoutMs}`);
    }
    checkBackoffOptions({ baseMs: this.backoffBaseMs, maxMs: this.backoffMaxMs });
  }

  async flush(): Promise<void> {
    // Bounded: background work never starts more background work.
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  /** Percolator's two phases; see the file comment. `onCommitTs` hears the commit ts before the primary commit is sent. */
  async twoPhaseCommit(startTs: bigint, beganMs: number, mutations: readonly Mutation[], onCommitTs: (commitTs: bigint) => void): Promise<bigint> {
    const op = this.newOp('Commit');
    const primary = (mutations[0] as Mutation).key;
    const keys = mutations.map((m) => m.key);
    // A lock expires lockTtl ms after its start ts (physical time): a txn that
    // read for a while must not prewrite locks that readers may already roll back.
    const prewrite = { startTs, primary, lockTtlMs: this.lockTtlMs + Math.max(0, Math.ceil(this.rpc.nowMs() - beganMs)) };
    try {
      await this.forBatches(mutations, op, (b) => this.prewriteBatch(b, prewrite, op), primary);
    } catch (err: unknown) {
      const cleanup = this.rollbackKeys(startTs, keys);
      // A caller retrying after a conflict would otherwise wait out our locks' TTL.
      if (err instanceof TxnError && err.code === TXN_ERROR_CODES.WriteConflict) await cleanup;
      else this.track(cleanup);
      throw err;
    }
    let commitTs: bigint;
    try {
      commitTs = await this.rpc.tso(op.deadlineMs);
    } catch (err: unknown) {
      this.track(this.rollbackKeys(startTs, keys));
      throw err;
    }
    onCommitTs(commitTs);
    const secondaries = await this.commitPrimary(startTs, commitTs, keys, primary, op);
    this.track(this.commitSecondaries(startTs, commitTs, secondaries));
    return commitTs;
  }

  /** A snapshot read of one key at `startTs`, resolving the locks it meets. */
  async snapshotGet(key: Uint8Array, startTs: bigint): Promise<Uint8Array | undefined> {
    const op = this.newOp('Get');
    // Bounded by the deadline: every round is a round trip or a pause.
    for (;;) {
      const region = await this.rpc.locate(key, op.deadlineMs);
      const res = await this.rpc.call('KvGet', region, { context: undefined, key: toBuffer(key), version: startTs }, op.deadlineMs);
      if (res === REGION_CHANGED) {
        await this.beforeRetry(op, true);
        continue;
      }
      if (res.error === undefined) return res.notFound ? undefined : new Uint8Array(res.value);
      const lock = res.error.locked;
      if (lock === undefined) throw keyErrorOf(res.error, `Get ${formatKey(key)}`);
      await this.beforeRetry(op, await this.resolveLocks([lock], op));
    }
  }

  /**
   * The first `count` committed pairs of [startKey, endKey) at `startTs`,
   * region by region, resolving the locks met and scanning again from the
   * first locked key. Not atomic across regions, but every region is read
   * at `startTs`, which is what snapshot isolation needs.
   */
  async snapshotScan(startKey: Uint8Array, endKey: Uint8Array, count: number, startTs: bigint): Promise<TxnEntry[]> {
    const op = this.newOp('Scan');
    const out: TxnEntry[] = [];
    let from = startKey;
    for (let visit = 0; out.length < count; visit++) {
      if (visit >= scanRegionVisitsMax) throw new ClientError(CLIENT_ERROR_CODES.ServerError, `Scan failed: ${scanRegionVisitsMax} requests without reaching ${count} pairs`);
      const region = await this.rpc.locate(from, op.deadlineMs);
      const want = Math.min(count - out.length, scanLimitMax);
      const res = await this.rpc.call('KvScan', region, { context: undefined, startKey: toBuffer(from), limit: want, version: startTs }, op.deadlineMs);
      if (res === REGION_CHANGED) {
        await this.beforeRetry(op, true);
        continue;
      }
      const step = absorbScan(res.pairs, region, endKey, want, out);
      if (step.kind === 'end') break;
      if (step.kind === 'locked') await this.beforeRetry(op, await this.resolveLocks(step.locks, op));
      from = step.from;
    }
    return out;
  }

  /**
   * Settles each lock's txn: decided ones are resolved in the locked key's
   * region (one ResolveLock per txn and region); live ones are left.
   * @returns whether every lock was settled (none is waiting on a live txn)
   */
  private async resolveLocks(locks: readonly LockInfo[], op: OpState): Promise<boolean> {
    let alive = false;
    const resolved = new Map<bigint, Set<number>>();
    for (const lock of locks) {
      const status = await this.txnStatus(lock, op);
      if (status === 'alive') {
        alive = true;
        continue;
      }
      const region = await this.rpc.locate(lock.key, op.deadlineMs);
      const regions = resolved.get(lock.lockVersion) ?? new Set<number>();
      if (regions.has(region.id)) continue;
      const res = await this.rpc.call('KvResolveLock', region, { context: undefined, startVersion: lock.lockVersion, commitVersion: status }, op.deadlineMs);
      // A changed region: the retry meets the lock again and locates it anew.
      if (res === REGION_CHANGED) continue;
      if (res.error !== undefined) throw keyErrorOf(res.error, `ResolveLock of txn ${lock.lockVersion}`);
      regions.add(region.id);
      resolved.set(lock.lockVersion, regions);
    }
    return !alive;
  }

  /** The status of the txn holding `lock`, decided on its primary (which rolls back an expired lock). */
  private async txnStatus(lock: LockInfo, op: OpState): Promise<TxnStatus> {
    const known = this.statuses.get(lock.lockVersion);
    if (known !== undefined) return known;
    const currentTs = await this.rpc.tso(op.deadlineMs);
    const req = { context: undefined, primaryKey: lock.primaryLock, lockTs: lock.lockVersion, currentTs };
    for (;;) {
      const region = await this.rpc.locate(lock.primaryLock, op.deadlineMs);
      const res = await this.rpc.call('KvCheckTxnStatus', region, req, op.deadlineMs);
      if (res === REGION_CHANGED) {
        await this.beforeRetry(op, true);
        continue;
      }
      if (res.lockTtl > 0) return 'alive';
      this.remember(lock.lockVersion, res.commitVersion);
      return res.commitVersion;
    }
  }

  private remember(startTs: bigint, commitTs: bigint): void {
    this.statuses.delete(startTs);
    this.statuses.set(startTs, commitTs);
    if (this.statuses.size <= txnStatusCacheMax) return;
    const oldest = this.statuses.keys().next();
    if (oldest.done !== true) this.statuses.delete(oldest.value);
  }

  private async prewriteBatch(batch: Batch<Mutation>, p: PrewriteParams, op: OpState): Promise<RegionChanged | undefined> {
    const { startTs } = p;
    const req = { context: undefined, mutations: [...batch.items], primaryLock: p.primary, startVersion: startTs, lockTtl: p.lockTtlMs };
    for (;;) {
      const res = await this.rpc.call('KvPrewrite', batch.region, req, op.deadlineMs);
      if (res === REGION_CHANGED) return REGION_CHANGED;
      if (res.errors.length === 0) return undefined;
      const locks: LockInfo[] = [];
      for (const e of res.errors) {
        if (e.locked !== undefined) locks.push(e.locked);
        else throw prewriteError(e, startTs);
      }
      await this.beforeRetry(op, await this.resolveLocks(locks, op));
    }
  }

  /**
   * Commits the batch holding the primary, which decides the transaction.
   * @returns the keys left for the background (every key not in that batch)
   * @throws {TxnError} TXN_ABORTED or KEY_ERROR (nothing committed), COMMIT_OUTCOME_UNKNOWN
   */
  private async commitPrimary(startTs: bigint, commitTs: bigint, keys: readonly Buffer[], primary: Buffer, op: OpState): Promise<Buffer[]> {
    let lead: Batch<Keyed> | undefined;
    let sent = false;
    try {
      const batches = await this.group(keys.map((key) => ({ key })), op);
      lead = batches.find((b) => b.items.some((k) => equalBytes(k.key, primary)));
      assert(lead !== undefined, 'the primary belongs to no batch');
      for (;;) {
        const req = { context: undefined, startVersion: startTs, keys: lead.items.map((k) => toBuffer(k.key)), commitVersion: commitTs };
        sent = true;
        const res = await this.rpc.call('KvCommit', lead.region, req, op.deadlineMs);
        if (res !== REGION_CHANGED) {
          if (res.error !== undefined) throw this.commitRefused(res.error, startTs, keys);
          break;
        }
        // The primary alone decides the txn: commit it in its new region, and leave the rest of the batch to the background.
        await this.beforeRetry(op, true);
        lead = { region: await this.rpc.locate(primary, op.deadlineMs), items: [{ key: primary }] };
      }
    } catch (err: unknown) {
      if (err instanceof TxnError) throw err;
      if (!sent) {
        // No commit left the client: nothing is committed, and rolling back makes sure of it.
        this.track(this.rollbackKeys(startTs, keys));
        throw err;
      }
      throw new TxnError(TXN_ERROR_CODES.CommitOutcomeUnknown, `Commit of txn ${startTs} at ${commitTs} outcome unknown: the primary's commit was sent and not answered (${describe(err)})`, { cause: err, commitTs });
    }
    const committed = lead.items;
    return keys.filter((k) => !committed.some((c) => equalBytes(c.key, k)));
  }

  /**
   * The store refused to commit the primary. A KeyError from KvCommit means
   * it found neither our lock nor our commit record on the primary: the lock
   * was rolled back (a rollback record, abort) or is gone and another txn
   * holds the key (retryable). Without our lock no commit can ever succeed,
   * and a prewrite is never retried after this point, so the transaction can
   * never commit: it is aborted, and its other locks are rolled back.
   */
  private commitRefused(error: KeyError, startTs: bigint, keys: readonly Buffer[]): TxnError {
    this.track(this.rollbackKeys(startTs, keys));
    if (error.abort.startsWith('InvalidArgument:')) return keyErrorOf(error, `Commit of txn ${startTs}`);
    const why = error.abort !== '' ? error.abort : error.retryable;
    return new TxnError(TXN_ERROR_CODES.TxnAborted, `Cannot commit txn ${startTs}: its primary lock is gone (${why})`, { cause: error });
  }

  /** Background: commits the secondaries. Never rejects: a reader commits any left locked from the primary. */
  private async commitSecondaries(startTs: bigint, commitTs: bigint, keys: readonly Buffer[]): Promise<void> {
    if (keys.length === 0) return;
    const op = this.newOp('Commit secondaries');
    const send: BatchSend<Keyed> = async (b) => {
      const req = { context: undefined, startVersion: startTs, keys: b.items.map((k) => toBuffer(k.key)), commitVersion: commitTs };
      const res = await this.rpc.call('KvCommit', b.region, req, op.deadlineMs);
      return res === REGION_CHANGED ? REGION_CHANGED : undefined;
    };
    try {
      await this.forBatches(keys.map((key) => ({ key })), op, send);
    } catch {
      // Swallowed by design (see the doc comment).
    }
  }

  /** Rolls back `keys` of txn `startTs` region by region. Never rejects: a failure leaves locks that readers resolve after their TTL. */
  private async rollbackKeys(startTs: bigint, keys: readonly Buffer[]): Promise<void> {
    const op = this.newOp('Rollback');
    const send: BatchSend<Keyed> = async (b) => {
      const req = { context: undefined, startVersion: startTs, keys: b.items.map((k) => toBuffer(k.key)) };
      const res = await this.rpc.call('KvBatchRollback', b.region, req, op.deadlineMs);
      return res === REGION_CHANGED ? REGION_CHANGED : undefined;
    };
    try {
      await this.forBatches(keys.map((key) => ({ key })), op, send);
    } catch {
      // Swallowed by design (see the doc comment).
    }
  }

  /**
   * Sends `items` (sorted, distinct keys) grouped by region: the batch
   * holding `first`, when given, alone and before the others, which go in
   * parallel. A batch whose region changed is regrouped and sent again.
   */
  private async forBatches<T extends Keyed>(items: readonly T[], op: OpState, send: BatchSend<T>, first?: Uint8Array): Promise<void> {
    const batches = await this.group(items, op);
    const lead = first === undefined ? undefined : batches.find((b) => b.items.some((i) => equalBytes(i.key, first)));
    if (lead !== undefined) await this.sendBatch(lead, op, send, first);
    const rest = batches.filter((b) => b !== lead).map((b) => this.sendBatch(b, op, send, undefined));
    const results = await Promise.allSettled(rest);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw op.failure ?? failed.reason;
  }

  private async sendBatch<T extends Keyed>(batch: Batch<T>, op: OpState, send: BatchSend<T>, first: Uint8Array | undefined): Promise<void> {
    try {
      if ((await send(batch)) === undefined) return;
      await this.beforeRetry(op, true);
      await this.forBatches(batch.items, op, send, first);
    } catch (err: unknown) {
      // The first failure stops the other batches at their next retry.
      op.failure ??= err;
      throw err;
    }
  }

  /** Walks the sorted items: locate the first, take those before its region's end (at most txnBatchKeysMax), repeat. */
  private async group<T extends Keyed>(items: readonly T[], op: OpState): Promise<Batch<T>[]> {
    const out: Batch<T>[] = [];
    let i = 0;
    while (i < items.length) {
      const first = items[i] as T;
      const region = await this.rpc.locate(first.key, op.deadlineMs);
      assert(inRegion(first.key, region), `locate(${formatKey(first.key)}) answered region ${region.id}, which does not hold the key`);
      let j = i + 1;
      while (j < items.length && j - i < txnBatchKeysMax && inRegion((items[j] as T).key, region)) j++;
      out.push({ region, items: items.slice(i, j) });
      i = j;
    }
    return out;
  }

  /**
   * Before a retry: stop when a parallel batch failed or the deadline
   * passed; pause unless the last answer taught something (a region, a
   * settled lock), and even then after retryImmediateMax retries in a row.
   */
  private async beforeRetry(op: OpState, learnt: boolean): Promise<void> {
    if (op.failure !== undefined) throw op.failure;
    if (learnt && op.immediate < retryImmediateMax) op.immediate++;
    else {
      op.immediate = 0;
      const pause = op.backoff.next();
      if (this.rpc.nowMs() + pause >= op.deadlineMs) throw deadlineExceeded(op);
      await this.rpc.sleep(pause);
      if (op.failure !== undefined) throw op.failure;
    }
    if (this.rpc.nowMs() >= op.deadlineMs) throw deadlineExceeded(op);
  }

  /** A fresh backoff with the client's pauses. */
  newBackoff(): Backoff {
    return new Backoff({ baseMs: this.backoffBaseMs, maxMs: this.backoffMaxMs });
  }

  private newOp(what: string): OpState {
    return {
      what, deadlineMs: this.rpc.nowMs() + this.timeoutMs, backoff: this.newBackoff(),
      immediate: 0, failure: undefined,
    };
  }

  /** Keeps background work (which never rejects) for flush(). */
  private track(work: Promise<void>): void {
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }
}

/** What one KvScan answer gave: the end of the scan, more from `from`, or locks to resolve before scanning again from `from`. */
type ScanStep =
  | { readonly kind: 'end' }
  | { readonly kind: 'more'; readonly from: Uint8Array }
  | { readonly kind: 'locked'; readonly from: Uint8Array; readonly locks: readonly LockInfo[] };

/**
 * Takes one region's KvScan answer into `out`: the pairs before the first
 * locked one (the scan resumes there once the locks are resolved), stopping
 * at `endKey` and at the region's end (the store answers from its region
 * only; the client does not rely on it).
 */
function absorbScan(pairs: readonly KvPair[], region: RegionRef, endKey: Uint8Array, want: number, out: TxnEntry[]): ScanStep {
  const locks: LockInfo[] = [];
  let firstLocked: Uint8Array | undefined;
  let last: Uint8Array | undefined;
  let bytes = 0;
  let pastEnd = false;
  let pastRegion = false;
  for (const pair of pairs) {
    if (pair.error !== undefined && pair.error.locked === undefined) throw keyErrorOf(pair.error, 'Scan');
    if (endKey.length > 0 && compareBytes(pair.key, endKey) >= 0) {
      pastEnd = true;
      break;
    }
    if (!inRegion(pair.key, region)) {
      pastRegion = true;
      break;
    }
    last = pair.key;
    bytes += pair.key.length + pair.value.length;
    if (pair.error?.locked !== undefined) {
      locks.push(pair.error.locked);
      firstLocked ??= new Uint8Array(pair.key);
    } else if (firstLocked === undefined) out.push({ key: new Uint8Array(pair.key), value: new Uint8Array(pair.value) });
  }
  if (firstLocked !== undefined) return { kind: 'locked', from: firstLocked, locks };
  if (pastEnd) return { kind: 'end' };
  // A full answer (or one cut short by the store's byte budget) may leave more in this region.
  if (!pastRegion && last !== undefined && (pairs.length >= want || scanResponseMayBeTruncated(bytes))) return { kind: 'more', from: successor(last) };
  // This region is done: on to the next, unless it is the last or reaches past endKey.
  if (region.endKey.length === 0 || (endKey.length > 0 && compareBytes(region.endKey, endKey) >= 0)) return { kind: 'end' };
  return { kind: 'more', from: new Uint8Array(region.endKey) };
}

/** Merges committed pairs with the transaction's own writes (own wins; own deletes hide), first `limit` entries. */
function mergeOwn(committed: readonly TxnEntry[], own: readonly BufferedWrite[], limit: number): TxnEntry[] {
  const out: TxnEntry[] = [];
  let i = 0;
  let j = 0;
  while (out.length < limit && (i < committed.length || j < own.length)) {
    const c = committed[i];
    const o = own[j];
    const order = c === undefined ? 1 : o === undefined ? -1 : compareBytes(c.key, o.key);
    if (order < 0) {
      out.push(c as TxnEntry);
      i++;
      continue;
    }
    if (order === 0) i++;
    const w = o as BufferedWrite;
    if (w.value !== undefined) out.push({ key: new Uint8Array(w.key), value: new Uint8Array(w.value) });
    j++;
  }
  return out;
}

interface BufferedWrite {
  readonly key: Uint8Array;
  /** undefined: a deletion. */
  readonly value: Uint8Array | undefined;
}

/**
 * A transaction's writes, one per key (the last write wins): a large sorted
 * array and a small sorted tail of new keys, merged into it when the tail
 * reaches {@link bufferTailMax} keys or an ordered view is asked for. One
 * sorted array alone moves O(n) entries per new key (17 s to buffer 100k
 * keys in random order); the tail moves O(bufferTailMax) per key and the
 * merges O(n / bufferTailMax) amortized (about 2 s for those 100k keys).
 */
class WriteBuffer {
  private sorted: BufferedWrite[] = [];
  private tail: BufferedWrite[] = [];

  find(key: Uint8Array): BufferedWrite | undefined {
    return at(this.sorted, key) ?? at(this.tail, key);
  }

  /** @throws {RangeError} when a new key would pass txnBufferKeysMax */
  set(key: Uint8Array, value: Uint8Array | undefined): void {
    const entry = { key: new Uint8Array(key), value: value === undefined ? undefined : new Uint8Array(value) };
    if (replace(this.sorted, entry) || replace(this.tail, entry)) return;
    if (this.sorted.length + this.tail.length >= txnBufferKeysMax) {
      throw new RangeError(`Cannot buffer ${formatKey(key)}: the transaction already writes ${txnBufferKeysMax} keys`);
    }
    this.tail.splice(lowerBound(this.tail, key), 0, entry);
    if (this.tail.length >= bufferTailMax) this.merge();
  }

  /** Writes in [start, end), an empty end being unbounded, in key order. */
  range(start: Uint8Array, end: Uint8Array): BufferedWrite[] {
    this.merge();
    const from = lowerBound(this.sorted, start);
    const to = end.length === 0 ? this.sorted.length : lowerBound(this.sorted, end);
    return this.sorted.slice(from, to);
  }

  /** Every write in key order, as prewrite mutations. */
  mutations(): Mutation[] {
    this.merge();
    return this.sorted.map((e) =>
      e.value === undefined
        ? { op: MutationOp.Del, key: toBuffer(e.key), value: Buffer.alloc(0) }
        : { op: MutationOp.Put, key: toBuffer(e.key), value: toBuffer(e.value) },
    );
  }

  clear(): void {
    this.sorted = [];
    this.tail = [];
  }

  /** Merges the tail (sorted, its keys not in `sorted`) into the sorted array. */
  private merge(): void {
    if (this.tail.length === 0) return;
    const sorted = this.sorted;
    const out: BufferedWrite[] = [];
    let from = 0;
    for (const t of this.tail) {
      const upTo = lowerBound(sorted, t.key, from);
      for (const w of sorted.slice(from, upTo)) out.push(w);
      out.push(t);
      from = upTo;
    }
    for (const w of sorted.slice(from)) out.push(w);
    this.sorted = out;
    this.tail = [];
  }
}

/** The write of `key` in sorted `writes`. */
function at(writes: readonly BufferedWrite[], key: Uint8Array): BufferedWrite | undefined {
  const w = writes[lowerBound(writes, key)];
  return w !== undefined && equalBytes(w.key, key) ? w : undefined;
}

/** Replaces the write of `entry.key` in sorted `writes`, if there is one. */
function replace(writes: BufferedWrite[], entry: BufferedWrite): boolean {
  const i = lowerBound(writes, entry.key);
  const w = writes[i];
  if (w === undefined || !equalBytes(w.key, entry.key)) return false;
  writes[i] = entry;
  return true;
}

/** The index of the first write at or after `lo` whose key is >= `key`. */
function lowerBound(writes: readonly BufferedWrite[], key: Uint8Array, lo = 0): number {
  let hi = writes.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareBytes((writes[mid] as BufferedWrite).key, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function prewriteError(error: KeyError, startTs: bigint): TxnError {
  const c = error.conflict;
  if (c !== undefined) {
    return new TxnError(TXN_ERROR_CODES.WriteConflict, `Cannot prewrite txn ${startTs}: ${formatKey(c.key)} was written at ${c.conflictTs}, after it started`, { cause: error });
  }
  // The store asks for a restart: the same remedy as a conflict.
  if (error.abort === '' && error.retryable !== '') {
    return new TxnError(TXN_ERROR_CODES.WriteConflict, `Cannot prewrite txn ${startTs}: ${error.retryable}`, { cause: error });
  }
  return keyErrorOf(error, `Prewrite of txn ${startTs}`);
}

function keyErrorOf(error: KeyError, what: string): TxnError {
  const detail = error.abort !== '' ? error.abort : error.retryable !== '' ? error.retryable : error.conflict !== undefined ? 'write conflict' : 'unknown key error';
  return new TxnError(TXN_ERROR_CODES.KeyError, `${what} failed: ${detail}`, { cause: error });
}

function deadlineExceeded(op: OpState): ClientError {
  return new ClientError(CLIENT_ERROR_CODES.DeadlineExceeded, `${op.what} failed: not done before the deadline`);
}

function validate(error: string | undefined): void {
  if (error !== undefined) throw new ClientError(CLIENT_ERROR_CODES.InvalidArgument, error);
}

function inRegion(key: Uint8Array, region: RegionRef): boolean {
  return compareBytes(key, region.startKey) >= 0 && (region.endKey.length === 0 || compareBytes(key, region.endKey) < 0);
}

/** The smallest key greater than `key`: `key` followed by a zero byte. */
function successor(key: Uint8Array): Uint8Array {
  const next = new Uint8Array(key.length + 1);
  next.set(key);
  return next;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
