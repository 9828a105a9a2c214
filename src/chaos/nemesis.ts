/**
 * The chaos test's nemesis: rounds of "pause, SIGKILL one target (a store or
 * the scheduler; with 5+ stores sometimes two stores), keep it down, restart
 * it on the same data dir and port".
 *
 * Every random value of a round (pause, targets, down times) is drawn from
 * the nemesis's own PRNG stream before the round's first await, and rounds
 * run one after another, so the schedule of a seed is the same in every run;
 * only where it lands relative to the clients depends on real time.
 *
 * Never more than a minority of the stores is down at once (with 3 stores,
 * one): a majority of every region's peers must stay able to serve, or the
 * test would only measure unavailability. The scheduler is one process, so
 * killing it makes the cluster run without a scheduler for a while, which
 * clients and stores must ride out.
 *
 * A child that exits without being killed here is a crash of the system
 * under test: the nemesis restarts it at the start of the next round and the
 * run records it (`unexpectedExit`).
 */
import type { ChildNode } from '../cli/processes.js';
import type { Playground } from '../cli/playground.js';
import type { Prng } from '../util/prng.js';
import { sleep } from './workload.js';
import { pause } from '../client/backoff.js';

export type NemesisTarget = { readonly kind: 'scheduler' } | { readonly kind: 'store'; readonly index: number };

/** One kill, for the report and the logs. */
export interface KillEvent {
  /** Ms since the run started. */
  readonly atMs: number;
  readonly target: string;
  readonly downMs: number;
}

export interface NemesisOptions {
  readonly playground: Playground;
  readonly rng: Prng;
  readonly stores: number;
  readonly killIntervalMs: number;
  readonly downMsMin: number;
  readonly downMsMax: number;
  readonly schedulerKillOneIn: number;
  readonly maxStoreDownTimeMs: number | undefined;
  /** Ms since the run started. */
  readonly nowMs: () => number;
  readonly log: (line: string) => void;
}

/** Attempts to restart a killed child before giving up on it for this round. */
const RESTART_ATTEMPTS_MAX = 3;
const RESTART_RETRY_PAUSE_MS = 1_000;

export class Nemesis {
  readonly kills: KillEvent[] = [];
  /** Restarts that failed (message each); the run fails if any. */
  readonly restartFailures: string[] = [];
  /** Children restarted because they had exited on their own. */
  readonly revived: string[] = [];
  private readonly expectedExits = new Set<string>();
  private readonly abort = new AbortController();
  private stopped = false;

  constructor(private readonly o: NemesisOptions) {}

  /** Whether the exit of `name` was this nemesis's kill (consumes the expectation). */
  consumeExpectedExit(name: string): boolean {
    return this.expectedExits.delete(name);
  }

  /** Ends the pause in progress; the round in progress (if any) finishes its restart. */
  stop(): void {
    this.stopped = true;
    this.abort.abort();
  }

  /** Rounds until {@link stop}. */
  async run(): Promise<void> {
    const o = this.o;
    const lo = Math.max(1, Math.ceil(o.killIntervalMs / 2));
    const hi = Math.max(lo, Math.floor((3 * o.killIntervalMs) / 2));
    while (!this.stopped) {
      const pauseMs = o.rng.intInclusive(lo, hi);
      const round = this.drawRound();
      await this.pause(pauseMs);
      if (this.stopped) break;
      await this.reviveExited();
      await Promise.all(round.map((r) => this.crashAndRestart(r.target, r.downMs)));
    }
  }

  /** Restarts every child that is not running (the end of the run calls this too). */
  async reviveExited(): Promise<void> {
    const pg = this.o.playground;
    const down: NemesisTarget[] = [];
    if (pg.schedulerNode()?.running !== true) down.push({ kind: 'scheduler' });
    for (let i = 0; i < this.o.stores; i++) if (pg.store(i)?.running !== true) down.push({ kind: 'store', index: i });
    for (const t of down) {
      this.revived.push(nameOf(t));
      await this.restart(t);
    }
  }

  /** The targets and down times of one round, drawn up front. */
  private drawRound(): { readonly target: NemesisTarget; readonly downMs: number }[] {
    const o = this.o;
    if (o.rng.chance({ numerator: 1, denominator: o.schedulerKillOneIn })) {
      return [{ target: { kind: 'scheduler' }, downMs: o.rng.intInclusive(o.downMsMin, o.downMsMax) }];
    }
    // A minority of the stores: floor((n - 1) / 2).
    const minority = Math.floor((o.stores - 1) / 2);
    const count = minority >= 2 && o.rng.chance({ numerator: 1, denominator: 3 }) ? 2 : 1;
    const picked: number[] = [];
    while (picked.length < count) {
      const i = o.rng.intInclusive(0, o.stores - 1);
      if (!picked.includes(i)) picked.push(i);
    }
    return picked.map((index) => {
      let downMs = o.rng.intInclusive(o.downMsMin, o.downMsMax);
      // Now and then longer than max-store-down-time, so the replica checker replaces the store's peers.
      if (o.maxStoreDownTimeMs !== undefined && o.rng.chance({ numerator: 1, denominator: 8 })) {
        downMs = o.maxStoreDownTimeMs + o.rng.intInclusive(2_000, 5_000);
      }
      return { target: { kind: 'store', index }, downMs };
    });
  }

  private async crashAndRestart(target: NemesisTarget, downMs: number): Promise<void> {
    const node = this.nodeOf(target);
    const name = nameOf(target);
    if (node?.running === true) {
      this.expectedExits.add(node.name);
      node.kill('SIGKILL');
      await node.exited;
      this.kills.push({ atMs: Math.round(this.o.nowMs()), target: name, downMs });
      this.o.log(`nemesis: killed ${name} (pid ${node.pid ?? '?'}), down for ${downMs} ms`);
      await sleep(downMs);
    }
    await this.restart(target);
  }

  /** Starts the target again; failures are recorded, and retried a few times (each one is in the report). */
  private async restart(target: NemesisTarget): Promise<void> {
    const pg = this.o.playground;
    const name = nameOf(target);
    for (let attempt = 1; attempt <= RESTART_ATTEMPTS_MAX; attempt++) {
      try {
        const node = target.kind === 'scheduler' ? await pg.startScheduler() : await pg.startStore(target.index);
        this.o.log(`nemesis: restarted ${name} (pid ${node.pid ?? '?'})`);
        return;
      } catch (err: unknown) {
        const message = `${name} restart attempt ${attempt} at ${Math.round(this.o.nowMs())} ms: ${err instanceof Error ? err.message : String(err)}`;
        this.restartFailures.push(message);
        this.o.log(`nemesis: ${message}`);
        await sleep(RESTART_RETRY_PAUSE_MS);
      }
    }
  }

  private nodeOf(target: NemesisTarget): ChildNode | undefined {
    const pg = this.o.playground;
    return target.kind === 'scheduler' ? pg.schedulerNode() : pg.store(target.index);
  }

  /** A pause that {@link stop} ends early. */
  private pause(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return pause(ms, this.abort.signal);
  }
}

/** The playground's child name of a target (`store-1` is store index 0). */
export function nameOf(target: NemesisTarget): string {
  return target.kind === 'scheduler' ? 'scheduler' : `store-${target.index + 1}`;
}
