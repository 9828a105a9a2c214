/**
 * What travels over the simulated network between the stores of a cluster
 * and their clients: raft messages (RaftMessage, as between TiKV stores),
 * snapshot chunks (a snapshot goes as a stream of bounded chunks), and
 * client commands (RaftCmdRequest) with their responses. A command may ask
 * the store to scan the read view a Snap returns (the view itself cannot
 * travel), as TinyKV's harness scans `cb.Txn` after a Snap.
 */
import { RaftMessage, SnapshotChunk } from '../../pb/raft_serverpb.js';
import type { RaftCmdRequest, RaftCmdResponse } from '../../pb/raft_cmdpb.js';
import { MessageType } from '../../raft/types.js';
import { assertNever } from '../../util/assert.js';
import type { Envelope } from '../network.js';

/** Scan bounds applied to a Snap's read view by the store before answering. */
export interface ScanBounds {
  readonly start: Buffer;
  /** Exclusive; empty = unbounded. */
  readonly end: Buffer;
}

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
    };

export type ClusterEnvelope = Envelope<ClusterPayload>;

/** A deep copy (the network duplicates server messages; receivers may keep what they get). */
export function clonePayload(p: ClusterPayload): ClusterPayload {
  switch (p.kind) {
    case 'raft':
      return { kind: 'raft', message: RaftMessage.decode(RaftMessage.encode(p.message).finish()) };
    case 'snapChunk':
      return { ...p, chunk: SnapshotChunk.decode(SnapshotChunk.encode(p.chunk).finish()) };
    default:
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
      return 'request';
    case 'cmdResp':
      return 'response';
    default:
      return assertNever(p, 'unknown payload');
  }
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
    default:
      return assertNever(p, 'unknown payload');
  }
}
