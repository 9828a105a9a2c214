/**
 * Configuration of one raft node. Everything that varies between runs
 * (randomness, storage) is injected here; the core has no other inputs.
 */
import { assert } from '../util/assert.js';
import type { Rng } from '../util/prng.js';
import { ReadOnlyOption } from './read_only.js';
import type { Storage } from './storage.js';
import { NONE } from './types.js';

export interface Config {
  /** This node's id; never 0. */
  readonly id: number;
  /**
   * Initial voters, only for a brand-new group whose storage holds no
   * configuration (TinyKV's `peers`). Ignored when storage has a ConfState.
   */
  readonly peers?: readonly number[];
  /** Initial learners, as `peers`. */
  readonly learners?: readonly number[];
  /** Ticks without hearing from a leader before campaigning (randomized in [n, 2n)). */
  readonly electionTick: number;
  /** Ticks between leader heartbeats. Invariant: heartbeatTick < electionTick. */
  readonly heartbeatTick: number;
  readonly storage: Storage;
  /** Last applied index when restarting; entries up to it are not handed out again. @default 0 */
  readonly applied?: number;
  /** Most bytes of entries in one MsgAppend (at least one entry is always sent). @default unlimited */
  readonly maxSizePerMsg?: number;
  /** Most bytes of committed entries in one Ready. @default unlimited */
  readonly maxCommittedSizePerReady?: number;
  /** Most payload bytes of uncommitted entries a leader accepts. @default unlimited */
  readonly maxUncommittedEntriesSize?: number;
  /** Most MsgAppend in flight to one follower. @default 256 */
  readonly maxInflightMsgs?: number;
  /** Most payload bytes in flight to one follower; 0 = unlimited. @default 0 */
  readonly maxInflightBytes?: number;
  /** The leader steps down when it has not heard from a quorum for an election timeout. @default false */
  readonly checkQuorum?: boolean;
  /** Campaign with a pre-vote round first (raft thesis §9.6). @default false */
  readonly preVote?: boolean;
  /** @default ReadOnlyOption.Safe; LeaseBased requires checkQuorum. */
  readonly readOnlyOption?: ReadOnlyOption;
  /** Followers drop proposals instead of forwarding them to the leader. @default false */
  readonly disableProposalForwarding?: boolean;
  /**
   * A leader whose own removal (or demotion) is applied steps down after
   * broadcasting the commit index. @default true
   */
  readonly stepDownOnRemoval?: boolean;
  /**
   * A (pre-)candidate re-sends its vote request to voters that have not
   * answered every this many ticks, until it wins, loses or times out; 0 = off
   * (etcd's behaviour: a lost request waits for the next election timeout).
   * Vote requests of one campaign are idempotent (a voter grants the same
   * candidate again in the same term), so re-sending is safe; it lets an
   * election finish on a lossy link within one timeout (Raft paper §5.1:
   * "servers retry RPCs if they do not receive a response in a timely manner").
   * @default 0
   */
  readonly voteResendTick?: number;
  /**
   * A probe (the one MsgAppend a leader keeps in flight to a follower in
   * Probe state) unanswered at a heartbeat is taken as lost and sent again
   * with the heartbeat: at most one per heartbeat interval, as Probe
   * promises, but without first waiting for a heartbeat response (etcd's
   * behaviour, false, needs two round trips to succeed on a lossy link).
   * @default false
   */
  readonly resendProbeOnHeartbeat?: boolean;
  /** Election timeout jitter. */
  readonly rng: Rng;
}

export interface ResolvedConfig extends Required<Omit<Config, 'peers' | 'learners'>> {
  readonly peers: readonly number[];
  readonly learners: readonly number[];
}

/** Fills defaults and checks the configuration. @throws {AssertionError} on an invalid config. */
export function resolveConfig(c: Config): ResolvedConfig {
  assert(c.id !== NONE, 'cannot use none as id');
  if (!(Number.isSafeInteger(c.id) && c.id > 0)) assert(false, `invalid id ${c.id}`);
  assert(c.heartbeatTick > 0, 'heartbeat tick must be greater than 0');
  assert(c.electionTick > c.heartbeatTick, 'election tick must be greater than heartbeat tick');
  const r: ResolvedConfig = {
    id: c.id,
    peers: c.peers ?? [],
    learners: c.learners ?? [],
    electionTick: c.electionTick,
    heartbeatTick: c.heartbeatTick,
    storage: c.storage,
    applied: c.applied ?? 0,
    maxSizePerMsg: c.maxSizePerMsg ?? Number.MAX_SAFE_INTEGER,
    maxCommittedSizePerReady: c.maxCommittedSizePerReady ?? Number.MAX_SAFE_INTEGER,
    maxUncommittedEntriesSize: c.maxUncommittedEntriesSize ?? Number.MAX_SAFE_INTEGER,
    maxInflightMsgs: c.maxInflightMsgs ?? 256,
    maxInflightBytes: c.maxInflightBytes ?? 0,
    checkQuorum: c.checkQuorum ?? false,
    preVote: c.preVote ?? false,
    readOnlyOption: c.readOnlyOption ?? ReadOnlyOption.Safe,
    disableProposalForwarding: c.disableProposalForwarding ?? false,
    stepDownOnRemoval: c.stepDownOnRemoval ?? true,
    voteResendTick: c.voteResendTick ?? 0,
    resendProbeOnHeartbeat: c.resendProbeOnHeartbeat ?? false,
    rng: c.rng,
  };
  assert(Number.isSafeInteger(r.voteResendTick) && r.voteResendTick >= 0, 'vote resend tick must be a non-negative integer');
  assert(r.maxInflightMsgs > 0, 'max inflight messages must be greater than 0');
  assert(
    r.readOnlyOption !== ReadOnlyOption.LeaseBased || r.checkQuorum,
    'checkQuorum must be enabled when readOnlyOption is LeaseBased',
  );
  return r;
}
