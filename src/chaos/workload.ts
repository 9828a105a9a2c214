/**
 * The chaos test's clients: workers looping over random get / put / delete /
 * scan on a small key space through their own routed {@link RawClient},
 * every operation recorded in the shared {@link HistoryRecorder} with
 * monotonic wall-clock times (`performance.now()`), and the final read of
 * every key once the cluster has settled.
 *
 * Values are unique per write (`w<client>-<n>`), so the checker can tell
 * which write a read saw. The stored bytes add padding (to make regions
 * split) in a self-checking form, `<id>|<length>|xxx…`: a read whose bytes do
 * not decode is recorded with a `corrupt:` value no write made, which the
 * checker reports as a read no write explains.
 *
 * Statuses (docs/CHAOS.md): a write is `ok` when acknowledged, `fail` only
 * when the client refused it before sending (INVALID_ARGUMENT), and
 * `indeterminate` otherwise. OUTCOME_UNKNOWN obviously, but also a
 * DEADLINE_EXCEEDED or a region error: the router retries StaleCommand and
 * NotLeader answers without calling the earlier attempt ambiguous, yet a raft
 * proposal answered "stale" may still commit under the next leader. A read
 * that did not answer tells nothing: `indeterminate` when it timed out,
 * `fail` otherwise (the checker drops both).
 */
import type { RawClient } from '../client/raw_client.js';
import { ClientError, CLIENT_ERROR_CODES, SchedulerError } from '../client/errors.js';
import type { KvInput, KvOutput, OpStatus } from '../sim/history.js';
import type { HistoryRecorder } from '../sim/recorder.js';
import type { Prng } from '../util/prng.js';

export type OpKind = KvInput['kind'];
export const OP_KINDS: readonly OpKind[] = ['get', 'put', 'delete', 'scan'];
const STATUSES: readonly OpStatus[] = ['ok', 'fail', 'indeterminate'];

/** Counts of operations by kind and status, and of errors by code (with a sample message each). */
export class WorkloadStats {
  readonly byKind = new Map<OpKind, Map<OpStatus, number>>(OP_KINDS.map((k) => [k, new Map(STATUSES.map((s) => [s, 0]))]));
  readonly errors = new Map<string, { count: number; sample: string }>();

  count(kind: OpKind, status: OpStatus): void {
    const m = this.byKind.get(kind);
    if (m !== undefined) m.set(status, (m.get(status) ?? 0) + 1);
  }

  error(code: string, message: string): void {
    const e = this.errors.get(code);
    if (e === undefined) this.errors.set(code, { count: 1, sample: message.slice(0, 300) });
    else e.count++;
  }

  total(status?: OpStatus): number {
    let n = 0;
    for (const m of this.byKind.values()) for (const [s, c] of m) if (status === undefined || s === status) n += c;
    return n;
  }
}

/** The workload's key names, `k00`…: printable, and string order is numeric order. */
export function keyNames(count: number): string[] {
  const width = String(count - 1).length;
  return Array.from({ length: count }, (_, i) => `k${String(i).padStart(width, '0')}`);
}

const PAD_CHAR = 'x';

/** The stored bytes of the write `id`, padded by `padBytes`. */
export function encodeValue(id: string, padBytes: number): Uint8Array {
  return new TextEncoder().encode(`${id}|${padBytes}|${PAD_CHAR.repeat(padBytes)}`);
}

/** The write id stored in `bytes`, or `corrupt:<text>` when they are not what {@link encodeValue} made. */
export function decodeValue(bytes: Uint8Array): string {
  const text = new TextDecoder().decode(bytes);
  const m = /^(w\d+-\d+)\|(\d+)\|(x*)$/.exec(text);
  if (m === null || m[1] === undefined || m[3]?.length !== Number(m[2])) return `corrupt:${text.slice(0, 80)}`;
  return m[1];
}

/** The history status of a failed operation, and the error's code for the counts. */
export function classifyError(kind: OpKind, err: unknown): { readonly status: OpStatus; readonly code: string; readonly message: string } {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof ClientError || err instanceof SchedulerError) {
    const write = kind === 'put' || kind === 'delete';
    if (err.code === CLIENT_ERROR_CODES.InvalidArgument) return { status: 'fail', code: err.code, message };
    if (write) return { status: 'indeterminate', code: err.code, message };
    const timedOut = err.code === CLIENT_ERROR_CODES.DeadlineExceeded || err.code === CLIENT_ERROR_CODES.OutcomeUnknown;
    return { status: timedOut ? 'indeterminate' : 'fail', code: err.code, message };
  }
  // Not one of the client's typed errors: a bug in the client, counted apart and shown in the report.
  const name = err instanceof Error ? err.name : typeof err;
  return { status: 'indeterminate', code: `UNEXPECTED_${name}`, message };
}

/** Spreads operation starts evenly: at most one start per `intervalMs` across all workers. */
export class Pacer {
  private nextMs = 0;
  constructor(private readonly intervalMs: number) {}

  /** How long to wait before starting an operation now; reserves the slot. */
  delayMs(nowMs: number): number {
    const slot = Math.max(nowMs, this.nextMs);
    this.nextMs = slot + this.intervalMs;
    return slot - nowMs;
  }
}

export interface WorkerContext {
  readonly clientId: number;
  readonly client: RawClient;
  readonly recorder: HistoryRecorder;
  /** This worker's own stream: its choices depend on nothing else. */
  readonly rng: Prng;
  readonly keys: readonly string[];
  readonly stats: WorkloadStats;
  readonly pacer: Pacer;
  readonly valueBytesMin: number;
  readonly valueBytesMax: number;
  /** No new operation once this returns true. */
  readonly shouldStop: () => boolean;
  /** Most operations in the history; the worker stops at it. */
  readonly opsMax: number;
}

/** Runs operations one at a time until told to stop; in-flight operations finish (bounded by their deadline). */
export async function runWorker(ctx: WorkerContext): Promise<void> {
  for (let n = 0; !ctx.shouldStop() && ctx.recorder.size < ctx.opsMax; n++) {
    const wait = ctx.pacer.delayMs(performance.now());
    if (wait > 0) await sleep(wait);
    if (ctx.shouldStop()) break;
    await runOne(ctx, chooseInput(ctx, n));
  }
}

function chooseInput(ctx: WorkerContext, n: number): KvInput {
  const key = ctx.keys[ctx.rng.intInclusive(0, ctx.keys.length - 1)] as string;
  const roll = ctx.rng.intInclusive(0, 99);
  if (roll < 40) return { kind: 'get', key };
  if (roll < 75) return { kind: 'put', key, value: `w${ctx.clientId}-${n}` };
  if (roll < 85) return { kind: 'delete', key };
  return { kind: 'scan', start: key, limit: ctx.rng.intInclusive(1, 8) };
}

/** One recorded operation. */
async function runOne(ctx: WorkerContext, input: KvInput): Promise<void> {
  const enc = new TextEncoder();
  // Drawn before the call so the worker's stream does not depend on outcomes.
  const pad = input.kind === 'put' ? ctx.rng.intInclusive(ctx.valueBytesMin, ctx.valueBytesMax) : 0;
  const id = ctx.recorder.begin(ctx.clientId, input);
  let output: KvOutput;
  try {
    switch (input.kind) {
      case 'get': {
        const v = await ctx.client.get(enc.encode(input.key));
        output = { kind: 'get', value: v === undefined ? undefined : decodeValue(v) };
        break;
      }
      case 'put':
        await ctx.client.put(enc.encode(input.key), encodeValue(input.value, pad));
        output = { kind: 'put' };
        break;
      case 'delete':
        await ctx.client.delete(enc.encode(input.key));
        output = { kind: 'delete' };
        break;
      case 'scan': {
        const entries = await ctx.client.scan(enc.encode(input.start), input.limit);
        output = { kind: 'scan', entries: entries.map((e) => [new TextDecoder().decode(e.key), decodeValue(e.value)] as const) };
        break;
      }
    }
  } catch (err: unknown) {
    const c = classifyError(input.kind, err);
    ctx.recorder.complete(id, c.status);
    ctx.stats.count(input.kind, c.status);
    ctx.stats.error(c.code, c.message);
    return;
  }
  ctx.recorder.complete(id, 'ok', output);
  ctx.stats.count(input.kind, 'ok');
}

export interface FinalReads {
  readonly keys: number;
  readonly ok: number;
  readonly failed: number;
  /** Keys found present. */
  readonly present: number;
  /** The first failures, `key: message`. */
  readonly failures: readonly string[];
}

/**
 * Reads every key once, one at a time, recorded like any read: the checker
 * then owes each key's last acknowledged write (or a later indeterminate
 * one) to these reads, which is how a lost write shows up.
 */
export async function finalReads(client: RawClient, recorder: HistoryRecorder, clientId: number, keys: readonly string[], stats: WorkloadStats): Promise<FinalReads> {
  let ok = 0;
  let present = 0;
  const failures: string[] = [];
  for (const key of keys) {
    const id = recorder.begin(clientId, { kind: 'get', key });
    try {
      const v = await client.get(new TextEncoder().encode(key));
      recorder.complete(id, 'ok', { kind: 'get', value: v === undefined ? undefined : decodeValue(v) });
      stats.count('get', 'ok');
      ok++;
      if (v !== undefined) present++;
    } catch (err: unknown) {
      const c = classifyError('get', err);
      recorder.complete(id, c.status);
      stats.count('get', c.status);
      stats.error(c.code, c.message);
      if (failures.length < 5) failures.push(`${key}: ${c.code} ${c.message}`);
    }
  }
  return { keys: keys.length, ok, failed: keys.length - ok, present, failures };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
