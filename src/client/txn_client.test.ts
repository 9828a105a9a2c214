// Goal: the TxnClient runs Percolator as client-go does: reads see their own
// writes and a snapshot at startTs; commits are atomic across regions; a
// write-write conflict aborts with nothing visible; locks met by reads and
// prewrites are waited on while their txn lives, rolled back once its TTL
// expired, committed from the primary's record once it committed; batches
// are regrouped when regions change; a lost primary-commit answer is
// COMMIT_OUTCOME_UNKNOWN; and concurrent transfers keep a bank's total.
// Method: _txn_test_rpc.ts: an in-process Server over a MemEngine split into
// regions, a virtual clock (TTLs and timeouts cost no real time) and a TSO
// counter; one TestTxnRpc per client, with faults (delays, lost requests,
// lost answers, REGION_CHANGED) scripted per test. The bank test draws its
// delays and transfers from a seeded Prng.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../util/prng.js';
import { ClientError, CLIENT_ERROR_CODES } from './errors.js';
import { TxnClient } from './txn_client.js';
import type { Transaction } from './txn_client.js';
import { TxnError, TXN_ERROR_CODES } from './txn_errors.js';
import { TestCluster } from './_txn_test_rpc.js';
import type { TestTxnRpc, TxnCall } from './_txn_test_rpc.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : new TextDecoder().decode(b));
const isTxnError = (code: string) => (err: unknown) => err instanceof TxnError && err.code === code;
const LOCK_TTL_MS = 3_000;

/** Three regions: [, g) id 1, [g, p) id 2, [p, ) id 3. */
function setup(splitKeys: readonly string[] = ['g', 'p']): { cluster: TestCluster; client: (rpc?: TestTxnRpc) => { client: TxnClient; rpc: TestTxnRpc } } {
  const cluster = new TestCluster(splitKeys);
  return {
    cluster,
    client: (rpc = cluster.rpc()) => ({ client: new TxnClient({ rpc, lockTtlMs: LOCK_TTL_MS }), rpc }),
  };
}

async function write(client: TxnClient, entries: Record<string, string | undefined>): Promise<bigint | undefined> {
  const txn = await client.begin();
  for (const [k, v] of Object.entries(entries)) {
    if (v === undefined) txn.delete(enc(k));
    else txn.put(enc(k), enc(v));
  }
  return txn.commit();
}

async function read(client: TxnClient, keys: readonly string[]): Promise<(string | undefined)[]> {
  const txn = await client.begin();
  const out: (string | undefined)[] = [];
  for (const k of keys) out.push(dec(await txn.get(enc(k))));
  return out;
}

const commitOf = (c: TxnCall): boolean => c.method === 'KvCommit';
const holds = (c: TxnCall, key: string): boolean => c.method === 'KvCommit' && c.req.keys.some((k) => dec(k) === key);

describe('TxnClient', () => {
  test('a txn across regions commits; a later txn reads every key; commitTs > startTs', async () => {
    const { client } = setup();
    const { client: c, rpc } = client();
    const txn = await c.begin();
    txn.put(enc('a'), enc('1'));
    txn.put(enc('h'), enc('2'));
    txn.put(enc('x'), enc('3'));
    const commitTs = await txn.commit();
    assert.ok(commitTs !== undefined && commitTs > txn.startTs);
    assert.equal(txn.commitTs, commitTs);
    assert.equal(dec(txn.primaryKey), 'a');
    await c.flush();
    assert.deepEqual(await read(c, ['a', 'h', 'x', 'b']), ['1', '2', '3', undefined]);
    // One prewrite and one commit per region; reads met no lock.
    assert.equal(rpc.count('KvPrewrite'), 3);
    assert.equal(rpc.count('KvCommit'), 3);
    assert.equal(rpc.count('KvCheckTxnStatus'), 0);
    await c.close();
  });

  test('reads see the txn own writes first; a read-only or empty txn sends nothing', async () => {
    const { client } = setup();
    const { client: c, rpc } = client();
    await write(c, { a: 'old', h: 'old', z: 'old' });
    const txn = await c.begin();
    txn.put(enc('a'), enc('new'));
    txn.delete(enc('h'));
    txn.put(enc('q'), enc('added'));
    assert.equal(dec(await txn.get(enc('a'))), 'new');
    assert.equal(await txn.get(enc('h')), undefined);
    assert.equal(dec(await txn.get(enc('z'))), 'old');
    const all = await txn.scan(enc(''), enc(''), 10);
    assert.deepEqual(all.map((e) => [dec(e.key), dec(e.value)]), [['a', 'new'], ['q', 'added'], ['z', 'old']]);
    assert.deepEqual((await txn.scan(enc(''), enc(''), 2)).map((e) => dec(e.key)), ['a', 'q']);
    await txn.rollback();
    assert.deepEqual(await read(c, ['a', 'h', 'q']), ['old', 'old', undefined]);
    const sent = rpc.log.length;
    const ro = await c.begin();
    await ro.get(enc('a'));
    assert.equal(await ro.commit(), undefined);
    assert.equal(rpc.log.length, sent + 1, 'only the get was sent');
    assert.throws(() => ro.put(enc('a'), enc('x')), /committed/);
    await c.close();
  });

  test('snapshot isolation: a txn does not see a commit made after it started', async () => {
    const { client } = setup();
    const { client: c } = client();
    await write(c, { a: '1', x: '1' });
    const early = await c.begin();
    await write(c, { a: '2', x: '2' });
    assert.equal(dec(await early.get(enc('a'))), '1');
    assert.deepEqual((await early.scan(enc(''), enc(''), 10)).map((e) => dec(e.value)), ['1', '1']);
    assert.deepEqual(await read(c, ['a', 'x']), ['2', '2']);
    await c.close();
  });

  test('a write-write conflict aborts with WRITE_CONFLICT and leaves nothing visible or locked', async () => {
    const { client } = setup();
    const { client: c, rpc } = client();
    await write(c, { h: '0' });
    const loser = await c.begin();
    const winner = await c.begin();
    winner.put(enc('h'), enc('winner'));
    await winner.commit();
    loser.put(enc('a'), enc('loser'));
    loser.put(enc('h'), enc('loser'));
    loser.put(enc('x'), enc('loser'));
    const err = await loser.commit().then(() => undefined, (e: unknown) => e);
    assert.ok(isTxnError(TXN_ERROR_CODES.WriteConflict)(err), String(err));
    assert.ok(err instanceof TxnError && err.retryable);
    assert.ok(rpc.count('KvBatchRollback') >= 1);
    const checks = rpc.count('KvCheckTxnStatus');
    assert.deepEqual(await read(c, ['a', 'h', 'x']), [undefined, 'winner', undefined]);
    assert.equal(rpc.count('KvCheckTxnStatus'), checks, 'no lock was left for the reader to resolve');
    await c.close();
  });

  test('a reader blocked by a live txn lock waits, then sees its commit', async () => {
    const { cluster, client } = setup();
    const { client: writer, rpc: writerRpc } = client();
    const { client: reader, rpc: readerRpc } = client();
    await write(writer, { a: 'old', x: 'old' });
    let reading: Promise<(string | undefined)[]> | undefined;
    let slowFrom = 0;
    // The commit is slow to arrive; the reader starts once the commit ts is taken.
    writerRpc.faults.delayMs = (c) => {
      if (!commitOf(c)) return 0;
      if (reading === undefined) {
        slowFrom = cluster.clock.nowMs();
        reading = read(reader, ['a', 'x']);
      }
      return 1_000;
    };
    await write(writer, { a: 'new', x: 'new' });
    assert.ok(reading !== undefined);
    assert.deepEqual(await reading, ['new', 'new']);
    assert.ok(cluster.clock.nowMs() - slowFrom >= 1_000, 'the reader waited for the commit');
    assert.ok(readerRpc.count('KvCheckTxnStatus') >= 1);
    await writer.close();
    await reader.close();
  });

  test('a txn older than the lock TTL at commit still prewrites live locks (the TTL counts its age)', async () => {
    const { client } = setup();
    const { client: writer, rpc: writerRpc } = client();
    const { client: reader, rpc: readerRpc } = client();
    await write(writer, { a: 'old', x: 'old' });
    let reading: Promise<(string | undefined)[]> | undefined;
    writerRpc.faults.delayMs = (c) => {
      if (!commitOf(c)) return 0;
      reading ??= read(reader, ['x', 'a']);
      return 500;
    };
    const txn = await writer.begin();
    await writerRpc.sleep(2 * LOCK_TTL_MS);
    txn.put(enc('a'), enc('new'));
    txn.put(enc('x'), enc('new'));
    await txn.commit();
    assert.deepEqual(await reading, ['new', 'new']);
    assert.equal(readerRpc.log.filter((c) => c.method === 'KvResolveLock' && c.req.commitVersion === 0n).length, 0, 'nothing was rolled back');
    await writer.close();
    await reader.close();
  });

  test('an abandoned txn (prewritten, client gone) is rolled back by a reader after its TTL', async () => {
    const { cluster, client } = setup();
    const { client: writer, rpc: writerRpc } = client();
    const { client: reader, rpc: readerRpc } = client();
    await write(reader, { a: 'old', x: 'old' });
    writerRpc.faults.dropRequest = (c) => {
      if (commitOf(c)) writerRpc.close();
      return commitOf(c);
    };
    const txn = await writer.begin();
    txn.put(enc('a'), enc('new'));
    txn.put(enc('x'), enc('new'));
    await assert.rejects(txn.commit(), isTxnError(TXN_ERROR_CODES.CommitOutcomeUnknown));
    const gone = cluster.clock.nowMs();
    assert.deepEqual(await read(reader, ['x', 'a']), ['old', 'old']);
    assert.ok(cluster.clock.nowMs() - gone >= LOCK_TTL_MS - 50, 'the reader waited out the TTL');
    assert.ok(readerRpc.count('KvResolveLock') >= 1);
    // The txn can never commit now: its primary holds a rollback record.
    assert.ok(txn.commitTs !== undefined);
    const late = await cluster.server.kvCommit({ context: undefined, startVersion: txn.startTs, keys: [Buffer.from('a')], commitVersion: txn.commitTs });
    assert.match(late.error?.abort ?? '', /rolled back/);
    await write(reader, { a: 'later', x: 'later' });
    assert.deepEqual(await read(reader, ['a', 'x']), ['later', 'later']);
    await reader.close();
  });

  test('a txn whose primary committed but not its secondaries: a reader commits them from the primary', async () => {
    const { client } = setup();
    const { client: writer, rpc: writerRpc } = client();
    const { client: reader, rpc: readerRpc } = client();
    writerRpc.faults.dropRequest = (c) => {
      const secondary = commitOf(c) && !holds(c, 'a');
      if (secondary) writerRpc.close();
      return secondary;
    };
    const txn = await writer.begin();
    txn.put(enc('a'), enc('1'));
    txn.put(enc('h'), enc('2'));
    txn.put(enc('x'), enc('3'));
    const commitTs = await txn.commit();
    await writer.flush();
    assert.deepEqual(await read(reader, ['h', 'x', 'a']), ['2', '3', '1']);
    const resolves = readerRpc.log.filter((c) => c.method === 'KvResolveLock');
    assert.equal(resolves.length, 2, 'one ResolveLock per region holding a secondary');
    assert.ok(resolves.every((c) => c.method === 'KvResolveLock' && c.req.commitVersion === commitTs));
    assert.equal(readerRpc.count('KvCheckTxnStatus'), 1, 'the decided status is cached');
    await reader.close();
  });

  test('batches are regrouped when regions split under the client, and the primary commit follows its region', async () => {
    const { cluster, client } = setup(['p']);
    const { client: c, rpc } = client();
    const txn = await c.begin();
    for (const k of ['a', 'c', 'h', 'm', 'q', 'z']) txn.put(enc(k), enc(k.toUpperCase()));
    const h = cluster.split('g');
    cluster.split('s');
    let once = true;
    rpc.faults.regionChanged = (call) => {
      const first = once && holds(call, 'a');
      if (first) once = false;
      return first;
    };
    await txn.commit();
    await c.flush();
    const prewrites = rpc.log.filter((call) => call.method === 'KvPrewrite');
    assert.ok(prewrites.some((call) => call.region.id === h.id), 'a batch went to the new region');
    const commits = rpc.log.filter((call) => call.method === 'KvCommit').map((call) => (call.method === 'KvCommit' ? call.req.keys.map((k) => dec(k)).join('') : ''));
    // The primary's batch changed region once: the primary was committed alone, then the rest.
    assert.deepEqual(commits.slice(0, 2), ['ac', 'a']);
    assert.deepEqual(await read(c, ['a', 'c', 'h', 'm', 'q', 'z']), ['A', 'C', 'H', 'M', 'Q', 'Z']);
    await c.close();
  });

  test('scan crosses regions, resolves the locks it meets and honours endKey and limit', async () => {
    const { client } = setup();
    const { client: c } = client();
    const { client: writer, rpc: writerRpc } = client();
    const letters = 'abcdefghijklmnopqrstuvwxyz'.split('');
    const base: Record<string, string> = {};
    for (const l of letters) base[l] = l;
    await write(c, base);
    // A committed txn (primary b, committed with e, its batch) leaves its secondaries k and t locked.
    writerRpc.faults.dropRequest = (call) => commitOf(call) && !holds(call, 'b');
    const txn = await writer.begin();
    for (const k of ['b', 'e', 'k', 't']) txn.put(enc(k), enc(k.toUpperCase()));
    await txn.commit();
    writerRpc.close();
    const reader = await c.begin();
    const all = await reader.scan(enc(''), enc(''), 100);
    assert.equal(all.length, 26);
    assert.deepEqual(all.filter((e) => dec(e.key) !== dec(e.value)).map((e) => dec(e.value)), ['B', 'E', 'K', 'T']);
    assert.deepEqual((await reader.scan(enc('f'), enc('r'), 100)).map((e) => dec(e.key)).join(''), 'fghijklmnopq');
    assert.deepEqual((await reader.scan(enc('e'), enc(''), 5)).map((e) => dec(e.key)).join(''), 'efghi');
    assert.deepEqual(await reader.scan(enc('r'), enc('f'), 5), []);
    await c.close();
  });

  test('COMMIT_OUTCOME_UNKNOWN when the primary commit answer is lost until the deadline; it carries commitTs', async () => {
    const { cluster } = setup();
    const rpc = cluster.rpc();
    const c = new TxnClient({ rpc, lockTtlMs: LOCK_TTL_MS, timeoutMs: 2_000 });
    rpc.faults.dropResponse = (call) => holds(call, 'a');
    const txn = await c.begin();
    txn.put(enc('a'), enc('1'));
    txn.put(enc('x'), enc('2'));
    const err = await txn.commit().then(() => undefined, (e: unknown) => e);
    assert.ok(isTxnError(TXN_ERROR_CODES.CommitOutcomeUnknown)(err), String(err));
    assert.ok(err instanceof TxnError && !err.retryable && err.commitTs === txn.commitTs && err.commitTs !== undefined);
    // Here the commit applied: a reader settles the secondary from the primary.
    rpc.faults = {};
    assert.deepEqual(await read(c, ['x', 'a']), ['2', '1']);
    await c.close();
  });

  test('a txn whose primary was rolled back by a reader fails TXN_ABORTED', async () => {
    const { client } = setup();
    const { client: writer, rpc: writerRpc } = client();
    const { client: reader } = client();
    await write(reader, { a: 'old' });
    let readerDone: Promise<(string | undefined)[]> | undefined;
    // The commit is held past the TTL while a reader rolls the lock back.
    writerRpc.faults.delayMs = (c) => {
      if (!commitOf(c)) return 0;
      readerDone ??= read(reader, ['a']);
      return LOCK_TTL_MS * 3;
    };
    const txn = await writer.begin();
    txn.put(enc('a'), enc('new'));
    txn.put(enc('x'), enc('new'));
    const err = await txn.commit().then(() => undefined, (e: unknown) => e);
    assert.ok(isTxnError(TXN_ERROR_CODES.TxnAborted)(err), String(err));
    assert.ok(err instanceof TxnError && err.retryable);
    assert.deepEqual(await readerDone, ['old']);
    await writer.flush();
    writerRpc.faults = {};
    assert.deepEqual(await read(reader, ['a', 'x']), ['old', undefined]);
    await writer.close();
    await reader.close();
  });

  test('bank: 20 concurrent transfers with retries keep the total', async () => {
    const { cluster } = setup(['acct-3', 'acct-6']);
    const prng = new Prng(20_240_601);
    const accounts = Array.from({ length: 9 }, (_, i) => `acct-${i}`);
    const rpc = cluster.rpc();
    rpc.faults.delayMs = () => prng.intInclusive(0, 20);
    const c = new TxnClient({ rpc, lockTtlMs: LOCK_TTL_MS });
    const initial: Record<string, string> = {};
    for (const a of accounts) initial[a] = '100';
    await write(c, initial);
    const retries = { count: 0 };
    const transfer = async (from: string, to: string, amount: number): Promise<void> => {
      for (let attempt = 0; attempt < 50; attempt++) {
        const txn = await c.begin();
        try {
          await move(txn, from, to, amount);
          await txn.commit();
          return;
        } catch (err: unknown) {
          if (!(err instanceof TxnError) || !err.retryable) throw err;
          retries.count++;
          await rpc.sleep(prng.intInclusive(1, 50));
        }
      }
      assert.fail(`transfer ${from} -> ${to} did not commit in 50 attempts`);
    };
    const transfers = Array.from({ length: 20 }, () => {
      const from = accounts[prng.intInclusive(0, accounts.length - 1)] as string;
      let to = accounts[prng.intInclusive(0, accounts.length - 1)] as string;
      if (to === from) to = accounts[(accounts.indexOf(from) + 1) % accounts.length] as string;
      return transfer(from, to, prng.intInclusive(1, 30));
    });
    await Promise.all(transfers);
    await c.flush();
    const check = await c.begin();
    const rows = await check.scan(enc('acct-'), enc('acct.'), 100);
    assert.equal(rows.length, accounts.length);
    assert.equal(rows.reduce((sum, r) => sum + Number(dec(r.value)), 0), 100 * accounts.length);
    assert.ok(retries.count > 0, 'the transfers conflicted at least once');
    await c.close();
  });

  test('run() retries a conflicted body in a new transaction, and gives up after attemptsMax', async () => {
    const { client } = setup();
    const { client: c } = client();
    await write(c, { n: '0' });
    let runs = 0;
    // The first run reads n, then another client commits n before it commits: a conflict, and a rerun.
    const { value, commitTs } = await c.run(async (txn) => {
      runs++;
      const n = Number(dec(await txn.get(enc('n'))));
      if (runs === 1) await write(c, { n: String(n + 10) });
      txn.put(enc('n'), enc(String(n + 1)));
      return n;
    });
    assert.equal(runs, 2);
    assert.equal(value, 10, 'the rerun read the other commit');
    assert.ok(commitTs !== undefined);
    assert.deepEqual(await read(c, ['n']), ['11']);
    // A body that always conflicts fails with the last WRITE_CONFLICT after attemptsMax runs.
    let tries = 0;
    const err = await c.run(async (txn) => {
      tries++;
      await txn.get(enc('n'));
      await write(c, { n: `other ${tries}` });
      txn.put(enc('n'), enc('mine'));
    }, { attemptsMax: 3 }).then(() => undefined, (e: unknown) => e);
    assert.ok(isTxnError(TXN_ERROR_CODES.WriteConflict)(err), String(err));
    assert.equal(tries, 3);
    // A body that throws is not retried and writes nothing.
    await assert.rejects(c.run(async (txn) => {
      txn.put(enc('n'), enc('never'));
      throw new Error('body failed');
    }), /body failed/);
    assert.deepEqual(await read(c, ['n']), ['other 3']);
    await assert.rejects(c.run(async () => undefined, { attemptsMax: 0 }), RangeError);
    await c.close();
  });

  test('the write buffer keeps the last write per key whatever the order, across many keys', async () => {
    const { client } = setup();
    const { client: c } = client();
    const prng = new Prng(7);
    const key = (i: number): string => `${'abcdefghijklmnopqrstuvwxyz'[i % 26]}${String(i).padStart(4, '0')}`;
    const model = new Map<string, string | undefined>();
    const txn = await c.begin();
    for (let op = 0; op < 3_000; op++) {
      const k = key(prng.intInclusive(0, 1_199));
      if (prng.intInclusive(0, 4) === 0) {
        txn.delete(enc(k));
        model.set(k, undefined);
      } else {
        txn.put(enc(k), enc(`v${op}`));
        model.set(k, `v${op}`);
      }
      if (op % 500 === 0) assert.equal(dec(await txn.get(enc(k))), model.get(k));
    }
    const expected = [...model].filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const own = await txn.scan(enc(''), enc(''), 10_000);
    assert.deepEqual(own.map((e) => [dec(e.key), dec(e.value)]), expected);
    await txn.commit();
    await c.flush();
    const back = await (await c.begin()).scan(enc(''), enc(''), 10_000);
    assert.deepEqual(back.map((e) => [dec(e.key), dec(e.value)]), expected);
    await c.close();
  });

  test('a closed client refuses new transactions; bad options and bad keys are refused', async () => {
    const { cluster } = setup();
    const c = new TxnClient({ rpc: cluster.rpc() });
    assert.throws(() => new TxnClient({ rpc: cluster.rpc(), lockTtlMs: 0 }), RangeError);
    const txn = await c.begin();
    assert.throws(() => txn.put(new Uint8Array(), enc('v')), (e: unknown) => e instanceof ClientError && e.code === CLIENT_ERROR_CODES.InvalidArgument);
    await c.close();
    await assert.rejects(c.begin(), (e: unknown) => e instanceof ClientError && e.code === CLIENT_ERROR_CODES.Closed);
    await assert.rejects(txn.get(enc('a')), (e: unknown) => e instanceof ClientError && e.code === CLIENT_ERROR_CODES.Closed);
  });
});

async function move(txn: Transaction, from: string, to: string, amount: number): Promise<void> {
  const a = Number(dec(await txn.get(enc(from))));
  const b = Number(dec(await txn.get(enc(to))));
  txn.put(enc(from), enc(String(a - amount)));
  txn.put(enc(to), enc(String(b + amount)));
}
