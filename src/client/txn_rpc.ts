/**
 * `TxnRpc`: what a {@link TxnClient} needs from the cluster, and nothing
 * more, so the one transactional client (two-phase commit, lock resolution,
 * backoff) runs unchanged over the real cluster (gRPC stores, the scheduler's
 * TSO and region table: `txn_rpc_grpc.ts`) and inside the deterministic
 * simulator (simulated network, virtual clock: `src/sim/cluster/sim_txn_rpc.ts`).
 *
 * Division of labour. An implementation owns routing *within* a region: it
 * fills in the request's context (region id, epoch, leader peer), finds the
 * leader (NotLeader hints, silence, StaleCommand, ServerIsBusy: retried with
 * bounded backoff until the deadline). It does not own batching: when the
 * region a request was built for no longer exists as such (EpochNotMatch,
 * RegionNotFound, KeyNotInRegion), it updates its region cache and answers
 * {@link REGION_CHANGED}; the client then regroups the request's keys by the
 * regions it now knows and sends new requests. That keeps one request = one
 * region, which is what the stores' commands require (a command's keys are
 * read and written through one region's raft group).
 *
 * Retrying a transactional request after a lost answer is sound (unlike a raw
 * put, see region_router.ts): Percolator's commands are idempotent by
 * construction. A prewrite retried after its first attempt applied finds its
 * own lock and rewrites it; after the txn was rolled back it finds the
 * rollback record and answers a conflict. A commit, rollback or resolve
 * retried finds its own record and changes nothing. An abandoned attempt's
 * raft entry applies before a later attempt's or never (docs/RAFTSTORE.md).
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
  PrewriteRequest,
  PrewriteResponse,
  ResolveLockRequest,
  ResolveLockResponse,
  ScanRequest,
  ScanResponse,
} from '../pb/kvrpcpb.js';
import type { RegionEpoch } from '../pb/metapb.js';

/** The transactional methods of `tinykvpb.TinyKv`, by request and response type. */
export interface TxnMethods {
  readonly KvGet: { readonly req: GetRequest; readonly res: GetResponse };
  readonly KvScan: { readonly req: ScanRequest; readonly res: ScanResponse };
  readonly KvPrewrite: { readonly req: PrewriteRequest; readonly res: PrewriteResponse };
  readonly KvCommit: { readonly req: CommitRequest; readonly res: CommitResponse };
  readonly KvCheckTxnStatus: { readonly req: CheckTxnStatusRequest; readonly res: CheckTxnStatusResponse };
  readonly KvBatchRollback: { readonly req: BatchRollbackRequest; readonly res: BatchRollbackResponse };
  readonly KvResolveLock: { readonly req: ResolveLockRequest; readonly res: ResolveLockResponse };
}

export type TxnMethod = keyof TxnMethods;
export type TxnRequest<M extends TxnMethod> = TxnMethods[M]['req'];
export type TxnResponse<M extends TxnMethod> = TxnMethods[M]['res'];

/** A region as the client's cache knew it when it built a request for it. */
export interface RegionRef {
  readonly id: number;
  readonly epoch: RegionEpoch;
  /** Inclusive. */
  readonly startKey: Uint8Array;
  /** Exclusive; empty = the end of the key space. */
  readonly endKey: Uint8Array;
}

/** The region a request was built for changed (split, moved, gone): regroup its keys and resend. */
export const REGION_CHANGED: unique symbol = Symbol('REGION_CHANGED');
export type RegionChanged = typeof REGION_CHANGED;

export interface TxnRpc {
  /**
   * A timestamp from the scheduler's TSO: greater than every timestamp handed
   * out before this call began.
   * @throws {ClientError} DEADLINE_EXCEEDED or CLOSED.
   */
  tso(deadlineMs: number): Promise<bigint>;

  /** Now, in ms, on the clock deadlines are measured on (virtual in the simulator). */
  nowMs(): number;

  /** Resolves after `ms` on that clock, or at once when the rpc layer is closed. */
  sleep(ms: number): Promise<void>;

  /**
   * The region holding `key`: from the cache, else from the scheduler.
   * @throws {ClientError} DEADLINE_EXCEEDED or CLOSED.
   */
  locate(key: Uint8Array, deadlineMs: number): Promise<RegionRef>;

  /**
   * Sends `request` (its `context` is filled in here) to the leader of
   * `region`, retrying within the region until `deadlineMs`.
   * @returns the store's response (KeyErrors inside it are the caller's), or
   * REGION_CHANGED when the region no longer matches (the cache was updated).
   * @throws {ClientError} DEADLINE_EXCEEDED or CLOSED.
   */
  call<M extends TxnMethod>(method: M, region: RegionRef, request: TxnRequest<M>, deadlineMs: number): Promise<TxnResponse<M> | RegionChanged>;

  /** Stops every call in flight (they reject with CLOSED) and frees connections. */
  close(): void;
}
