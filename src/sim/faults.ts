/**
 * The random fault injector of the safety phase: every `intervalMs` it
 * rolls, in a fixed order, for a partition or its healing, a crash or
 * restart of each node (in id order), a clogged link, and a swizzle-clog.
 * Probabilities and modes come from the seed (TigerBeetle's options_swarm).
 * Stopping it leaves the faults in place; the liveness phase heals them.
 */
import { WORLD } from './clock.js';
import { pick, RATIO_NEVER } from './prng.js';
import type { Prng, Ratio } from './prng.js';
import type { PartitionMode } from './network.js';
import type { Simulation } from './simulation.js';

export interface FaultOptions {
  /** How often the injector rolls, in virtual ms. */
  readonly intervalMs: number;
  readonly partitionProbability: Ratio;
  readonly unpartitionProbability: Ratio;
  readonly partitionMode: PartitionMode;
  readonly partitionSymmetric: boolean;
  /** A partition lasts at least this long. */
  readonly partitionStabilityMs: number;
  /** Per node and roll. */
  readonly crashProbability: Ratio;
  /** Per down node and roll, once it has been down `downtimeMsMin`. */
  readonly restartProbability: Ratio;
  readonly downtimeMsMin: number;
  /** Most nodes down at once. */
  readonly crashedMax: number;
  readonly clogProbability: Ratio;
  readonly clogDurationMsMax: number;
  readonly swizzleProbability: Ratio;
  readonly swizzleStepMs: number;
  readonly swizzleHoldMs: number;
}

export const NO_FAULTS: FaultOptions = {
  intervalMs: 100,
  partitionProbability: RATIO_NEVER,
  unpartitionProbability: RATIO_NEVER,
  partitionMode: 'isolate_single',
  partitionSymmetric: true,
  partitionStabilityMs: 0,
  crashProbability: RATIO_NEVER,
  restartProbability: RATIO_NEVER,
  downtimeMsMin: 0,
  crashedMax: 0,
  clogProbability: RATIO_NEVER,
  clogDurationMsMax: 1,
  swizzleProbability: RATIO_NEVER,
  swizzleStepMs: 1,
  swizzleHoldMs: 1,
};

export class FaultInjector {
  private readonly sim: Simulation;
  private readonly prng: Prng;
  private readonly options: FaultOptions;
  private running = false;
  private partitionedAtMs: number | undefined;
  private swizzleEndsAtMs = 0;

  constructor(sim: Simulation, prng: Prng, options: FaultOptions) {
    this.sim = sim;
    this.prng = prng;
    this.options = options;
  }

  start(): void {
    this.running = true;
    this.schedule();
  }

  stop(): void {
    this.running = false;
  }

  private schedule(): void {
    this.sim.clock.schedule(this.options.intervalMs, WORLD, 'fault roll', () => {
      if (!this.running) return;
      this.roll();
      this.schedule();
    });
  }

  private roll(): void {
    const o = this.options;
    const now = this.sim.clock.nowMs;
    const net = this.sim.network;
    if (this.partitionedAtMs === undefined) {
      if (this.prng.chance(o.partitionProbability)) {
        net.partitionRandom(o.partitionMode, o.partitionSymmetric);
        this.partitionedAtMs = now;
      }
    } else if (now - this.partitionedAtMs >= o.partitionStabilityMs && this.prng.chance(o.unpartitionProbability)) {
      net.heal();
      this.partitionedAtMs = undefined;
    }
    this.rollCrashes(now);
    if (this.prng.chance(o.clogProbability)) {
      const from = pick(this.prng, this.sim.nodeIds);
      const to = pick(this.prng, this.sim.nodeIds);
      const duration = this.prng.intInclusive(1, o.clogDurationMsMax);
      if (from === to) net.clogNode(from, duration);
      else net.clogLink(from, to, duration);
    }
    if (now >= this.swizzleEndsAtMs && this.prng.chance(o.swizzleProbability)) {
      this.swizzleEndsAtMs = net.swizzleClog({ stepMs: o.swizzleStepMs, holdMs: o.swizzleHoldMs });
    }
  }

  private rollCrashes(now: number): void {
    const o = this.options;
    for (const id of this.sim.nodeIds) {
      const downSince = this.sim.downSince(id);
      if (downSince === undefined) {
        if (this.sim.downCount() < o.crashedMax && this.prng.chance(o.crashProbability)) this.sim.crash(id);
      } else if (now - downSince >= o.downtimeMsMin && this.prng.chance(o.restartProbability)) {
        this.sim.restart(id);
      }
    }
  }
}
