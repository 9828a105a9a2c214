/** The public surface of the `tinykv-ts` package. */
export { RawClient } from './client/raw_client.js';
export type { RawClientOptions, CfOption } from './client/raw_client.js';
export { ClientError, CLIENT_ERROR_CODES, SchedulerError, SCHEDULER_ERROR_CODES } from './client/errors.js';
export type { ClientErrorCode, SchedulerErrorCode } from './client/errors.js';
export { PdClient } from './client/scheduler_client.js';
export type { PdClientOptions } from './client/scheduler_client.js';
export * as limits from './config/limits.js';
export { startStandalone } from './server/standalone.js';
export type { StandaloneOptions, RunningStandalone } from './server/standalone.js';
export type { Engine, ReadView, KvEntry, ScanOptions, CfName } from './storage/engine.js';
export { LmdbEngine } from './storage/lmdb_engine.js';
export { MemEngine } from './storage/mem_engine.js';
export { WriteBatch } from './storage/write_batch.js';
