/**
 * A peer's writes from acceptance to answer: queued until the next round
 * proposes them as one batch, then tracked by the (index, term) their entry
 * landed at until an applied entry or a snapshot settles them. Every
 * proposal gets exactly one answer (docs/RAFTSTORE.md says which are
 * definite and why).
 */
import type { Error as RegionError } from '../pb/errorpb.js';
import type { RaftCmdResponse } from '../pb/raft_cmdpb.js';
import { assert } from '../util/assert.js';
import { mark } from '../util/marks.js';
import { errorResponse, outcomeUnknown, staleCommand } from './region_errors.js';

/** A write accepted by the peer, to be proposed with the others of its round. */
export interface QueuedProposal<R> {
  readonly data: Buffer;
  /** Undefined for the peer's own proposals (CompactLog). */
  readonly replyTo: R | undefined;
  /** The peer's own CompactLog (its refusal re-arms the GC tick). */
  readonly compactLog: boolean;
  /** `data` is an encoded ConfChange (proposed as a conf change entry). */
  readonly confChange?: boolean;
}

interface Proposal<R> {
  readonly index: number;
  readonly term: number;
  readonly replyTo: R | undefined;
}

/** An answer for the shell to deliver. */
export interface Answer<R> {
  readonly replyTo: R;
  readonly response: RaftCmdResponse;
}

export class Proposals<R> {
  private readonly regionId: number;
  private queued: QueuedProposal<R>[] = [];
  /** Proposed, in index order. */
  private proposed: Proposal<R>[] = [];

  constructor(regionId: number) {
    this.regionId = regionId;
  }

  /** Queued and proposed, not yet answered. */
  get count(): number {
    return this.queued.length + this.proposed.length;
  }

  hasQueuedConfChange(): boolean {
    return this.queued.some((q) => q.confChange === true);
  }

  enqueue(q: QueuedProposal<R>): void {
    this.queued.push(q);
  }

  /** The queued writes, removed: the caller proposes or refuses them. */
  takeQueued(): QueuedProposal<R>[] {
    const out = this.queued;
    this.queued = [];
    return out;
  }

  /** `queued` were appended at first, first + 1, ... in `term`. */
  track(first: number, term: number, queued: readonly QueuedProposal<R>[]): void {
    for (let i = 0; i < queued.length; i++) this.proposed.push({ index: first + i, term, replyTo: (queued[i] as QueuedProposal<R>).replyTo });
  }

  /**
   * Settles the proposals an applied entry (index, term) decides: its own
   * (same index and term: Log Matching says it is the same entry) gets
   * `response`; proposals at the same index of another term were
   * overwritten; proposals of an older term at later indexes can never
   * commit (every entry after one of term t in a log has a term >= t, and
   * every later leader holds this committed entry). Both get StaleCommand.
   */
  settleApplied(index: number, term: number, response: RaftCmdResponse | undefined, currentTerm: number, out: Answer<R>[]): void {
    if (this.proposed.length === 0) return;
    const keep: Proposal<R>[] = [];
    for (const p of this.proposed) {
      if (p.index === index && p.term === term) {
        answer(out, p.replyTo, response ?? errorResponse(staleCommand('empty entry'), currentTerm));
      } else if (p.index < index) {
        // Skipped without being applied: only a snapshot does that, and it settles them first.
        assert(false, `region ${this.regionId}: proposal ${p.index}/${p.term} left behind by apply of ${index}`);
      } else if (p.index === index || p.term < term) {
        mark('raftstore: proposal superseded, stale command');
        answer(out, p.replyTo, errorResponse(staleCommand(`entry ${p.index}/${p.term} superseded by ${index}/${term}`), currentTerm));
      } else {
        keep.push(p);
      }
    }
    if (keep.length !== this.proposed.length) this.proposed = keep;
  }

  /**
   * Settles what a snapshot at (index, term) decides: a covered proposal may
   * or may not have applied (only the log could tell): OutcomeUnknown; a
   * later one of an older term can never commit: StaleCommand.
   */
  settleSnapshot(index: number, term: number, currentTerm: number, out: Answer<R>[]): void {
    const keep: Proposal<R>[] = [];
    for (const p of this.proposed) {
      if (p.index <= index) answer(out, p.replyTo, errorResponse(outcomeUnknown(`entry ${p.index} covered by snapshot ${index}`), currentTerm));
      else if (p.term < term) answer(out, p.replyTo, errorResponse(staleCommand(`entry ${p.index}/${p.term} superseded by snapshot ${index}/${term}`), currentTerm));
      else keep.push(p);
    }
    this.proposed = keep;
  }

  /** Answers everything with `error` (the peer is going away). */
  abandon(error: RegionError, currentTerm: number, out: Answer<R>[]): void {
    for (const q of this.takeQueued()) answer(out, q.replyTo, errorResponse(error, currentTerm));
    for (const p of this.proposed) answer(out, p.replyTo, errorResponse(error, currentTerm));
    this.proposed = [];
  }
}

function answer<R>(out: Answer<R>[], replyTo: R | undefined, response: RaftCmdResponse): void {
  if (replyTo !== undefined) out.push({ replyTo, response });
}
