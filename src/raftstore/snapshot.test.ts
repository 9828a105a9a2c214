// Goal: region snapshot data round-trips exactly (every data-CF key of the
// region's range, nothing outside it), corrupt bytes are always rejected with
// a typed SnapshotError and never another exception, and staging the apply
// clears the snapshot range before writing so stale keys disappear while keys
// of other ranges and non-data CFs stay. Method: MemEngine with keys inside
// and around the range in every CF, hand-tampered messages for each rule, and
// a seeded fuzz of truncations and byte flips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Region } from '../pb/metapb.js';
import { RaftSnapshotData } from '../pb/raft_serverpb.js';
import { CF_DEFAULT, CF_LOCK, CF_META, CF_RAFT, CF_WRITE, DATA_CFS } from '../storage/engine.js';
import type { CfName, Engine } from '../storage/engine.js';
import { MemEngine } from '../storage/mem_engine.js';
import { WriteBatch } from '../storage/write_batch.js';
import { Prng } from '../util/prng.js';
import {
  buildSnapshotData,
  collectRegionData,
  decodeSnapshotData,
  SNAPSHOT_ERROR_CODES,
  SnapshotError,
  stageApplySnapshotData,
} from './snapshot.js';

function region(id: number, start: string, end: string): Region {
  return { id, startKey: Buffer.from(start), endKey: Buffer.from(end), regionEpoch: { confVer: 1, version: 1 }, peers: [{ id: 1, storeId: 1 }] };
}

const ALL_KEYS = ['a', 'b', 'b1', 'c', 'c9', 'd', 'e'];

async function fill(engine: Engine, tag: string): Promise<void> {
  const wb = new WriteBatch();
  const cfs: CfName[] = [...DATA_CFS, CF_RAFT, CF_META];
  for (const cf of cfs) {
    for (const k of ALL_KEYS) wb.put(cf, Buffer.from(k), Buffer.from(`${tag}-${cf}-${k}`));
  }
  await engine.write(wb, { sync: true });
}

function dump(engine: Engine, cf: CfName): string[] {
  return [...engine.scan(cf)].map((e) => `${Buffer.from(e.key).toString()}=${Buffer.from(e.value).toString()}`);
}

function assertRejected(bytes: Uint8Array, code?: string): void {
  assert.throws(
    () => decodeSnapshotData(bytes),
    (err: unknown) => err instanceof SnapshotError && (code === undefined || err.code === code),
  );
}

test('round trip: every data-CF key of the range, nothing else', async () => {
  const engine = new MemEngine();
  await fill(engine, 'src');
  const view = engine.readView();
  const r = region(3, 'b', 'd');
  const bytes = buildSnapshotData(view, r);
  const expected = collectRegionData(view, r);
  view.close();
  const decoded = decodeSnapshotData(bytes);
  assert.deepEqual(decoded.region, r);
  assert.deepEqual(decoded.cfs.map((c) => c.cf), [CF_DEFAULT, CF_LOCK, CF_WRITE]);
  for (const c of decoded.cfs) {
    assert.deepEqual(c.entries.map((e) => e.key.toString()), ['b', 'b1', 'c', 'c9']);
    assert.deepEqual(c.entries.map((e) => e.value.toString()), ['b', 'b1', 'c', 'c9'].map((k) => `src-${c.cf}-${k}`));
  }
  assert.deepEqual(decoded, expected);
  // Unbounded end (and start) covers everything.
  const all = decodeSnapshotData(buildSnapshotData(engine, region(4, '', '')));
  assert.equal(all.cfs[0]?.entries.length, ALL_KEYS.length);
  // An empty region encodes and decodes too.
  const empty = decodeSnapshotData(buildSnapshotData(new MemEngine(), region(5, 'x', 'y')));
  assert.deepEqual(empty.cfs.map((c) => c.entries.length), [0, 0, 0]);
});

test('corrupt data is rejected with a typed error', async () => {
  const engine = new MemEngine();
  await fill(engine, 'src');
  const good = buildSnapshotData(engine, region(3, 'b', 'd'));
  const msg = (): RaftSnapshotData => RaftSnapshotData.decode(good);
  const enc = (m: RaftSnapshotData): Uint8Array => RaftSnapshotData.encode(m).finish();
  const { Invalid, Malformed } = SNAPSHOT_ERROR_CODES;

  assertRejected(Buffer.from([0xff, 0xff, 0xff]), Malformed);
  assertRejected(good.subarray(0, good.length - 3), Malformed);
  assertRejected(enc({ ...msg(), region: undefined }), Invalid);
  assertRejected(enc({ ...msg(), region: { ...region(3, 'b', 'd'), id: 0 } }), Invalid);
  assertRejected(enc({ ...msg(), region: region(3, 'b', 'c') }), Invalid); // keys outside the range
  assertRejected(enc({ ...msg(), fileSize: msg().fileSize + 1 }), Invalid);
  const tampered = msg();
  tampered.data[0] = { key: Buffer.from('b'), value: Buffer.from('evil') };
  tampered.fileSize += 'evil'.length - 'src-default-b'.length;
  assertRejected(enc(tampered), Invalid); // checksum
  const reordered = msg();
  reordered.data.reverse();
  assertRejected(enc(reordered), Invalid);
  const unknownCf = msg();
  unknownCf.meta!.cfFiles[1]!.cf = 'raft';
  assertRejected(enc(unknownCf), Invalid);
  const repeatedCf = msg();
  repeatedCf.meta!.cfFiles[1]!.cf = CF_DEFAULT;
  assertRejected(enc(repeatedCf), Invalid);
  const tooMany = msg();
  tooMany.meta!.cfFiles[2]!.size += 1;
  assertRejected(enc(tooMany), Invalid);
  const leftover = msg();
  leftover.meta!.cfFiles.pop();
  assertRejected(enc(leftover), Invalid);

  // Fuzz: truncations and byte flips either decode to valid data or throw a SnapshotError.
  const rng = new Prng(11);
  for (let i = 0; i < 2000; i++) {
    const bytes = Buffer.from(good);
    if (i % 2 === 0) {
      bytes[rng.intInclusive(0, bytes.length - 1)] = rng.intInclusive(0, 255);
    } else {
      bytes.fill(0, rng.intInclusive(0, bytes.length - 1));
    }
    try {
      decodeSnapshotData(bytes);
    } catch (err) {
      assert.ok(err instanceof SnapshotError, `fuzz case ${i}: ${String(err)}`);
    }
  }
});

test('staging the apply clears the snapshot range, then writes its data', async () => {
  const src = new MemEngine();
  await fill(src, 'src');
  const data = decodeSnapshotData(buildSnapshotData(src, region(3, 'b', 'd')));
  const dst = new MemEngine();
  await fill(dst, 'dst');
  const extra = new WriteBatch();
  extra.put(CF_WRITE, Buffer.from('b5'), Buffer.from('stale'));
  await dst.write(extra, { sync: true });
  const wb = new WriteBatch();
  stageApplySnapshotData(wb, data);
  await dst.write(wb, { sync: true });
  for (const cf of DATA_CFS) {
    const expected = [['a', 'dst'], ['b', 'src'], ['b1', 'src'], ['c', 'src'], ['c9', 'src'], ['d', 'dst'], ['e', 'dst']];
    assert.deepEqual(dump(dst, cf), expected.map(([k, tag]) => `${k}=${tag}-${cf}-${k}`));
  }
  const nonData: CfName[] = [CF_RAFT, CF_META];
  for (const cf of nonData) assert.deepEqual(dump(dst, cf), ALL_KEYS.map((k) => `${k}=dst-${cf}-${k}`));
});
