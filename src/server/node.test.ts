// Goal: a store joining a scheduler-run cluster gets one identity for life,
// exactly one store bootstraps a new cluster, a crash between preparing the
// first region and the scheduler's answer resolves the right way on restart
// (keep the region if the cluster runs with it, delete it if another store
// won, retry if nobody did), and a data dir of another cluster is refused.
// Method: MemEngine stores and a scripted NodeScheduler double.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Region, Store } from '../pb/metapb.js';
import { StoreIdent } from '../pb/raft_serverpb.js';
import { PREPARE_BOOTSTRAP_KEY, regionStateKey, STORE_IDENT_KEY } from '../raftstore/meta/keys.js';
import { CF_META } from '../storage/engine.js';
import { MemEngine } from '../storage/mem_engine.js';
import { silentLogger } from '../util/log.js';
import { NODE_ERROR_CODES, NodeError, prepareNode } from './node.js';
import type { NodeScheduler } from './node.js';

class FakeScheduler implements NodeScheduler {
  nextId = 1;
  region: Region | undefined;
  readonly stores = new Map<number, Store>();
  /** Makes the next bootstrap call fail after the scheduler took it (the answer is lost). */
  loseNextBootstrapAnswer = false;

  constructor(private readonly id = 42) {}
  async clusterId(): Promise<number> {
    return this.id;
  }
  async isBootstrapped(): Promise<boolean> {
    return this.region !== undefined;
  }
  async allocId(): Promise<number> {
    return this.nextId++;
  }
  async bootstrap(_store: Store, region: Region): Promise<boolean> {
    if (this.region !== undefined) return false;
    this.region = region;
    if (this.loseNextBootstrapAnswer) {
      this.loseNextBootstrapAnswer = false;
      throw new Error('connection lost');
    }
    return true;
  }
  async putStore(store: Store): Promise<void> {
    this.stores.set(store.id, store);
  }
  async regionById(regionId: number): Promise<Region | undefined> {
    return this.region?.id === regionId ? this.region : undefined;
  }
}

const log = silentLogger();

describe('prepareNode', () => {
  test('the first store bootstraps, the second joins empty, identities stay', async () => {
    const pd = new FakeScheduler();
    const e1 = new MemEngine();
    const e2 = new MemEngine();
    const a = await prepareNode(e1, pd, 'h:1', log);
    assert.deepEqual(a, { clusterId: 42, storeId: 1, bootstrapped: true });
    assert.equal(pd.region?.peers[0]?.storeId, 1);
    assert.ok(e1.get(CF_META, regionStateKey(pd.region?.id ?? 0)) !== undefined);
    assert.equal(e1.get(CF_META, PREPARE_BOOTSTRAP_KEY), undefined);
    const b = await prepareNode(e2, pd, 'h:2', log);
    assert.equal(b.bootstrapped, false);
    assert.notEqual(b.storeId, a.storeId);
    assert.equal(e2.get(CF_META, regionStateKey(pd.region?.id ?? 0)), undefined);
    // A restart keeps the identity and re-registers the (new) address.
    const again = await prepareNode(e1, pd, 'h:9', log);
    assert.equal(again.storeId, a.storeId);
    assert.equal(pd.stores.get(a.storeId)?.address, 'h:9');
  });

  test('a crash after the scheduler took the region keeps it on restart', async () => {
    const pd = new FakeScheduler();
    pd.loseNextBootstrapAnswer = true;
    const e = new MemEngine();
    await assert.rejects(prepareNode(e, pd, 'h:1', log));
    assert.ok(e.get(CF_META, PREPARE_BOOTSTRAP_KEY) !== undefined);
    const r = await prepareNode(e, pd, 'h:1', log);
    assert.equal(r.bootstrapped, false);
    assert.equal(e.get(CF_META, PREPARE_BOOTSTRAP_KEY), undefined);
    assert.ok(e.get(CF_META, regionStateKey(pd.region?.id ?? 0)) !== undefined, 'the region the cluster runs with stays');
  });

  test('a prepared region loses to another store: it is deleted', async () => {
    const pd = new FakeScheduler();
    const e = new MemEngine();
    // Prepare, then "crash" before asking the scheduler: simulate by making bootstrap throw before taking it.
    const original = pd.bootstrap.bind(pd);
    pd.bootstrap = async () => {
      throw new Error('crash');
    };
    await assert.rejects(prepareNode(e, pd, 'h:1', log));
    const prepared = e.get(CF_META, PREPARE_BOOTSTRAP_KEY);
    assert.ok(prepared !== undefined);
    pd.bootstrap = original;
    // Another store bootstraps meanwhile.
    await prepareNode(new MemEngine(), pd, 'h:2', log);
    const winner = pd.region?.id;
    const r = await prepareNode(e, pd, 'h:1', log);
    assert.equal(r.bootstrapped, false);
    assert.equal(e.get(CF_META, PREPARE_BOOTSTRAP_KEY), undefined);
    for (let id = 1; id < pd.nextId; id++) {
      if (id !== winner) assert.equal(e.get(CF_META, regionStateKey(id)), undefined, `region ${id} was deleted`);
    }
  });

  test('a prepared region nobody took is retried', async () => {
    const pd = new FakeScheduler();
    const e = new MemEngine();
    const original = pd.bootstrap.bind(pd);
    pd.bootstrap = async () => {
      throw new Error('crash');
    };
    await assert.rejects(prepareNode(e, pd, 'h:1', log));
    pd.bootstrap = original;
    const r = await prepareNode(e, pd, 'h:1', log);
    assert.equal(r.bootstrapped, true);
    assert.ok(e.get(CF_META, regionStateKey(pd.region?.id ?? 0)) !== undefined);
  });

  test('a data dir of another cluster is refused', async () => {
    const e = new MemEngine();
    await prepareNode(e, new FakeScheduler(42), 'h:1', log);
    await assert.rejects(prepareNode(e, new FakeScheduler(7), 'h:1', log), (err: unknown) => err instanceof NodeError && err.code === NODE_ERROR_CODES.ClusterMismatch);
    const ident = StoreIdent.decode(e.get(CF_META, STORE_IDENT_KEY) as Uint8Array);
    assert.equal(ident.clusterId, 42);
  });
});
