// Goal: the pure parts of the chaos test do what the run relies on: option
// validation and durations, the self-checking value codec and error
// statuses, the settle check, and the on-disk replica comparison.
// Method: table tests on hand-made inputs (no processes).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientError, CLIENT_ERROR_CODES } from '../client/errors.js';
import type { Region } from '../pb/metapb.js';
import { ChaosOptionError, parseDurationMs, resolveChaosOptions } from './options.js';
import { settleProblem } from './settle.js';
import { compareStores, findOverlaps } from './store_convergence.js';
import type { RegionReplica, StoreContents } from './store_convergence.js';
import { classifyError, decodeValue, encodeValue, keyNames, Pacer } from './workload.js';

const enc = (s: string): Buffer => Buffer.from(s);

function region(id: number, start: string, end: string, stores: readonly number[], version = 1): Region {
  return { id, startKey: enc(start), endKey: enc(end), regionEpoch: { confVer: 1, version }, peers: stores.map((s, i) => ({ id: id * 10 + i, storeId: s })) };
}

function replica(r: Region, appliedIndex: number, data: Record<string, string>, tombstone = false): RegionReplica {
  return {
    region: r, tombstone, member: true, appliedIndex,
    data: Object.entries(data).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => ({ key: enc(k), value: encodeValue(v, 3) })),
  };
}

describe('chaos options', () => {
  test('durations', () => {
    assert.equal(parseDurationMs('10m'), 600_000);
    assert.equal(parseDurationMs('600s'), 600_000);
    assert.equal(parseDurationMs('1500ms'), 1_500);
    assert.equal(parseDurationMs('30'), 30_000);
    assert.throws(() => parseDurationMs('ten minutes'), ChaosOptionError);
    assert.throws(() => parseDurationMs('0s'), ChaosOptionError);
  });
  test('defaults and validation', () => {
    const o = resolveChaosOptions({}, () => 7);
    assert.equal(o.seed, 7);
    assert.equal(o.stores, 3);
    assert.throws(() => resolveChaosOptions({ stores: 2 }, () => 7), ChaosOptionError);
    assert.throws(() => resolveChaosOptions({ downMsMin: 10, downMsMax: 5 }, () => 7), ChaosOptionError);
    assert.throws(() => resolveChaosOptions({ opsMax: 500_000 }, () => 7), ChaosOptionError);
  });
});

describe('chaos workload', () => {
  test('values round-trip, and damaged bytes decode to a value no write made', () => {
    assert.equal(decodeValue(encodeValue('w3-17', 200)), 'w3-17');
    const damaged = encodeValue('w3-17', 200).slice(0, 150);
    assert.match(decodeValue(damaged), /^corrupt:/);
  });
  test('keys sort numerically as strings', () => {
    const keys = keyNames(100);
    assert.deepEqual([...keys].sort(), keys);
    assert.equal(keys[7], 'k07');
  });
  test('a write that timed out is indeterminate; a refused one fails; a failed read tells nothing', () => {
    const timeout = new ClientError(CLIENT_ERROR_CODES.DeadlineExceeded, 'x');
    const unknown = new ClientError(CLIENT_ERROR_CODES.OutcomeUnknown, 'x');
    const invalid = new ClientError(CLIENT_ERROR_CODES.InvalidArgument, 'x');
    const unavailable = new ClientError(CLIENT_ERROR_CODES.Unavailable, 'x');
    assert.equal(classifyError('put', timeout).status, 'indeterminate');
    assert.equal(classifyError('delete', unknown).status, 'indeterminate');
    assert.equal(classifyError('put', unavailable).status, 'indeterminate');
    assert.equal(classifyError('put', invalid).status, 'fail');
    assert.equal(classifyError('get', timeout).status, 'indeterminate');
    assert.equal(classifyError('get', unavailable).status, 'fail');
    assert.match(classifyError('get', new TypeError('boom')).code, /^UNEXPECTED_/);
  });
  test('the pacer spaces starts', () => {
    const p = new Pacer(10);
    assert.equal(p.delayMs(100), 0);
    assert.equal(p.delayMs(100), 10);
    assert.equal(p.delayMs(105), 15);
    assert.equal(p.delayMs(500), 0);
  });
});

describe('chaos settle', () => {
  const leader = { id: 1, storeId: 1 };
  test('settled: regions tile the key space, full replicas, leaders', () => {
    const infos = [{ region: region(2, 'k5', '', [1, 2, 3]), leader }, { region: region(1, '', 'k5', [1, 2, 3]), leader }];
    assert.equal(settleProblem(infos, 3), undefined);
  });
  test('not settled: a gap, a missing peer, no leader', () => {
    assert.match(settleProblem([{ region: region(1, '', 'k5', [1, 2, 3]), leader }], 3) ?? '', /last region ends/);
    assert.match(settleProblem([{ region: region(1, '', '', [1, 2]), leader }], 3) ?? '', /2 peers/);
    assert.match(settleProblem([{ region: region(1, '', '', [1, 2, 3]), leader: undefined }], 3) ?? '', /no leader/);
  });
});

describe('chaos convergence', () => {
  const r1 = region(1, '', 'k5', [1, 2, 3]);
  const r2 = region(2, 'k5', '', [1, 2, 3]);
  const store = (storeId: number, replicas: RegionReplica[]): StoreContents => ({ storeId, replicas, orphanKeys: [] });
  test('equal replicas converge; a lagging one is counted, not compared', () => {
    const report = compareStores([
      store(1, [replica(r1, 10, { k1: 'w1-1' }), replica(r2, 7, { k7: 'w2-1' })]),
      store(2, [replica(r1, 10, { k1: 'w1-1' }), replica(r2, 7, { k7: 'w2-1' })]),
      store(3, [replica(r1, 9, {}), replica(r2, 7, { k7: 'w2-1' })]),
    ]);
    assert.equal(report.ok, true);
    assert.equal(report.laggingReplicas, 1);
    assert.equal(report.regionsCompared, 2);
    assert.equal(report.regionsConverged, 1);
  });
  test('different data at one applied index diverges', () => {
    const report = compareStores([store(1, [replica(r1, 10, { k1: 'w1-1' })]), store(2, [replica(r1, 10, { k1: 'w1-2' })])]);
    assert.equal(report.ok, false);
    assert.match(report.divergences[0] ?? '', /key "k1" is "w1-1" vs "w1-2"/);
  });
  test('overlapping regions on a store are reported', () => {
    assert.equal(findOverlaps(1, [r1, r2]).length, 0);
    assert.equal(findOverlaps(1, [r1, region(3, 'k3', 'k9', [1])]).length, 1);
    assert.equal(findOverlaps(1, [region(4, 'k1', '', [1]), region(5, 'k7', 'k8', [1])]).length, 1);
  });
});
