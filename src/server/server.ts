/**
 * TinyKV's `Server` (kv/server/server.go): the handlers of service
 * `tinykvpb.TinyKv`, independent of gRPC so tests can call them directly.
 * Raw commands are served now; transactional commands, the coprocessor and
 * store-to-store streams arrive with later issues and answer
 * {@link UnimplementedError} until then.
 */
import type {
  RawDeleteRequest,
  RawDeleteResponse,
  RawGetRequest,
  RawGetResponse,
  RawPutRequest,
  RawPutResponse,
  RawScanRequest,
  RawScanResponse,
} from '../pb/kvrpcpb.js';
import type { Storage } from '../storage/storage.js';
import { rawDelete, rawGet, rawPut, rawScan } from './raw_api.js';

/** A method of the protocol that this build does not serve yet. */
export class UnimplementedError extends Error {
  override readonly name = 'UnimplementedError';
}

export class Server {
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
}

/** What each not-yet-served method says when called. */
export const UNIMPLEMENTED_METHODS = {
  kvGet: 'KvGet is not implemented: transactional (Percolator) commands are not served by this build',
  kvScan: 'KvScan is not implemented: transactional (Percolator) commands are not served by this build',
  kvPrewrite: 'KvPrewrite is not implemented: transactional (Percolator) commands are not served by this build',
  kvCommit: 'KvCommit is not implemented: transactional (Percolator) commands are not served by this build',
  kvCheckTxnStatus: 'KvCheckTxnStatus is not implemented: transactional (Percolator) commands are not served by this build',
  kvBatchRollback: 'KvBatchRollback is not implemented: transactional (Percolator) commands are not served by this build',
  kvResolveLock: 'KvResolveLock is not implemented: transactional (Percolator) commands are not served by this build',
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
