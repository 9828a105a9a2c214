/** Exit codes of the `tinykv` command, documented in docs/CLI.md. */
export const EXIT = {
  ok: 0,
  /** The operation failed: server error, unreachable server, deadline. */
  failed: 1,
  /** The command line was wrong: unknown option, bad hex, bad number. */
  usage: 2,
  /** `raw get` found no value for the key. */
  notFound: 3,
} as const;
