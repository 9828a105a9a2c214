/**
 * TinyKV's `Server` (kv/server/server.go): the handlers of service
 * `tinykvpb.TinyKv`, independent of gRPC so tests can call them directly.
 * Raw commands and the TinyKV 4B/4C transactional commands (KvGet,
 * KvPrewrite, KvCommit, KvScan, KvCheckTxnStatus, KvBatchRollback,
 * KvResolveLock) are served; the coprocessor answers
 * {@link UnimplementedError}.
 *
 * Bad input to a transactional command is answered without touching storage
 * in a KeyError whose `abort` starts with `InvalidArgument:` (their responses
 * have no string `error` field; `abort` tells the client not to retry). KvScan
 * carries it in a single pair with an empty key (its per-key errors live in
 * the pairs). KvCheckTxnStatus has no field for it at all: it throws an
 * {@link InvalidArgumentError}, which the gRPC edge answers INVALID_ARGUMENT.
 */
import type {
  BatchRollbackRequest,
  BatchRollbackResponse,
  CheckTxnStatusRequest,
  CheckTxnStatusResponse,
  CommitRequest,
  CommitResponse,
  GetRequest,
  GetResponse,
  KeyError,
  PrewriteRequest,
  PrewriteResponse,
  RawDeleteRequest,
  RawDeleteResponse,
  RawGetRequest,
  RawGetResponse,
  RawPutRequest,
  RawPutResponse,
  RawScanRequest,
  RawScanResponse,
  ResolveLockRequest,
  ResolveLockResponse,
  ScanRequest,
  ScanResponse,
} from '../pb/kvrpcpb.js';
import type { Storage } from '../storage/storage.js';
import { kvBatchRollback } from '../txn/commands/batch_rollback.js';
import { kvCheckTxnStatus } from '../txn/commands/check_txn_status.js';
import { kvCommit } from '../txn/commands/commit.js';
import { kvGet } from '../txn/commands/get.js';
import { kvPrewrite } from '../txn/commands/prewrite.js';
import { kvResolveLock } from '../txn/commands/resolve_lock.js';
import { kvScan } from '../txn/commands/scan.js';
import { Latches } from '../txn/latches.js';
import { rawDelete, rawGet, rawPut, rawScan } from './raw_api.js';
import {
  checkCommitTs,
  checkKey,
  checkKvScanLimit,
  checkLockTtl,
  checkStartKey,
  checkTs,
  checkValue,
  InvalidArgumentError,
} from './validate.js';

/** A method of the protocol that this build does not serve yet. */
export class UnimplementedError extends Error {
  override readonly name = 'UnimplementedError';
}

/** The KeyError answering bad input (see the module comment). */
function invalidInput(message: string): KeyError {
  return { locked: undefined, retryable: '', abort: message, conflict: undefined };
}

export class Server {
  /** Serialises the transactional commands per key (TinyKV Server.Latches). */
  readonly latches = new Latches();

  constructor(readonly storage: Storage) {}

  rawGet(req: RawGetRequest): Promise<RawGetResponse> {
    return rawGet(this.storage, req);
  }

  rawPut(req: RawPutRequest): Promise<RawPutResponse> {
    return rawPut(this.storage, req);
  }

  rawDelete(req: RawDeleteRequest): Promise<RawDeleteResponse> {
    return rawDelete(this.storage, req);
  }

  rawScan(req: RawScanRequest): Promise<RawScanResponse> {
    return rawScan(this.storage, req);
  }

  async kvGet(req: GetRequest): Promise<GetResponse> {
    const error = checkKey(req.key) ?? checkTs(req.version, 'version');
    if (error !== undefined) return { regionError: undefined, error: invalidInput(error), value: Buffer.alloc(0), notFound: false };
    return kvGet(this.storage, req);
  }

  async kvPrewrite(req: PrewriteRequest): Promise<PrewriteResponse> {
    const error = checkPrewrite(req);
    if (error !== undefined) return { regionError: undefined, errors: [invalidInput(error)] };
    return kvPrewrite(this.storage, this.latches, req);
  }

  async kvCommit(req: CommitRequest): Promise<CommitResponse> {
    const error = checkCommit(req);
    if (error !== undefined) return { regionError: undefined, error: invalidInput(error) };
    return kvCommit(this.storage, this.latches, req);
  }

  async kvScan(req: ScanRequest): Promise<ScanResponse> {
    const error = checkStartKey(req.startKey) ?? checkTs(req.version, 'version') ?? checkKvScanLimit(req.limit);
    if (error !== undefined) {
      return { regionError: undefined, pairs: [{ error: invalidInput(error), key: Buffer.alloc(0), value: Buffer.alloc(0) }] };
    }
    return kvScan(this.storage, req);
  }

  /** @throws {InvalidArgumentError} on bad input: the response has no field to answer it in. */
  async kvCheckTxnStatus(req: CheckTxnStatusRequest): Promise<CheckTxnStatusResponse> {
    const error = checkKey(req.primaryKey, 'primary key') ?? checkTs(req.lockTs, 'lock ts') ?? checkTs(req.currentTs, 'current ts');
    if (error !== undefined) throw new InvalidArgumentError(error);
    return kvCheckTxnStatus(this.storage, this.latches, req);
  }

  async kvBatchRollback(req: BatchRollbackRequest): Promise<BatchRollbackResponse> {
    const error = checkTs(req.startVersion, 'start version') ?? checkKeys(req.keys);
    if (error !== undefined) return { regionError: undefined, error: invalidInput(error) };
    return kvBatchRollback(this.storage, this.latches, req);
  }

  async kvResolveLock(req: ResolveLockRequest): Promise<ResolveLockResponse> {
    const error = checkResolveLock(req);
    if (error !== undefined) return { regionError: undefined, error: invalidInput(error) };
    return kvResolveLock(this.storage, this.latches, req);
  }
}

function checkKeys(keys: readonly Uint8Array[]): string | undefined {
  for (const key of keys) {
    const bad = checkKey(key);
    if (bad !== undefined) return bad;
  }
  return undefined;
}

function checkPrewrite(req: PrewriteRequest): string | undefined {
  const error = checkTs(req.startVersion, 'start version') ?? checkLockTtl(req.lockTtl);
  if (error !== undefined) return error;
  for (const m of req.mutations) {
    const bad = checkKey(m.key) ?? checkValue(m.value);
    if (bad !== undefined) return bad;
  }
  // The primary is only stored in locks, so an empty request needs none.
  return req.mutations.length === 0 ? undefined : checkKey(req.primaryLock, 'primary lock');
}

function checkCommit(req: CommitRequest): string | undefined {
  const error = checkTs(req.startVersion, 'start version') ?? checkTs(req.commitVersion, 'commit version');
  return error ?? checkKeys(req.keys) ?? checkCommitTs(req.startVersion, req.commitVersion);
}

/** Commit version 0 means "roll back"; any other must follow the start version as in KvCommit. */
function checkResolveLock(req: ResolveLockRequest): string | undefined {
  const error = checkTs(req.startVersion, 'start version') ?? checkTs(req.commitVersion, 'commit version');
  if (error !== undefined || req.commitVersion === 0n) return error;
  return checkCommitTs(req.startVersion, req.commitVersion);
}

/** What each not-yet-served method says when called. */
export const UNIMPLEMENTED_METHODS = {
  coprocessor: 'Coprocessor is not implemented: no coprocessor is served by this build',
} as const;

/**
 * What the store-to-store streams say on a server that runs no store taking
 * raft messages from other stores (the standalone server, a single-store raft
 * server): the gRPC server serves them only when it is given a raft sink.
 */
export const STORE_STREAM_UNIMPLEMENTED_METHODS = {
  raft: 'Raft is not implemented by this server: it runs no store that takes raft messages from other stores',
  snapshot: 'Snapshot is not implemented by this server: it runs no store that takes raft messages from other stores',
} as const;
