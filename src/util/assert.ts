/**
 * Assertions for invariants that must never break (TigerStyle): a failed
 * assertion is a bug, so it throws {@link AssertionError} and nothing catches it.
 * Expected failures (bad input, I/O errors) are values or typed errors instead.
 */

/** Thrown when an invariant is broken. Never caught by production code. */
export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

/**
 * @throws {AssertionError} when `condition` is false.
 * On hot paths write `if (!cond) assert(false, \`...${x}\`)` so that a
 * template message is only built when the assertion fails.
 */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Exhaustiveness check for `switch` over a discriminated union. */
export function assertNever(value: never, message = 'Unexpected value'): never {
  throw new AssertionError(`${message}: ${JSON.stringify(value)}`);
}

/**
 * Documents that a condition is legitimately sometimes true and sometimes false
 * (TigerBeetle's `maybe`). It does nothing at run time.
 */
export function maybe(_condition: boolean): void {}
