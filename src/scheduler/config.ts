/**
 * Scheduling options (TinyKV `ScheduleConfig` / mockoption). Units last in
 * names (STYLE §15). {@link makeScheduleConfig} fills defaults and validates;
 * a config object is immutable, so replacing it is the only way to change it.
 */
import { SchedulerError } from './errors.js';

export interface ScheduleConfig {
  /** Desired peers per region. @default 3 */
  readonly maxReplicas: number;
  /**
   * A store silent this long is down: balance-region and the replica checker
   * stop using it, and the replica checker replaces its peers.
   * @default 1_800_000 (30 min, TinyKV MaxStoreDownTime)
   */
  readonly maxStoreDownTimeMs: number;
  /**
   * A store silent this long is not given new peers or leaders (PD's
   * disconnect filter); it is not yet down. @default 20_000
   */
  readonly storeDisconnectTimeMs: number;
  /** How often the coordinator runs balance-region. @default 1_000 */
  readonly balanceRegionIntervalMs: number;
  /** How often the coordinator runs balance-leader. @default 1_000 */
  readonly balanceLeaderIntervalMs: number;
  /** How often the coordinator patrols regions with the replica checker. @default 100 */
  readonly patrolRegionIntervalMs: number;
  /** Regions checked per patrol. @default 128 */
  readonly patrolRegionBatch: number;
  /** An unfinished operator older than this is cancelled (status TIMEOUT). @default 600_000 */
  readonly operatorTimeoutMs: number;
  /** Max unfinished operators touching one store (all kinds except admin). @default 4 */
  readonly storeOperatorLimit: number;
  /** Max unfinished balance-region operators. @default 4 */
  readonly regionScheduleLimit: number;
  /** Max unfinished balance-leader operators. @default 4 */
  readonly leaderScheduleLimit: number;
  /** Max unfinished replica-checker operators. @default 16 */
  readonly replicaScheduleLimit: number;
  /**
   * balance-leader moves a leader only when the source store has more than
   * this many leaders above the target. @default 2
   */
  readonly leaderBalanceTolerance: number;
  /** Run balance-region. @default true */
  readonly balanceRegionEnabled: boolean;
  /** Run balance-leader. @default true */
  readonly balanceLeaderEnabled: boolean;
  /** Run the replica checker. @default true */
  readonly replicaCheckerEnabled: boolean;
}

export const DEFAULT_SCHEDULE_CONFIG: ScheduleConfig = Object.freeze({
  maxReplicas: 3,
  maxStoreDownTimeMs: 30 * 60 * 1000,
  storeDisconnectTimeMs: 20_000,
  balanceRegionIntervalMs: 1_000,
  balanceLeaderIntervalMs: 1_000,
  patrolRegionIntervalMs: 100,
  patrolRegionBatch: 128,
  operatorTimeoutMs: 10 * 60 * 1000,
  storeOperatorLimit: 4,
  regionScheduleLimit: 4,
  leaderScheduleLimit: 4,
  replicaScheduleLimit: 16,
  leaderBalanceTolerance: 2,
  balanceRegionEnabled: true,
  balanceLeaderEnabled: true,
  replicaCheckerEnabled: true,
});

const POSITIVE: readonly (keyof ScheduleConfig)[] = [
  'maxReplicas', 'maxStoreDownTimeMs', 'storeDisconnectTimeMs', 'balanceRegionIntervalMs', 'balanceLeaderIntervalMs',
  'patrolRegionIntervalMs', 'patrolRegionBatch', 'operatorTimeoutMs', 'storeOperatorLimit', 'regionScheduleLimit',
  'leaderScheduleLimit', 'replicaScheduleLimit',
];

/**
 * Defaults overlaid with `overrides`, validated.
 * @throws {SchedulerError} INVALID_ARGUMENT when a number is not a positive
 *   safe integer (leaderBalanceTolerance: non-negative), or maxReplicas > 9.
 */
export function makeScheduleConfig(overrides: Partial<ScheduleConfig> = {}, base: ScheduleConfig = DEFAULT_SCHEDULE_CONFIG): ScheduleConfig {
  const c: ScheduleConfig = { ...base, ...overrides };
  for (const k of POSITIVE) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) invalid(`${k} must be a positive integer, got ${String(v)}`);
  }
  if (!Number.isSafeInteger(c.leaderBalanceTolerance) || c.leaderBalanceTolerance < 0) {
    invalid(`leaderBalanceTolerance must be a non-negative integer, got ${c.leaderBalanceTolerance}`);
  }
  // Raft groups beyond 9 voters are not something this teaching system supports.
  if (c.maxReplicas > 9) invalid(`maxReplicas must be at most 9, got ${c.maxReplicas}`);
  if (c.storeDisconnectTimeMs > c.maxStoreDownTimeMs) {
    invalid(`storeDisconnectTimeMs (${c.storeDisconnectTimeMs}) must not exceed maxStoreDownTimeMs (${c.maxStoreDownTimeMs})`);
  }
  return Object.freeze(c);
}

function invalid(message: string): never {
  throw new SchedulerError('INVALID_ARGUMENT', `Invalid schedule config: ${message}`);
}
