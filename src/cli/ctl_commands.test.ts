// Goal: `tinykv ctl` and `tinykv raw --pd/--addr` behave as docs/CLI.md says:
// tables and JSON lines, region lookup by id and key, the three operators
// (request fields, header errors, --wait), split on the leader's store with
// bounded retries on NotLeader, and usage errors (exit 2).
//
// Method: the commands run in-process (as main.ts runs them: exitOverride,
// UsageError → 2, CommanderError → 0/2) with their output captured through
// the injected CliIo, against fakes served over real gRPC on 127.0.0.1:0: a
// scheduler serving `schedulerpb.Scheduler` (the calls ctl makes) and
// `adminpb.SchedulerAdmin` on one port, and stores serving
// `adminpb.StoreAdmin`. `raw --pd` runs against the client's fakes.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { Command, CommanderError } from 'commander';
import { FakeCluster, FakeScheduler, FakeStore, makeRegion } from '../client/_test_fakes.js';
import { OperatorKind, SchedulerAdminService, StoreAdminService } from '../pb/adminpb.js';
import type { AddOperatorRequest, SchedulerAdminServer, SplitRegionRequest, SplitRegionResponse, StoreAdminServer } from '../pb/adminpb.js';
import type { Peer, Region, Store } from '../pb/metapb.js';
import { StoreState } from '../pb/metapb.js';
import { ErrorType, OperatorStatus, SchedulerService } from '../pb/schedulerpb.js';
import type { RequestHeader, ResponseHeader, SchedulerServer, StoreStats } from '../pb/schedulerpb.js';
import { notLeader } from '../raftstore/region_errors.js';
import { compareBytes } from '../util/bytes.js';
import { ctlCommand } from './ctl_commands.js';
import { UsageError } from './format.js';
import type { CliIo } from './format.js';
import { rawCommand } from './raw_commands.js';

interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `tinykv <args>` in-process with `command` registered, handling errors as main.ts does. */
async function runIn(command: (setExit: (code: number) => void, io: CliIo) => Command, args: readonly string[]): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { out: (t) => void (stdout += t), err: (t) => void (stderr += t) };
  let code = 0;
  const program = new Command('tinykv').exitOverride().addCommand(command((c) => (code = c), io));
  for (const cmd of program.commands) {
    cmd.exitOverride();
    for (const sub of cmd.commands) sub.exitOverride();
  }
  try {
    await program.parseAsync([...args], { from: 'user' });
  } catch (err: unknown) {
    if (err instanceof CommanderError) code = err.exitCode === 0 ? 0 : 2;
    else if (err instanceof UsageError) {
      stderr += `error: ${err.message}\n`;
      code = 2;
    } else throw err;
  }
  return { code, stdout, stderr };
}

const enc = (s: string): Buffer => Buffer.from(s);

function region(id: number, start: string | Buffer, end: string | Buffer, storeIds: readonly number[], epoch = { confVer: 3, version: 5 }): Region {
  return {
    id, startKey: typeof start === 'string' ? enc(start) : start, endKey: typeof end === 'string' ? enc(end) : end,
    regionEpoch: epoch, peers: storeIds.map((storeId) => ({ id: id * 10 + storeId, storeId })),
  };
}

function peerOn(r: Region, storeId: number): Peer {
  const p = r.peers.find((x) => x.storeId === storeId);
  assert.ok(p !== undefined, `region ${r.id} has no peer on store ${storeId}`);
  return p;
}

async function serve(add: (server: grpc.Server) => void): Promise<{ server: grpc.Server; addr: string }> {
  const server = new grpc.Server();
  add(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err === null ? resolve(p) : reject(err))));
  return { server, addr: `127.0.0.1:${port}` };
}

/** The scheduler ctl talks to: Scheduler (the calls ctl makes) and SchedulerAdmin on one port. */
class FakePd {
  readonly clusterId = 7;
  readonly regions = new Map<number, { region: Region; leader: Peer | undefined }>();
  readonly stores = new Map<number, { store: Store; stats: StoreStats | undefined }>();
  readonly addOperators: AddOperatorRequest[] = [];
  readonly scans: { startKey: string; limit: number }[] = [];
  /** Most regions one ScanRegions answers, to make ctl page. */
  scanCap = 2;
  /** The header error of the next AddOperator. */
  refuse: { type: ErrorType; message: string } | undefined;
  /** Runs on every GetRegionByID (to make an operator's effect show after some polls). */
  onGetRegionById: (() => void) | undefined;
  operatorStatus = OperatorStatus.RUNNING;
  addr = '';
  private server: grpc.Server | undefined;

  static async start(): Promise<FakePd> {
    const pd = new FakePd();
    const { server, addr } = await serve((s) => {
      s.addService(SchedulerService, pd.scheduler());
      s.addService(SchedulerAdminService, pd.admin());
    });
    pd.server = server;
    pd.addr = addr;
    return pd;
  }

  setRegion(r: Region, leaderStore: number | undefined): void {
    this.regions.set(r.id, { region: r, leader: leaderStore === undefined ? undefined : peerOn(r, leaderStore) });
  }

  stop(): void {
    this.server?.forceShutdown();
  }

  private header(req: { header: RequestHeader | undefined }, error?: { type: ErrorType; message: string }): ResponseHeader {
    // Refuse another cluster's requests, as the scheduler does: proves ctl stamps the id.
    if ((req.header?.clusterId ?? 0) !== this.clusterId) return { clusterId: this.clusterId, error: { type: ErrorType.UNKNOWN, message: 'mismatch cluster id' } };
    return { clusterId: this.clusterId, error };
  }

  private scheduler(): Pick<SchedulerServer, 'getMembers' | 'getRegion' | 'getRegionById' | 'scanRegions' | 'getStore' | 'getAllStores' | 'getOperator'> {
    const answer = (found: { region: Region; leader: Peer | undefined } | undefined) => ({ region: found?.region, leader: found?.leader, slaves: [] });
    const inRegion = (key: Buffer, r: Region) => compareBytes(key, r.startKey) >= 0 && (r.endKey.length === 0 || compareBytes(key, r.endKey) < 0);
    return {
      getMembers: (call, cb) => cb(null, { header: { clusterId: this.clusterId, error: undefined }, members: [], leader: undefined, etcdLeader: undefined }),
      getRegion: (call, cb) => cb(null, { header: this.header(call.request), ...answer([...this.regions.values()].find((r) => inRegion(call.request.regionKey, r.region))) }),
      getRegionById: (call, cb) => {
        this.onGetRegionById?.();
        const found = this.regions.get(call.request.regionId);
        const error = found === undefined ? { type: ErrorType.REGION_NOT_FOUND, message: 'region not found' } : undefined;
        cb(null, { header: this.header(call.request, error), ...answer(found) });
      },
      scanRegions: (call, cb) => {
        const { startKey, limit } = call.request;
        this.scans.push({ startKey: startKey.toString(), limit });
        const found = [...this.regions.values()]
          .filter((r) => r.region.endKey.length === 0 || compareBytes(r.region.endKey, startKey) > 0)
          .sort((a, b) => compareBytes(a.region.startKey, b.region.startKey))
          .slice(0, Math.min(limit, this.scanCap));
        cb(null, { header: this.header(call.request), regions: found.map((r) => r.region), leaders: found.map((r) => r.leader ?? { id: 0, storeId: 0 }) });
      },
      getStore: (call, cb) => {
        const found = this.stores.get(call.request.storeId);
        const error = found === undefined ? { type: ErrorType.UNKNOWN, message: `invalid store ID ${call.request.storeId}, not found` } : undefined;
        cb(null, { header: this.header(call.request, error), store: found?.store, stats: found?.stats });
      },
      getAllStores: (call, cb) => cb(null, { header: this.header(call.request), stores: [...this.stores.values()].map((s) => s.store) }),
      getOperator: (call, cb) =>
        cb(null, { header: this.header(call.request), regionId: call.request.regionId, desc: enc('admin-op'), status: this.operatorStatus, kind: enc('admin') }),
    };
  }

  private admin(): SchedulerAdminServer {
    return {
      addOperator: (call, cb) => {
        this.addOperators.push(call.request);
        const error = this.refuse;
        this.refuse = undefined;
        const kind = OperatorKind[call.request.kind] ?? '?';
        cb(null, { header: this.header(call.request, error), description: error === undefined ? `admin ${kind} region ${call.request.regionId} store ${call.request.storeId}` : '' });
      },
    };
  }
}

/** A store's StoreAdmin: answers SplitRegion from a script, else splits `regions`' region at the key. */
class FakeStoreAdmin {
  readonly requests: SplitRegionRequest[] = [];
  readonly script: Partial<SplitRegionResponse>[] = [];
  onSplit: (() => void) | undefined;
  addr = '';
  private server: grpc.Server | undefined;

  static async start(pd: FakePd): Promise<FakeStoreAdmin> {
    const store = new FakeStoreAdmin();
    const impl: StoreAdminServer = {
      splitRegion: (call, cb) => {
        store.requests.push(call.request);
        store.onSplit?.();
        const scripted = store.script.shift();
        if (scripted !== undefined) return cb(null, { regionError: undefined, error: '', regions: [], ...scripted });
        const r = pd.regions.get(call.request.regionId)?.region;
        assert.ok(r !== undefined);
        const key = call.request.splitKey.length === 0 ? enc('m') : call.request.splitKey;
        const epoch = { confVer: r.regionEpoch?.confVer ?? 0, version: (r.regionEpoch?.version ?? 0) + 1 };
        cb(null, { regionError: undefined, error: '', regions: [{ ...r, endKey: key, regionEpoch: epoch }, { ...region(99, key, r.endKey, r.peers.map((p) => p.storeId)), regionEpoch: epoch }] });
      },
    };
    const { server, addr } = await serve((s) => s.addService(StoreAdminService, impl));
    store.server = server;
    store.addr = addr;
    return store;
  }

  stop(): void {
    this.server?.forceShutdown();
  }
}

const stats = (storeId: number): StoreStats => ({
  storeId, capacity: 1000, available: 400, regionCount: 0, sendingSnapCount: 0, receivingSnapCount: 0, startTime: 1_700_000_000,
  applyingSnapCount: 0, isBusy: false, usedSize: 0, interval: { startTimestamp: 1_700_000_090, endTimestamp: 1_700_000_100 },
  cpuUsages: [], readIoRates: [], writeIoRates: [], opLatencies: [],
});

describe('tinykv ctl', () => {
  let pd: FakePd;
  const admins: FakeStoreAdmin[] = [];
  const ctl = (...args: string[]) => runIn(ctlCommand, ['ctl', ...args, '--pd', pd.addr]);

  before(async () => {
    pd = await FakePd.start();
    for (let i = 0; i < 3; i++) admins.push(await FakeStoreAdmin.start(pd));
  });
  after(() => {
    pd.stop();
    for (const a of admins) a.stop();
  });
  beforeEach(() => {
    pd.regions.clear();
    pd.stores.clear();
    pd.addOperators.length = 0;
    pd.scans.length = 0;
    pd.onGetRegionById = undefined;
    pd.operatorStatus = OperatorStatus.RUNNING;
    admins.forEach((a, i) => {
      a.requests.length = 0;
      a.script.length = 0;
      a.onSplit = undefined;
      pd.stores.set(i + 1, { store: { id: i + 1, address: a.addr, state: StoreState.Up }, stats: i === 0 ? stats(1) : undefined });
    });
    pd.setRegion(region(2, '', 'g', [1, 2, 3]), 1);
    pd.setRegion(region(4, 'g', Buffer.from([0x70, 0x00]), [1, 2]), 2);
    pd.setRegion(region(6, Buffer.from([0x70, 0x00]), '', [2, 3]), undefined);
  });

  test('ctl stores prints a table and JSON lines, counting regions and leaders over paged ScanRegions', async () => {
    pd.stores.set(3, { store: { id: 3, address: admins[2]?.addr ?? '', state: StoreState.Offline }, stats: undefined });
    const table = await ctl('stores');
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^ID\s+ADDRESS\s+STATE\s+REGIONS\s+LEADERS\s+STARTED\s+LAST_HEARTBEAT$/);
    assert.match(lines[1] ?? '', /^1\s+127\.0\.0\.1:\d+\s+Up\s+2\s+1\s+2023-11-14T22:13:20Z\s+2023-11-14T22:15:00Z$/);
    assert.match(lines[3] ?? '', /^3\s+127\.0\.0\.1:\d+\s+Offline\s+2\s+0\s+-\s+-$/);
    // Two regions per answer: the second page starts at the first page's last end key.
    assert.deepEqual(pd.scans.map((s) => s.startKey), ['', 'p\u0000']);
    const json = await ctl('stores', '--format', 'json');
    const objs = json.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(objs[0], {
      id: 1, address: admins[0]?.addr, state: 'Up', regionCount: 2, leaderCount: 1, startTime: '2023-11-14T22:13:20Z',
      lastHeartbeat: '2023-11-14T22:15:00Z', capacityBytes: 1000, availableBytes: 400,
    });
    assert.deepEqual(objs.map((o) => [o['id'], o['regionCount'], o['leaderCount'], o['startTime']]), [[1, 2, 1, '2023-11-14T22:13:20Z'], [2, 3, 1, null], [3, 2, 0, null]]);
  });

  test('ctl regions lists ranges, epochs and peers with the leader marked; --hex and --limit', async () => {
    const table = await ctl('regions');
    assert.equal(table.code, 0, table.stderr);
    assert.equal(
      table.stdout,
      'ID  START   END     EPOCH  PEERS\n' +
      '2   -inf    g       3/5    21@1*,22@2,23@3\n' +
      '4   g       0x7000  3/5    41@1,42@2*\n' +
      '6   0x7000  +inf    3/5    62@2,63@3\n',
    );
    const hex = await ctl('regions', '--hex', '--limit', '2', '--format', 'json');
    assert.deepEqual(hex.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as unknown), [
      { id: 2, startKey: '', endKey: '67', epoch: { confVer: 3, version: 5 }, peers: [{ id: 21, storeId: 1 }, { id: 22, storeId: 2 }, { id: 23, storeId: 3 }], leader: { id: 21, storeId: 1 } },
      { id: 4, startKey: '67', endKey: '7000', epoch: { confVer: 3, version: 5 }, peers: [{ id: 41, storeId: 1 }, { id: 42, storeId: 2 }], leader: { id: 42, storeId: 2 } },
    ]);
    const text = await ctl('regions', '--format', 'json');
    assert.equal((JSON.parse(text.stdout.split('\n')[2] ?? '') as { leader: unknown }).leader, null);
  });

  test('ctl region shows one region by id or by key; an unknown one exits 1', async () => {
    const byId = await ctl('region', '2');
    assert.equal(byId.code, 0, byId.stderr);
    assert.match(byId.stdout, /^id:\s+2\nstart key:\s+-inf\nend key:\s+g\nepoch:\s+conf_ver 3, version 5\nleader:\s+21@1\npeers:\n/);
    assert.match(byId.stdout, new RegExp(`\\n  21\\s+1\\s+${admins[0]?.addr ?? ''}\\s+leader\\n  22\\s+2\\s+\\S+\\s+follower\\n`));
    const byKey = await ctl('region', '--key', 'h', '--format', 'json');
    assert.equal((JSON.parse(byKey.stdout) as { id: number }).id, 4);
    const byHexKey = await ctl('region', '--key', '7001', '--hex', '--format', 'json');
    assert.equal((JSON.parse(byHexKey.stdout) as { id: number }).id, 6);
    const missing = await ctl('region', '77');
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'error: Region 77 not found: the scheduler does not know it\n');
  });

  for (const [name, kind] of [['transfer-leader', OperatorKind.TRANSFER_LEADER], ['add-peer', OperatorKind.ADD_PEER], ['remove-peer', OperatorKind.REMOVE_PEER]] as const) {
    test(`ctl ${name} sends AddOperator with the region, kind and store, and prints the description`, async () => {
      const res = await ctl(name, '4', '3');
      assert.deepEqual(res, { code: 0, stdout: `admin ${OperatorKind[kind]} region 4 store 3\n`, stderr: '' });
      assert.deepEqual(pd.addOperators, [{ header: { clusterId: 7 }, regionId: 4, kind, storeId: 3 }]);
      const json = await ctl(name, '4', '3', '--format', 'json');
      assert.deepEqual(JSON.parse(json.stdout), { operator: name, regionId: 4, storeId: 3, description: `admin ${OperatorKind[kind]} region 4 store 3`, done: null });
    });
  }

  test('an operator refused in the header exits 1 with the scheduler\'s message', async () => {
    pd.refuse = { type: ErrorType.UNKNOWN, message: 'Region 4 has no peer on store 3' };
    const res = await ctl('transfer-leader', '4', '3');
    assert.equal(res.code, 1);
    assert.equal(res.stdout, '');
    assert.equal(res.stderr, 'error: AddOperator failed: the scheduler answered UNKNOWN: Region 4 has no peer on store 3\n');
  });

  test('--wait polls until the effect shows, and exits 1 when the wait runs out or the operator ended', async () => {
    let polls = 0;
    pd.onGetRegionById = () => {
      if (++polls === 2) pd.setRegion(region(4, 'g', Buffer.from([0x70, 0x00]), [1, 2]), 1);
    };
    const done = await ctl('transfer-leader', '4', '1', '--wait', '5000');
    assert.equal(done.code, 0, done.stderr);
    assert.equal(done.stdout, "admin TRANSFER_LEADER region 4 store 1\ndone: region 4's leader is on store 1\n");
    assert.equal(polls, 2);

    pd.onGetRegionById = undefined;
    const expired = await ctl('add-peer', '4', '3', '--wait', '300', '--format', 'json');
    assert.equal(expired.code, 1);
    assert.equal((JSON.parse(expired.stdout) as { done: boolean }).done, false);
    assert.match(expired.stderr, /^error: Waited 300 ms and the scheduler does not show that region 4 has a peer on store 3 yet/);

    pd.operatorStatus = OperatorStatus.CANCEL;
    const cancelled = await ctl('remove-peer', '4', '1', '--wait');
    assert.equal(cancelled.code, 1);
    assert.equal(cancelled.stderr, 'error: The operator for region 4 ended with CANCEL: admin-op\n');
  });

  test('ctl split sends the region\'s epoch and key to its leader\'s store and prints both regions', async () => {
    const res = await ctl('split', '2', '--key', 'c');
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, 'ID  START  END  EPOCH  PEERS\n2   -inf   c    3/6    21@1,22@2,23@3\n99  c      g    3/6    991@1,992@2,993@3\n');
    assert.deepEqual(admins[0]?.requests, [{ regionId: 2, regionEpoch: { confVer: 3, version: 5 }, splitKey: enc('c') }]);
    const json = await ctl('split', '4', '--format', 'json', '--hex');
    assert.deepEqual(json.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { startKey: string }).startKey), ['67', '6d']);
    assert.deepEqual(admins[1]?.requests[0]?.splitKey, Buffer.alloc(0));
  });

  test('ctl split retries NotLeader: the hinted leader, then a fresh lookup; other refusals exit 1', async () => {
    admins[0]?.script.push({ regionError: notLeader(2, { id: 22, storeId: 2 }) });
    const hinted = await ctl('split', '2', '--key', 'c');
    assert.equal(hinted.code, 0, hinted.stderr);
    assert.equal(admins[0]?.requests.length, 1);
    assert.equal(admins[1]?.requests.length, 1);

    // No hint: the scheduler learns the new leader (store 3) meanwhile.
    admins[0]?.script.push({ regionError: notLeader(2, undefined) });
    if (admins[0] !== undefined) admins[0].onSplit = () => pd.setRegion(region(2, '', 'g', [1, 2, 3]), 3);
    const fresh = await ctl('split', '2', '--key', 'c');
    assert.equal(fresh.code, 0, fresh.stderr);
    assert.equal(admins[2]?.requests.length, 1);

    admins[2]?.script.push({ error: 'split key "zz" is outside region 2' });
    const refused = await ctl('split', '2', '--key', 'zz');
    assert.equal(refused.code, 1);
    assert.equal(refused.stderr, 'error: Cannot split region 2: split key "zz" is outside region 2\n');
  });

  test('ctl split gives up after a bounded number of NotLeader answers', async () => {
    for (let i = 0; i < 10; i++) admins[0]?.script.push({ regionError: notLeader(2, { id: 21, storeId: 1 }) });
    const res = await ctl('split', '2', '--key', 'c');
    assert.equal(res.code, 1);
    assert.equal(res.stderr, 'error: Cannot split region 2 after 5 attempts: store 1 answered NotLeader\n');
    assert.equal(admins[0]?.requests.length, 5);
  });

  test('usage errors exit 2 with a message, before any call', async () => {
    const bad: string[][] = [
      ['transfer-leader', '0', '1'], ['add-peer', 'x', '1'], ['remove-peer', '1', '1.5'], ['add-peer', '1'], ['regions', '--limit', '-1'],
      ['stores', '--format', 'yaml'], ['region'], ['region', '2', '--key', 'a'], ['split', '1', '--key', 'zz', '--hex'],
      ['transfer-leader', '1', '2', '--wait', '0'], ['region', '0x10'], ['frobnicate'],
    ];
    for (const args of bad) {
      const res = await ctl(...args);
      assert.equal(res.code, 2, `ctl ${args.join(' ')}: ${res.stderr}`);
      assert.notEqual(res.stderr, '', args.join(' '));
    }
    const noPd = await runIn(ctlCommand, ['ctl', 'stores', '--pd', '']);
    assert.equal(noPd.code, 2);
    assert.match(noPd.stderr, /--pd must be comma-separated host:port addresses/);
    assert.deepEqual(pd.addOperators, []);
    const help = await runIn(ctlCommand, ['ctl', 'split', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: tinykv ctl split/);
  });
});

describe('tinykv raw --pd and --addr', () => {
  let scheduler: FakeScheduler;
  let stores: FakeStore[];
  before(async () => {
    const cluster = new FakeCluster();
    scheduler = await FakeScheduler.start();
    stores = [await FakeStore.start(1, cluster), await FakeStore.start(2, cluster)];
    for (const s of stores) scheduler.stores.set(s.storeId, s.store);
    const left = makeRegion(2, '', 'm', 1, [1, 2]);
    const right = makeRegion(3, 'm', '', 1, [1, 2]);
    cluster.set(left, 1);
    cluster.set(right, 2);
    scheduler.setRegion(left, 1);
    scheduler.setRegion(right, 2);
  });
  after(() => {
    scheduler.stop();
    for (const s of stores) s.stop();
  });

  test('--pd routes put, get and scan by region through the scheduler', async () => {
    const raw = (...args: string[]) => runIn(rawCommand, ['raw', ...args, '--pd', scheduler.addr]);
    assert.deepEqual(await raw('put', 'a', '1'), { code: 0, stdout: 'OK\n', stderr: '' });
    assert.equal((await raw('put', 'z', '2')).code, 0);
    assert.equal((await raw('get', 'z')).stdout, '2\n');
    assert.equal((await raw('scan', '--limit', '10')).stdout, 'a\t1\nz\t2\n');
    assert.equal((await raw('delete', 'a')).code, 0);
    assert.deepEqual(await raw('get', 'a'), { code: 3, stdout: '', stderr: 'not found\n' });
    assert.ok(stores.every((s) => s.calls.length > 0), 'both stores served');
  });

  test('--addr and --pd together is a usage error; the help names both', async () => {
    const both = await runIn(rawCommand, ['raw', 'get', 'k', '--addr', '127.0.0.1:1', '--pd', scheduler.addr]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--addr and --pd cannot be used together/);
    const help = await runIn(rawCommand, ['raw', 'get', '--help']);
    assert.match(help.stdout, /--pd <addrs>[\s\S]*127\.0\.0\.1:2379[\s\S]*--addr <host:port>/);
  });
});
