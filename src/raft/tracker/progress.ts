/**
 * The leader's view of one follower (etcd's tracker.Progress): how much of the
 * log it has (`match`), what to send next (`next`), and in which state the
 * leader is sending: probing for the match point, replicating optimistically,
 * or waiting for a snapshot to be applied.
 */
import { Inflights } from './inflights.js';

export enum ProgressState {
  Probe = 0,
  Replicate = 1,
  Snapshot = 2,
}

export const PROGRESS_STATE_NAMES = ['StateProbe', 'StateReplicate', 'StateSnapshot'] as const;

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = ProgressState.Probe;
  /** In Snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** True when the follower was heard from since the last check-quorum round. */
  recentActive = false;
  /** In Probe state: one MsgAppend is out; wait for its answer (or a heartbeat response). */
  probeSent = false;
  /** The follower answered (append or heartbeat) since the leader's last heartbeat (Config.resendProbeOnHeartbeat). */
  answeredSinceBeat = false;
  inflights: Inflights;
  isLearner: boolean;

  constructor(options: { next: number; match?: number; inflights: Inflights; isLearner: boolean; recentActive?: boolean }) {
    this.next = options.next;
    this.match = options.match ?? 0;
    this.inflights = options.inflights;
    this.isLearner = options.isLearner;
    this.recentActive = options.recentActive ?? false;
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  probeAcked(): void {
    this.probeSent = false;
  }

  becomeProbe(): void {
    // After a snapshot, resume from the snapshot (the follower has at least it).
    if (this.state === ProgressState.Snapshot) {
      const pending = this.pendingSnapshot;
      this.resetState(ProgressState.Probe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState(ProgressState.Probe);
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState(ProgressState.Replicate);
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.Snapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /** Called on an accepted MsgAppendResponse for index n; true when match moved. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeAcked();
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /** In Replicate state, entries up to n were sent. */
  optimisticUpdate(n: number): void {
    this.next = n + 1;
  }

  /**
   * Called on a rejected MsgAppendResponse for `rejected` with the follower's
   * hint; returns false when the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      // Stale: the rejection is for an index already matched.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // In Probe, only the rejection of the last probe counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), 1);
    this.probeSent = false;
    return true;
  }

  /** Whether the leader must hold back MsgAppend to this follower. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflights.full();
      case ProgressState.Snapshot:
        return true;
    }
  }

  clone(): Progress {
    const p = new Progress({
      next: this.next,
      match: this.match,
      inflights: this.inflights.clone(),
      isLearner: this.isLearner,
      recentActive: this.recentActive,
    });
    p.state = this.state;
    p.pendingSnapshot = this.pendingSnapshot;
    p.probeSent = this.probeSent;
    return p;
  }

  toString(): string {
    let s = `${PROGRESS_STATE_NAMES[this.state]} match=${this.match} next=${this.next}`;
    if (this.isLearner) s += ' learner';
    if (this.isPaused()) s += ' paused';
    if (this.pendingSnapshot > 0) s += ` pendingSnap=${this.pendingSnapshot}`;
    if (!this.recentActive) s += ' inactive';
    if (this.inflights.size > 0) s += ` inflight=${this.inflights.size}`;
    return s;
  }
}
