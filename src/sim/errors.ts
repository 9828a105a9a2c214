/**
 * Why a seed failed. A `SimulationError` is thrown by the simulation's own
 * checks (safety, liveness); the runner also turns an `AssertionError` from
 * any layer into a failed seed (`assertion`), and records checker verdicts
 * (`linearizability`, `convergence`) as failures without throwing.
 */
export const SIM_FAILURE_KINDS = ['safety', 'liveness', 'linearizability', 'convergence', 'assertion'] as const;
export type SimFailureKind = (typeof SIM_FAILURE_KINDS)[number];

export class SimulationError extends Error {
  override readonly name = 'SimulationError';
  readonly kind: SimFailureKind;

  constructor(kind: SimFailureKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
  }
}
