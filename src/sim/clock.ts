/**
 * Virtual time and the event queue of the simulator. Every timer, message
 * delivery and disk completion is an event at a virtual time in
 * milliseconds. The queue is a binary heap ordered by (time, sequence): the
 * sequence number is the order of scheduling, so events at the same time run
 * in the order they were scheduled and a seed replays identically.
 *
 * Events have an owner (a node id, or {@link WORLD} for the network, faults
 * and clients). A node's crash cancels all its pending events at once in
 * O(1) by bumping the owner's epoch; stale events are skipped when popped.
 */
import { assert } from '../util/assert.js';
import { eventsQueuedMax } from './limits.js';

/** Owner of events that belong to no node (network, fault injector, clients). */
export const WORLD = 0;

export interface EventHandle {
  readonly timeMs: number;
  readonly seq: number;
  readonly owner: number;
  readonly label: string;
}

interface QueuedEvent extends EventHandle {
  readonly epoch: number;
  readonly run: () => void;
  cancelled: boolean;
}

export class SimClock {
  /** Current virtual time. Invariant: never decreases. */
  private nowMsValue = 0;
  private nextSeq = 0;
  private readonly heap: QueuedEvent[] = [];
  /** Current epoch per owner; events of older epochs are cancelled. */
  private readonly epochs = new Map<number, number>();
  /** Live (not cancelled) events per owner. */
  private readonly liveByOwner = new Map<number, number>();
  private liveCount = 0;
  private executedCount = 0;

  get nowMs(): number {
    return this.nowMsValue;
  }

  /** Events scheduled and neither run nor cancelled. */
  get pendingCount(): number {
    return this.liveCount;
  }

  /** Events run so far. */
  get executed(): number {
    return this.executedCount;
  }

  /** Pending events of one owner. */
  pendingOf(owner: number): number {
    return this.liveByOwner.get(owner) ?? 0;
  }

  /** Schedules `run` after `delayMs` (>= 0) of virtual time. */
  schedule(delayMs: number, owner: number, label: string, run: () => void): EventHandle {
    if (!(Number.isSafeInteger(delayMs) && delayMs >= 0)) assert(false, `schedule: bad delay ${delayMs}`);
    return this.scheduleAt(this.nowMsValue + delayMs, owner, label, run);
  }

  /** Schedules `run` at virtual time `timeMs` (not in the past). */
  scheduleAt(timeMs: number, owner: number, label: string, run: () => void): EventHandle {
    if (!Number.isSafeInteger(timeMs)) assert(false, `scheduleAt: bad time ${timeMs}`);
    if (!(timeMs >= this.nowMsValue)) assert(false, `scheduleAt: time ${timeMs} is in the past (now ${this.nowMsValue})`);
    if (!(this.heap.length < eventsQueuedMax)) assert(false, `event queue is full (${eventsQueuedMax} events)`);
    const event: QueuedEvent = {
      timeMs,
      seq: this.nextSeq++,
      owner,
      label,
      epoch: this.epochs.get(owner) ?? 0,
      run,
      cancelled: false,
    };
    this.push(event);
    this.liveCount++;
    this.liveByOwner.set(owner, (this.liveByOwner.get(owner) ?? 0) + 1);
    return event;
  }

  /** Cancels one event; cancelling a run or already cancelled event does nothing. */
  cancel(handle: EventHandle): void {
    const event = handle as QueuedEvent;
    if (event.cancelled || !this.isCurrent(event)) return;
    event.cancelled = true;
    this.forget(event.owner, 1);
  }

  /** Cancels every pending event of `owner` (a crash). Returns how many were cancelled. */
  cancelOwner(owner: number): number {
    assert(owner !== WORLD, 'cancelOwner: the world owns events that must never be cancelled in bulk');
    const cancelled = this.liveByOwner.get(owner) ?? 0;
    this.epochs.set(owner, (this.epochs.get(owner) ?? 0) + 1);
    this.forget(owner, cancelled);
    assert(this.pendingOf(owner) === 0, 'cancelOwner: events left');
    return cancelled;
  }

  /** Time of the next live event, or undefined when none is queued. */
  peekTimeMs(): number | undefined {
    this.dropDead();
    return this.heap[0]?.timeMs;
  }

  /** Runs the next live event, advancing time to it. Returns false when the queue is empty. */
  runNext(): boolean {
    this.dropDead();
    const event = this.pop();
    if (event === undefined) return false;
    assert(event.timeMs >= this.nowMsValue, 'clock: time went backwards');
    this.nowMsValue = event.timeMs;
    this.forget(event.owner, 1);
    event.cancelled = true; // run at most once
    this.executedCount++;
    event.run();
    return true;
  }

  /**
   * Runs every event due at or before `timeMs`, then sets the time to
   * `timeMs`. At most `eventsMax` events run (a guard against a livelock that
   * keeps scheduling at the same instant); returns the number run.
   */
  runUntil(timeMs: number, eventsMax: number): number {
    assert(timeMs >= this.nowMsValue, `runUntil: ${timeMs} is in the past (now ${this.nowMsValue})`);
    let count = 0;
    for (;;) {
      const next = this.peekTimeMs();
      if (next === undefined || next > timeMs) break;
      if (!(count < eventsMax)) assert(false, `runUntil: more than ${eventsMax} events before ${timeMs} ms`);
      this.runNext();
      count++;
    }
    this.nowMsValue = timeMs;
    return count;
  }

  private isCurrent(event: QueuedEvent): boolean {
    return event.epoch === (this.epochs.get(event.owner) ?? 0);
  }

  private forget(owner: number, count: number): void {
    if (count === 0) return;
    const live = (this.liveByOwner.get(owner) ?? 0) - count;
    if (!(live >= 0)) assert(false, `clock: negative live count for owner ${owner}`);
    this.liveByOwner.set(owner, live);
    this.liveCount -= count;
    assert(this.liveCount >= 0, 'clock: negative live count');
  }

  /** Pops cancelled and stale events off the top so the top is live. */
  private dropDead(): void {
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || (!top.cancelled && this.isCurrent(top))) return;
      this.pop();
    }
  }

  private push(event: QueuedEvent): void {
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as QueuedEvent;
      if (!before(event, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = event;
  }

  private pop(): QueuedEvent | undefined {
    const heap = this.heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    const n = heap.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      let child = left;
      if (right < n && before(heap[right] as QueuedEvent, heap[left] as QueuedEvent)) child = right;
      const c = heap[child] as QueuedEvent;
      if (!before(c, last)) break;
      heap[i] = c;
      i = child;
    }
    heap[i] = last;
    return top;
  }
}

/** The total order of events: by time, then by scheduling order. */
function before(a: EventHandle, b: EventHandle): boolean {
  return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.seq < b.seq);
}
