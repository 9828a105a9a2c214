// Goal: the TxnClient works against the real cluster through GrpcTxnRpc: a
// transaction across a region split commits (its stale batch answers
// REGION_CHANGED and is regrouped) and reads back by get and scan from a
// fresh client; a request pinned to a region that split answers
// REGION_CHANGED without being served; an abandoned transaction's locks are
// rolled back by a reader (KvCheckTxnStatus, KvResolveLock) and a committed
// primary's locked secondary is committed by one.
// Method: a scheduler and three stores on loopback (server/_test_cluster.ts);
// the split is made on the leader's StoreNode (`tinykv ctl split`'s path);
// abandoned locks are written with raw TxnRpc calls.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Op } from '../pb/kvrpcpb.js';
import { startTestCluster } from '../server/_test_cluster.js';
import type { TestCluster } from '../server/_test_cluster.js';
import { PdClient } from './scheduler_client.js';
import { TxnClient } from './txn_client.js';
import { REGION_CHANGED } from './txn_rpc.js';
import type { RegionChanged, RegionRef, TxnMethod, TxnRequest, TxnResponse, TxnRpc } from './txn_rpc.js';
import { GrpcTxnRpc } from './txn_rpc_grpc.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));
const KEYS = 'abcdefghijklmnopqrstuvwxyz'.split('').map((l) => `k${l}`);

/** Counts the REGION_CHANGED answers of the rpc it wraps. */
class Counting implements TxnRpc {
  regionChanged = 0;
  constructor(readonly inner: GrpcTxnRpc) {}
  tso(deadlineMs: number): Promise<bigint> {
    return this.inner.tso(deadlineMs);
  }
  nowMs(): number {
    return this.inner.nowMs();
  }
  sleep(ms: number): Promise<void> {
    return this.inner.sleep(ms);
  }
  locate(key: Uint8Array, deadlineMs: number): Promise<RegionRef> {
    return this.inner.locate(key, deadlineMs);
  }
  async call<M extends TxnMethod>(method: M, region: RegionRef, request: TxnRequest<M>, deadlineMs: number): Promise<TxnResponse<M> | RegionChanged> {
    const res = await this.inner.call(method, region, request, deadlineMs);
    if (res === REGION_CHANGED) this.regionChanged++;
    return res;
  }
  close(): void {
    this.inner.close();
  }
}

describe('GrpcTxnRpc against a scheduler and three stores', () => {
  let cluster: TestCluster;
  let pd: PdClient;
  const rpcOptions = { attemptTimeoutMs: 1_000, retryPauseMs: 20, retryPauseMsMax: 200 } as const;
  const newClient = (): { client: TxnClient; rpc: GrpcTxnRpc; counting: Counting } => {
    const rpc = new GrpcTxnRpc({ pd: cluster.scheduler.addr, ...rpcOptions });
    const counting = new Counting(rpc);
    return { client: new TxnClient({ rpc: counting, timeoutMs: 10_000, lockTtlMs: 300, backoffMaxMs: 100 }), rpc, counting };
  };

  before(async () => {
    cluster = await startTestCluster('tinykv-txn-');
    pd = new PdClient({ addrs: cluster.scheduler.addr });
  });

  after(async () => {
    pd.close();
    await cluster.stop();
  });

  test('a txn across a region split commits, is regrouped, and reads back from a fresh client', async () => {
    const { client, rpc, counting } = newClient();
    const first = await client.begin();
    for (const k of KEYS) first.put(enc(k), enc(`${k}-1`));
    await first.commit();
    const before = await rpc.locate(enc('ka'), Date.now() + 5_000);
    const leader = cluster.stores.find((s) => s.node.isLeader(before.id));
    assert.ok(leader !== undefined);
    const outcome = await leader.node.splitRegion(before.id, undefined, Buffer.from('km'));
    assert.equal(outcome.regions?.length, 2, JSON.stringify(outcome));
    // The client's cache still holds the region before the split.
    const second = await client.begin();
    for (const k of KEYS) second.put(enc(k), enc(`${k}-2`));
    await second.commit();
    await client.flush();
    assert.ok(counting.regionChanged >= 1, 'the stale batch was regrouped');
    const after = await rpc.locate(enc('kz'), Date.now() + 5_000);
    assert.notEqual(after.id, before.id, 'the client learnt the new region');
    assert.equal(await rpc.call('KvGet', before, { context: undefined, key: Buffer.from('ka'), version: 1n }, Date.now() + 5_000), REGION_CHANGED);

    const { client: fresh } = newClient();
    const txn = await fresh.begin();
    assert.equal(dec(await txn.get(enc('ka'))), 'ka-2');
    assert.equal(dec(await txn.get(enc('kz'))), 'kz-2');
    const all = await txn.scan(enc('k'), enc('l'), 100);
    assert.deepEqual(all.map((e) => dec(e.key)), KEYS);
    assert.ok(all.every((e) => dec(e.value) === `${dec(e.key)}-2`));
    await fresh.close();
    await client.close();
  });

  test('a reader rolls back an abandoned txn after its TTL and commits a committed one secondaries', async () => {
    const { client, rpc } = newClient();
    const deadline = (): number => Date.now() + 5_000;
    const prewrite = async (startTs: bigint, keys: readonly string[], value: string): Promise<void> => {
      for (const k of keys) {
        const region = await rpc.locate(enc(k), deadline());
        const res = await rpc.call('KvPrewrite', region, {
          context: undefined, mutations: [{ op: Op.Put, key: Buffer.from(k), value: Buffer.from(value) }],
          primaryLock: Buffer.from(keys[0] as string), startVersion: startTs, lockTtl: 300,
        }, deadline());
        assert.ok(res !== REGION_CHANGED && res.errors.length === 0, JSON.stringify(res));
      }
    };
    // Abandoned: prewritten on both sides of the split, never committed.
    const abandoned = await rpc.tso(deadline());
    const abandonedAtMs = Date.now();
    await prewrite(abandoned, ['kb', 'ky'], 'abandoned');
    // Committed on its primary only.
    const committed = await rpc.tso(deadline());
    await prewrite(committed, ['kc', 'kx'], 'committed');
    const commitTs = await rpc.tso(deadline());
    const primaryRegion = await rpc.locate(enc('kc'), deadline());
    const res = await rpc.call('KvCommit', primaryRegion, { context: undefined, startVersion: committed, keys: [Buffer.from('kc')], commitVersion: commitTs }, deadline());
    assert.ok(res !== REGION_CHANGED && res.error === undefined);

    const txn = await client.begin();
    assert.equal(dec(await txn.get(enc('ky'))), 'ky-2');
    // The lock expires 300 ms (TSO physical time) after its start ts.
    assert.ok(Date.now() - abandonedAtMs >= 250, 'the reader waited for the TTL');
    assert.equal(dec(await txn.get(enc('kx'))), 'committed');
    const all = await txn.scan(enc('k'), enc('l'), 100);
    assert.deepEqual(all.filter((e) => dec(e.key) === 'kb' || dec(e.key) === 'kc').map((e) => dec(e.value)), ['kb-2', 'committed']);
    await client.close();
  });
});
