// Goal: the scheduler process serves TinyKV's schedulerpb protocol over its
// core the way the store's client (PdClient, unchanged) expects: bootstrap
// gating, ids and timestamps that never repeat across a restart, stores,
// region heartbeats feeding region lookups, AskSplit, admin operators whose
// first step reaches the leader's heartbeat stream, a persisted cluster
// config and GC safe point, and typed refusals (not bootstrapped, another
// cluster, stale region, malformed input) instead of crashes.
// Method: startSchedulerServer on 127.0.0.1:0 in-process over a temp LMDB
// dir, restarted on the same dir; PdClient for what it wraps, the generated
// clients for the rest.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { SchedulerError as ClientSchedulerError } from '../../client/errors.js';
import { PdClient } from '../../client/scheduler_client.js';
import type { RegionHeartbeat } from '../../client/scheduler_client.js';
import { OperatorKind } from '../../pb/adminpb.js';
import { ConfChangeType } from '../../pb/eraftpb.js';
import type { Region } from '../../pb/metapb.js';
import { ErrorType, OperatorStatus } from '../../pb/schedulerpb.js';
import type { RegionHeartbeatResponse, TsoResponse } from '../../pb/schedulerpb.js';
import { call, eventually, QUIET, region, store, TestScheduler } from './_testing.js';

const enc = (s: string): Buffer => Buffer.from(s);

function refusedWith(code: string, message?: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof ClientSchedulerError, `expected a SchedulerError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  };
}

function heartbeat(r: Region, leaderStore: number, pendingStores: readonly number[] = []): RegionHeartbeat {
  const leader = r.peers.find((p) => p.storeId === leaderStore);
  assert.ok(leader !== undefined);
  return { region: r, leader, pendingPeers: r.peers.filter((p) => pendingStores.includes(p.storeId)), approximateSize: 0 };
}

/** Lets a just-opened PdClient stream get its connection (it opens after a resolved cluster id lookup). */
const streamOpen = (): Promise<void> => new Promise((r) => setTimeout(r, 20));

/** Bootstraps with `storeId` and a whole-range region (ids from the scheduler) and returns the region. */
async function bootstrap(pd: PdClient, storeId: number): Promise<Region> {
  const regionId = await pd.allocId();
  const peerId = await pd.allocId();
  const r: Region = { id: regionId, startKey: enc(''), endKey: enc(''), regionEpoch: { confVer: 1, version: 1 }, peers: [{ id: peerId, storeId }] };
  await pd.bootstrap(store(storeId), r);
  return r;
}

describe('scheduler server', () => {
  test('bootstrap gating; stores, ids and timestamps survive a restart', async () => {
    const t = new TestScheduler();
    let pd = new PdClient({ addrs: (await t.start()).addr });
    try {
      const clusterId = await pd.clusterId();
      assert.ok(Number.isSafeInteger(clusterId) && clusterId > 0);
      assert.equal(await pd.isBootstrapped(), false);
      await assert.rejects(pd.putStore(store(1)), refusedWith('NOT_BOOTSTRAPPED'));
      await assert.rejects(pd.getAllStores(), refusedWith('NOT_BOOTSTRAPPED'));
      const storeId = await pd.allocId();
      const whole = (id: number, peerStore: number): Region => ({ ...region(id, '', '', []), peers: [{ id: id + 1, storeId: peerStore }] });
      await assert.rejects(pd.bootstrap(store(storeId), { ...whole(100, storeId), startKey: enc('a') }), refusedWith('SCHEDULER_UNKNOWN', /must cover every key/));
      await assert.rejects(pd.bootstrap(store(storeId), whole(100, storeId + 1)), refusedWith('SCHEDULER_UNKNOWN', /exactly one peer/));
      assert.equal(await pd.isBootstrapped(), false);
      await bootstrap(pd, storeId);
      assert.equal(await pd.isBootstrapped(), true);
      await assert.rejects(bootstrap(pd, storeId), refusedWith('ALREADY_BOOTSTRAPPED'));

      const second = await pd.allocId();
      await pd.putStore(store(second));
      await assert.rejects(pd.putStore(store(second + 1000, store(second).address)), refusedWith('SCHEDULER_UNKNOWN', /already registered/));
      assert.deepEqual((await pd.getAllStores()).map((s) => s.id), [storeId, second]);
      assert.equal((await pd.getStore(second))?.address, store(second).address);
      await assert.rejects(pd.getStore(987_654), refusedWith('SCHEDULER_UNKNOWN', /not found/));

      const ids = await Promise.all(Array.from({ length: 50 }, () => pd.allocId()));
      assert.equal(new Set(ids).size, ids.length, 'ids are unique');
      const stamps = await Promise.all(Array.from({ length: 200 }, () => pd.tso()));
      for (let i = 1; i < stamps.length; i++) assert.ok((stamps[i] as bigint) > (stamps[i - 1] as bigint), 'timestamps increase in call order');

      pd.close();
      await t.stop();
      const restarted = await t.start();
      pd = new PdClient({ addrs: restarted.addr });
      assert.equal(await pd.clusterId(), clusterId, 'the cluster id is created once');
      assert.equal(await pd.isBootstrapped(), true);
      assert.deepEqual((await pd.getAllStores()).map((s) => s.id), [storeId, second]);
      assert.ok((await pd.allocId()) > Math.max(...ids, second), 'no id is handed out twice across a restart');
      assert.ok((await pd.tso()) > (stamps[stamps.length - 1] as bigint), 'timestamps never go backwards across a restart');
    } finally {
      pd.close();
      await t.dispose();
    }
  });

  test('region heartbeats feed GetRegion, GetPrevRegion, GetRegionByID, ScanRegions and AskSplit; stale ones are refused', async () => {
    const t = new TestScheduler();
    const pd = new PdClient({ addrs: (await t.start()).addr });
    const errors: unknown[] = [];
    try {
      const s1 = await pd.allocId();
      const r1 = await bootstrap(pd, s1);
      assert.equal((await pd.getRegion(enc('k')))?.leader, undefined, 'the bootstrap region has no leader until it reports');
      const hb = pd.regionHeartbeats({ onResponse: () => undefined, onError: (e) => errors.push(e) });
      await streamOpen();
      hb.send(heartbeat(r1, s1));
      await eventually('the leader of the first region', async () => (await pd.getRegion(enc('k')))?.leader);

      const split = await pd.askSplit(r1);
      assert.equal(split.newPeerIds.length, 1);
      const left: Region = { ...r1, endKey: enc('m'), regionEpoch: { confVer: 1, version: 2 } };
      const right: Region = { id: split.newRegionId, startKey: enc('m'), endKey: enc(''), regionEpoch: { confVer: 1, version: 2 }, peers: [{ id: split.newPeerIds[0] as number, storeId: s1 }] };
      hb.send(heartbeat(left, s1));
      hb.send(heartbeat(right, s1));
      await eventually('the right half', async () => ((await pd.getRegion(enc('z')))?.region.id === right.id ? true : undefined));
      assert.equal((await pd.getRegion(enc('a')))?.region.id, r1.id);
      assert.equal((await pd.getPrevRegion(enc('z')))?.region.id, r1.id);
      assert.equal((await pd.getPrevRegion(enc('a'))), undefined);
      const byId = await pd.getRegionById(right.id);
      assert.deepEqual(byId?.leader, right.peers[0]);
      assert.equal(await pd.getRegionById(987_654), undefined);
      assert.deepEqual((await pd.scanRegions(enc(''), enc(''), 0)).map((r) => [r.region.id, r.leader?.storeId]), [[r1.id, s1], [right.id, s1]]);
      assert.deepEqual((await pd.scanRegions(enc('n'), enc(''), 1)).map((r) => r.region.id), [right.id]);

      await assert.rejects(pd.askSplit(r1), refusedWith('SCHEDULER_UNKNOWN', /older than the known/));
      await assert.rejects(pd.askSplit(region(987_654, 'a', 'b', [s1])), refusedWith('REGION_NOT_FOUND'));
      await assert.rejects(pd.askSplit({ ...left, startKey: enc('q') }), refusedWith('SCHEDULER_UNKNOWN', /inverted range/));

      hb.send(heartbeat(r1, s1)); // the pre-split epoch: stale
      await eventually('the stale refusal', () => (errors.length > 0 ? true : undefined));
      assert.ok(errors[0] instanceof ClientSchedulerError);
      assert.match(errors[0].message, /is stale/);
      hb.send(heartbeat({ ...right, startKey: enc('zz'), endKey: enc('b') }, s1)); // nonsense: refused, the stream stays up
      await eventually('the invalid refusal', () => (errors.length > 1 ? true : undefined));
      assert.match(String(errors[1]), /inverted range/);
      hb.send(heartbeat({ ...right, regionEpoch: { confVer: 1, version: 3 } }, s1));
      await eventually('a heartbeat after the refusals', async () => ((await pd.getRegionById(right.id))?.region.regionEpoch?.version === 3 ? true : undefined));
      assert.equal((await pd.getRegion(enc('z')))?.region.id, right.id, 'the stale report changed nothing');
      assert.equal(errors.length, 2);
    } finally {
      pd.close();
      await t.dispose();
    }
  });

  test('an admin operator\'s first step arrives on the leader store\'s heartbeat stream', async () => {
    const t = new TestScheduler();
    await t.start();
    const pd1 = new PdClient({ addrs: t.addr });
    const pd2 = new PdClient({ addrs: t.addr });
    const got1: RegionHeartbeatResponse[] = [];
    const got2: RegionHeartbeatResponse[] = [];
    try {
      const [s1, s2] = [await pd1.allocId(), await pd1.allocId()];
      const r = await bootstrap(pd1, s1);
      await pd2.putStore(store(s2));
      const hb1 = pd1.regionHeartbeats((res) => got1.push(res));
      pd2.regionHeartbeats((res) => got2.push(res));
      await streamOpen();
      hb1.send(heartbeat(r, s1));
      await eventually('the region leader', async () => (await pd1.getRegion(enc('')))?.leader);

      const admin = t.admin();
      const clusterId = await pd1.clusterId();
      const added = await call<{ header: { error?: { type: ErrorType; message: string } | undefined } | undefined; description: string }>((cb) =>
        admin.addOperator({ header: { clusterId }, regionId: r.id, kind: OperatorKind.ADD_PEER, storeId: s2 }, cb));
      assert.equal(added.header?.error, undefined);
      assert.match(added.description, /add peer \d+ on store \d+/);
      assert.match(added.description, new RegExp(`first step sent to store ${s1}`));
      const step = await eventually('the step on store 1\'s stream', () => got1[0]);
      assert.equal(step.regionId, r.id);
      assert.equal(step.changePeer?.changeType, ConfChangeType.AddNode);
      assert.equal(step.changePeer?.peer?.storeId, s2);
      assert.equal(got2.length, 0, 'only the leader\'s store gets the step');

      const raw = t.raw();
      const running = await call<{ status: OperatorStatus; kind: Buffer; desc: Buffer }>((cb) => raw.getOperator({ header: { clusterId }, regionId: r.id }, cb));
      assert.equal(running.status, OperatorStatus.RUNNING);
      assert.equal(running.kind.toString(), 'admin');
      assert.match(running.desc.toString(), /admin-add-peer/);
      // The leader reports the new peer, caught up: the operator is done.
      const grown: Region = { ...r, regionEpoch: { confVer: 2, version: 1 }, peers: [...r.peers, step.changePeer?.peer ?? { id: 0, storeId: 0 }] };
      hb1.send(heartbeat(grown, s1));
      await eventually('the operator to finish', async () => {
        const res = await call<{ status: OperatorStatus }>((cb) => raw.getOperator({ header: { clusterId }, regionId: r.id }, cb));
        return res.status === OperatorStatus.SUCCESS ? true : undefined;
      });

      const transfer = await call<{ description: string }>((cb) => admin.addOperator({ header: { clusterId }, regionId: r.id, kind: OperatorKind.TRANSFER_LEADER, storeId: s2 }, cb));
      assert.match(transfer.description, /transfer leader/);
      const moved = await eventually('the transfer step', () => got1.find((res) => res.transferLeader !== undefined));
      assert.equal(moved.transferLeader?.peer?.storeId, s2);

      type Refusal = { header: { error?: { type: ErrorType; message: string } | undefined } | undefined };
      const refuse = (req: { regionId: number; kind: OperatorKind; storeId: number }, id = clusterId): Promise<Refusal> =>
        call<Refusal>((cb) => admin.addOperator({ header: { clusterId: id }, ...req }, cb));
      assert.equal((await refuse({ regionId: 987_654, kind: OperatorKind.ADD_PEER, storeId: s2 })).header?.error?.type, ErrorType.REGION_NOT_FOUND);
      assert.match((await refuse({ regionId: r.id, kind: 7 as OperatorKind, storeId: s2 })).header?.error?.message ?? '', /Unknown operator kind 7/);
      assert.match((await refuse({ regionId: r.id, kind: OperatorKind.ADD_PEER, storeId: 0 })).header?.error?.message ?? '', /store id must be a positive id/);
      assert.match((await refuse({ regionId: r.id, kind: OperatorKind.ADD_PEER, storeId: s2 }, clusterId + 1)).header?.error?.message ?? '', /mismatch cluster id/);

      // Open heartbeat streams do not hold up a graceful stop: they are ended at once.
      const stopping = Date.now();
      await t.stop();
      assert.ok(Date.now() - stopping < 900, `stop took ${Date.now() - stopping} ms`);
    } finally {
      pd1.close();
      pd2.close();
      await t.dispose();
    }
  });

  test('the cluster config and the GC safe point are persisted; the saved max_peer_count wins at restart', async () => {
    const t = new TestScheduler();
    await t.start();
    const pd = new PdClient({ addrs: t.addr });
    try {
      const clusterId = await pd.clusterId();
      let raw = t.raw();
      const header = { clusterId };
      type Header = { header: { clusterId: number; error?: { type: ErrorType; message: string } | undefined } | undefined };
      await assert.rejects(pd.putStore(store(5)), refusedWith('NOT_BOOTSTRAPPED'));
      const notYet = await call<Header>((cb) => raw.getGcSafePoint({ header }, cb));
      assert.equal(notYet.header?.error?.type, ErrorType.NOT_BOOTSTRAPPED);
      await bootstrap(pd, await pd.allocId());

      const config = await call<Header & { cluster: { id: number; maxPeerCount: number } | undefined }>((cb) => raw.getClusterConfig({ header }, cb));
      assert.deepEqual(config.cluster, { id: clusterId, maxPeerCount: 3 });
      const put = await call<Header>((cb) => raw.putClusterConfig({ header, cluster: { id: clusterId, maxPeerCount: 5 } }, cb));
      assert.equal(put.header?.error, undefined);
      const bad = await call<Header>((cb) => raw.putClusterConfig({ header, cluster: { id: clusterId, maxPeerCount: 0 } }, cb));
      assert.match(bad.header?.error?.message ?? '', /maxReplicas must be a positive integer/);
      const other = await call<Header>((cb) => raw.putClusterConfig({ header, cluster: { id: clusterId + 1, maxPeerCount: 4 } }, cb));
      assert.match(other.header?.error?.message ?? '', /does not match/);

      const update = (safePoint: bigint): Promise<{ newSafePoint: bigint }> => call((cb) => raw.updateGcSafePoint({ header, safePoint }, cb));
      assert.equal((await update(100n)).newSafePoint, 100n);
      assert.equal((await update(50n)).newSafePoint, 100n, 'the safe point never moves back');
      const big = (1n << 62n) + 3n;
      assert.equal((await update(big)).newSafePoint, big);

      await t.stop();
      await t.start(QUIET); // started with the default maxReplicas (3): the saved 5 wins
      raw = t.raw();
      const again = await call<{ cluster: { maxPeerCount: number } | undefined }>((cb) => raw.getClusterConfig({ header }, cb));
      assert.equal(again.cluster?.maxPeerCount, 5);
      assert.equal(t.server?.core.cluster.config.maxReplicas, 5);
      assert.equal((await call<{ safePoint: bigint }>((cb) => raw.getGcSafePoint({ header }, cb))).safePoint, big);
    } finally {
      pd.close();
      await t.dispose();
    }
  });

  test('refusals: another cluster, malformed bytes, a bad Tso count, ScatterRegion; GetMembers names this scheduler', async () => {
    const t = new TestScheduler();
    const server = await t.start();
    const stranger = new PdClient({ addrs: t.addr, clusterId: server.clusterId + 1 });
    try {
      await assert.rejects(stranger.allocId(), refusedWith('SCHEDULER_UNKNOWN', /mismatch cluster id/));
      const raw = t.raw();
      const unstated = await call<{ header: { error?: { message: string } | undefined } | undefined }>((cb) => raw.isBootstrapped({ header: undefined }, cb));
      assert.match(unstated.header?.error?.message ?? '', /mismatch cluster id, need \d+ but got 0/);

      const members = await call<{ header: { clusterId: number } | undefined; leader: { name: string; clientUrls: string[] } | undefined }>((cb) => raw.getMembers({ header: undefined }, cb));
      assert.equal(members.header?.clusterId, server.clusterId);
      assert.equal(members.leader?.name, 'tinykv-scheduler');
      assert.deepEqual(members.leader?.clientUrls, [`http://${t.addr}`]);

      const garbage = await new Promise<grpc.ServiceError | null>((resolve) => {
        raw.makeUnaryRequest('/schedulerpb.Scheduler/AllocID', (b: Buffer) => b, (b: Buffer) => b, Buffer.from([0x0a, 0xff]), (err) => resolve(err));
      });
      assert.equal(garbage?.code, grpc.status.INVALID_ARGUMENT);
      const scatter = await new Promise<grpc.ServiceError | null>((resolve) => raw.scatterRegion({ header: { clusterId: server.clusterId }, regionId: 1, region: undefined, leader: undefined }, (err) => resolve(err)));
      assert.equal(scatter?.code, grpc.status.UNIMPLEMENTED);

      // Tso: a refused request is answered in its turn, and the stream goes on.
      const tso = raw.tso();
      const answers: TsoResponse[] = [];
      tso.on('data', (res: TsoResponse) => answers.push(res));
      tso.write({ header: { clusterId: server.clusterId }, count: 0 });
      tso.write({ header: { clusterId: server.clusterId }, count: 3 });
      await eventually('two Tso answers', () => (answers.length === 2 ? true : undefined));
      assert.match(answers[0]?.header?.error?.message ?? '', /count must be in/);
      assert.equal(answers[1]?.header?.error, undefined);
      assert.equal(answers[1]?.count, 3);
      assert.ok((answers[1]?.timestamp?.logical ?? 0) >= 3);
      // The client half-closes; the server ends the stream OK once every answer is written.
      const status = new Promise<grpc.StatusObject>((resolve) => tso.on('status', resolve));
      tso.on('error', () => undefined);
      tso.end();
      assert.equal((await status).code, grpc.status.OK);
    } finally {
      stranger.close();
      await t.dispose();
    }
  });
});
