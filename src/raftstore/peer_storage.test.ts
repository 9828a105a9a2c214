// Goal: PeerStorage serves the raft core's Storage contract from the engines
// (bootstrap values, entries/term/firstIndex/lastIndex boundaries with the
// Compacted/Unavailable errors, size limits), stages its writes as batches
// whose effect becomes visible only when installed after the write, never
// returns a stale tail after a conflicting append (TinyKV pitfall 19), keeps
// the truncated state through compaction and GC, and reloads exactly the same
// state after a restart. Method: every case runs against MemEngine and against
// LmdbEngine in a fresh temp directory (restart = close and reopen the
// directory); a final case drives a single-node RawNode over PeerStorage,
// persisting each Ready (stageReady + write(sync) + applyPersisted) before
// applying and advancing, and checks that proposals commit across a restart.
// Snapshots: applying one to an uninitialized peer leaves other regions' data
// alone (pitfall 17), to an initialized peer clears exactly its old range and
// log, both reload after a restart; a 2-peer RawNode group (messages delivered
// by hand) brings a new uninitialized peer up to a compacted leader through
// snapshot() -> MsgSnapshot -> stageApplySnapshot, ending with equal data.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EntryType } from '../pb/eraftpb.js';
import type { Entry, Message, Snapshot } from '../pb/eraftpb.js';
import type { Region } from '../pb/metapb.js';
import { PeerState, RaftLocalState, RegionLocalState } from '../pb/raft_serverpb.js';
import { RawNode } from '../raft/raw_node.js';
import { isStorageError, RAFT_STORAGE_ERROR_CODES } from '../raft/storage.js';
import type { RaftStorageErrorCode } from '../raft/storage.js';
import { emptyConfState, newEntry } from '../raft/types.js';
import { CF_DEFAULT, CF_META, CF_RAFT, DATA_CFS } from '../storage/engine.js';
import type { Engine } from '../storage/engine.js';
import { LmdbEngine } from '../storage/lmdb_engine.js';
import { MemEngine } from '../storage/mem_engine.js';
import { WriteBatch } from '../storage/write_batch.js';
import { Prng } from '../util/prng.js';
import { raftLogKey, raftLogKeyRange, raftStateKey, regionStateKey } from './meta/keys.js';
import { PeerStorage, RAFT_INIT_LOG_INDEX, RAFT_INIT_LOG_TERM } from './peer_storage.js';
import type { PendingUpdate } from './peer_storage.js';
import { buildSnapshotData, decodeSnapshotData, SnapshotError } from './snapshot.js';

const { Compacted, Unavailable } = RAFT_STORAGE_ERROR_CODES;

interface Harness {
  engine: Engine;
  /** Closes and reopens the engine (LMDB) or keeps it (memory: nothing is lost on a clean restart). */
  restart(): Promise<Engine>;
  dispose(): Promise<void>;
}

const ENGINES: ReadonlyArray<[string, () => Harness]> = [
  [
    'memory',
    () => {
      const engine = new MemEngine();
      return { engine, restart: async () => engine, dispose: () => engine.close() };
    },
  ],
  [
    'lmdb',
    () => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinykv-peer-storage-'));
      const h: Harness = {
        engine: new LmdbEngine({ dataDir }),
        restart: async () => {
          await h.engine.close();
          h.engine = new LmdbEngine({ dataDir });
          return h.engine;
        },
        dispose: async () => {
          await h.engine.close();
          fs.rmSync(dataDir, { recursive: true, force: true });
        },
      };
      return h;
    },
  ],
];

function region(id: number, peerIds: readonly number[]): Region {
  return {
    id,
    startKey: Buffer.alloc(0),
    endKey: Buffer.alloc(0),
    regionEpoch: { confVer: 1, version: 1 },
    peers: peerIds.map((p) => ({ id: p, storeId: p })),
  };
}

function ents(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(newEntry({ index: i, term, data: Buffer.from(`e${i}t${term}`) }));
  return out;
}

/** The shell's part: write the staged batch durably, then install the update. */
async function persist(engine: Engine, ps: PeerStorage, stage: (wb: WriteBatch) => PendingUpdate | undefined): Promise<void> {
  const wb = new WriteBatch();
  const update = stage(wb);
  await engine.write(wb, { sync: true });
  if (update !== undefined) ps.applyPersisted(update);
}

function readyOf(entries: Entry[], commit?: number, term = 6): Parameters<PeerStorage['stageReady']>[1] {
  return {
    entries,
    readStates: [],
    committedEntries: [],
    messages: [],
    mustSync: true,
    ...(commit === undefined ? {} : { hardState: { term, vote: 1, commit } }),
  };
}

function ranged(id: number, start: string, end: string, peerIds: readonly number[]): Region {
  return { ...region(id, peerIds), startKey: Buffer.from(start), endKey: Buffer.from(end) };
}

/** Puts `${tag}` under each key in every data CF. */
async function putData(engine: Engine, keys: readonly string[], tag: string): Promise<void> {
  const wb = new WriteBatch();
  for (const cf of DATA_CFS) for (const k of keys) wb.put(cf, Buffer.from(k), Buffer.from(tag));
  await engine.write(wb, { sync: true });
}

function dumpData(engine: Engine): string[] {
  return DATA_CFS.flatMap((cf) => [...engine.scan(cf)].map((e) => `${cf}:${Buffer.from(e.key).toString()}=${Buffer.from(e.value).toString()}`));
}

function expectData(kv: Record<string, string>): string[] {
  return DATA_CFS.flatMap((cf) => Object.entries(kv).map(([k, v]) => `${cf}:${k}=${v}`));
}

function snapshotOf(engine: Engine, r: Region, index: number, term: number): Snapshot {
  const confState = { ...emptyConfState(), nodes: r.peers.map((p) => p.id) };
  return { data: buildSnapshotData(engine, r), metadata: { index, term, confState } };
}

function assertSnapshotState(ps: PeerStorage, index: number, term: number): void {
  assert.equal(ps.firstIndex(), index + 1);
  assert.equal(ps.lastIndex(), index);
  assert.equal(ps.term(index), term);
  assert.equal(ps.appliedIndex, index);
  assert.deepEqual(ps.truncatedState, { index, term });
  assertStorageError(() => ps.term(index - 1), Compacted);
  assertStorageError(() => ps.entries(index, index + 1, 100), Compacted);
  assert.deepEqual(ps.entries(index + 1, index + 1, 100), []);
}

function assertStorageError(fn: () => unknown, code: RaftStorageErrorCode): void {
  assert.throws(fn, (err: unknown) => isStorageError(err, code));
}

/** Bootstraps region 1 with peers [1] and appends entries 6..10 of term 6, committed to 10. */
async function bootstrapWithLog(engine: Engine): Promise<PeerStorage> {
  const ps = PeerStorage.create(engine, engine, region(1, [1]));
  const wb = new WriteBatch();
  ps.stageInitialState(wb, wb);
  await engine.write(wb, { sync: true });
  await persist(engine, ps, (b) => ps.stageReady(b, readyOf(ents(6, 10, 6), 10)));
  return ps;
}

for (const [name, makeHarness] of ENGINES) {
  describe(`PeerStorage on ${name}`, () => {
    test('bootstrap values of an initialized region', async () => {
      const h = makeHarness();
      try {
        const ps = PeerStorage.create(h.engine, h.engine, region(1, [3, 1, 2]));
        assert.equal(ps.isInitialized(), true);
        assert.equal(ps.firstIndex(), RAFT_INIT_LOG_INDEX + 1);
        assert.equal(ps.lastIndex(), RAFT_INIT_LOG_INDEX);
        assert.equal(ps.term(RAFT_INIT_LOG_INDEX), RAFT_INIT_LOG_TERM);
        assert.equal(ps.appliedIndex, RAFT_INIT_LOG_INDEX);
        const init = ps.initialState();
        assert.deepEqual(init.hardState, { term: 5, vote: 0, commit: 5 });
        assert.deepEqual(init.confState.nodes, [1, 2, 3]);
        assert.deepEqual(ps.entries(6, 6, 100), []);
        assertStorageError(() => ps.entries(5, 6, 100), Compacted);
        assertStorageError(() => ps.entries(6, 7, 100), Unavailable);
        assertStorageError(() => ps.term(4), Compacted);
        assertStorageError(() => ps.term(6), Unavailable);
        // Generation before anything is written falls back to the in-memory states.
        assert.deepEqual(ps.snapshot().metadata, { index: 5, term: 5, confState: { ...ps.initialState().confState } });
        // Nothing is written until the staged batch is.
        assert.equal(h.engine.get(CF_RAFT, raftStateKey(1)), undefined);
        const wb = new WriteBatch();
        ps.stageInitialState(wb, wb);
        await h.engine.write(wb, { sync: true });
        const engine = await h.restart();
        const loaded = PeerStorage.load(engine, engine, region(1, [3, 1, 2]));
        assert.deepEqual(loaded.raftState, ps.raftState);
        assert.deepEqual(loaded.applyState, ps.applyState);
        assert.deepEqual(PeerStorage.loadRegionState(engine, 1)?.region?.peers.map((p) => p.id), [3, 1, 2]);
      } finally {
        await h.dispose();
      }
    });

    test('an uninitialized peer starts at 0 and load of nothing equals create', async () => {
      const h = makeHarness();
      try {
        const ps = PeerStorage.create(h.engine, h.engine, region(2, []));
        assert.equal(ps.isInitialized(), false);
        assert.equal(ps.firstIndex(), 1);
        assert.equal(ps.lastIndex(), 0);
        assert.equal(ps.term(0), 0);
        assert.deepEqual(ps.initialState().confState.nodes, []);
        assert.deepEqual(ps.initialState().hardState, { term: 0, vote: 0, commit: 0 });
        const loaded = PeerStorage.load(h.engine, h.engine, region(2, []));
        assert.deepEqual(loaded.raftState, ps.raftState);
        assert.deepEqual(loaded.applyState, ps.applyState);
      } finally {
        await h.dispose();
      }
    });

    test('append is visible only once installed; entries and term boundaries', async () => {
      const h = makeHarness();
      try {
        const ps = await bootstrapWithLog(h.engine);
        const wb = new WriteBatch();
        const pending = ps.stageReady(wb, readyOf(ents(11, 12, 6)));
        assert.ok(pending !== undefined);
        assert.equal(ps.lastIndex(), 10, 'staged, not yet durable');
        await h.engine.write(wb, { sync: true });
        ps.applyPersisted(pending);
        assert.equal(ps.lastIndex(), 12);
        assert.equal(ps.firstIndex(), 6);
        assert.deepEqual(ps.entries(6, 13, Number.MAX_SAFE_INTEGER), ents(6, 12, 6));
        assert.deepEqual(ps.entries(8, 10, Number.MAX_SAFE_INTEGER), ents(8, 9, 6));
        // Size limit: at least one entry, then only what fits (entry = payload + 24 bytes).
        assert.equal(ps.entries(6, 13, 0).length, 1);
        const one = 24 + ents(6, 6, 6)[0]!.data.length;
        assert.equal(ps.entries(6, 13, 2 * one).length, 2);
        assert.equal(ps.term(12), 6);
        assert.equal(ps.term(7), 6);
        assertStorageError(() => ps.entries(6, 14, 100), Unavailable);
        assertStorageError(() => ps.term(13), Unavailable);
        assert.throws(() => ps.applyPersisted(pending), { name: 'AssertionError' }, 'installed twice');
      } finally {
        await h.dispose();
      }
    });

    test('pipelined stages build on each other and install in order', async () => {
      const h = makeHarness();
      try {
        const ps = await bootstrapWithLog(h.engine);
        const wb1 = new WriteBatch();
        const p1 = ps.stageReady(wb1, readyOf(ents(11, 14, 6)));
        // The second Ready conflicts with the first, still in flight: its tail must go too.
        const wb2 = new WriteBatch();
        const p2 = ps.stageReady(wb2, readyOf(ents(12, 12, 7), 12, 7));
        assert.ok(p1 !== undefined && p2 !== undefined);
        await h.engine.write(wb1, { sync: true });
        await h.engine.write(wb2, { sync: true });
        assert.throws(() => ps.applyPersisted(p2), { name: 'AssertionError' }, 'out of order');
        ps.applyPersisted(p1);
        ps.applyPersisted(p2);
        assert.equal(ps.lastIndex(), 12);
        assert.equal(ps.term(12), 7);
        assert.equal(h.engine.get(CF_RAFT, raftLogKey(1, 13)), undefined);
        assert.equal(h.engine.get(CF_RAFT, raftLogKey(1, 14)), undefined);
        assert.equal(PeerStorage.load(h.engine, h.engine, region(1, [1])).lastIndex(), 12);
      } finally {
        await h.dispose();
      }
    });

    test('a conflicting append deletes the stale tail (pitfall 19), also after restart', async () => {
      const h = makeHarness();
      try {
        const ps = await bootstrapWithLog(h.engine);
        // A new leader at term 7 overwrites 8.. with a shorter log.
        await persist(h.engine, ps, (b) => ps.stageReady(b, readyOf(ents(8, 9, 7), 9, 7)));
        assert.equal(ps.lastIndex(), 9);
        assert.equal(ps.term(9), 7);
        assert.deepEqual(ps.entries(6, 10, Number.MAX_SAFE_INTEGER), [...ents(6, 7, 6), ...ents(8, 9, 7)]);
        assertStorageError(() => ps.entries(6, 11, 100), Unavailable);
        assert.equal(h.engine.get(CF_RAFT, raftLogKey(1, 10)), undefined, 'stale entry 10 deleted');
        const before = ps.entries(6, 10, Number.MAX_SAFE_INTEGER);
        const engine = await h.restart();
        const loaded = PeerStorage.load(engine, engine, region(1, [1]));
        assert.deepEqual(loaded.raftState, ps.raftState);
        assert.deepEqual(loaded.entries(6, 10, Number.MAX_SAFE_INTEGER), before);
        // Appending past a gap, or into the compacted prefix, is a bug.
        assert.throws(() => loaded.stageReady(new WriteBatch(), readyOf(ents(11, 11, 7))), { name: 'AssertionError' });
        assert.throws(() => loaded.stageReady(new WriteBatch(), readyOf(ents(5, 6, 7))), { name: 'AssertionError' });
      } finally {
        await h.dispose();
      }
    });

    test('compaction moves the truncated state; GC deletes only compacted entries', async () => {
      const h = makeHarness();
      try {
        const ps = await bootstrapWithLog(h.engine);
        await persist(h.engine, ps, (b) => ps.stageApplyState(b, { appliedIndex: 9, truncatedState: ps.truncatedState }));
        assert.throws(() => ps.stageCompactTo(new WriteBatch(), 10, 6), { name: 'AssertionError' }, 'beyond applied');
        assert.throws(() => ps.stageCompactTo(new WriteBatch(), 8, 5), { name: 'AssertionError' }, 'wrong term');
        assert.throws(() => ps.stageGcLogs(new WriteBatch(), 0, 9), { name: 'AssertionError' }, 'not yet compacted');
        await persist(h.engine, ps, (b) => ps.stageCompactTo(b, 8, 6));
        assert.deepEqual(ps.truncatedState, { index: 8, term: 6 });
        assert.equal(ps.firstIndex(), 9);
        assert.equal(ps.term(8), 6);
        assertStorageError(() => ps.term(7), Compacted);
        assertStorageError(() => ps.entries(8, 10, 100), Compacted);
        assert.equal(ps.stageCompactTo(new WriteBatch(), 7, 6), undefined, 'stale CompactLog ignored');
        const gc = new WriteBatch();
        ps.stageGcLogs(gc, 0, 9);
        await h.engine.write(gc, { sync: true });
        assert.equal(h.engine.get(CF_RAFT, raftLogKey(1, 8)), undefined);
        assert.deepEqual(ps.entries(9, 11, Number.MAX_SAFE_INTEGER), ents(9, 10, 6));
        const engine = await h.restart();
        const loaded = PeerStorage.load(engine, engine, region(1, [1]));
        assert.deepEqual(loaded.applyState, { appliedIndex: 9, truncatedState: { index: 8, term: 6 } });
        assert.deepEqual(loaded.raftState, ps.raftState);
        assert.equal(loaded.firstIndex(), 9);
      } finally {
        await h.dispose();
      }
    });

    test('load asserts the persisted states are consistent (pair assertions)', async () => {
      const h = makeHarness();
      try {
        const ps = await bootstrapWithLog(h.engine);
        const bad = new WriteBatch();
        bad.put(CF_RAFT, raftStateKey(1), RaftLocalState.encode({ ...ps.raftState, lastTerm: 9 }).finish());
        await h.engine.write(bad, { sync: true });
        assert.throws(() => PeerStorage.load(h.engine, h.engine, region(1, [1])), /last term 9/);
        const stale = new WriteBatch();
        stale.put(CF_RAFT, raftStateKey(1), RaftLocalState.encode({ ...ps.raftState, lastIndex: 9 }).finish());
        await h.engine.write(stale, { sync: true });
        assert.throws(() => PeerStorage.load(h.engine, h.engine, region(1, [1])), { name: 'AssertionError' });
      } finally {
        await h.dispose();
      }
    });

    test('a snapshot applied to an uninitialized peer leaves other regions alone; restart reloads it', async () => {
      const h = makeHarness();
      try {
        // Other regions' data on this store, plus leftovers in the snapshot's range.
        await putData(h.engine, ['a', 'b', 'c', 'd', 'e', 'f'], 'old');
        const src = new MemEngine();
        await putData(src, ['c', 'c5', 'd'], 'snap');
        const snapRegion = ranged(3, 'c', 'e', [1, 2]);
        const snap = snapshotOf(src, snapRegion, 20, 7);
        const ps = PeerStorage.create(h.engine, h.engine, region(3, []));
        assert.equal(ps.isInitialized(), false);
        const wb = new WriteBatch();
        const update = ps.stageApplySnapshot(wb, wb, snap);
        assert.equal(ps.lastIndex(), 0, 'staged, not yet installed');
        await h.engine.write(wb, { sync: true });
        ps.applyPersisted(update);
        assert.deepEqual(dumpData(h.engine), expectData({ a: 'old', b: 'old', c: 'snap', c5: 'snap', d: 'snap', e: 'old', f: 'old' }));
        assertSnapshotState(ps, 20, 7);
        assert.equal(ps.isInitialized(), true);
        assert.deepEqual(ps.initialState().confState.nodes, [1, 2]);
        assert.deepEqual(ps.initialState().hardState, { term: 0, vote: 0, commit: 20 });
        const engine = await h.restart();
        const stored = PeerStorage.loadRegionState(engine, 3)?.region;
        assert.ok(stored !== undefined);
        assert.deepEqual(stored, ps.region);
        const loaded = PeerStorage.load(engine, engine, stored);
        assert.deepEqual(loaded.raftState, ps.raftState);
        assert.deepEqual(loaded.applyState, ps.applyState);
        assertSnapshotState(loaded, 20, 7);
        assert.deepEqual(decodeSnapshotData(loaded.snapshot().data).cfs, decodeSnapshotData(snap.data).cfs, 'regenerates the same data');
      } finally {
        await h.dispose();
      }
    });

    test('a snapshot applied to an initialized peer clears exactly its old range and its old log', async () => {
      const h = makeHarness();
      try {
        await putData(h.engine, ['a', 'b', 'b5', 'c', 'c5', 'd', 'e'], 'old');
        const ps = PeerStorage.create(h.engine, h.engine, ranged(1, 'b', 'd', [1]));
        const init = new WriteBatch();
        ps.stageInitialState(init, init);
        await h.engine.write(init, { sync: true });
        await persist(h.engine, ps, (b) => ps.stageReady(b, readyOf(ents(6, 10, 6), 8)));
        // The snapshot's region is narrower (the region split meanwhile): c..d of the old range must go too.
        const src = new MemEngine();
        await putData(src, ['b', 'b7'], 'snap');
        const snap = snapshotOf(src, ranged(1, 'b', 'c', [1, 2]), 30, 9);
        const rd: Parameters<PeerStorage['stageReady']>[1] = { ...readyOf([], 30, 9), snapshot: snap };
        assert.throws(() => ps.stageReady(new WriteBatch(), rd), { name: 'AssertionError' }, 'snapshot must be staged first');
        const wb = new WriteBatch();
        const u1 = ps.stageApplySnapshot(wb, wb, snap);
        const u2 = ps.stageReady(wb, rd);
        assert.ok(u2 !== undefined);
        await h.engine.write(wb, { sync: true });
        assert.throws(() => ps.applyPersisted(u2), { name: 'AssertionError' }, 'out of order');
        ps.applyPersisted(u1);
        ps.applyPersisted(u2);
        assert.deepEqual(dumpData(h.engine), expectData({ a: 'old', b: 'snap', b7: 'snap', d: 'old', e: 'old' }));
        assertSnapshotState(ps, 30, 9);
        assert.deepEqual(ps.initialState().hardState, { term: 9, vote: 1, commit: 30 });
        assert.deepEqual(ps.region.endKey, Buffer.from('c'));
        assert.deepEqual([...h.engine.scan(CF_RAFT, raftLogKeyRange(1))], [], 'old log entries deleted');
        // The log continues after the snapshot.
        await persist(h.engine, ps, (b) => ps.stageReady(b, readyOf(ents(31, 32, 9), 32, 9)));
        assert.deepEqual(ps.entries(31, 33, Number.MAX_SAFE_INTEGER), ents(31, 32, 9));
        const engine = await h.restart();
        const loaded = PeerStorage.load(engine, engine, PeerStorage.loadRegionState(engine, 1)?.region ?? region(1, []));
        assert.deepEqual(loaded.raftState, ps.raftState);
        assert.deepEqual(loaded.applyState, ps.applyState);
        assert.deepEqual(loaded.region, ps.region);
        // A snapshot not ahead of what is applied is a bug; corrupt data a typed error.
        assert.throws(() => loaded.stageApplySnapshot(new WriteBatch(), new WriteBatch(), snap), { name: 'AssertionError' });
        const corrupt = { ...snapshotOf(src, ranged(1, 'b', 'c', [1, 2]), 40, 9), data: Buffer.from([1, 2, 3]) };
        assert.throws(() => loaded.stageApplySnapshot(new WriteBatch(), new WriteBatch(), corrupt), SnapshotError);
      } finally {
        await h.dispose();
      }
    });

    test('a single-node RawNode over PeerStorage commits proposals across a restart', async () => {
      const h = makeHarness();
      try {
        const applied: string[] = [];
        let ps = PeerStorage.create(h.engine, h.engine, region(1, [1]));
        const wb = new WriteBatch();
        ps.stageInitialState(wb, wb);
        await h.engine.write(wb, { sync: true });
        let node = newNode(ps);
        node.campaign();
        await drive(h.engine, ps, node, applied);
        node.propose(Buffer.from('a'));
        node.propose(Buffer.from('b'));
        await drive(h.engine, ps, node, applied);
        assert.deepEqual(applied, ['a', 'b']);
        const termBefore = ps.initialState().hardState.term;

        const engine = await h.restart();
        ps = PeerStorage.load(engine, engine, region(1, [1]));
        assert.equal(ps.appliedIndex, ps.lastIndex());
        node = newNode(ps);
        node.campaign();
        await drive(engine, ps, node, applied);
        node.propose(Buffer.from('c'));
        await drive(engine, ps, node, applied);
        assert.deepEqual(applied, ['a', 'b', 'c'], 'nothing re-applied, the new proposal committed');
        assert.ok(ps.initialState().hardState.term > termBefore);
        const payloads = ps.entries(ps.firstIndex(), ps.lastIndex() + 1, Number.MAX_SAFE_INTEGER)
          .filter((e) => e.entryType === EntryType.EntryNormal && e.data.length > 0)
          .map((e) => e.data.toString());
        assert.deepEqual(payloads, ['a', 'b', 'c']);
      } finally {
        await h.dispose();
      }
    });
  });
}

test('raft and kv states may live in separate engines', async () => {
  const raftEngine = new MemEngine();
  const kvEngine = new MemEngine();
  const ps = PeerStorage.create(raftEngine, kvEngine, region(1, [1]));
  const raftWb = new WriteBatch();
  const kvWb = new WriteBatch();
  ps.stageInitialState(raftWb, kvWb);
  await raftEngine.write(raftWb, { sync: true });
  await kvEngine.write(kvWb, { sync: true });
  await persist(raftEngine, ps, (b) => ps.stageReady(b, readyOf(ents(6, 7, 6), 7)));
  await persist(kvEngine, ps, (b) => ps.stageApplyState(b, { appliedIndex: 7, truncatedState: ps.truncatedState }));
  const loaded = PeerStorage.load(raftEngine, kvEngine, region(1, [1]));
  assert.deepEqual(loaded.applyState, { appliedIndex: 7, truncatedState: { index: 5, term: 5 } });
  assert.equal(loaded.lastIndex(), 7);
  assert.equal(raftEngine.get(CF_RAFT, raftStateKey(1)) !== undefined, true);
  assert.equal(PeerStorage.loadRegionState(raftEngine, 1), undefined, 'region state lives in the kv engine');
  assert.notEqual(PeerStorage.loadRegionState(kvEngine, 1), undefined);
});

function newNode(ps: PeerStorage): RawNode {
  return new RawNode({ id: 1, electionTick: 10, heartbeatTick: 1, storage: ps, applied: ps.appliedIndex, rng: new Prng(7) });
}

/**
 * Processes Readys until none is left, in ready.ts order: persist (durable),
 * install, (no messages in a single-node group), apply with the apply state
 * in the same batch, then advance. Bounded: a single node settles quickly.
 */
async function drive(engine: Engine, ps: PeerStorage, node: RawNode, applied: string[]): Promise<void> {
  for (let round = 0; round < 100 && node.hasReady(); round++) {
    const rd = node.ready();
    await persist(engine, ps, (b) => ps.stageReady(b, rd));
    assert.equal(rd.messages.length, 0);
    const last = rd.committedEntries[rd.committedEntries.length - 1];
    if (last !== undefined) {
      for (const e of rd.committedEntries) {
        if (e.entryType === EntryType.EntryNormal && e.data.length > 0) applied.push(e.data.toString());
      }
      await persist(engine, ps, (b) => ps.stageApplyState(b, { appliedIndex: last.index, truncatedState: ps.truncatedState }));
    }
    node.advance(rd);
  }
  assert.equal(node.hasReady(), false, 'drive did not settle');
}

interface Member {
  readonly id: number;
  readonly engine: Engine;
  ps: PeerStorage;
  node: RawNode;
}

function memberNode(id: number, ps: PeerStorage): RawNode {
  return new RawNode({ id, electionTick: 10, heartbeatTick: 1, storage: ps, applied: ps.appliedIndex, rng: new Prng(id) });
}

/**
 * Processes a member's Readys in ready.ts order: stage the snapshot (if any)
 * then the rest, write durably, install; collect messages; apply committed
 * `key=value` entries into CF default with the apply state in the same batch;
 * advance.
 */
async function handleReadys(m: Member, outbox: Message[]): Promise<void> {
  while (m.node.hasReady()) {
    const rd = m.node.ready();
    const wb = new WriteBatch();
    const updates: PendingUpdate[] = [];
    if (rd.snapshot !== undefined) updates.push(m.ps.stageApplySnapshot(wb, wb, rd.snapshot));
    const u = m.ps.stageReady(wb, rd);
    if (u !== undefined) updates.push(u);
    await m.engine.write(wb, { sync: true });
    for (const update of updates) m.ps.applyPersisted(update);
    outbox.push(...rd.messages);
    const last = rd.committedEntries[rd.committedEntries.length - 1];
    if (last !== undefined) {
      const kb = new WriteBatch();
      for (const e of rd.committedEntries) {
        if (e.entryType !== EntryType.EntryNormal || e.data.length === 0) continue;
        const [k, v] = e.data.toString().split('=');
        kb.put(CF_DEFAULT, Buffer.from(k ?? ''), Buffer.from(v ?? ''));
      }
      const applyUpdate = m.ps.stageApplyState(kb, { appliedIndex: last.index, truncatedState: m.ps.truncatedState });
      await m.engine.write(kb, { sync: true });
      m.ps.applyPersisted(applyUpdate);
    }
    m.node.advance(rd);
  }
}

/** Delivers messages until the group is quiet. `onSend` sees every message. */
async function settle(members: readonly Member[], onSend: (m: Message) => void = () => {}): Promise<void> {
  for (let round = 0; round < 100; round++) {
    const outbox: Message[] = [];
    for (const m of members) await handleReadys(m, outbox);
    if (outbox.length === 0) return;
    for (const msg of outbox) {
      onSend(msg);
      members.find((m) => m.id === msg.to)?.node.step(msg);
    }
  }
  assert.fail('the group did not settle');
}

test('a 2-peer group: a new peer catches up with a compacted leader through a snapshot', async () => {
  // Peer 1 alone commits and applies k1..k4, then compacts and GCs its log.
  const e1 = new MemEngine();
  let ps1 = PeerStorage.create(e1, e1, region(1, [1]));
  const init = new WriteBatch();
  ps1.stageInitialState(init, init);
  await e1.write(init, { sync: true });
  const p1: Member = { id: 1, engine: e1, ps: ps1, node: memberNode(1, ps1) };
  p1.node.campaign();
  await settle([p1]);
  for (let i = 1; i <= 4; i++) p1.node.propose(Buffer.from(`k${i}=v${i}`));
  await settle([p1]);
  const applied = ps1.appliedIndex;
  await persist(e1, ps1, (b) => ps1.stageCompactTo(b, applied, ps1.term(applied)));
  const gc = new WriteBatch();
  ps1.stageGcLogs(gc, 0, applied + 1);
  await e1.write(gc, { sync: true });
  assert.equal(ps1.firstIndex(), applied + 1);

  // Peer 2 joins (its conf change applied on peer 1: the region now has [1, 2]),
  // and is created uninitialized on its store (HARD-CASES S3).
  const widened = region(1, [1, 2]);
  const meta = new WriteBatch();
  meta.put(CF_META, regionStateKey(1), RegionLocalState.encode({ state: PeerState.Normal, region: widened }).finish());
  await e1.write(meta, { sync: true });
  ps1 = PeerStorage.load(e1, e1, widened);
  p1.ps = ps1;
  p1.node = memberNode(1, ps1);
  const e2 = new MemEngine();
  const ps2 = PeerStorage.create(e2, e2, region(1, []));
  const p2: Member = { id: 2, engine: e2, ps: ps2, node: memberNode(2, ps2) };

  let snapshots = 0;
  p1.node.campaign();
  await settle([p1, p2], (m) => {
    if (m.snapshot !== undefined && m.snapshot.data.length > 0) snapshots++;
  });
  assert.equal(p1.node.status().softState.lead, 1);
  assert.equal(snapshots, 1, 'caught up through exactly one snapshot');
  assert.ok(ps2.isInitialized());
  assert.deepEqual(ps2.region.peers.map((p) => p.id), [1, 2]);
  p1.node.propose(Buffer.from('k5=v5'));
  await settle([p1, p2]);
  const data = (e: Engine): string[] => [...e.scan(CF_DEFAULT)].map((kv) => `${Buffer.from(kv.key).toString()}=${Buffer.from(kv.value).toString()}`);
  assert.deepEqual(data(e1), ['k1=v1', 'k2=v2', 'k3=v3', 'k4=v4', 'k5=v5']);
  assert.deepEqual(data(e2), data(e1));
  assert.equal(ps2.appliedIndex, ps1.appliedIndex);
  assert.ok(ps2.firstIndex() > applied, 'peer 2 never held the compacted entries');
  assert.deepEqual(PeerStorage.load(e2, e2, ps2.region).raftState, ps2.raftState);
});
