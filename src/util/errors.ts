/**
 * Base of the typed operating errors (not bugs: those are AssertionErrors).
 * Each layer subclasses it with its own `as const` code table, so callers
 * branch on `err.code` and the gRPC edge maps codes to statuses.
 */
export class CodedError<Code extends string> extends Error {
  readonly code: Code;
  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
