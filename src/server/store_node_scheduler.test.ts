// Goal: a StoreNode with a scheduler link reports to the scheduler and acts
// on its answers: leaders' region heartbeats and store heartbeats go out, a
// region that outgrows its size asks for ids and splits, an operator on the
// heartbeat stream becomes a conf change, a failing scheduler only costs a
// counter, and nothing is sent after stop.
// Method: one store on LMDB in a temp dir (a one-peer region elects itself),
// a scripted SchedulerLink double, a 10 ms tick and short heartbeat intervals.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfChangeType } from '../pb/eraftpb.js';
import type { Region } from '../pb/metapb.js';
import type { AskSplitRequest, AskSplitResponse, RegionHeartbeatRequest, StoreHeartbeatRequest } from '../pb/schedulerpb.js';
import { DEFAULT_RAFTSTORE_CONFIG } from '../raftstore/config.js';
import { CF_DEFAULT } from '../storage/engine.js';
import { LmdbEngine } from '../storage/lmdb_engine.js';
import { StorageError, STORAGE_ERROR_CODES } from '../storage/storage.js';
import { LocalTransport } from './local_transport.js';
import { RaftStorage } from './raft_storage.js';
import { bootstrapRegion, StoreNode } from './store_node.js';
import type { SchedulerLink } from './store_node.js';

class FakeScheduler implements SchedulerLink {
  readonly regionBeats: RegionHeartbeatRequest[] = [];
  readonly storeBeats: StoreHeartbeatRequest[] = [];
  readonly splits: AskSplitRequest[] = [];
  nextId = 1000;
  failing = false;

  regionHeartbeat(request: RegionHeartbeatRequest): void {
    this.regionBeats.push(request);
  }

  async storeHeartbeat(request: StoreHeartbeatRequest): Promise<void> {
    if (this.failing) throw new Error('scheduler down');
    this.storeBeats.push(request);
  }

  async askSplit(request: AskSplitRequest): Promise<AskSplitResponse> {
    if (this.failing) throw new Error('scheduler down');
    this.splits.push(request);
    const peers = request.region?.peers ?? [];
    return { header: undefined, newRegionId: this.nextId++, newPeerIds: peers.map(() => this.nextId++) };
  }

  async regionById(): Promise<Region | undefined> {
    return undefined;
  }
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('StoreNode with a scheduler', () => {
  let dataDir: string;
  let node: StoreNode | undefined;

  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinykv-node-sched-'));
  });

  afterEach(async () => {
    await node?.stop();
    node = undefined;
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function open(scheduler: FakeScheduler, regionMaxSizeBytes = 4096): Promise<StoreNode> {
    const engine = new LmdbEngine({ dataDir });
    node = await StoreNode.open({
      storeId: 1, engine, transport: new LocalTransport(), baseTickMs: 10,
      bootstrap: { clusterId: 1, region: bootstrapRegion([1]) },
      config: { ...DEFAULT_RAFTSTORE_CONFIG, regionMaxSizeBytes, regionSplitSizeBytes: Math.floor(regionMaxSizeBytes / 2), splitCheckTickTicks: 2 },
      scheduler, regionHeartbeatMs: 30, storeHeartbeatMs: 30,
      diskStats: () => ({ capacity: 100, available: 60, usedSize: 40 }),
    });
    const opened = node;
    await waitFor('a leader', () => opened.isLeaderReady(1));
    return opened;
  }

  test('heartbeats go out with the store statistics and the led regions', async () => {
    const scheduler = new FakeScheduler();
    await open(scheduler);
    await waitFor('heartbeats', () => scheduler.storeBeats.length >= 2 && scheduler.regionBeats.some((b) => b.leader?.storeId === 1));
    const stats = scheduler.storeBeats.at(-1)?.stats;
    assert.equal(stats?.storeId, 1);
    assert.equal(stats?.regionCount, 1);
    assert.equal(stats?.capacity, 100);
    assert.equal(stats?.available, 60);
    assert.ok((stats?.startTime ?? 0) > 0);
    assert.equal(scheduler.regionBeats.at(-1)?.region?.id, 1);
  });

  test('a region that outgrows its size splits with ids from the scheduler', async () => {
    const scheduler = new FakeScheduler();
    const n = await open(scheduler);
    const storage = new RaftStorage(n);
    const value = Buffer.alloc(100, 7);
    // Writes until the region splits (a write racing the split gets EpochNotMatch, which ends the loop too).
    for (let i = 0; i < 100 && n.regionIds().length === 1; i++) {
      const ctx = { regionId: 1, term: 0, regionEpoch: n.region(1)?.regionEpoch, peer: n.localPeer(1) };
      const ok = await storage.write(ctx, [{ type: 'put', cf: CF_DEFAULT, key: Buffer.from(`k${String(i).padStart(3, '0')}`), value }])
        .then(() => true, (err: unknown) => {
          assert.ok(err instanceof StorageError && err.code === STORAGE_ERROR_CODES.RegionError, String(err));
          return false;
        });
      if (!ok) break;
    }
    await waitFor('a split', () => n.regionIds().length > 1);
    assert.ok(scheduler.splits.length >= 1);
    const created = n.regionIds().find((id) => id >= 1000);
    assert.ok(created !== undefined, `regions ${n.regionIds().join(',')}`);
    // The new region's leader reports it.
    await waitFor('a heartbeat of the new region', () => scheduler.regionBeats.some((b) => b.region?.id === created));
  });

  test('an operator on the heartbeat stream becomes a conf change', async () => {
    const scheduler = new FakeScheduler();
    const n = await open(scheduler);
    const epoch = n.region(1)?.regionEpoch;
    n.onHeartbeatResponse({
      header: undefined, regionId: 1, regionEpoch: epoch, targetPeer: n.localPeer(1),
      changePeer: { changeType: ConfChangeType.AddNode, peer: { id: 77, storeId: 2 } }, transferLeader: undefined,
    });
    await waitFor('the added peer', () => n.region(1)?.peers.some((p) => p.id === 77) === true);
    assert.equal(n.region(1)?.regionEpoch?.confVer, (epoch?.confVer ?? 0) + 1);
    // A stale operator (old epoch) is refused by the epoch check: nothing changes.
    n.onHeartbeatResponse({
      header: undefined, regionId: 1, regionEpoch: epoch, targetPeer: n.localPeer(1),
      changePeer: { changeType: ConfChangeType.AddNode, peer: { id: 78, storeId: 3 } }, transferLeader: undefined,
    });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(n.region(1)?.peers.some((p) => p.id === 78), false);
    // Malformed answers are ignored.
    n.onHeartbeatResponse({ header: undefined, regionId: 0, regionEpoch: undefined, targetPeer: undefined, changePeer: undefined, transferLeader: undefined });
  });

  test('an admin split splits at the given key, or in the middle of the data', async () => {
    const scheduler = new FakeScheduler();
    const n = await open(scheduler, 1 << 30);
    const storage = new RaftStorage(n);
    const ctx = { regionId: 1, term: 0, regionEpoch: n.region(1)?.regionEpoch, peer: n.localPeer(1) };
    const value = Buffer.alloc(50, 1);
    await storage.write(ctx, Array.from({ length: 20 }, (_, i) => ({ type: 'put' as const, cf: CF_DEFAULT, key: Buffer.from(`k${String(i).padStart(2, '0')}`), value })));
    const first = await n.splitRegion(1, n.region(1)?.regionEpoch, Buffer.from('k05'));
    assert.equal(first.regions?.length, 2, JSON.stringify(first));
    assert.equal(Buffer.from(first.regions?.[0]?.endKey ?? []).toString(), 'k05');
    // A stale epoch is refused with EpochNotMatch.
    const stale = await n.splitRegion(1, ctx.regionEpoch, Buffer.from('k02'));
    assert.ok(stale.regionError?.epochNotMatch !== undefined, JSON.stringify(stale));
    // No key: the middle of the left region's data (k00..k04).
    const left = first.regions?.find((r) => r.startKey.length === 0);
    assert.ok(left !== undefined);
    const middle = await n.splitRegion(left.id, left.regionEpoch, Buffer.alloc(0));
    assert.equal(middle.regions?.length, 2, JSON.stringify(middle));
    const at = Buffer.from(middle.regions?.[0]?.endKey ?? []).toString();
    assert.ok(at > 'k00' && at < 'k05', at);
    // Unknown region.
    assert.ok((await n.splitRegion(999, undefined, Buffer.from('x'))).regionError?.regionNotFound !== undefined);
  });

  test('a failing scheduler is counted, not fatal; nothing is sent after stop', async () => {
    const scheduler = new FakeScheduler();
    scheduler.failing = true;
    const n = await open(scheduler);
    await waitFor('failed calls', () => n.stats().schedulerErrors >= 2);
    scheduler.failing = false;
    await waitFor('a store heartbeat', () => scheduler.storeBeats.length >= 1);
    await n.stop();
    const after = scheduler.storeBeats.length + scheduler.regionBeats.length;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(scheduler.storeBeats.length + scheduler.regionBeats.length, after);
  });
});
