/**
 * Options of the chaos test (docs/CHAOS.md): what a caller may set, the
 * defaults, and their validation. Units and qualifiers come last in names
 * (STYLE §15). {@link resolveChaosOptions} fills defaults and throws on a bad
 * value, so the run itself never sees a partial or contradictory setup.
 */
import { CodedError } from '../util/errors.js';

export interface ChaosOptions {
  /** How long clients and the nemesis run, ms (settling and checks come after). @default 600_000 */
  readonly durationMs?: number;
  /** Seeds the one PRNG behind every random choice. @default a random seed (printed) */
  readonly seed?: number;
  /** Stores of the cluster (3 to 9). @default 3 */
  readonly stores?: number;
  /** Concurrent client workers, each with its own routed client. @default 8 */
  readonly workers?: number;
  /**
   * Workers running bank transactions (src/chaos/txn_bank.ts) beside the raw
   * workers, each with its own transactional client; 0: none. @default 4
   */
  readonly txnWorkers?: number;
  /** Accounts of the bank workload (at least 4). @default 8 */
  readonly txnAccounts?: number;
  /** Keys the workload uses (few keys: the checker sees contention). @default 64 */
  readonly keys?: number;
  /** Smallest and largest padding of a written value, bytes. @default 64..1024 */
  readonly valueBytesMin?: number;
  readonly valueBytesMax?: number;
  /** The stores' `--region-split-size` (small, so regions split during the run). @default 8192 */
  readonly regionSplitSizeBytes?: number;
  /** The stores' `--heartbeat-ms`. @default 400 */
  readonly heartbeatMs?: number;
  /** The stores' `--raft-tick-ms`. @default the store's default */
  readonly raftTickMs?: number;
  /** Mean pause between two nemesis rounds, ms (drawn in [mean/2, 3·mean/2]). @default 4000 */
  readonly killIntervalMs?: number;
  /** How long a killed process stays down, ms (drawn in [min, max]). @default 500..5000 */
  readonly downMsMin?: number;
  readonly downMsMax?: number;
  /** A round kills the scheduler with this chance (1 in N). @default 6 */
  readonly schedulerKillOneIn?: number;
  /**
   * The scheduler's `--max-store-down-time`, ms. When set, one nemesis round
   * in 8 keeps a store down longer than this, so the replica checker
   * replaces its peers. @default unset (the scheduler's default)
   */
  readonly maxStoreDownTimeMs?: number;
  /**
   * Mean pause between two operators injected through the scheduler's admin
   * service (transfer leader, remove or add a peer); 0: none. @default 5000
   */
  readonly operatorIntervalMs?: number;
  /** Deadline of each client operation, retries included, ms. @default 10_000 */
  readonly opDeadlineMs?: number;
  /** Most operations in the history (the recorder's bound is 200,000). @default 150_000 */
  readonly opsMax?: number;
  /** Root of the data dirs and logs. @default a new temp dir (removed on success unless keepData) */
  readonly dataDir?: string;
  /** Keep the data dir even when the run passes. @default false */
  readonly keepData?: boolean;
  /** Longest wait for the cluster to settle after the faults stop, ms. @default 90_000 */
  readonly settleTimeoutMs?: number;
  /** Search budget of the linearizability checker (steps). @default 200_000_000 */
  readonly checkerTimeoutOps?: number;
  /** The children's `--log-level`. @default 'info' */
  readonly logLevel?: string;
  /** Progress lines (a line without newline). @default none */
  readonly log?: (line: string) => void;
}

export type ResolvedChaosOptions = Required<Omit<ChaosOptions, 'raftTickMs' | 'maxStoreDownTimeMs' | 'dataDir' | 'log'>> & {
  readonly raftTickMs: number | undefined;
  readonly maxStoreDownTimeMs: number | undefined;
  readonly dataDir: string | undefined;
  readonly log: (line: string) => void;
};

export const CHAOS_ERROR_CODES = {
  /** An option is out of range or malformed. */
  BadOption: 'CHAOS_BAD_OPTION',
} as const;
export type ChaosErrorCode = (typeof CHAOS_ERROR_CODES)[keyof typeof CHAOS_ERROR_CODES];

export class ChaosOptionError extends CodedError<ChaosErrorCode> {
  override readonly name = 'ChaosOptionError';
}

/** Fills defaults and validates. @throws {ChaosOptionError} on a value out of range */
export function resolveChaosOptions(o: ChaosOptions, randomSeed: () => number): ResolvedChaosOptions {
  const r: ResolvedChaosOptions = {
    durationMs: o.durationMs ?? 600_000,
    seed: o.seed ?? randomSeed(),
    stores: o.stores ?? 3,
    workers: o.workers ?? 8,
    keys: o.keys ?? 64,
    txnWorkers: o.txnWorkers ?? 4,
    txnAccounts: o.txnAccounts ?? 8,
    valueBytesMin: o.valueBytesMin ?? 64,
    valueBytesMax: o.valueBytesMax ?? 1024,
    regionSplitSizeBytes: o.regionSplitSizeBytes ?? 8192,
    heartbeatMs: o.heartbeatMs ?? 400,
    raftTickMs: o.raftTickMs,
    killIntervalMs: o.killIntervalMs ?? 4000,
    downMsMin: o.downMsMin ?? 500,
    downMsMax: o.downMsMax ?? 5000,
    schedulerKillOneIn: o.schedulerKillOneIn ?? 6,
    maxStoreDownTimeMs: o.maxStoreDownTimeMs,
    operatorIntervalMs: o.operatorIntervalMs ?? 5000,
    opDeadlineMs: o.opDeadlineMs ?? 10_000,
    opsMax: o.opsMax ?? 150_000,
    dataDir: o.dataDir,
    keepData: o.keepData ?? false,
    settleTimeoutMs: o.settleTimeoutMs ?? 90_000,
    checkerTimeoutOps: o.checkerTimeoutOps ?? 200_000_000,
    logLevel: o.logLevel ?? 'info',
    log: o.log ?? (() => {}),
  };
  positiveInt('durationMs', r.durationMs);
  if (!(Number.isSafeInteger(r.seed) && r.seed >= 0)) bad(`seed must be a non-negative safe integer, got ${r.seed}`);
  if (!(Number.isSafeInteger(r.stores) && r.stores >= 3 && r.stores <= 9)) bad(`stores must be an integer from 3 to 9, got ${r.stores}`);
  positiveInt('workers', r.workers);
  if (r.workers > 64) bad(`workers must be at most 64, got ${r.workers}`);
  if (!(Number.isSafeInteger(r.txnWorkers) && r.txnWorkers >= 0 && r.txnWorkers <= 64)) bad(`txnWorkers must be an integer from 0 to 64, got ${r.txnWorkers}`);
  if (!(Number.isSafeInteger(r.txnAccounts) && r.txnAccounts >= 4 && r.txnAccounts <= 1000)) bad(`txnAccounts must be an integer from 4 to 1000, got ${r.txnAccounts}`);
  positiveInt('keys', r.keys);
  if (r.keys > 10_000) bad(`keys must be at most 10000, got ${r.keys}`);
  positiveInt('valueBytesMin', r.valueBytesMin);
  if (r.valueBytesMax < r.valueBytesMin) bad(`valueBytesMax (${r.valueBytesMax}) is below valueBytesMin (${r.valueBytesMin})`);
  positiveInt('regionSplitSizeBytes', r.regionSplitSizeBytes);
  positiveInt('heartbeatMs', r.heartbeatMs);
  if (r.raftTickMs !== undefined) positiveInt('raftTickMs', r.raftTickMs);
  positiveInt('killIntervalMs', r.killIntervalMs);
  positiveInt('downMsMin', r.downMsMin);
  if (r.downMsMax < r.downMsMin) bad(`downMsMax (${r.downMsMax}) is below downMsMin (${r.downMsMin})`);
  positiveInt('schedulerKillOneIn', r.schedulerKillOneIn);
  if (r.maxStoreDownTimeMs !== undefined) positiveInt('maxStoreDownTimeMs', r.maxStoreDownTimeMs);
  if (!(Number.isSafeInteger(r.operatorIntervalMs) && r.operatorIntervalMs >= 0)) bad(`operatorIntervalMs must be a non-negative integer, got ${r.operatorIntervalMs}`);
  positiveInt('opDeadlineMs', r.opDeadlineMs);
  positiveInt('opsMax', r.opsMax);
  if (r.opsMax > 190_000) bad(`opsMax must be at most 190000 (the history holds 200000 with the final reads), got ${r.opsMax}`);
  positiveInt('settleTimeoutMs', r.settleTimeoutMs);
  positiveInt('checkerTimeoutOps', r.checkerTimeoutOps);
  return r;
}

/**
 * Parses a duration: `10m`, `600s`, `1500ms`, `1h`, or a bare number of
 * seconds. @throws {ChaosOptionError} on anything else
 */
export function parseDurationMs(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (m === null || m[1] === undefined) bad(`a duration looks like 10m, 600s or 1500ms, got "${text}"`);
  const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's'] ?? 1000;
  const ms = Math.round(Number(m[1]) * unitMs);
  if (!(Number.isSafeInteger(ms) && ms > 0)) bad(`a duration must be positive, got "${text}"`);
  return ms;
}

function positiveInt(name: string, v: number): void {
  if (!(Number.isSafeInteger(v) && v > 0)) bad(`${name} must be a positive integer, got ${v}`);
}

function bad(message: string): never {
  throw new ChaosOptionError(CHAOS_ERROR_CODES.BadOption, `Cannot run chaos: ${message}`);
}
