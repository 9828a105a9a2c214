/**
 * Goal: the simulator's raft Storage keeps the raft log, HardState and
 * truncated state on the disk faithfully: what a Ready staged and committed
 * reads back the same after a rebuild from the disk (a restart), a shorter
 * conflicting append removes the stale suffix, compaction and snapshots move
 * the first index, and the errors raft relies on (Compacted, Unavailable)
 * are thrown at the right bounds.
 *
 * Method: stage Readys into batches, write them to a SimDisk that completes
 * at once, commit them to the mirror, then compare the mirror with a storage
 * rebuilt from the same disk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isStorageError, RAFT_STORAGE_ERROR_CODES } from '../raft/storage.js';
import { emptyConfState, newEntry } from '../raft/types.js';
import type { Entry, HardState, Snapshot } from '../raft/types.js';
import { WriteBatch } from '../storage/write_batch.js';
import { SimClock } from './clock.js';
import { SimDisk } from './disk.js';
import { Prng } from './prng.js';
import { decodeEntry, decodeHardState, decodeU64, encodeEntry, encodeHardState, encodeU64, formatRaftState, SimRaftStorage } from './raft_storage.js';
import { Trace } from './trace.js';

const noSnapshot = (): Snapshot => assert.fail('no snapshot expected');

function fresh(): { clock: SimClock; disk: SimDisk; storage: SimRaftStorage } {
  const clock = new SimClock();
  const disk = new SimDisk({ clock, prng: new Prng(1), trace: new Trace({ nowMs: () => clock.nowMs }), owner: 1 }, { writeLatencyMsMin: 0, writeLatencyMsMax: 0 });
  const batch = new WriteBatch();
  formatRaftState(batch, { ...emptyConfState(), nodes: [1, 2, 3] });
  disk.format(batch);
  return { clock, disk, storage: new SimRaftStorage(disk, noSnapshot) };
}

const entries = (from: number, to: number, term: number): Entry[] =>
  Array.from({ length: to - from + 1 }, (_, i) => newEntry({ index: from + i, term, data: Buffer.from(`e${from + i}`) }));

function persist(h: ReturnType<typeof fresh>, rd: { entries: Entry[]; hardState?: HardState; snapshot?: Snapshot }): void {
  const batch = new WriteBatch();
  h.storage.stageReady(batch, rd);
  h.disk.submit(batch, true);
  h.clock.runUntil(h.clock.nowMs + 1, 100);
  h.storage.commitReady(rd);
}

function rebuilt(h: ReturnType<typeof fresh>): SimRaftStorage {
  return new SimRaftStorage(h.disk, noSnapshot);
}

test('SimRaftStorage encodings round-trip', () => {
  const e = newEntry({ index: 2 ** 40 + 3, term: 7, data: Buffer.from('payload') });
  assert.deepEqual(decodeEntry(encodeEntry(e)), e);
  assert.deepEqual(decodeHardState(encodeHardState({ term: 5, vote: 2, commit: 2 ** 33 })), { term: 5, vote: 2, commit: 2 ** 33 });
  assert.equal(decodeU64(encodeU64(Number.MAX_SAFE_INTEGER)), Number.MAX_SAFE_INTEGER);
});

test('SimRaftStorage: appended entries and hard state survive a rebuild from disk', () => {
  const h = fresh();
  persist(h, { entries: entries(1, 5, 1), hardState: { term: 1, vote: 1, commit: 3 } });
  const again = rebuilt(h);
  assert.deepEqual(again.initialState().hardState, { term: 1, vote: 1, commit: 3 });
  assert.deepEqual(again.initialState().confState.nodes, [1, 2, 3]);
  assert.equal(again.firstIndex(), 1);
  assert.equal(again.lastIndex(), 5);
  assert.deepEqual(again.entries(1, 6, Number.MAX_SAFE_INTEGER), h.storage.entries(1, 6, Number.MAX_SAFE_INTEGER));
});

test('SimRaftStorage: a shorter conflicting append deletes the stale suffix on disk', () => {
  const h = fresh();
  persist(h, { entries: entries(1, 10, 1) });
  persist(h, { entries: entries(6, 7, 2) });
  const again = rebuilt(h);
  assert.equal(again.lastIndex(), 7);
  assert.equal(again.term(7), 2);
  assert.equal(again.term(5), 1);
  assert.throws(() => again.term(8), (err: unknown) => isStorageError(err, RAFT_STORAGE_ERROR_CODES.Unavailable));
});

test('SimRaftStorage: compaction moves the first index and keeps the truncated term', () => {
  const h = fresh();
  persist(h, { entries: entries(1, 10, 3) });
  const batch = new WriteBatch();
  h.storage.compact(batch, 6);
  h.disk.submit(batch, true);
  h.clock.runUntil(h.clock.nowMs + 1, 100);
  for (const s of [h.storage, rebuilt(h)]) {
    assert.equal(s.firstIndex(), 7);
    assert.equal(s.term(6), 3);
    assert.throws(() => s.entries(6, 8, 100), (err: unknown) => isStorageError(err, RAFT_STORAGE_ERROR_CODES.Compacted));
    assert.throws(() => s.term(5), (err: unknown) => isStorageError(err, RAFT_STORAGE_ERROR_CODES.Compacted));
    assert.deepEqual(s.entries(7, 11, Number.MAX_SAFE_INTEGER).map((e) => e.index), [7, 8, 9, 10]);
  }
});

test('SimRaftStorage: a snapshot replaces the log, with entries after it in the same Ready', () => {
  const h = fresh();
  persist(h, { entries: entries(1, 3, 1) });
  const snapshot: Snapshot = { data: Buffer.from('[]'), metadata: { index: 20, term: 4, confState: { ...emptyConfState(), nodes: [1, 2, 3] } } };
  persist(h, { snapshot, entries: entries(21, 22, 4), hardState: { term: 4, vote: 0, commit: 20 } });
  for (const s of [h.storage, rebuilt(h)]) {
    assert.equal(s.firstIndex(), 21);
    assert.equal(s.lastIndex(), 22);
    assert.equal(s.term(20), 4);
    assert.throws(() => s.term(3), (err: unknown) => isStorageError(err, RAFT_STORAGE_ERROR_CODES.Compacted));
  }
});

test('SimRaftStorage: entries respect the size limit but return at least one', () => {
  const h = fresh();
  persist(h, { entries: entries(1, 5, 1) });
  assert.equal(h.storage.entries(1, 6, 1).length, 1);
  assert.equal(h.storage.entries(1, 6, Number.MAX_SAFE_INTEGER).length, 5);
});
