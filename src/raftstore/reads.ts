/**
 * ReadIndex reads of a peer (raft thesis §6.4; docs/RAFTSTORE.md has the
 * linearizability argument): each read gets a context (leadership term, read
 * id) that raft echoes in a ReadState once a quorum confirmed the leadership;
 * the read is served once the peer applied the read index, from one
 * consistent read view.
 */
import type { Region } from '../pb/metapb.js';
import { CmdType } from '../pb/raft_cmdpb.js';
import type { RaftCmdRequest, RaftCmdResponse, Response } from '../pb/raft_cmdpb.js';
import type { ReadState } from '../raft/read_only.js';
import type { ReadView, ViewableReader } from '../storage/engine.js';
import { cfOf } from './cmd_check.js';
import { cloneRegion, okHeader, requestResponse } from './responses.js';

/** A consistent read view of a region's data with the region it was taken for (HARD-CASES P2). */
export interface RegionView {
  /** An immutable copy: later epoch changes do not alter it. */
  readonly region: Region;
  /** Close it when done. */
  readonly view: ReadView;
}

export interface PendingRead<R> {
  readonly replyTo: R;
  readonly request: RaftCmdRequest;
  /** The leadership term the read was asked in (raft forgets its reads when the term changes). */
  readonly term: number;
  /** Set when the ReadState arrives: serve once applied >= index. */
  index: number | undefined;
}

/** A ReadIndex context: the term (u48 LE) and a batch id (u32 LE), unique for the leadership. */
const readCtxBytes = 10;

/** The ReadIndex request a new read joins. */
export interface ReadBatch {
  readonly id: number;
  readonly ctx: Buffer;
  /** No request of this batch went to raft yet: the caller asks raft (`readIndex(ctx)`) before {@link ReadQueue.add}. */
  readonly fresh: boolean;
}

/**
 * Reads arriving between two rounds share one ReadIndex request (one
 * heartbeat round to a quorum instead of one per read; TiKV batches reads
 * the same way). Sharing is linearizable: a batch closes when its peer's
 * next round starts, and a write can only be acknowledged at the end of a
 * round, so no write acknowledged before a read arrived can be missing from
 * the commit index the batch's first read fixed.
 */
export class ReadQueue<R> {
  /** Reads by read id (arrival order). */
  private readonly reads = new Map<number, PendingRead<R>>();
  /** The reads of each ReadIndex request not yet confirmed, by batch id. */
  private readonly batches = new Map<number, { readonly term: number; readonly reads: PendingRead<R>[] }>();
  /** The batch new reads join, until the next round closes it. */
  private open: { readonly id: number; readonly ctx: Buffer; readonly term: number } | undefined;
  private nextReadId = 1;
  private nextBatchId = 1;

  get size(): number {
    return this.reads.size;
  }

  /** The batch a read asked at `term` joins: the open one, or a fresh one. */
  batchFor(term: number): ReadBatch {
    const open = this.open;
    if (open !== undefined && open.term === term) return { id: open.id, ctx: open.ctx, fresh: false };
    const id = this.nextBatchId++ >>> 0;
    const ctx = Buffer.allocUnsafe(readCtxBytes);
    ctx.writeUIntLE(term, 0, 6);
    ctx.writeUInt32LE(id, 6);
    return { id, ctx, fresh: true };
  }

  /** Adds a read to `batch` (a fresh batch only once raft accepted its ReadIndex request; it opens). */
  add(batch: ReadBatch, read: PendingRead<R>): void {
    this.reads.set(this.nextReadId++, read);
    let members = this.batches.get(batch.id);
    if (members === undefined) {
      members = { term: read.term, reads: [] };
      this.batches.set(batch.id, members);
    }
    members.reads.push(read);
    if (batch.fresh) this.open = { id: batch.id, ctx: batch.ctx, term: read.term };
  }

  /** The peer's round starts: its Ready carries the open batch's request, later reads need a new one. */
  closeBatch(): void {
    this.open = undefined;
  }

  /** Records the read indexes raft confirmed (a context of another leadership matches nothing). */
  confirm(readStates: readonly ReadState[]): void {
    for (const rs of readStates) {
      const ctx = rs.requestCtx;
      if (ctx.length !== readCtxBytes) continue;
      const id = ctx.readUInt32LE(6);
      const batch = this.batches.get(id);
      if (batch === undefined || ctx.readUIntLE(0, 6) !== batch.term) continue;
      this.batches.delete(id);
      if (this.open?.id === id) this.open = undefined;
      for (const read of batch.reads) read.index = rs.index;
    }
  }

  /** Removes and returns the confirmed reads whose index is applied, in read-id order. */
  takeServable(applied: number): PendingRead<R>[] {
    return this.take((r) => r.index !== undefined && r.index <= applied);
  }

  /**
   * Removes and returns the unconfirmed reads of any leadership but
   * `liveTerm` (-1: none is live). A confirmed read stays valid after the
   * leadership ends: it is placed at its quorum confirmation.
   */
  takeUnconfirmed(liveTerm: number): PendingRead<R>[] {
    return this.take((r) => r.index === undefined && r.term !== liveTerm);
  }

  takeAll(): PendingRead<R>[] {
    return this.take(() => true);
  }

  private take(pred: (r: PendingRead<R>) => boolean): PendingRead<R>[] {
    if (this.reads.size === 0) return [];
    // Unconfirmed reads taken out are forgotten by raft too: their batches (and the open one) go with them.
    for (const [id, batch] of this.batches) {
      if (!batch.reads.some(pred)) continue;
      this.batches.delete(id);
      if (this.open?.id === id) this.open = undefined;
    }
    const out: [number, PendingRead<R>][] = [];
    for (const entry of this.reads) if (pred(entry[1])) out.push(entry);
    if (out.length > 1) out.sort((a, b) => a[0] - b[0]);
    for (const [id] of out) this.reads.delete(id);
    return out.map(([, r]) => r);
  }
}

/**
 * Serves a read command from one read view: Gets read from it; a Snap
 * returns it (with a copy of the region), and the receiver closes it.
 */
export function executeRead(engine: ViewableReader, region: Region, request: RaftCmdRequest, term: number): [RaftCmdResponse, RegionView | undefined] {
  const view = engine.readView();
  const responses: Response[] = [];
  let wantsView = false;
  for (const r of request.requests) {
    if (r.cmdType === CmdType.Get && r.get !== undefined) {
      const value = view.get(cfOf(r.get.cf), r.get.key);
      responses.push(requestResponse(CmdType.Get, { get: { value: value === undefined ? Buffer.alloc(0) : Buffer.from(value) } }));
    } else {
      wantsView = true;
      responses.push(requestResponse(CmdType.Snap, { snap: { region: cloneRegion(region) } }));
    }
  }
  const resp: RaftCmdResponse = { header: okHeader(term), responses, adminResponse: undefined };
  if (!wantsView) {
    view.close();
    return [resp, undefined];
  }
  return [resp, { region: cloneRegion(region), view }];
}
