/**
 * ReadIndex bookkeeping (raft thesis §6.4, etcd's readOnly). A read request
 * records the commit index when it arrives; in Safe mode the leader then
 * confirms it is still leader with a heartbeat round carrying the request's
 * context, and the read may be served once a quorum has answered and the
 * state machine has applied up to the recorded index. LeaseBased mode skips
 * the round and relies on check-quorum's lease, so it is only allowed with
 * check-quorum on.
 */
import type { Message } from './types.js';

export enum ReadOnlyOption {
  Safe = 0,
  LeaseBased = 1,
}

/** A read that may be served once `index` is applied. */
export interface ReadState {
  readonly index: number;
  readonly requestCtx: Buffer;
}

interface ReadIndexStatus {
  readonly req: Message;
  readonly index: number;
  /** Voters that acknowledged the heartbeat round of this request. */
  readonly acks: Set<number>;
}

const key = (ctx: Buffer): string => ctx.toString('latin1');

export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  /** Contexts in arrival order (reads are released in this order). */
  private queue: string[] = [];

  constructor(readonly option: ReadOnlyOption) {}

  /** Records a read request with the commit index at its arrival. */
  addRequest(index: number, m: Message): void {
    const ctx = requestCtx(m);
    const k = key(ctx);
    if (this.pending.has(k)) return;
    this.pending.set(k, { req: m, index, acks: new Set() });
    this.queue.push(k);
  }

  /** Records a heartbeat acknowledgement; returns the acks for that context. */
  recvAck(id: number, context: Buffer): ReadonlySet<number> | undefined {
    const rs = this.pending.get(key(context));
    if (rs === undefined) return undefined;
    rs.acks.add(id);
    return rs.acks;
  }

  /**
   * Dequeues the request with `context` and every request queued before it:
   * a quorum acknowledging a later round also confirms leadership for earlier
   * ones.
   */
  advance(context: Buffer): { req: Message; index: number }[] {
    const k = key(context);
    const i = this.queue.indexOf(k);
    if (i < 0) return [];
    const done = this.queue.slice(0, i + 1);
    this.queue = this.queue.slice(i + 1);
    const out: { req: Message; index: number }[] = [];
    for (const d of done) {
      const rs = this.pending.get(d);
      this.pending.delete(d);
      if (rs !== undefined) out.push({ req: rs.req, index: rs.index });
    }
    return out;
  }

  /** The context of the newest pending request, to attach to heartbeats. */
  lastPendingRequestCtx(): Buffer | undefined {
    const last = this.queue[this.queue.length - 1];
    if (last === undefined) return undefined;
    return requestCtx(this.pending.get(last)!.req);
  }

  pendingCount(): number {
    return this.queue.length;
  }

  /** Drops all pending reads (on stepping down; their callers must retry). */
  reset(): void {
    this.pending.clear();
    this.queue = [];
  }
}

/** The request context travels in entries[0].data of MsgReadIndex. */
export function requestCtx(m: Message): Buffer {
  return m.entries[0]?.data ?? Buffer.alloc(0);
}
