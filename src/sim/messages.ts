/**
 * What travels over the simulated network: raft messages between nodes, and
 * client requests and responses. Client traffic carries the history's types
 * (string keys and values) so that what a client records is exactly what it
 * sent and received.
 */
import { assertNever } from '../util/assert.js';
import { cloneMessage, MessageType } from '../raft/types.js';
import type { Message } from '../raft/types.js';
import type { KvInput, KvOutput } from './history.js';
import type { Envelope } from './network.js';

/** The single raft group of the first consumer. */
export const REGION_ID = 1;

export interface KvRequest {
  readonly clientId: number;
  /** The operation's id in the history. */
  readonly opId: number;
  /** 1 for the first try; retries (after a definite refusal) count up. */
  readonly attempt: number;
  readonly input: KvInput;
}

/**
 * How a node answered:
 * - `ok`: done (writes applied, reads served at a linearizable point);
 * - `notLeader`: refused before proposal; `leaderHint` is 0 when unknown;
 * - `refused`: definitely not done (not proposed, or a read given up);
 * - `unknown`: proposed but not seen applied in time: may or may not happen.
 */
export type KvResult =
  | { readonly kind: 'ok'; readonly output: KvOutput }
  | { readonly kind: 'notLeader'; readonly leaderHint: number }
  | { readonly kind: 'refused'; readonly reason: string }
  | { readonly kind: 'unknown'; readonly reason: string };

export interface KvResponse {
  readonly clientId: number;
  readonly opId: number;
  readonly attempt: number;
  readonly result: KvResult;
}

export type SimPayload =
  | { readonly kind: 'raft'; readonly message: Message }
  | { readonly kind: 'request'; readonly request: KvRequest }
  | { readonly kind: 'response'; readonly response: KvResponse };

export type SimEnvelope = Envelope<SimPayload>;

export function clonePayload(p: SimPayload): SimPayload {
  return p.kind === 'raft' ? { kind: 'raft', message: cloneMessage(p.message) } : p;
}

/** The type name filters match on. */
export function payloadType(p: SimPayload): string {
  switch (p.kind) {
    case 'raft':
      return MessageType[p.message.msgType] ?? `Msg${p.message.msgType}`;
    case 'request':
      return 'request';
    case 'response':
      return 'response';
    default:
      return assertNever(p, 'unknown payload');
  }
}

/** A 32-bit summary for the hashed trace: what distinguishes one message from another. */
export function fingerprintPayload(p: SimPayload): number {
  switch (p.kind) {
    case 'raft': {
      const m = p.message;
      const snap = m.snapshot?.metadata?.index ?? 0;
      return (Math.imul(m.term, 0x9e3779b1) ^ Math.imul(m.index, 0x85ebca6b) ^ Math.imul(m.commit + 1, 0xc2b2ae35) ^
        Math.imul(m.logTerm + m.entries.length * 65_536 + (m.reject ? 1 << 30 : 0), 0x27d4eb2f) ^ snap) >>> 0;
    }
    case 'request':
      return (p.request.opId * 16 + p.request.attempt) >>> 0;
    case 'response':
      return (p.response.opId * 16 + p.response.attempt + p.response.result.kind.length * 2 ** 24) >>> 0;
    default:
      return assertNever(p, 'unknown payload');
  }
}

/** One-line rendering for the trace: `1->2 MsgAppend t3 i10/2 c9 n1`. */
export function describeEnvelope(e: SimEnvelope): string {
  const p = e.payload;
  switch (p.kind) {
    case 'raft': {
      const m = p.message;
      const snap = m.snapshot?.metadata === undefined ? '' : ` snap${m.snapshot.metadata.index}`;
      return `${e.from}->${e.to} ${e.type} t${m.term} i${m.index}/${m.logTerm} c${m.commit} n${m.entries.length}${m.reject ? ' rej' : ''}${snap}`;
    }
    case 'request':
      return `${e.from}->${e.to} req op${p.request.opId}.${p.request.attempt} ${p.request.input.kind}`;
    case 'response':
      return `${e.from}->${e.to} resp op${p.response.opId}.${p.response.attempt} ${p.response.result.kind}`;
    default:
      return assertNever(p, 'unknown payload');
  }
}
