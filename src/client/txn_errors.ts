/**
 * Typed errors of the transactional client (`txn_client.ts`): what a
 * Percolator transaction's caller must tell apart. `retryable` says whether
 * running the whole transaction again, with a new start timestamp, can
 * succeed; the transaction itself is finished either way.
 *
 * Failures of the call rather than of the transaction (DEADLINE_EXCEEDED,
 * CLIENT_CLOSED) stay {@link ClientError}s from `errors.ts`; they pass
 * through unchanged, except while the primary commit is in flight, where
 * any failure means COMMIT_OUTCOME_UNKNOWN.
 */
import { CodedError } from '../util/errors.js';

export const TXN_ERROR_CODES = {
  /**
   * Prewrite met a write committed at or after our start timestamp (or the
   * store asked for a restart): nothing was committed and our locks were
   * rolled back. Retryable: run the transaction again with a new txn.
   */
  WriteConflict: 'WRITE_CONFLICT',
  /**
   * Our primary was rolled back before our commit reached it (its lock TTL
   * expired and a reader rolled it back): nothing was committed, and the
   * transaction never can be. Retryable.
   */
  TxnAborted: 'TXN_ABORTED',
  /**
   * The primary commit was sent and no answer came before the deadline: the
   * transaction may or may not be committed, at {@link TxnError.commitTs}.
   * Reading one of its keys later tells which (readers settle its locks).
   */
  CommitOutcomeUnknown: 'COMMIT_OUTCOME_UNKNOWN',
  /** The store refused a request for good (KeyError.abort, e.g. bad input). Not retryable. */
  KeyError: 'KEY_ERROR',
} as const;
export type TxnErrorCode = (typeof TXN_ERROR_CODES)[keyof typeof TXN_ERROR_CODES];

export interface TxnErrorOptions {
  readonly cause?: unknown;
  /** The commit timestamp, for COMMIT_OUTCOME_UNKNOWN. */
  readonly commitTs?: bigint;
}

export class TxnError extends CodedError<TxnErrorCode> {
  override readonly name = 'TxnError';
  /** Set for COMMIT_OUTCOME_UNKNOWN: the timestamp the transaction commits at, if it commits. */
  readonly commitTs: bigint | undefined;

  constructor(code: TxnErrorCode, message: string, options: TxnErrorOptions = {}) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.commitTs = options.commitTs;
  }

  /** Whether running the transaction again (a new txn, a new start timestamp) can succeed. */
  get retryable(): boolean {
    return this.code === TXN_ERROR_CODES.WriteConflict || this.code === TXN_ERROR_CODES.TxnAborted;
  }
}
