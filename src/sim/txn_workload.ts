/**
 * The transactional correctness workloads, in the style of FoundationDB's
 * simulation workloads, independent of where they run: the simulator's
 * `txnBank`/`txnCycle` scenarios (cluster/txn_scenarios.ts, virtual time,
 * simulated faults) and the real-process chaos test (src/chaos, real
 * processes killed at random) drive the same transactions through the same
 * `TxnClient`.
 *
 * - `bank`: accounts start with equal balances; read-write transactions
 *   move a random amount between two random accounts; read-only
 *   transactions read every account. Every complete snapshot read must sum
 *   to the initial total.
 * - `cycle`: keys form one ring (key i names its successor); a transaction
 *   reads a → b → c → d and rewrites it as a → c → b → d, which keeps one
 *   ring of all keys. Every complete snapshot read must be one ring.
 *
 * Every transaction is recorded (start and commit timestamps, what it read,
 * what it wrote, how it ended) for the snapshot-isolation checker
 * (checkers/snapshot_isolation.ts): no dirty, stale or fractured read, no
 * lost update. Written values name their writer (`<payload>:<txn id>`), so
 * the checker knows which write a read returned. Commits whose answer was
 * lost are resolved at the end from the cluster's record of their primary
 * (CheckTxnStatus), then checked like the rest.
 */
import { ClientError } from '../client/errors.js';
import type { Transaction, TxnClient } from '../client/txn_client.js';
import { TxnError } from '../client/txn_errors.js';
import { REGION_CHANGED } from '../client/txn_rpc.js';
import type { TxnRpc } from '../client/txn_rpc.js';
import type { Prng } from '../util/prng.js';
import { checkSnapshotIsolation } from './checkers/snapshot_isolation.js';
import type { ResolvedOutcome, TxnOutcome, TxnRead, TxnRecord } from './checkers/snapshot_isolation.js';
import { SimulationError } from './errors.js';

export type TxnWorkloadKind = 'bank' | 'cycle';

export interface TxnWorkloadOptions {
  readonly kind: TxnWorkloadKind;
  /** Accounts (bank) or ring members (cycle); at least 4, so a → b → c → d are distinct. */
  readonly keyCount: number;
  /** Prefix of every key: the workload owns [prefix, prefix + "\xff"). */
  readonly keyPrefix: string;
  /** Read-only transactions among all, 1 in N. @default 4 */
  readonly readOnlyOneIn?: number;
}

/** What the final check found. */
export interface TxnWorkloadSummary {
  readonly txns: number;
  readonly committed: number;
  readonly aborted: number;
  /** Commits whose answer was lost, resolved from their primary's record. */
  readonly unknown: number;
  readonly unknownCommitted: number;
}

/** A bank account's starting balance. */
const initialBalance = 100;
/** The largest amount one transfer moves. */
const transferMax = 20;

export class TxnWorkload {
  readonly options: TxnWorkloadOptions;
  readonly keys: readonly string[];
  private readonly records: TxnRecord[] = [];
  private readonly primaries = new Map<number, Uint8Array>();
  private readonly initial = new Map<string, string>();
  private nextTxnId = 1;

  constructor(options: TxnWorkloadOptions) {
    if (!(Number.isSafeInteger(options.keyCount) && options.keyCount >= 4 && options.keyCount <= 1000)) {
      throw new RangeError(`txn workload: keyCount must be in 4..1000, got ${options.keyCount}`);
    }
    this.options = options;
    const width = String(options.keyCount - 1).length;
    this.keys = Array.from({ length: options.keyCount }, (_, i) => `${options.keyPrefix}${String(i).padStart(width, '0')}`);
  }

  get transactions(): number {
    return this.records.length;
  }

  /** Writes the initial values in one transaction, before any recorded one begins. */
  async setup(client: TxnClient): Promise<void> {
    const txn = await client.begin();
    this.keys.forEach((key, i) => {
      const payload = this.options.kind === 'bank' ? String(initialBalance) : this.keys[(i + 1) % this.keys.length] as string;
      const value = `${payload}:0`;
      txn.put(bytes(key), bytes(value));
      this.initial.set(key, value);
    });
    await txn.commit();
    await client.flush();
  }

  /**
   * Runs and records one transaction (read-only, a transfer, or a ring
   * permutation). Expected failures (conflicts, aborts, deadlines) end it
   * quietly; a broken invariant throws SimulationError('safety'); anything
   * else (a bug) is rethrown.
   */
  async runOne(client: TxnClient, clientId: number, rnd: Prng): Promise<void> {
    const id = this.nextTxnId++;
    let txn: Transaction | undefined;
    const reads: TxnRead[] = [];
    const writes = new Map<string, string | undefined>();
    let outcome: TxnOutcome = 'aborted';
    try {
      txn = await client.begin();
      if (rnd.chance({ numerator: 1, denominator: this.options.readOnlyOneIn ?? 4 })) {
        reads.push(...await this.readAll(txn));
        this.checkInvariant(id, reads);
      } else if (this.options.kind === 'bank') {
        await this.transfer(txn, id, rnd, reads, writes);
      } else {
        await this.permute(txn, id, rnd, reads, writes);
      }
      if (writes.size > 0) await txn.commit();
      outcome = 'committed';
    } catch (error: unknown) {
      if (error instanceof TxnError && error.code === 'COMMIT_OUTCOME_UNKNOWN') outcome = 'unknown';
      else if (!(error instanceof TxnError) && !(error instanceof ClientError)) throw error;
    }
    // A transaction that failed before it had a start ts read and wrote nothing: nothing to record.
    if (txn === undefined) return;
    this.records.push(record(id, clientId, txn, outcome, reads, writes));
    if (outcome === 'unknown') {
      const primary = txn.primaryKey;
      if (primary === undefined) throw new SimulationError('assertion', `txn ${id}: commit outcome unknown, but no primary key was chosen`);
      this.primaries.set(id, primary);
    }
  }

  /**
   * On a healthy cluster: resolves every unknown commit from its primary's
   * record, reads the whole key range once more (it must hold the
   * invariant), and checks the history for snapshot isolation.
   * @throws {SimulationError} 'safety' on a violation.
   */
  async finalCheck(client: TxnClient, rpc: TxnRpc, deadlineMs: number): Promise<TxnWorkloadSummary> {
    const resolved = new Map<number, ResolvedOutcome>();
    for (const t of this.records) {
      if (t.outcome !== 'unknown') continue;
      const primary = this.primaries.get(t.id) as Uint8Array;
      resolved.set(t.id, await primaryStatus(rpc, primary, t.startTs, deadlineMs));
    }
    const id = this.nextTxnId++;
    const txn = await client.begin();
    const reads = await this.readAll(txn);
    this.records.push(record(id, -1, txn, 'committed', reads, new Map()));
    this.checkInvariant(id, reads);
    const violations = checkSnapshotIsolation({ txns: this.records, initial: this.initial, resolved });
    if (violations.length > 0) {
      throw new SimulationError('safety', `snapshot isolation violated (${violations.length} shown, ${this.records.length} txns): ${violations.map((v) => v.message).join('; ')}`);
    }
    const count = (o: TxnOutcome): number => this.records.filter((r) => r.outcome === o).length;
    return {
      txns: this.records.length, committed: count('committed'), aborted: count('aborted'), unknown: count('unknown'),
      unknownCommitted: [...resolved.values()].filter((r) => r.committed).length,
    };
  }

  private async get(txn: Transaction, key: string, reads: TxnRead[]): Promise<string> {
    const raw = await txn.get(bytes(key));
    const value = raw === undefined ? undefined : text(raw);
    reads.push({ key, value });
    if (value === undefined) throw new SimulationError('safety', `txn at ${txn.startTs}: ${key} is missing`);
    return value;
  }

  /** Every key, by one scan of the workload's range (a snapshot read across regions). */
  private async readAll(txn: Transaction): Promise<TxnRead[]> {
    const prefix = bytes(this.options.keyPrefix);
    const end = Buffer.concat([prefix, Buffer.from([0xff])]);
    const pairs = await txn.scan(prefix, end, this.keys.length + 1);
    const got = new Map(pairs.map((p) => [text(p.key), text(p.value)]));
    if (pairs.length !== got.size || [...got.keys()].some((k) => !this.keys.includes(k))) {
      throw new SimulationError('safety', `txn at ${txn.startTs}: a scan of the workload's range returned keys ${[...got.keys()].join(',')}`);
    }
    return this.keys.map((key) => ({ key, value: got.get(key) }));
  }

  /** Bank: move a random amount from one account to another. */
  private async transfer(txn: Transaction, id: number, rnd: Prng, reads: TxnRead[], writes: Map<string, string | undefined>): Promise<void> {
    const n = this.keys.length;
    const from = rnd.intInclusive(0, n - 1);
    const to = (from + rnd.intInclusive(1, n - 1)) % n;
    const a = Number(payloadOf(await this.get(txn, this.keys[from] as string, reads)));
    const b = Number(payloadOf(await this.get(txn, this.keys[to] as string, reads)));
    const amount = rnd.intInclusive(0, Math.min(a, transferMax));
    this.write(txn, id, this.keys[from] as string, String(a - amount), writes);
    this.write(txn, id, this.keys[to] as string, String(b + amount), writes);
  }

  /** Cycle: a → b → c → d becomes a → c → b → d. */
  private async permute(txn: Transaction, id: number, rnd: Prng, reads: TxnRead[], writes: Map<string, string | undefined>): Promise<void> {
    const a = this.keys[rnd.intInclusive(0, this.keys.length - 1)] as string;
    const b = payloadOf(await this.get(txn, a, reads));
    const c = payloadOf(await this.get(txn, b, reads));
    const d = payloadOf(await this.get(txn, c, reads));
    this.write(txn, id, a, c, writes);
    this.write(txn, id, c, b, writes);
    this.write(txn, id, b, d, writes);
  }

  private write(txn: Transaction, id: number, key: string, payload: string, writes: Map<string, string | undefined>): void {
    const value = `${payload}:${id}`;
    txn.put(bytes(key), bytes(value));
    writes.set(key, value);
  }

  /** The workload's invariant over one complete snapshot read. */
  private checkInvariant(id: number, reads: readonly TxnRead[]): void {
    const show = (): string => reads.map((r) => `${r.key}=${r.value ?? '-'}`).join(' ');
    const values = reads.map((r) => {
      if (r.value === undefined) throw new SimulationError('safety', `txn ${id}: ${r.key} is missing from a snapshot: ${show()}`);
      return payloadOf(r.value);
    });
    if (this.options.kind === 'bank') {
      const total = values.reduce((sum, v) => sum + Number(v), 0);
      const want = initialBalance * this.keys.length;
      if (total !== want) throw new SimulationError('safety', `txn ${id}: the bank's total is ${total}, not ${want}: ${show()}`);
      return;
    }
    const next = new Map(reads.map((r, i) => [r.key, values[i] as string]));
    const first = this.keys[0] as string;
    let at = first;
    const seen = new Set<string>();
    for (let step = 0; step < this.keys.length; step++) {
      seen.add(at);
      at = next.get(at) ?? '?';
    }
    if (at !== first || seen.size !== this.keys.length) throw new SimulationError('safety', `txn ${id}: the keys do not form one ring: ${show()}`);
  }
}

function record(id: number, client: number, txn: Transaction, outcome: TxnOutcome, reads: readonly TxnRead[], writes: ReadonlyMap<string, string | undefined>): TxnRecord {
  return { id, client, startTs: txn.startTs, commitTs: txn.commitTs, outcome, reads: [...reads], writes: new Map(writes) };
}

/**
 * What the cluster recorded for a transaction's primary (TinyKV
 * CheckTxnStatus at the current timestamp): committed at some ts, or rolled
 * back (an expired lock is rolled back by the call itself). A live lock
 * means its TTL has not run out yet: wait and ask again.
 */
async function primaryStatus(rpc: TxnRpc, primary: Uint8Array, startTs: bigint, deadlineMs: number): Promise<ResolvedOutcome> {
  for (;;) {
    const region = await rpc.locate(primary, deadlineMs);
    const currentTs = await rpc.tso(deadlineMs);
    const res = await rpc.call('KvCheckTxnStatus', region, { context: undefined, primaryKey: Buffer.from(primary), lockTs: startTs, currentTs }, deadlineMs);
    if (res === REGION_CHANGED) continue;
    if (res.lockTtl > 0) {
      if (rpc.nowMs() >= deadlineMs) throw new SimulationError('liveness', `the lock of txn ${startTs} on its primary was still alive at the deadline`);
      await rpc.sleep(Math.min(res.lockTtl, 1_000));
      continue;
    }
    return res.commitVersion > 0n ? { committed: true, commitTs: res.commitVersion } : { committed: false };
  }
}

/** `<payload>:<writer txn id>` → payload. */
function payloadOf(value: string): string {
  const colon = value.lastIndexOf(':');
  if (colon < 0) throw new SimulationError('safety', `value ${JSON.stringify(value)} has no writer tag`);
  return value.slice(0, colon);
}

function bytes(s: string): Buffer {
  return Buffer.from(s, 'latin1');
}

function text(b: Uint8Array): string {
  return Buffer.from(b).toString('latin1');
}
