/**
 * Records every client operation of a run into a {@link KvOperation}
 * history: ids are assigned at invocation (so ids follow invocation order),
 * completion fills in status and output. Operations still open when the run
 * ends are closed as `indeterminate` (the client never learned the outcome).
 */
import { assert } from '../util/assert.js';
import type { KvInput, KvOperation, KvOutput, OpStatus } from './history.js';
import { historyOperationsMax } from './limits.js';

interface OpenOperation {
  readonly id: number;
  readonly clientId: number;
  readonly input: KvInput;
  readonly invokeTime: number;
}

export class HistoryRecorder {
  private readonly nowMs: () => number;
  private nextId = 0;
  private readonly open = new Map<number, OpenOperation>();
  private readonly done: KvOperation[] = [];
  private closed = false;

  constructor(nowMs: () => number) {
    this.nowMs = nowMs;
  }

  get size(): number {
    return this.nextId;
  }

  get openCount(): number {
    return this.open.size;
  }

  /** Records an invocation; returns the operation id. */
  begin(clientId: number, input: KvInput): number {
    assert(!this.closed, 'history: begin after finish');
    if (!(this.nextId < historyOperationsMax)) assert(false, `history: more than ${historyOperationsMax} operations`);
    const id = this.nextId++;
    this.open.set(id, { id, clientId, input, invokeTime: this.nowMs() });
    return id;
  }

  /**
   * A scan that turned out to read only part of its range (it stopped at a
   * region boundary; the rest is another operation) is recorded with the
   * range it read: [start, end), `end` within the asked range.
   */
  narrowScan(id: number, end: string): void {
    const op = this.open.get(id);
    if (op === undefined) assert(false, `history: operation ${id} is not open`);
    const input = op.input;
    if (input.kind !== 'scan') assert(false, `history: narrowing a ${input.kind}`);
    if (!(end > input.start && (input.end === undefined || end <= input.end))) assert(false, `history: narrowing scan [${input.start}, ${input.end ?? ''}) to end ${end}`);
    this.open.set(id, { ...op, input: { ...input, end } });
  }

  /** Records the completion of an open operation. `output` is required exactly when status is `ok`. */
  complete(id: number, status: OpStatus, output?: KvOutput): KvOperation {
    const op = this.open.get(id);
    if (op === undefined) assert(false, `history: operation ${id} is not open`);
    if (!((status === 'ok') === (output !== undefined))) assert(false, `history: operation ${id} ${status} with${output === undefined ? 'out' : ''} output`);
    if (output !== undefined && !(output.kind === op.input.kind)) assert(false, `history: ${op.input.kind} completed with a ${output.kind} output`);
    this.open.delete(id);
    const completeTime = this.nowMs();
    // Two literal shapes rather than a spread: histories hold every operation of a run.
    const completed: KvOperation =
      output === undefined
        ? { id: op.id, clientId: op.clientId, input: op.input, status, invokeTime: op.invokeTime, completeTime }
        : { id: op.id, clientId: op.clientId, input: op.input, output, status, invokeTime: op.invokeTime, completeTime };
    this.done.push(completed);
    return completed;
  }

  /** Closes every open operation as indeterminate and returns the history sorted by id. */
  finish(): readonly KvOperation[] {
    if (!this.closed) {
      for (const id of [...this.open.keys()].sort((a, b) => a - b)) this.complete(id, 'indeterminate');
      this.closed = true;
      this.done.sort((a, b) => a.id - b.id);
    }
    assert(this.done.length === this.nextId, 'history: operations lost');
    return this.done;
  }
}
