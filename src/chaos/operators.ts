/**
 * Extra scheduling under chaos: now and then ask the scheduler (through
 * `adminpb.SchedulerAdmin.AddOperator`, as `tinykv ctl operator` does) to
 * transfer a region's leader, remove one of its peers (the replica checker
 * then adds one back, by snapshot) or add a peer on a store without one. With
 * 3 stores and 3 replicas the scheduler alone never moves a replica; this
 * makes conf changes and snapshots happen while processes die.
 *
 * The kind and the picks are drawn from this component's PRNG stream; which
 * region and stores they land on depends on the cluster's state at that
 * moment. A refused operator (the region already has one, the scheduler is
 * down) is counted, not a failure: correctness is what the checkers judge.
 */
import * as grpc from '@grpc/grpc-js';
import { PdClient } from '../client/scheduler_client.js';
import { OperatorKind, SchedulerAdminClient } from '../pb/adminpb.js';
import type { AddOperatorResponse } from '../pb/adminpb.js';
import { ErrorType } from '../pb/schedulerpb.js';
import type { Prng } from '../util/prng.js';

export interface OperatorInjectorOptions {
  readonly pdAddr: string;
  readonly rng: Prng;
  /** Mean pause between two operators, ms (drawn in [mean/2, 3·mean/2]). */
  readonly intervalMs: number;
  readonly log: (line: string) => void;
}

const CALL_DEADLINE_MS = 3_000;

export class OperatorInjector {
  /** Operators the scheduler accepted, by kind. */
  readonly accepted = new Map<string, number>();
  /** Operators refused or not delivered. */
  refused = 0;
  private stopped = false;
  private wake: (() => void) | undefined;

  constructor(private readonly o: OperatorInjectorOptions) {}

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  async run(): Promise<void> {
    const o = this.o;
    const pd = new PdClient({ addrs: o.pdAddr, deadlineMs: CALL_DEADLINE_MS });
    const admin = new SchedulerAdminClient(o.pdAddr, grpc.credentials.createInsecure());
    const lo = Math.max(1, Math.ceil(o.intervalMs / 2));
    const hi = Math.max(lo, Math.floor((3 * o.intervalMs) / 2));
    try {
      while (!this.stopped) {
        // Drawn before any await: the stream's sequence does not depend on outcomes.
        const pauseMs = o.rng.intInclusive(lo, hi);
        const kindRoll = o.rng.intInclusive(0, 2);
        const pick = o.rng.uint32();
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, pauseMs);
          this.wake = () => {
            clearTimeout(t);
            resolve();
          };
        });
        if (this.stopped) break;
        await this.injectOne(pd, admin, kindRoll, pick);
      }
    } finally {
      pd.close();
      admin.close();
    }
  }

  private async injectOne(pd: PdClient, admin: SchedulerAdminClient, kindRoll: number, pick: number): Promise<void> {
    try {
      const regions = await pd.scanRegions(new Uint8Array(), new Uint8Array(), 0);
      const info = regions[pick % Math.max(1, regions.length)];
      if (info === undefined) return;
      const stores = (await pd.getAllStores({ excludeTombstoneStores: true })).map((s) => s.id).sort((a, b) => a - b);
      const members = info.region.peers.map((p) => p.storeId);
      const others = stores.filter((s) => !members.includes(s));
      let kind: OperatorKind;
      let storeId: number | undefined;
      if (kindRoll === 2 && others.length > 0) {
        kind = OperatorKind.ADD_PEER;
        storeId = others[pick % others.length];
      } else if (kindRoll === 1) {
        kind = OperatorKind.REMOVE_PEER;
        storeId = members[pick % members.length];
      } else {
        kind = OperatorKind.TRANSFER_LEADER;
        const followers = members.filter((s) => s !== info.leader?.storeId);
        storeId = followers[pick % Math.max(1, followers.length)];
      }
      if (storeId === undefined) return;
      const clusterId = await pd.clusterId();
      const res = await addOperator(admin, { clusterId, regionId: info.region.id, kind, storeId });
      const name = OperatorKind[kind];
      this.accepted.set(name, (this.accepted.get(name) ?? 0) + 1);
      this.o.log(`operator: ${res.description}`);
    } catch {
      // Refused or not delivered: counted; the run goes on (see the file comment).
      this.refused++;
    }
  }
}

function addOperator(admin: SchedulerAdminClient, r: { clusterId: number; regionId: number; kind: OperatorKind; storeId: number }): Promise<AddOperatorResponse> {
  return new Promise((resolve, reject) => {
    admin.addOperator(
      { header: { clusterId: r.clusterId }, regionId: r.regionId, kind: r.kind, storeId: r.storeId },
      new grpc.Metadata(),
      { deadline: Date.now() + CALL_DEADLINE_MS },
      (err, res) => {
        if (err !== null) reject(err);
        else if (res.header?.error !== undefined && res.header.error.type !== ErrorType.OK) reject(new Error(res.header.error.message));
        else resolve(res);
      },
    );
  });
}
