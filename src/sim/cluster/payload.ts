/**
 * What travels over the simulated network between the stores of a cluster
 * and their clients: raft messages (RaftMessage, as between TiKV stores),
 * snapshot chunks (a snapshot goes as a stream of bounded chunks), and
 * client commands (RaftCmdRequest) with their responses. A command may ask
 * the store to scan the read view a Snap returns (the view itself cannot
 * travel), as TinyKV's harness scans `cb.Txn` after a Snap.
 */
import {
  BatchRollbackRequest, BatchRollbackResponse, CheckTxnStatusRequest, CheckTxnStatusResponse, CommitRequest, CommitResponse,
  GetRequest, GetResponse, PrewriteRequest, PrewriteResponse, ResolveLockRequest, ResolveLockResponse, ScanRequest, ScanResponse,
} from '../../pb/kvrpcpb.js';
import { RaftMessage, SnapshotChunk } from '../../pb/raft_serverpb.js';
import type { RaftCmdRequest, RaftCmdResponse } from '../../pb/raft_cmdpb.js';
import type { TxnMethod, TxnRequest, TxnResponse } from '../../client/txn_rpc.js';
import { MessageType } from '../../raft/types.js';
import { assertNever } from '../../util/assert.js';
import type { Envelope } from '../network.js';

/** Scan bounds applied to a Snap's read view by the store before answering. */
export interface ScanBounds {
  readonly start: Buffer;
  /** Exclusive; empty = unbounded. */
  readonly end: Buffer;
}

/** One transactional request, its method and request type correlated. */
export type TxnCall = { [M in TxnMethod]: { readonly method: M; readonly request: TxnRequest<M> } }[TxnMethod];

/** A store's answer to a {@link TxnCall}: the method's response. */
export type TxnAnswer = { [M in TxnMethod]: { readonly method: M; readonly response: TxnResponse<M> } }[TxnMethod];

export type ClusterPayload =
  | { readonly kind: 'raft'; readonly message: RaftMessage }
  | {
      readonly kind: 'snapChunk';
      /** Identifies the stream at the receiver, with the sender's store id. */
      readonly streamId: number;
      readonly chunk: SnapshotChunk;
      readonly last: boolean;
    }
  | { readonly kind: 'cmd'; readonly reqId: number; readonly request: RaftCmdRequest; readonly scan?: ScanBounds }
  | {
      readonly kind: 'cmdResp';
      readonly reqId: number;
      readonly response: RaftCmdResponse;
      /**
       * The scanned entries (default CF) when the command asked for a scan,
       * as latin1 strings: what the history records (one byte per char).
       */
      readonly entries?: readonly (readonly [string, string])[];
    }
  /** A transactional request from a `SimTxnRpc`; `request.context` routes it (region id, epoch, leader peer). */
  | ({ readonly kind: 'txn'; readonly reqId: number } & TxnCall)
  | ({ readonly kind: 'txnResp'; readonly reqId: number } & TxnAnswer);

export type ClusterEnvelope = Envelope<ClusterPayload>;

/** A deep copy (the network duplicates server messages; receivers may keep what they get). */
export function clonePayload(p: ClusterPayload): ClusterPayload {
  switch (p.kind) {
    case 'raft':
      return { kind: 'raft', message: RaftMessage.decode(RaftMessage.encode(p.message).finish()) };
    case 'snapChunk':
      return { ...p, chunk: SnapshotChunk.decode(SnapshotChunk.encode(p.chunk).finish()) };
    default:
      // Client traffic (cmd, txn and their answers): client links never duplicate.
      return p;
  }
}

export function messageTypeName(p: ClusterPayload): string {
  switch (p.kind) {
    case 'raft':
      return MessageType[p.message.message?.msgType ?? 0] ?? 'raft';
    case 'snapChunk':
      return 'MsgSnapshot';
    case 'cmd':
    case 'txn':
      return 'request';
    case 'cmdResp':
    case 'txnResp':
      return 'response';
    default:
      return assertNever(p, 'unknown payload');
  }
}

/** A message's encoder (the kvrpcpb codecs' `encode`), for fingerprints. */
interface Encoder<T> {
  encode(message: T): { finish(): Uint8Array };
}

const TXN_CODECS: { readonly [M in TxnMethod]: { readonly req: Encoder<TxnRequest<M>>; readonly res: Encoder<TxnResponse<M>> } } = {
  KvGet: { req: GetRequest, res: GetResponse },
  KvScan: { req: ScanRequest, res: ScanResponse },
  KvPrewrite: { req: PrewriteRequest, res: PrewriteResponse },
  KvCommit: { req: CommitRequest, res: CommitResponse },
  KvCheckTxnStatus: { req: CheckTxnStatusRequest, res: CheckTxnStatusResponse },
  KvBatchRollback: { req: BatchRollbackRequest, res: BatchRollbackResponse },
  KvResolveLock: { req: ResolveLockRequest, res: ResolveLockResponse },
};

function encodeRequest<M extends TxnMethod>(method: M, request: TxnRequest<M>): Uint8Array {
  return TXN_CODECS[method].req.encode(request).finish();
}

function encodeResponse<M extends TxnMethod>(method: M, response: TxnResponse<M>): Uint8Array {
  return TXN_CODECS[method].res.encode(response).finish();
}

/**
 * FNV-1a of the wire bytes mixed with the request id: the protobuf encoding
 * is a pure function of the message (fields in number order, no maps), so
 * the fingerprint is the same in every run of a seed.
 */
function fingerprintBytes(reqId: number, bytes: Uint8Array): number {
  let h = 0x811c9dc5 ^ Math.imul(reqId, 0x85ebca6b);
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193);
  return h >>> 0;
}

export function fingerprintPayload(p: ClusterPayload): number {
  switch (p.kind) {
    case 'raft': {
      const m = p.message.message;
      if (m === undefined) return p.message.regionId;
      return (Math.imul(m.term, 0x9e3779b1) ^ Math.imul(m.index, 0x85ebca6b) ^ Math.imul(m.commit + 1, 0xc2b2ae35) ^
        Math.imul(m.logTerm + m.entries.length * 65_536 + (m.reject ? 1 << 30 : 0), 0x27d4eb2f) ^ p.message.regionId) >>> 0;
    }
    case 'snapChunk':
      return (Math.imul(p.streamId, 0x9e3779b1) ^ p.chunk.data.length ^ (p.last ? 1 << 30 : 0)) >>> 0;
    case 'cmd':
      return Math.imul(p.reqId, 0x85ebca6b) >>> 0;
    case 'cmdResp':
      return (Math.imul(p.reqId, 0x85ebca6b) ^ (p.response.header?.error === undefined ? 0 : 1 << 29)) >>> 0;
    case 'txn':
      return fingerprintBytes(p.reqId, encodeRequest(p.method, p.request));
    case 'txnResp':
      return fingerprintBytes(p.reqId, encodeResponse(p.method, p.response));
    default:
      return assertNever(p, 'unknown payload');
  }
}

export function describeEnvelope(e: ClusterEnvelope): string {
  const p = e.payload;
  switch (p.kind) {
    case 'raft': {
      const m = p.message.message;
      if (m === undefined) return `${e.from}->${e.to} r${p.message.regionId} empty`;
      return `${e.from}->${e.to} r${p.message.regionId} ${e.type} ${m.from}->${m.to} t${m.term} i${m.index}/${m.logTerm} c${m.commit} n${m.entries.length}${m.reject ? ' rej' : ''}`;
    }
    case 'snapChunk':
      return `${e.from}->${e.to} snap stream ${p.streamId} ${p.chunk.data.length}B${p.last ? ' last' : ''}`;
    case 'cmd':
      return `${e.from}->${e.to} cmd #${p.reqId} r${p.request.header?.regionId ?? 0}`;
    case 'cmdResp':
      return `${e.from}->${e.to} resp #${p.reqId} ${p.response.header?.error?.message ?? 'ok'}`;
    case 'txn':
      return `${e.from}->${e.to} ${p.method} #${p.reqId} r${p.request.context?.regionId ?? 0}`;
    case 'txnResp':
      return `${e.from}->${e.to} ${p.method} resp #${p.reqId} ${p.response.regionError?.message ?? 'ok'}`;
    default:
      return assertNever(p, 'unknown payload');
  }
}
