/**
 * A simulated client: issues one operation at a time to the node it believes
 * leads, over the simulated network, with timeouts and bounded retries, and
 * records each operation in the history.
 *
 * Retry rules keep the recorded status truthful:
 * - a definite refusal (`notLeader`, `refused`) means the attempt was not
 *   proposed: the client retries elsewhere (with the hint when given), and
 *   after `retryAttemptsMax` refusals records `fail`;
 * - silence (timeout) or `unknown` on a write means it may still happen: the
 *   write is recorded `indeterminate` and never retried, so one operation is
 *   applied at most once;
 * - reads have no effect, so a read retries after a timeout too, within its
 *   deadline, and is recorded `indeterminate` when it runs out of time.
 */
import { assert } from '../util/assert.js';
import { WORLD } from './clock.js';
import type { EventHandle, SimClock } from './clock.js';
import type { KvInput, KvOperation, KvOutput, OpStatus } from './history.js';
import { retryAttemptsMax } from './limits.js';
import type { KvResponse, SimEnvelope } from './messages.js';
import { pick } from './prng.js';
import type { Prng } from './prng.js';
import type { HistoryRecorder } from './recorder.js';
import type { Trace } from './trace.js';

export interface ClientConfig {
  /** A write waits this long for its answer; a read may retry until then. */
  readonly opTimeoutMs: number;
  /** A read gives one node this long before trying again. */
  readonly readAttemptTimeoutMs: number;
  /** Pause before retrying after a refusal without a leader hint, times the attempts so far. */
  readonly retryBackoffMs: number;
  /** Attempts per operation, at most {@link retryAttemptsMax}. */
  readonly attemptsMax: number;
  /** Send reads to a random node instead of the leader (to expose follower reads). */
  readonly readsAtRandomNode: boolean;
}

export interface ClientDeps {
  /** The client's id in the history and its network id's offset. */
  readonly clientId: number;
  /** Network address (distinct from every node id). */
  readonly endpoint: number;
  readonly nodeIds: readonly number[];
  readonly clock: SimClock;
  readonly prng: Prng;
  readonly trace: Trace;
  readonly history: HistoryRecorder;
  readonly send: (envelope: SimEnvelope) => void;
}

interface InFlightOp {
  readonly opId: number;
  readonly input: KvInput;
  readonly deadlineMs: number;
  readonly onDone: (op: KvOperation) => void;
  attempt: number;
  target: number;
  timeout: EventHandle | undefined;
}

export class SimClient {
  readonly clientId: number;
  private readonly deps: ClientDeps;
  private readonly config: ClientConfig;
  private current: InFlightOp | undefined;
  /** The node that last answered ok, or whose id a refusal hinted. */
  private leaderGuess: number | undefined;

  constructor(deps: ClientDeps, config: ClientConfig) {
    assert(config.attemptsMax >= 1 && config.attemptsMax <= retryAttemptsMax, `client: attemptsMax ${config.attemptsMax} out of range`);
    assert(config.readAttemptTimeoutMs <= config.opTimeoutMs, 'client: read attempt timeout exceeds the operation timeout');
    assert(!deps.nodeIds.includes(deps.endpoint), 'client: endpoint collides with a node id');
    this.clientId = deps.clientId;
    this.deps = deps;
    this.config = config;
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  /** Starts an operation; `onDone` runs when it is recorded. One at a time. */
  invoke(input: KvInput, onDone: (op: KvOperation) => void): void {
    if (this.current !== undefined) assert(false, `client ${this.clientId}: operation already in flight`);
    const opId = this.deps.history.begin(this.clientId, input);
    const isRead = input.kind === 'get' || input.kind === 'scan';
    const target = isRead && this.config.readsAtRandomNode ? pick(this.deps.prng, this.deps.nodeIds) : this.chooseTarget();
    if (this.deps.trace.enabled) this.deps.trace.record(`c${this.clientId} invoke op${opId} ${JSON.stringify(input)}`);
    this.current = { opId, input, deadlineMs: this.deps.clock.nowMs + this.config.opTimeoutMs, onDone, attempt: 1, target, timeout: undefined };
    this.sendAttempt(this.current);
  }

  receive(envelope: SimEnvelope): void {
    if (!(envelope.payload.kind === 'response')) assert(false, `client ${this.clientId}: unexpected ${envelope.payload.kind}`);
    const response: KvResponse = envelope.payload.response;
    const op = this.current;
    // Answers to earlier operations or attempts are stale: that outcome is already recorded.
    if (op === undefined || response.opId !== op.opId || response.attempt !== op.attempt) return;
    if (op.timeout !== undefined) this.deps.clock.cancel(op.timeout);
    op.timeout = undefined;
    const result = response.result;
    switch (result.kind) {
      case 'ok':
        this.leaderGuess = envelope.from;
        return this.finish(op, 'ok', result.output);
      case 'notLeader':
        this.leaderGuess = result.leaderHint === 0 ? undefined : result.leaderHint;
        return this.retryOrFail(op);
      case 'refused':
        return this.retryOrFail(op);
      case 'unknown':
        if (isWrite(op.input)) return this.finish(op, 'indeterminate');
        return this.retryOrFail(op);
    }
  }

  private chooseTarget(): number {
    return this.leaderGuess ?? pick(this.deps.prng, this.deps.nodeIds);
  }

  private sendAttempt(op: InFlightOp): void {
    const request = { clientId: this.clientId, opId: op.opId, attempt: op.attempt, input: op.input };
    this.deps.send({ from: this.deps.endpoint, to: op.target, type: 'request', regionId: 0, payload: { kind: 'request', request } });
    const now = this.deps.clock.nowMs;
    const waitMs = isWrite(op.input) ? op.deadlineMs - now : Math.min(this.config.readAttemptTimeoutMs, op.deadlineMs - now);
    op.timeout = this.deps.clock.schedule(Math.max(1, waitMs), WORLD, 'client timeout', () => this.onTimeout(op));
  }

  private onTimeout(op: InFlightOp): void {
    assert(this.current === op, 'client: timeout of a finished operation');
    op.timeout = undefined;
    // The target may be down or cut off: forget it as the leader.
    if (this.leaderGuess === op.target) this.leaderGuess = undefined;
    if (isWrite(op.input) || this.deps.clock.nowMs >= op.deadlineMs || op.attempt >= this.config.attemptsMax) {
      return this.finish(op, 'indeterminate');
    }
    op.attempt++;
    op.target = this.otherNode(op.target);
    this.sendAttempt(op);
  }

  /** After a definite refusal: try again (hinted leader, else another node after a pause), or give up. */
  private retryOrFail(op: InFlightOp): void {
    if (op.attempt >= this.config.attemptsMax || this.deps.clock.nowMs >= op.deadlineMs) return this.finish(op, 'fail');
    op.attempt++;
    const hinted = this.leaderGuess !== undefined && this.leaderGuess !== op.target;
    op.target = hinted ? (this.leaderGuess as number) : this.otherNode(op.target);
    // Without a hint there may be no leader yet (an election takes a while): back off
    // longer after each refusal, so the attempts span an election rather than a burst.
    const delay = hinted ? 0 : this.config.retryBackoffMs * (op.attempt - 1);
    op.timeout = this.deps.clock.schedule(delay, WORLD, 'client retry', () => {
      op.timeout = undefined;
      this.sendAttempt(op);
    });
  }

  private otherNode(current: number): number {
    const others = this.deps.nodeIds.filter((id) => id !== current);
    return others.length === 0 ? current : pick(this.deps.prng, others);
  }

  private finish(op: InFlightOp, status: OpStatus, output?: KvOutput): void {
    assert(this.current === op, 'client: finishing an operation that is not current');
    if (op.timeout !== undefined) this.deps.clock.cancel(op.timeout);
    this.current = undefined;
    const recorded = this.deps.history.complete(op.opId, status, output);
    if (this.deps.trace.enabled) this.deps.trace.record(`c${this.clientId} op${op.opId} ${status} ${output === undefined ? '' : JSON.stringify(output)}`);
    op.onDone(recorded);
  }
}

function isWrite(input: KvInput): boolean {
  return input.kind === 'put' || input.kind === 'delete';
}
