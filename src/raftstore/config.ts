/**
 * Raftstore configuration, in ticks and counts only: the functional core has
 * no clock, so the shell decides how long a tick is (TinyKV
 * `RaftBaseTickInterval`). Defaults follow TinyKV's test config where one
 * exists, with TinyKV's names in the comments.
 */
import { assert } from '../util/assert.js';

export interface RaftstoreConfig {
  /** `RaftElectionTimeoutTicks`. */
  readonly electionTick: number;
  /** `RaftHeartbeatTicks`. */
  readonly heartbeatTick: number;
  /** Ticks between raft log GC checks (`RaftLogGCTickInterval` / base tick). */
  readonly raftLogGcTickTicks: number;
  /** Compact once more than this many applied entries are in the log (`RaftLogGcCountLimit`). */
  readonly raftLogGcCountLimit: number;
  /** Most bytes of entries in one MsgAppend. */
  readonly maxSizePerMsgBytes: number;
  /** Most MsgAppend in flight to one follower. */
  readonly maxInflightMsgs: number;
  /** Most proposals a peer tracks; more are refused with ServerIsBusy. */
  readonly proposalsMax: number;
  /** Most ReadIndex reads a peer tracks; more are refused with ServerIsBusy. */
  readonly readsMax: number;
  /** Most bytes of raft log payload a leader accepts uncommitted; more are refused with ServerIsBusy. */
  readonly uncommittedBytesMax: number;
  /** Snapshots travel in chunks of at most this many bytes. */
  readonly snapshotChunkBytes: number;
  /** A received snapshot stream larger than this is refused. */
  readonly snapshotBytesMax: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** A region larger than this is split (`RegionMaxSize`). */
  readonly regionMaxSizeBytes: number;
  /** Split at the first key past this many bytes (`RegionSplitSize`). */
  readonly regionSplitSizeBytes: number;
  /**
   * Split only at boundaries that keep each transactional key's lock, write
   * records and values in one region (split.ts: at most 8 bytes, no trailing
   * 0x00). Off only for stores that never hold transactional data: their
   * regions may then split at any key (finer, but unsafe for Percolator
   * data, whose encoded keys would straddle such boundaries).
   */
  readonly txnSafeSplitKeys: boolean;
  /** Ticks between split checks of the leader's region (`SplitRegionCheckTickInterval` / base tick). */
  readonly splitCheckTickTicks: number;
  /** A peer that knows no leader for this many ticks asks the scheduler whether it was removed. */
  readonly staleCheckTicks: number;
  /** Raft `resendProbeOnHeartbeat`. */
  readonly resendProbeOnHeartbeat: boolean;
  /** A campaigning peer re-sends unanswered vote requests every this many ticks (raft `voteResendTick`). */
  readonly voteResendTick: number;
}

export const DEFAULT_RAFTSTORE_CONFIG: RaftstoreConfig = {
  electionTick: 10,
  heartbeatTick: 2,
  raftLogGcTickTicks: 1,
  raftLogGcCountLimit: 128_000,
  maxSizePerMsgBytes: 1 << 20,
  maxInflightMsgs: 256,
  proposalsMax: 4_096,
  readsMax: 4_096,
  uncommittedBytesMax: 64 << 20,
  snapshotChunkBytes: 1 << 20,
  snapshotBytesMax: 1 << 30,
  preVote: true,
  checkQuorum: true,
  voteResendTick: 2,
  regionMaxSizeBytes: 144 << 20,
  regionSplitSizeBytes: 96 << 20,
  txnSafeSplitKeys: true,
  splitCheckTickTicks: 2,
  staleCheckTicks: 40,
  resendProbeOnHeartbeat: true,
};

export function validateConfig(c: RaftstoreConfig): void {
  assert(c.heartbeatTick >= 1 && c.electionTick > c.heartbeatTick, 'raftstore config: electionTick must exceed heartbeatTick >= 1');
  assert(c.raftLogGcTickTicks >= 1 && c.raftLogGcCountLimit >= 1, 'raftstore config: log GC settings must be positive');
  assert(c.proposalsMax >= 1 && c.readsMax >= 1, 'raftstore config: queues must hold something');
  assert(c.snapshotChunkBytes >= 1024 && c.snapshotBytesMax >= c.snapshotChunkBytes, 'raftstore config: snapshot chunks of at least 1 KiB, within the snapshot bound');
  assert(c.regionSplitSizeBytes >= 1 && c.regionMaxSizeBytes >= c.regionSplitSizeBytes && c.splitCheckTickTicks >= 1, 'raftstore config: bad split settings');
  assert(c.voteResendTick >= 0 && c.voteResendTick < c.electionTick, 'raftstore config: voteResendTick must be below electionTick');
  assert(c.maxSizePerMsgBytes >= 1 && c.maxInflightMsgs >= 1 && c.uncommittedBytesMax >= 1, 'raftstore config: bad flow control');
}
