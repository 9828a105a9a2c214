/**
 * The scheduler core (TinyKV Project 3C, PD's logic): pure, deterministic
 * modules the gRPC service wraps. Start with {@link openScheduler}.
 */
export { BalanceLeaderScheduler } from './balance_leader.js';
export { BalanceRegionScheduler } from './balance_region.js';
export { RaftCluster } from './cluster.js';
export type { RaftClusterOptions, SplitIds } from './cluster.js';
export { DEFAULT_SCHEDULE_CONFIG, makeScheduleConfig } from './config.js';
export type { ScheduleConfig } from './config.js';
export { Coordinator } from './coordinator.js';
export type { CoordinatorOptions, TickReport } from './coordinator.js';
export { SCHEDULER_ERROR_TYPES, SchedulerError, toErrorType, toPbError } from './errors.js';
export type { SchedulerErrorCode } from './errors.js';
export { IdAllocator } from './id_allocator.js';
export type { IdAllocatorOptions } from './id_allocator.js';
export { openScheduler } from './open.js';
export type { OpenSchedulerOptions, SchedulerCore } from './open.js';
export { Operator, describeStep, isStepFinished, stepResponse, toPbOperatorStatus } from './operator.js';
export type { OpStep, OperatorInit, OperatorKind, OperatorStatus } from './operator.js';
export { OperatorController } from './operator_controller.js';
export type { AddOperatorResult, OperatorControllerOptions, OperatorDispatch, OperatorRecord } from './operator_controller.js';
export { createMovePeerOperator, pickLeaderTarget, removePeerSteps } from './operator_builder.js';
export { canTakeLoad, isQuorumSafe, isStoreLost, isSuitableStore, majority } from './placement.js';
export { newRegionInfo, regionInfoFromHeartbeat, withRegion } from './region_info.js';
export type { RegionInfo } from './region_info.js';
export { RegionsInfo } from './regions_info.js';
export type { RegionFilter } from './regions_info.js';
export { ReplicaChecker } from './replica_checker.js';
export type { ScheduleCluster } from './schedule_cluster.js';
export { MemorySchedulerStorage } from './storage.js';
export type { ClusterMeta, LoadedSchedulerState, SchedulerStorage } from './storage.js';
export { StoreInfo, StoresInfo } from './stores_info.js';
export { LOGICAL_BITS, MAX_LOGICAL, Tso, composeTs, splitTs } from './tso.js';
export type { TsoOptions } from './tso.js';
