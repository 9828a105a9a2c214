/** Exit codes of the `tinykv` command, documented in docs/CLI.md. */
export const EXIT = {
  ok: 0,
  /** The operation failed: server error, unreachable server, deadline. */
  failed: 1,
  /** The command line was wrong: unknown option, bad hex, bad number. */
  usage: 2,
  /** `raw get` found no value for the key; `txn get` found none for at least one key. */
  notFound: 3,
  /**
   * `txn` was not committed because of another transaction (WRITE_CONFLICT,
   * TXN_ABORTED): nothing was written and running it again may succeed. Its
   * own code so that a script can retry on it alone, not on every failure
   * (a deadline during a commit may have committed).
   */
  conflict: 4,
} as const;
