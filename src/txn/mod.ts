/**
 * The public surface of the MVCC layer (TinyKV kv/transaction/mvcc): key
 * encodings, Lock and Write records, MvccTxn and the Scanner; the latches and
 * the transactional commands (TinyKV 4B and 4C).
 */
export {
  decodeBytes,
  decodeKey,
  decodeTimestamp,
  decodeUserKey,
  encodeBytes,
  encodeKey,
  physical,
  PHYSICAL_SHIFT_BITS,
  TS_BYTES,
  U64_MAX,
} from './codec.js';
export type { DecodedBytes } from './codec.js';
export { MVCC_ERROR_CODES, MvccError } from './errors.js';
export type { MvccErrorCode } from './errors.js';
export { encodeLock, LOCK_TAIL_BYTES, parseLock } from './lock.js';
export type { Lock } from './lock.js';
export { MvccTxn } from './mvcc_txn.js';
export type { CommittedWrite } from './mvcc_txn.js';
export { encodeWrite, isWriteKind, parseWrite, WRITE_BYTES, WriteKind, writeKindName } from './write.js';
export type { Write } from './write.js';
export { Latches, sortedUniqueKeys } from './latches.js';
export type { LatchValidation, ReleaseLatches } from './latches.js';
export { kvCommit } from './commands/commit.js';
export { kvGet } from './commands/get.js';
export { kvPrewrite } from './commands/prewrite.js';
export { Scanner } from './scanner.js';
export type { ScanEntry, ScannerOptions } from './scanner.js';
export { kvBatchRollback } from './commands/batch_rollback.js';
export { kvCheckTxnStatus } from './commands/check_txn_status.js';
export { kvResolveLock, resolveLockBatchKeysMax } from './commands/resolve_lock.js';
export { kvScan } from './commands/scan.js';
