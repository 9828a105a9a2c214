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
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EntryType } from '../pb/eraftpb.js';
import type { Entry } from '../pb/eraftpb.js';
import type { Region } from '../pb/metapb.js';
import { RaftLocalState } from '../pb/raft_serverpb.js';
import { RawNode } from '../raft/raw_node.js';
import { isStorageError, RAFT_STORAGE_ERROR_CODES } from '../raft/storage.js';
import type { RaftStorageErrorCode } from '../raft/storage.js';
import { newEntry } from '../raft/types.js';
import { CF_RAFT } from '../storage/engine.js';
import type { Engine } from '../storage/engine.js';
import { LmdbEngine } from '../storage/lmdb_engine.js';
import { MemEngine } from '../storage/mem_engine.js';
import { WriteBatch } from '../storage/write_batch.js';
import { Prng } from '../util/prng.js';
import { raftLogKey, raftStateKey } from './meta/keys.js';
import { PeerStorage, RAFT_INIT_LOG_INDEX, RAFT_INIT_LOG_TERM } from './peer_storage.js';
import type { PendingUpdate } from './peer_storage.js';

const { Compacted, Unavailable, SnapshotTemporarilyUnavailable } = RAFT_STORAGE_ERROR_CODES;

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
        assertStorageError(() => ps.snapshot(), SnapshotTemporarilyUnavailable);
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
