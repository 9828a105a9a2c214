/**
 * The output of the raft core. The application processes every field of a
 * Ready in this order, then calls `RawNode.advance(rd)`:
 *
 * 1. Persist `hardState`, `entries` and `snapshot` to stable storage — with an
 *    fsync when `mustSync` — before sending any message. (A vote or an append
 *    acknowledged before it is durable could be forgotten in a crash and the
 *    node would vote twice or lose an acknowledged entry.)
 * 2. Apply `snapshot` to the state machine, if present.
 * 3. Send `messages` (their contents may depend on step 1).
 * 4. Apply `committedEntries` in order. They are committed, but they may be in
 *    `entries` of this same Ready: apply only after step 1.
 * 5. Serve `readStates` once the applied index reaches their `index`.
 */
import type { ReadState } from './read_only.js';
import type { Entry, HardState, Message, Snapshot, SoftState } from './types.js';

export interface Ready {
  /** Volatile leader/role state; undefined when unchanged. Never persisted. */
  readonly softState?: SoftState;
  /** Persist before sending `messages`; undefined when unchanged. */
  readonly hardState?: HardState;
  /** Reads that may be served once applied index >= their index. */
  readonly readStates: readonly ReadState[];
  /** Entries to append to stable storage before sending `messages`. */
  readonly entries: readonly Entry[];
  /** Snapshot to persist and apply before anything else; undefined when none. */
  readonly snapshot?: Snapshot;
  /** Committed entries to apply, after `entries` are persisted. */
  readonly committedEntries: readonly Entry[];
  /** Messages to send after persisting `entries`, `hardState` and `snapshot`. */
  readonly messages: readonly Message[];
  /** Whether the writes of step 1 need an fsync (term, vote or entries changed). */
  readonly mustSync: boolean;
}

export function isEmptyReady(rd: Ready): boolean {
  return (
    rd.softState === undefined &&
    rd.hardState === undefined &&
    rd.snapshot === undefined &&
    rd.entries.length === 0 &&
    rd.committedEntries.length === 0 &&
    rd.messages.length === 0 &&
    rd.readStates.length === 0
  );
}
