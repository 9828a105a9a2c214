/**
 * Goal: transactional requests run in the simulator through the production
 * code on both ends (the stores' `Server` over their raft storage, the
 * client's `TxnRpc` contract), on virtual time, deterministically: a round
 * trip works, survives message loss and a crash of the leader's store,
 * replays bit for bit, answers REGION_CHANGED once a split changed the
 * region, and a `TxnClient` runs unchanged over it; the async scenario runs
 * through `runSeedAsync`.
 *
 * Method: build a 3-store cluster from a seed, drive it with the async
 * driver (runForAsync, runUntilSettled), and call `SimTxnRpc` directly (or a
 * TxnClient over it); compare trace digests of two runs of one seed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Op } from '../../pb/kvrpcpb.js';
import { TxnClient } from '../../client/txn_client.js';
import { REGION_CHANGED } from '../../client/txn_rpc.js';
import type { RegionRef } from '../../client/txn_rpc.js';
import { ClientError, CLIENT_ERROR_CODES } from '../../client/errors.js';
import { RATIO_NEVER, ratio } from '../prng.js';
import { runSeedAsync } from '../runner.js';
import { findScenario } from '../scenarios.js';
import { runForAsync, runUntilSettled } from './async_driver.js';
import { Cluster } from './cluster.js';
import type { ClusterOptions } from './cluster.js';
import { drawClusterOptions, electionTimeoutMs, seedStream } from './generic_test.js';
import { bytes, text } from './harness.js';
import { AdminLink, mustSplit } from './hard_cases_support.js';
import { SimTxnRpc } from './sim_txn_rpc.js';
import { txnGet, txnPut } from './txn_rpc_scenario.js';

const budgetMs = 30_000;

function options(seed: number, lossy: boolean): ClusterOptions {
  const base = drawClusterOptions(seedStream(seed), { nclients: 1, unreliable: lossy, crash: lossy, partitions: false, maxraftlog: -1 }, 3);
  const network = lossy
    ? { ...base.network, dropRatio: ratio(10, 100), clientDropRatio: ratio(5, 100) }
    : { ...base.network, dropRatio: RATIO_NEVER, clientDropRatio: RATIO_NEVER };
  return { ...base, network };
}

/** A started cluster with a leader for region 1 and an rpc endpoint. */
async function started(seed: number, lossy: boolean): Promise<{ cluster: Cluster; rpc: SimTxnRpc }> {
  const cluster = new Cluster(seed, options(seed, lossy), { traceEnabled: true });
  cluster.start();
  const rpc = new SimTxnRpc(cluster, cluster.random.stream('txn rpc'));
  await runForAsync(cluster, 2 * electionTimeoutMs);
  return { cluster, rpc };
}

function deadline(rpc: SimTxnRpc): number {
  return rpc.nowMs() + budgetMs;
}

/** `rpc.call` on the cluster's clock; the test fails on REGION_CHANGED. */
async function mustCall<R>(cluster: Cluster, what: string, call: Promise<R | typeof REGION_CHANGED>): Promise<R> {
  const r = await runUntilSettled(cluster, call, budgetMs + 1, what);
  assert.notEqual(r, REGION_CHANGED, `${what}: REGION_CHANGED`);
  return r as R;
}

test('prewrite, commit and get round trip through SimTxnRpc.call on 3 stores', async () => {
  const { cluster, rpc } = await started(1, false);
  const key = bytes('k1');
  const region = await runUntilSettled(cluster, rpc.locate(key, deadline(rpc)), budgetMs, 'locate');
  assert.equal(region.id, 1);
  const startVersion = await runUntilSettled(cluster, rpc.tso(deadline(rpc)), budgetMs, 'tso');
  const prewrite = await mustCall(cluster, 'prewrite', rpc.call('KvPrewrite', region, {
    context: undefined, mutations: [{ op: Op.Put, key, value: bytes('v1') }], primaryLock: key, startVersion, lockTtl: 3_000,
  }, deadline(rpc)));
  assert.deepEqual(prewrite.errors, []);
  assert.equal(prewrite.regionError, undefined);
  // Before the commit a reader at a later timestamp meets the lock.
  const between = await runUntilSettled(cluster, rpc.tso(deadline(rpc)), budgetMs, 'tso');
  const locked = await mustCall(cluster, 'get while locked', rpc.call('KvGet', region, { context: undefined, key, version: between }, deadline(rpc)));
  assert.equal(locked.error?.locked?.lockVersion, startVersion);
  const commitVersion = await runUntilSettled(cluster, rpc.tso(deadline(rpc)), budgetMs, 'tso');
  assert.ok(commitVersion > between && between > startVersion, 'TSO timestamps grow');
  const commit = await mustCall(cluster, 'commit', rpc.call('KvCommit', region, { context: undefined, startVersion, keys: [key], commitVersion }, deadline(rpc)));
  assert.equal(commit.error, undefined);
  const readVersion = await runUntilSettled(cluster, rpc.tso(deadline(rpc)), budgetMs, 'tso');
  const got = await mustCall(cluster, 'get', rpc.call('KvGet', region, { context: undefined, key, version: readVersion }, deadline(rpc)));
  assert.equal(got.error, undefined);
  assert.equal(got.notFound, false);
  assert.equal(text(got.value), 'v1');
  // A snapshot read before the commit still sees nothing.
  const old = await mustCall(cluster, 'old get', rpc.call('KvGet', region, { context: undefined, key, version: startVersion - 1n }, deadline(rpc)));
  assert.equal(old.notFound, true);
  assert.equal(rpc.inFlight, 0);
  rpc.close();
  await assert.rejects(rpc.tso(deadline(rpc)), (e: unknown) => e instanceof ClientError && e.code === CLIENT_ERROR_CODES.Closed);
});

/** Writes, crashes the leader's store between prewrite and commit, finishes, reads: the run's digest and reads. */
async function lossyCrashRun(seed: number): Promise<{ digest: string; reads: (string | undefined)[]; virtualMs: number }> {
  const { cluster, rpc } = await started(seed, true);
  const reads: (string | undefined)[] = [];
  for (let round = 0; round < 4; round++) {
    const key = `k${round % 2}`;
    const k = bytes(key);
    const region = await runUntilSettled(cluster, rpc.locate(k, deadline(rpc)), budgetMs, 'locate');
    const startVersion = await runUntilSettled(cluster, rpc.tso(deadline(rpc)), budgetMs, 'tso');
    const prewrite = await mustCall(cluster, `prewrite ${round}`, rpc.call('KvPrewrite', region, {
      context: undefined, mutations: [{ op: Op.Put, key: k, value: bytes(`v${round}`) }], primaryLock: k, startVersion, lockTtl: 3_000,
    }, deadline(rpc)));
    assert.deepEqual(prewrite.errors, []);
    if (round === 1) {
      // The leader's store dies between the two phases; it comes back a second later.
      const leader = cluster.scheduler.leaderOf(region.id);
      assert.ok(leader !== undefined);
      cluster.stopServer(leader.storeId);
      await runForAsync(cluster, 1_000);
      cluster.startServer(leader.storeId);
    }
    const commitVersion = await runUntilSettled(cluster, rpc.tso(deadline(rpc)), budgetMs, 'tso');
    const commit = await mustCall(cluster, `commit ${round}`, rpc.call('KvCommit', region, { context: undefined, startVersion, keys: [k], commitVersion }, deadline(rpc)));
    assert.equal(commit.error, undefined);
    reads.push(await runUntilSettled(cluster, txnGet(rpc, key, deadline(rpc)), budgetMs + 1, `get ${key}`));
  }
  rpc.close();
  await runForAsync(cluster, 100);
  return { digest: cluster.trace.digest(), reads, virtualMs: cluster.clock.nowMs };
}

test('the round trip survives message loss and a crash of the leader store, and replays bit for bit', async () => {
  const first = await lossyCrashRun(7);
  assert.deepEqual(first.reads, ['v0', 'v1', 'v2', 'v3']);
  const second = await lossyCrashRun(7);
  assert.equal(second.digest, first.digest);
  assert.deepEqual(second.reads, first.reads);
  assert.equal(second.virtualMs, first.virtualMs);
  const other = await lossyCrashRun(8);
  assert.deepEqual(other.reads, first.reads);
  assert.notEqual(other.digest, first.digest);
});

test('a call for a region that split answers REGION_CHANGED, and the cache then knows the new regions', async () => {
  const { cluster, rpc } = await started(3, false);
  await runUntilSettled(cluster, txnPut(rpc, 'a', 'va', deadline(rpc)), budgetMs + 1, 'put a');
  await runUntilSettled(cluster, txnPut(rpc, 'z', 'vz', deadline(rpc)), budgetMs + 1, 'put z');
  const before: RegionRef = await runUntilSettled(cluster, rpc.locate(bytes('z'), deadline(rpc)), budgetMs, 'locate');
  // No async work is in flight: the synchronous helpers may drive the clock.
  const newRegionId = mustSplit(cluster, new AdminLink(cluster), before.id, 'm');
  const version = await runUntilSettled(cluster, rpc.tso(deadline(rpc)), budgetMs, 'tso');
  const stale = await runUntilSettled(cluster, rpc.call('KvGet', before, { context: undefined, key: bytes('z'), version }, deadline(rpc)), budgetMs + 1, 'get on the old region');
  assert.equal(stale, REGION_CHANGED);
  // The cache learnt the split from EpochNotMatch: the old ref is refused at once now.
  const atOnce = await runUntilSettled(cluster, rpc.call('KvGet', before, { context: undefined, key: bytes('a'), version }, deadline(rpc)), budgetMs + 1, 'second get on the old region');
  assert.equal(atOnce, REGION_CHANGED);
  const left = await runUntilSettled(cluster, rpc.locate(bytes('a'), deadline(rpc)), budgetMs, 'locate a');
  const right = await runUntilSettled(cluster, rpc.locate(bytes('z'), deadline(rpc)), budgetMs, 'locate z');
  assert.notEqual(left.id, right.id);
  assert.ok([left.id, right.id].includes(newRegionId));
  assert.ok(right.epoch.version > before.epoch.version);
  assert.equal(await runUntilSettled(cluster, txnGet(rpc, 'z', deadline(rpc)), budgetMs + 1, 'get z'), 'vz');
  assert.equal(await runUntilSettled(cluster, txnGet(rpc, 'a', deadline(rpc)), budgetMs + 1, 'get a'), 'va');
  rpc.close();
});

test('a TxnClient runs transactions over SimTxnRpc on virtual time', async () => {
  const { cluster, rpc } = await started(5, true);
  const client = new TxnClient({ rpc, timeoutMs: budgetMs });
  const transfer = async (): Promise<void> => {
    const setup = await client.begin();
    setup.put(bytes('acct1'), bytes('60'));
    setup.put(bytes('acct2'), bytes('40'));
    assert.ok((await setup.commit()) !== undefined);
    for (let i = 0; i < 3; i++) {
      const txn = await client.begin();
      const a = Number(text((await txn.get(bytes('acct1'))) ?? bytes('0')));
      const b = Number(text((await txn.get(bytes('acct2'))) ?? bytes('0')));
      txn.put(bytes('acct1'), bytes(String(a - 10)));
      txn.put(bytes('acct2'), bytes(String(b + 10)));
      await txn.commit();
    }
  };
  await runUntilSettled(cluster, transfer(), 4 * budgetMs, 'transfers');
  const check = async (): Promise<[string, string]> => {
    const txn = await client.begin();
    const a = await txn.get(bytes('acct1'));
    const b = await txn.get(bytes('acct2'));
    return [text(a ?? new Uint8Array()), text(b ?? new Uint8Array())];
  };
  assert.deepEqual(await runUntilSettled(cluster, check(), budgetMs, 'check'), ['30', '70']);
  await runUntilSettled(cluster, client.close(), budgetMs, 'close');
});

test('with every store down a call ends by its deadline; close() rejects calls in flight and ends sleeps', async () => {
  const { cluster, rpc } = await started(4, false);
  const region = await runUntilSettled(cluster, rpc.locate(bytes('k'), deadline(rpc)), budgetMs, 'locate');
  for (const id of cluster.storeIds) cluster.stopServer(id);
  const get = (deadlineMs: number): Promise<unknown> => rpc.call('KvGet', region, { context: undefined, key: bytes('k'), version: 1n }, deadlineMs);
  const t0 = rpc.nowMs();
  await assert.rejects(runUntilSettled(cluster, get(t0 + 2_500), 5_000, 'get'), (e: unknown) => e instanceof ClientError && e.code === CLIENT_ERROR_CODES.DeadlineExceeded);
  assert.equal(rpc.nowMs(), t0 + 2_500, 'the call ends exactly at its deadline');
  const inFlight = get(rpc.nowMs() + budgetMs);
  const sleeping = rpc.sleep(60_000);
  await runForAsync(cluster, 100);
  assert.equal(rpc.inFlight, 1);
  rpc.close();
  await assert.rejects(inFlight, (e: unknown) => e instanceof ClientError && e.code === CLIENT_ERROR_CODES.Closed);
  await sleeping;
  assert.equal(rpc.inFlight, 0);
});

test('the mock scheduler TSO is strictly increasing and carries virtual ms in its physical part', async () => {
  const { cluster, rpc } = await started(2, false);
  const a = await runUntilSettled(cluster, rpc.tso(deadline(rpc)), budgetMs, 'tso');
  assert.ok(a >> 18n <= BigInt(rpc.nowMs()) && a >> 18n > 0n);
  const s = cluster.scheduler;
  const now = rpc.nowMs();
  const same = [s.tso(now), s.tso(now), s.tso(now)];
  assert.ok(same[0]! < same[1]! && same[1]! < same[2]!);
  assert.equal(same[2]! >> 18n, BigInt(now));
  assert.ok(s.tso(now + 1) === BigInt(now + 1) << 18n);
});

test('the txn_rpc_basic scenario passes through runSeedAsync, and a seed replays bit for bit', async () => {
  const scenario = findScenario('txn_rpc_basic');
  assert.ok(scenario !== undefined);
  for (const seed of [1, 2]) {
    const first = await runSeedAsync(scenario, seed);
    assert.ok(first.passed, `${first.failure?.kind}: ${first.failure?.message}`);
    assert.ok((first.stats['operations'] ?? 0) > 20);
    const again = await runSeedAsync(scenario, seed);
    assert.equal(again.traceDigest, first.traceDigest);
    assert.deepEqual(again.history, first.history);
  }
});
