/**
 * Goal: the raft log's building blocks. RaftLog (stable entries in Storage
 * followed by the unstable tail; committed/applied cursors; conflict search;
 * compaction and snapshot boundaries; size-limited slices), Unstable (the tail
 * not yet persisted, and a pending snapshot) and MemoryStorage (the reference
 * Storage: dummy entry at the snapshot index, compaction, snapshots, append
 * with truncation).
 *
 * Method: table-driven ports of etcd-io/raft log_test.go (v3.5 behaviour: no
 * "applying" cursor), log_unstable_test.go and storage_test.go. Where etcd
 * returns ErrCompacted/ErrUnavailable, RaftLog.term() returns 0 (TinyKV
 * semantics) and termOrUndefined() returns undefined, while MemoryStorage
 * throws a RaftStorageError with the matching code; where etcd panics, we
 * expect an AssertionError. Entry sizes follow our entrySizeBytes (payload
 * + 24 bytes), not protobuf's Size.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AssertionError } from '../util/assert.js';
import { Unstable } from './log_unstable.js';
import { NO_LIMIT, RaftLog } from './raft_log.js';
import { MemoryStorage, RaftStorageError, RAFT_STORAGE_ERROR_CODES } from './storage.js';
import type { RaftStorageErrorCode } from './storage.js';
import { emptyConfState, newEntry } from './types.js';
import type { ConfState, Entry, Snapshot } from './types.js';
import { entrySizeBytes } from './util.js';

/** etcd's index(i).terms(...): entries at i, i+1, ... with the given terms. */
function ents(first: number, ...terms: number[]): Entry[] {
  return terms.map((term, k) => newEntry({ index: first + k, term }));
}

/** etcd's index(i).termRange(from, to): entries at i.. with terms from..to-1. */
function termRange(first: number, from: number, to: number): Entry[] {
  const out: Entry[] = [];
  for (let term = from; term < to; term++) out.push(newEntry({ index: first + (term - from), term }));
  return out;
}

function snap(index: number, term: number, cs: ConfState = emptyConfState(), data = Buffer.alloc(0)): Snapshot {
  return { data, metadata: { index, term, confState: cs } };
}

const it = (es: readonly Entry[]): string[] => es.map((e) => `${e.term}/${e.index}`);

function storageErrorCode(fn: () => unknown): RaftStorageErrorCode | undefined {
  try {
    fn();
    return undefined;
  } catch (err: unknown) {
    if (err instanceof RaftStorageError) return err.code;
    throw err;
  }
}

/** A log with `previous` appended (unstable) on an empty storage. */
function logWith(previous: Entry[]): RaftLog {
  const l = new RaftLog(new MemoryStorage());
  l.append(previous);
  return l;
}

describe('RaftLog', () => {
  test('TestFindConflict', () => {
    const cases: [Entry[], number][] = [
      // no conflict, empty ent
      [[], 0],
      // no conflict
      [ents(1, 1, 2, 3), 0],
      [ents(2, 2, 3), 0],
      [ents(3, 3), 0],
      // no conflict, but has new entries
      [ents(1, 1, 2, 3, 4, 4), 4],
      [ents(2, 2, 3, 4, 5), 4],
      [ents(3, 3, 4, 4), 4],
      [ents(4, 4, 4), 4],
      // conflicts with existing entries
      [ents(1, 4, 4), 1],
      [ents(2, 1, 4, 4), 2],
      [ents(3, 1, 2, 4, 4), 3],
    ];
    for (const [i, [es, w]] of cases.entries()) {
      assert.equal(logWith(ents(1, 1, 2, 3)).findConflict(es), w, `#${i}`);
    }
  });

  test('TestFindConflictByTerm', () => {
    // [log (first entry = snapshot index/term), index, term, want]
    const cases: [Entry[], number, number, number][] = [
      // Log starts from index 1.
      [ents(0, 0, 2, 2, 5, 5, 5), 100, 2, 100], // unavailable
      [ents(0, 0, 2, 2, 5, 5, 5), 5, 6, 5],
      [ents(0, 0, 2, 2, 5, 5, 5), 5, 5, 5],
      [ents(0, 0, 2, 2, 5, 5, 5), 5, 4, 2],
      [ents(0, 0, 2, 2, 5, 5, 5), 5, 2, 2],
      [ents(0, 0, 2, 2, 5, 5, 5), 5, 1, 0],
      [ents(0, 0, 2, 2, 5, 5, 5), 1, 2, 1],
      [ents(0, 0, 2, 2, 5, 5, 5), 1, 1, 0],
      [ents(0, 0, 2, 2, 5, 5, 5), 0, 0, 0],
      // Log with compacted entries.
      [ents(10, 3, 3, 3, 4, 4, 4), 30, 3, 30], // unavailable
      [ents(10, 3, 3, 3, 4, 4, 4), 14, 9, 14],
      [ents(10, 3, 3, 3, 4, 4, 4), 14, 4, 14],
      [ents(10, 3, 3, 3, 4, 4, 4), 14, 3, 12],
      [ents(10, 3, 3, 3, 4, 4, 4), 14, 2, 9],
      [ents(10, 3, 3, 3, 4, 4, 4), 11, 5, 11],
      [ents(10, 3, 3, 3, 4, 4, 4), 10, 5, 10],
      [ents(10, 3, 3, 3, 4, 4, 4), 10, 3, 10],
      [ents(10, 3, 3, 3, 4, 4, 4), 10, 2, 9],
      [ents(10, 3, 3, 3, 4, 4, 4), 9, 2, 9], // compacted
      [ents(10, 3, 3, 3, 4, 4, 4), 4, 2, 4], // compacted
      [ents(10, 3, 3, 3, 4, 4, 4), 0, 0, 0], // compacted
    ];
    for (const [i, [es, index, term, want]] of cases.entries()) {
      const st = new MemoryStorage();
      const [first, ...rest] = es as [Entry, ...Entry[]];
      if (first.index > 0) st.applySnapshot(snap(first.index, first.term));
      const l = new RaftLog(st);
      l.append(rest);
      const got = l.findConflictByTerm(index, term);
      assert.equal(got.index, want, `#${i}`);
      assert.equal(got.term, l.term(want), `#${i}`);
    }
  });

  test('TestIsUpToDate', () => {
    const l = logWith(ents(1, 1, 2, 3));
    const last = l.lastIndex();
    const cases: [number, number, boolean][] = [
      // greater term, ignore lastIndex
      [last - 1, 4, true],
      [last, 4, true],
      [last + 1, 4, true],
      // smaller term, ignore lastIndex
      [last - 1, 2, false],
      [last, 2, false],
      [last + 1, 2, false],
      // equal term, equal or larger lastIndex wins
      [last - 1, 3, false],
      [last, 3, true],
      [last + 1, 3, true],
    ];
    for (const [i, [li, term, w]] of cases.entries()) assert.equal(l.isUpToDate(li, term), w, `#${i}`);
  });

  test('TestAppend', () => {
    const cases: [Entry[], number, Entry[], number][] = [
      [[], 2, ents(1, 1, 2), 3],
      [ents(3, 2), 3, ents(1, 1, 2, 2), 3],
      // conflicts with index 1
      [ents(1, 2), 1, ents(1, 2), 1],
      // conflicts with index 2
      [ents(2, 3, 3), 3, ents(1, 1, 3, 3), 2],
    ];
    for (const [i, [es, windex, wents, wunstable]] of cases.entries()) {
      const storage = new MemoryStorage();
      storage.append(ents(1, 1, 2));
      const l = new RaftLog(storage);
      assert.equal(l.append(es), windex, `#${i}`);
      assert.deepEqual(it(l.entries(1, NO_LIMIT)), it(wents), `#${i}`);
      assert.equal(l.unstable.offset, wunstable, `#${i}`);
    }
  });

  test('TestLogMaybeAppend', () => {
    const [lastindex, lastterm, commit] = [3, 3, 1];
    // [prevIndex, prevTerm, committed, ents, wlasti (undefined = rejected), wcommit, wpanic]
    const cases: [number, number, number, Entry[], number | undefined, number, boolean][] = [
      // not match: term is different
      [lastindex, lastterm - 1, lastindex, ents(lastindex + 1, 4), undefined, commit, false],
      // not match: index out of bound
      [lastindex + 1, lastterm, lastindex, ents(lastindex + 2, 4), undefined, commit, false],
      // match with the last existing entry
      [lastindex, lastterm, lastindex, [], lastindex, lastindex, false],
      [lastindex, lastterm, lastindex + 1, [], lastindex, lastindex, false], // do not increase commit higher than lastnewi
      [lastindex, lastterm, lastindex - 1, [], lastindex, lastindex - 1, false], // commit up to the commit in the message
      [lastindex, lastterm, 0, [], lastindex, commit, false], // commit does not decrease
      [0, 0, lastindex, [], 0, commit, false], // commit does not decrease
      [lastindex, lastterm, lastindex, ents(lastindex + 1, 4), lastindex + 1, lastindex, false],
      [lastindex, lastterm, lastindex + 1, ents(lastindex + 1, 4), lastindex + 1, lastindex + 1, false],
      [lastindex, lastterm, lastindex + 2, ents(lastindex + 1, 4), lastindex + 1, lastindex + 1, false], // do not increase commit higher than lastnewi
      [lastindex, lastterm, lastindex + 2, ents(lastindex + 1, 4, 4), lastindex + 2, lastindex + 2, false],
      // match with the entry in the middle
      [lastindex - 1, lastterm - 1, lastindex, ents(lastindex, 4), lastindex, lastindex, false],
      [lastindex - 2, lastterm - 2, lastindex, ents(lastindex - 1, 4), lastindex - 1, lastindex - 1, false],
      [lastindex - 3, lastterm - 3, lastindex, ents(lastindex - 2, 4), lastindex - 2, lastindex - 2, true], // conflict with existing committed entry
      [lastindex - 2, lastterm - 2, lastindex, ents(lastindex - 1, 4, 4), lastindex, lastindex, false],
    ];
    for (const [i, [pi, pt, committed, es, wlasti, wcommit, wpanic]] of cases.entries()) {
      const l = logWith(ents(1, 1, 2, 3));
      l.committed = commit;
      if (wpanic) {
        assert.throws(() => l.maybeAppend(pi, pt, committed, es), AssertionError, `#${i}`);
        continue;
      }
      assert.equal(l.maybeAppend(pi, pt, committed, es), wlasti, `#${i}`);
      assert.equal(l.committed, wcommit, `#${i}`);
      if (wlasti !== undefined && es.length > 0) {
        assert.deepEqual(it(l.slice(l.lastIndex() - es.length + 1, l.lastIndex() + 1, NO_LIMIT)), it(es), `#${i}`);
      }
    }
  });

  test('TestCompactionSideEffects', () => {
    // 1000 entries: 750 in stable storage, 250 unstable.
    const [lastIndex, unstableIndex] = [1000, 750];
    const storage = new MemoryStorage();
    storage.append(termRange(1, 1, unstableIndex + 1));
    const l = new RaftLog(storage);
    l.append(termRange(unstableIndex + 1, unstableIndex + 1, lastIndex + 1));
    assert.equal(l.maybeCommit(l.lastIndex(), l.lastTerm()), true);
    l.appliedTo(l.committed);
    const offset = 500;
    storage.compact(offset);
    assert.equal(l.lastIndex(), lastIndex);
    for (let j = offset; j <= l.lastIndex(); j++) {
      assert.equal(l.term(j), j);
      assert.equal(l.matchTerm(j, j), true);
    }
    const unstable = l.unstableEntries();
    assert.equal(unstable.length, 250);
    assert.equal(unstable[0]!.index, 751);
    const prev = l.lastIndex();
    l.append([newEntry({ index: l.lastIndex() + 1, term: l.lastIndex() + 1 })]);
    assert.equal(l.lastIndex(), prev + 1);
    assert.equal(l.entries(l.lastIndex(), NO_LIMIT).length, 1);
  });

  test('nextEnts / hasNextEnts: committed but unapplied entries, none while a snapshot is pending', () => {
    // Storage holds the snapshot at 3 and entry 4; 5 and 6 are unstable; 5 is committed.
    // [applied, restore a newer snapshot first, want]
    const cases: [number, boolean, string[]][] = [
      [3, false, ['1/4', '1/5']],
      [4, false, ['1/5']],
      [5, false, []],
      [3, true, []],
    ];
    for (const [i, [applied, withSnap, want]] of cases.entries()) {
      const storage = new MemoryStorage();
      storage.applySnapshot(snap(3, 1));
      storage.append(ents(4, 1));
      const l = new RaftLog(storage);
      l.append(ents(4, 1, 1, 1));
      l.stableTo(4, 1);
      l.maybeCommit(5, 1);
      l.appliedTo(applied);
      if (withSnap) l.restore(snap(4, 1));
      assert.deepEqual(it(l.nextEnts()), want, `#${i}`);
      assert.equal(l.hasNextEnts(), want.length > 0, `#${i}`);
    }
  });

  test('nextEnts honours maxCommittedSizePerReady, but always returns one entry', () => {
    const storage = new MemoryStorage();
    const l = new RaftLog(storage, 2 * entrySizeBytes(newEntry()));
    l.append(ents(1, 1, 1, 1, 1));
    l.commitTo(4);
    assert.deepEqual(it(l.nextEnts()), ['1/1', '1/2']);
    l.appliedTo(2);
    assert.deepEqual(it(l.nextEnts()), ['1/3', '1/4']);
    const tiny = new RaftLog(new MemoryStorage(), 1);
    tiny.append(ents(1, 1, 1));
    tiny.commitTo(2);
    assert.deepEqual(it(tiny.nextEnts()), ['1/1']);
  });

  test('TestUnstableEnts (nextUnstableEnts)', () => {
    const previous = ents(1, 1, 2);
    for (const [unstable, wents] of [
      [3, []],
      [1, previous],
    ] as [number, Entry[]][]) {
      const storage = new MemoryStorage();
      storage.append(previous.slice(0, unstable - 1));
      const l = new RaftLog(storage);
      l.append(previous.slice(unstable - 1));
      const got = l.unstableEntries();
      if (got.length > 0) l.stableTo(got[got.length - 1]!.index, got[got.length - 1]!.term);
      assert.deepEqual(it(got), it(wents));
      assert.equal(l.unstable.offset, 3);
      assert.equal(l.stabled(), 2);
    }
  });

  test('TestCommitTo', () => {
    for (const [commitTo, wcommit] of [
      [3, 3],
      [1, 2], // never decrease
    ]) {
      const l = logWith(ents(1, 1, 2, 3));
      l.committed = 2;
      l.commitTo(commitTo as number);
      assert.equal(l.committed, wcommit);
    }
    // Out of range: an invariant violation.
    const l = logWith(ents(1, 1, 2, 3));
    assert.throws(() => l.commitTo(4), AssertionError);
  });

  test('appliedTo stays within [applied, committed]', () => {
    const l = logWith(ents(1, 1, 2, 3));
    l.commitTo(2);
    l.appliedTo(2);
    assert.equal(l.applied, 2);
    assert.throws(() => l.appliedTo(3), AssertionError);
    assert.throws(() => l.appliedTo(1), AssertionError);
  });

  test('TestStableTo (including a mismatched term)', () => {
    const cases: [number, number, number][] = [
      [1, 1, 2],
      [2, 2, 3],
      [2, 1, 1], // bad term
      [3, 1, 1], // bad index
    ];
    for (const [i, [si, st, wunstable]] of cases.entries()) {
      const l = logWith(ents(1, 1, 2));
      l.stableTo(si, st);
      assert.equal(l.unstable.offset, wunstable, `#${i}`);
    }
  });

  test('TestStableToWithSnap', () => {
    const [snapi, snapt] = [5, 2];
    const cases: [number, number, Entry[], number][] = [
      [snapi + 1, snapt, [], snapi + 1],
      [snapi, snapt, [], snapi + 1],
      [snapi - 1, snapt, [], snapi + 1],
      [snapi + 1, snapt + 1, [], snapi + 1],
      [snapi, snapt + 1, [], snapi + 1],
      [snapi - 1, snapt + 1, [], snapi + 1],
      [snapi + 1, snapt, ents(snapi + 1, snapt), snapi + 2],
      [snapi, snapt, ents(snapi + 1, snapt), snapi + 1],
      [snapi - 1, snapt, ents(snapi + 1, snapt), snapi + 1],
      [snapi + 1, snapt + 1, ents(snapi + 1, snapt), snapi + 1],
      [snapi, snapt + 1, ents(snapi + 1, snapt), snapi + 1],
      [snapi - 1, snapt + 1, ents(snapi + 1, snapt), snapi + 1],
    ];
    for (const [i, [si, st, newEnts, wunstable]] of cases.entries()) {
      const s = new MemoryStorage();
      s.applySnapshot(snap(snapi, snapt));
      const l = new RaftLog(s);
      l.append(newEnts);
      l.stableTo(si, st);
      assert.equal(l.unstable.offset, wunstable, `#${i}`);
    }
  });

  test('TestCompaction', () => {
    // [lastIndex, compact, wleft (undefined: refused), allowed]
    const run = (compacts: number[]): (number | string)[] => {
      const storage = new MemoryStorage();
      storage.append(termRange(1, 1, 1001));
      const l = new RaftLog(storage);
      const out: (number | string)[] = [];
      for (const c of compacts) {
        try {
          storage.compact(c);
          out.push(l.allEntries().length);
        } catch (err: unknown) {
          out.push(err instanceof RaftStorageError ? err.code : err instanceof AssertionError ? 'AssertionError' : String(err));
        }
      }
      return out;
    };
    // out of upper bound
    assert.deepEqual(run([1001]), ['AssertionError']);
    assert.deepEqual(run([300, 500, 800, 900]), [700, 500, 200, 100]);
    // out of lower bound
    assert.deepEqual(run([300, 299]), [700, RAFT_STORAGE_ERROR_CODES.Compacted]);
  });

  test('TestLogRestore', () => {
    const [index, term] = [1000, 1000];
    const storage = new MemoryStorage();
    storage.applySnapshot(snap(index, term));
    const l = new RaftLog(storage);
    assert.deepEqual(l.allEntries(), []);
    assert.equal(l.firstIndex(), index + 1);
    assert.equal(l.committed, index);
    assert.equal(l.applied, index);
    assert.equal(l.unstable.offset, index + 1);
    assert.equal(l.term(index), term);
  });

  test('restore from a snapshot replaces the unstable tail and moves committed', () => {
    const l = logWith(ents(1, 1, 1, 2));
    l.restore(snap(10, 3));
    assert.equal(l.committed, 10);
    assert.equal(l.hasPendingSnapshot(), true);
    assert.equal(l.firstIndex(), 11);
    assert.equal(l.lastIndex(), 10);
    assert.equal(l.lastTerm(), 3);
    assert.deepEqual(l.unstableEntries(), []);
    assert.equal(l.snapshot().metadata?.index, 10);
    l.stableSnapTo(10);
    assert.equal(l.hasPendingSnapshot(), false);
  });

  test('TestIsOutOfBounds (through slice)', () => {
    const [offset, num] = [100, 100];
    const storage = new MemoryStorage();
    storage.applySnapshot(snap(offset, 0));
    const l = new RaftLog(storage);
    l.append(termRange(offset + 1, offset + 1, offset + num + 1));
    const first = offset + 1;
    // [lo, hi, outcome]
    const cases: [number, number, 'compacted' | 'assert' | 'ok'][] = [
      [first - 2, first + 1, 'compacted'],
      [first - 1, first + 1, 'compacted'],
      [first, first, 'ok'],
      [first + num / 2, first + num / 2, 'ok'],
      [first + num - 1, first + num - 1, 'ok'],
      [first + num, first + num, 'ok'],
      [first + num, first + num + 1, 'assert'],
      [first + num + 1, first + num + 1, 'assert'],
    ];
    for (const [i, [lo, hi, want]] of cases.entries()) {
      if (want === 'assert') assert.throws(() => l.slice(lo, hi, NO_LIMIT), AssertionError, `#${i}`);
      else assert.equal(storageErrorCode(() => l.slice(lo, hi, NO_LIMIT)), want === 'compacted' ? RAFT_STORAGE_ERROR_CODES.Compacted : undefined, `#${i}`);
    }
  });

  test('TestTerm at the boundaries', () => {
    const [offset, num] = [100, 100];
    const storage = new MemoryStorage();
    storage.applySnapshot(snap(offset, 1));
    const l = new RaftLog(storage);
    l.append(termRange(offset + 1, 1, num));
    // [index, term (undefined: compacted or unavailable)]
    const cases: [number, number | undefined][] = [
      [offset - 1, undefined], // compacted
      [offset, 1], // the snapshot's (dummy entry's) term
      [offset + num / 2, num / 2],
      [offset + num - 1, num - 1],
      [offset + num, undefined], // unavailable
    ];
    for (const [i, [idx, w]] of cases.entries()) {
      assert.equal(l.termOrUndefined(idx), w, `#${i}`);
      assert.equal(l.term(idx), w ?? 0, `#${i}`);
    }
  });

  test('TestTermWithUnstableSnapshot', () => {
    const storagesnapi = 100;
    const unstablesnapi = storagesnapi + 5;
    const storage = new MemoryStorage();
    storage.applySnapshot(snap(storagesnapi, 1));
    const l = new RaftLog(storage);
    l.restore(snap(unstablesnapi, 1));
    const cases: [number, number | undefined][] = [
      // cannot get term from storage
      [storagesnapi, undefined],
      // cannot get term from the gap between storage ents and unstable snapshot
      [storagesnapi + 1, undefined],
      [unstablesnapi - 1, undefined],
      // get term from unstable snapshot index
      [unstablesnapi, 1],
      // the log beyond the unstable snapshot is empty
      [unstablesnapi + 1, undefined],
    ];
    for (const [i, [idx, w]] of cases.entries()) assert.equal(l.termOrUndefined(idx), w, `#${i}`);
  });

  test('TestSlice (including size limits)', () => {
    const [offset, num] = [100, 100];
    const last = offset + num;
    const half = offset + num / 2;
    const size = entrySizeBytes(newEntry({ index: half, term: half }));
    const entries = (from: number, to: number): string[] => it(termRange(from, from, to));
    const storage = new MemoryStorage();
    storage.applySnapshot(snap(offset, 0));
    storage.append(termRange(offset + 1, offset + 1, half));
    const l = new RaftLog(storage);
    l.append(termRange(half, half, last));
    // [lo, hi, limit, want ('compacted' | 'assert' | entries)]
    const cases: [number, number, number, 'compacted' | 'assert' | string[]][] = [
      [offset - 1, offset + 1, NO_LIMIT, 'compacted'],
      [offset, offset + 1, NO_LIMIT, 'compacted'],
      [half, half - 1, NO_LIMIT, 'assert'], // lo and hi inverted
      [last, last + 1, NO_LIMIT, 'assert'], // hi out of bounds
      // No limit.
      [offset + 1, offset + 1, NO_LIMIT, []],
      [offset + 1, half - 1, NO_LIMIT, entries(offset + 1, half - 1)],
      [offset + 1, half, NO_LIMIT, entries(offset + 1, half)],
      [offset + 1, half + 1, NO_LIMIT, entries(offset + 1, half + 1)],
      [offset + 1, last, NO_LIMIT, entries(offset + 1, last)],
      [half - 1, half, NO_LIMIT, entries(half - 1, half)],
      [half - 1, half + 1, NO_LIMIT, entries(half - 1, half + 1)],
      [half - 1, last, NO_LIMIT, entries(half - 1, last)],
      [half, half + 1, NO_LIMIT, entries(half, half + 1)],
      [half, last, NO_LIMIT, entries(half, last)],
      [last - 1, last, NO_LIMIT, entries(last - 1, last)],
      // At least one entry is always returned.
      [offset + 1, last, 0, entries(offset + 1, offset + 2)],
      [half - 1, half + 1, 0, entries(half - 1, half)],
      [half, last, 0, entries(half, half + 1)],
      [half + 1, last, 0, entries(half + 1, half + 2)],
      // Low limit.
      [offset + 1, last, size - 1, entries(offset + 1, offset + 2)],
      [half - 1, half + 1, size - 1, entries(half - 1, half)],
      [half, last, size - 1, entries(half, half + 1)],
      // Just enough for one.
      [offset + 1, last, size, entries(offset + 1, offset + 2)],
      [half - 1, half + 1, size, entries(half - 1, half)],
      [half, last, size, entries(half, half + 1)],
      // Not enough for two.
      [offset + 1, last, size + 1, entries(offset + 1, offset + 2)],
      [half - 1, half + 1, size + 1, entries(half - 1, half)],
      [half, last, size + 1, entries(half, half + 1)],
      // Enough for two.
      [offset + 1, last, size * 2, entries(offset + 1, offset + 3)],
      [half - 2, half + 1, size * 2, entries(half - 2, half)],
      [half - 1, half + 1, size * 2, entries(half - 1, half + 1)],
      [half, last, size * 2, entries(half, half + 2)],
      // Not enough for three.
      [half - 2, half + 1, size * 3 - 1, entries(half - 2, half)],
      // Enough for three.
      [half - 1, half + 2, size * 3, entries(half - 1, half + 2)],
    ];
    for (const [i, [lo, hi, lim, want]] of cases.entries()) {
      if (want === 'assert') assert.throws(() => l.slice(lo, hi, lim), AssertionError, `#${i}`);
      else if (want === 'compacted') assert.equal(storageErrorCode(() => l.slice(lo, hi, lim)), RAFT_STORAGE_ERROR_CODES.Compacted, `#${i}`);
      else assert.deepEqual(it(l.slice(lo, hi, lim)), want, `#${i} [${lo},${hi}) lim=${lim}`);
    }
  });
});

function unstable(es: Entry[], offset: number, s?: Snapshot): Unstable {
  const u = new Unstable(offset);
  u.entries = es;
  u.snapshot = s;
  return u;
}

describe('Unstable', () => {
  test('TestUnstableMaybeFirstIndex', () => {
    const cases: [Entry[], number, Snapshot | undefined, number | undefined][] = [
      // no snapshot
      [ents(5, 1), 5, undefined, undefined],
      [[], 0, undefined, undefined],
      // has snapshot
      [ents(5, 1), 5, snap(4, 1), 5],
      [[], 5, snap(4, 1), 5],
    ];
    for (const [i, [es, off, s, w]] of cases.entries()) assert.equal(unstable(es, off, s).maybeFirstIndex(), w, `#${i}`);
  });

  test('TestMaybeLastIndex', () => {
    const cases: [Entry[], number, Snapshot | undefined, number | undefined][] = [
      // last in entries
      [ents(5, 1), 5, undefined, 5],
      [ents(5, 1), 5, snap(4, 1), 5],
      // last in snapshot
      [[], 5, snap(4, 1), 4],
      // empty unstable
      [[], 0, undefined, undefined],
    ];
    for (const [i, [es, off, s, w]] of cases.entries()) assert.equal(unstable(es, off, s).maybeLastIndex(), w, `#${i}`);
  });

  test('TestUnstableMaybeTerm', () => {
    const cases: [Entry[], number, Snapshot | undefined, number, number | undefined][] = [
      // term from entries
      [ents(5, 1), 5, undefined, 5, 1],
      [ents(5, 1), 5, undefined, 6, undefined],
      [ents(5, 1), 5, undefined, 4, undefined],
      [ents(5, 1), 5, snap(4, 1), 5, 1],
      [ents(5, 1), 5, snap(4, 1), 6, undefined],
      // term from snapshot
      [ents(5, 1), 5, snap(4, 1), 4, 1],
      [ents(5, 1), 5, snap(4, 1), 3, undefined],
      [[], 5, snap(4, 1), 5, undefined],
      [[], 5, snap(4, 1), 4, 1],
      [[], 0, undefined, 5, undefined],
    ];
    for (const [i, [es, off, s, index, w]] of cases.entries()) assert.equal(unstable(es, off, s).maybeTerm(index), w, `#${i}`);
  });

  test('TestUnstableRestore', () => {
    const u = unstable(ents(5, 1), 5, snap(4, 1));
    u.snapshotInProgress = true;
    const s = snap(6, 2);
    u.restore(s);
    assert.equal(u.offset, 7);
    assert.deepEqual(u.entries, []);
    assert.equal(u.snapshot, s);
    assert.equal(u.snapshotInProgress, false);
  });

  test('TestUnstableStableTo', () => {
    // [entries, offset, snapshot, stable index, stable term, woffset, wlen]
    const cases: [Entry[], number, Snapshot | undefined, number, number, number, number][] = [
      [[], 0, undefined, 5, 1, 0, 0],
      [ents(5, 1), 5, undefined, 5, 1, 6, 0], // stable to the first entry
      [ents(5, 1, 1), 5, undefined, 5, 1, 6, 1], // stable to the first entry
      [ents(6, 2), 6, undefined, 6, 1, 6, 1], // stable to the first entry and term mismatch
      [ents(5, 1), 5, undefined, 4, 1, 5, 1], // stable to old entry
      [ents(5, 1), 5, undefined, 4, 2, 5, 1], // stable to old entry
      // with snapshot
      [ents(5, 1), 5, snap(4, 1), 5, 1, 6, 0], // stable to the first entry
      [ents(5, 1, 1), 5, snap(4, 1), 5, 1, 6, 1], // stable to the first entry
      [ents(6, 2), 6, snap(5, 1), 6, 1, 6, 1], // stable to the first entry and term mismatch
      [ents(5, 1), 5, snap(4, 1), 4, 1, 5, 1], // stable to snapshot
      [ents(5, 2), 5, snap(4, 2), 4, 1, 5, 1], // stable to old entry
    ];
    for (const [i, [es, off, s, si, st, woff, wlen]] of cases.entries()) {
      const u = unstable(es, off, s);
      u.stableTo(si, st);
      assert.equal(u.offset, woff, `#${i}`);
      assert.equal(u.entries.length, wlen, `#${i}`);
    }
  });

  test('stableSnapTo drops the snapshot only at its own index', () => {
    const u = unstable([], 5, snap(4, 1));
    u.acceptInProgress();
    assert.equal(u.snapshotInProgress, true);
    u.stableSnapTo(3);
    assert.notEqual(u.snapshot, undefined);
    u.stableSnapTo(4);
    assert.equal(u.snapshot, undefined);
    assert.equal(u.snapshotInProgress, false);
    // Without a snapshot there is nothing to accept.
    u.acceptInProgress();
    assert.equal(u.snapshotInProgress, false);
  });

  test('TestUnstableTruncateAndAppend', () => {
    const cases: [Entry[], number, Entry[], number, Entry[]][] = [
      // append to the end
      [ents(5, 1), 5, ents(6, 1, 1), 5, ents(5, 1, 1, 1)],
      // replace the unstable entries
      [ents(5, 1), 5, ents(5, 2, 2), 5, ents(5, 2, 2)],
      [ents(5, 1), 5, ents(4, 2, 2, 2), 4, ents(4, 2, 2, 2)],
      // truncate the existing entries and append
      [ents(5, 1, 1, 1), 5, ents(6, 2), 5, ents(5, 1, 2)],
      [ents(5, 1, 1, 1), 5, ents(7, 2, 2), 5, ents(5, 1, 1, 2, 2)],
    ];
    for (const [i, [es, off, toAppend, woff, wents]] of cases.entries()) {
      const u = unstable(es, off);
      u.truncateAndAppend(toAppend);
      assert.equal(u.offset, woff, `#${i}`);
      assert.deepEqual(it(u.entries), it(wents), `#${i}`);
    }
  });

  test('slice bounds are checked', () => {
    const u = unstable(ents(5, 1, 1, 1), 5);
    assert.deepEqual(it(u.slice(6, 8)), ['1/6', '1/7']);
    assert.throws(() => u.slice(4, 6), AssertionError);
    assert.throws(() => u.slice(6, 9), AssertionError);
    assert.throws(() => u.slice(7, 6), AssertionError);
  });
});

/** etcd's `&MemoryStorage{ents: [3/3, 4/4, 5/5]}`: snapshot at 3 (term 3), then 4 and 5. */
function storage345(): MemoryStorage {
  const s = new MemoryStorage();
  s.applySnapshot(snap(3, 3));
  s.append(ents(4, 4, 5));
  return s;
}

describe('MemoryStorage', () => {
  test('TestStorageTerm', () => {
    const cases: [number, RaftStorageErrorCode | undefined, number][] = [
      [2, RAFT_STORAGE_ERROR_CODES.Compacted, 0],
      [3, undefined, 3],
      [4, undefined, 4],
      [5, undefined, 5],
      [6, RAFT_STORAGE_ERROR_CODES.Unavailable, 0],
    ];
    for (const [i, [idx, werr, wterm]] of cases.entries()) {
      const s = storage345();
      assert.equal(storageErrorCode(() => s.term(idx)), werr, `#${i}`);
      if (werr === undefined) assert.equal(s.term(idx), wterm, `#${i}`);
    }
  });

  test('TestStorageEntries', () => {
    const s = new MemoryStorage();
    s.applySnapshot(snap(3, 3));
    s.append(ents(4, 4, 5, 6));
    const sz = entrySizeBytes(newEntry());
    const cases: [number, number, number, RaftStorageErrorCode | undefined, string[]][] = [
      [2, 6, NO_LIMIT, RAFT_STORAGE_ERROR_CODES.Compacted, []],
      [3, 4, NO_LIMIT, RAFT_STORAGE_ERROR_CODES.Compacted, []],
      [4, 5, NO_LIMIT, undefined, ['4/4']],
      [4, 6, NO_LIMIT, undefined, ['4/4', '5/5']],
      [4, 7, NO_LIMIT, undefined, ['4/4', '5/5', '6/6']],
      // even if maxsize is zero, the first entry is returned
      [4, 7, 0, undefined, ['4/4']],
      // limit to 2
      [4, 7, 2 * sz, undefined, ['4/4', '5/5']],
      [4, 7, 2 * sz + sz / 2, undefined, ['4/4', '5/5']],
      [4, 7, 3 * sz - 1, undefined, ['4/4', '5/5']],
      // all
      [4, 7, 3 * sz, undefined, ['4/4', '5/5', '6/6']],
      // past the end
      [4, 8, NO_LIMIT, RAFT_STORAGE_ERROR_CODES.Unavailable, []],
    ];
    for (const [i, [lo, hi, max, werr, want]] of cases.entries()) {
      assert.equal(storageErrorCode(() => s.entries(lo, hi, max)), werr, `#${i}`);
      if (werr === undefined) assert.deepEqual(it(s.entries(lo, hi, max)), want, `#${i}`);
    }
  });

  test('an empty MemoryStorage has no entries to give', () => {
    const s = new MemoryStorage();
    assert.equal(s.firstIndex(), 1);
    assert.equal(s.lastIndex(), 0);
    assert.equal(s.term(0), 0);
    assert.equal(storageErrorCode(() => s.entries(1, 1, NO_LIMIT)), RAFT_STORAGE_ERROR_CODES.Unavailable);
  });

  test('TestStorageLastIndex', () => {
    const s = storage345();
    assert.equal(s.lastIndex(), 5);
    s.append(ents(6, 5));
    assert.equal(s.lastIndex(), 6);
  });

  test('TestStorageFirstIndex', () => {
    const s = storage345();
    assert.equal(s.firstIndex(), 4);
    s.compact(4);
    assert.equal(s.firstIndex(), 5);
  });

  test('TestStorageCompact', () => {
    // [compact, werr, windex (dummy index), wterm (dummy term), wlen (incl. dummy)]
    const cases: [number, RaftStorageErrorCode | undefined, number, number, number][] = [
      [2, RAFT_STORAGE_ERROR_CODES.Compacted, 3, 3, 3],
      [3, RAFT_STORAGE_ERROR_CODES.Compacted, 3, 3, 3],
      [4, undefined, 4, 4, 2],
      [5, undefined, 5, 5, 1],
    ];
    for (const [i, [c, werr, windex, wterm, wlen]] of cases.entries()) {
      const s = storage345();
      assert.equal(storageErrorCode(() => s.compact(c)), werr, `#${i}`);
      const dummy = s.firstIndex() - 1;
      assert.equal(dummy, windex, `#${i}`);
      assert.equal(s.term(dummy), wterm, `#${i}`);
      assert.equal(s.lastIndex() - dummy + 1, wlen, `#${i}`);
    }
    assert.throws(() => storage345().compact(6), AssertionError);
  });

  test('TestStorageCreateSnapshot', () => {
    const cs: ConfState = { ...emptyConfState(), nodes: [1, 2, 3] };
    const data = Buffer.from('data');
    for (const [i, idx] of [4, 5].entries()) {
      const s = storage345();
      const got = s.createSnapshot(idx, cs, data);
      assert.deepEqual(got, { data, metadata: { index: idx, term: idx, confState: cs } }, `#${i}`);
      assert.deepEqual(s.snapshot(), got, `#${i}`);
      // The membership is what initialState reports after a restart.
      assert.deepEqual(s.initialState().confState, cs);
    }
    // Not newer than the current snapshot.
    assert.equal(storageErrorCode(() => storage345().createSnapshot(3, cs, data)), RAFT_STORAGE_ERROR_CODES.SnapOutOfDate);
    // Past the last index.
    assert.throws(() => storage345().createSnapshot(6, cs, data), AssertionError);
  });

  test('TestStorageAppend', () => {
    const cases: [Entry[], string[]][] = [
      [ents(3, 3, 4, 5), ['3/3', '4/4', '5/5']],
      [ents(3, 3, 6, 6), ['3/3', '6/4', '6/5']],
      [ents(3, 3, 4, 5, 5), ['3/3', '4/4', '5/5', '5/6']],
      // overwriting compacted entries is not allowed: the prefix is skipped
      [[newEntry({ index: 2, term: 3 }), newEntry({ index: 3, term: 3 }), newEntry({ index: 4, term: 5 })], ['3/3', '5/4']],
      // truncate the existing entries and append
      [ents(4, 5), ['3/3', '5/4']],
      // direct append
      [ents(6, 5), ['3/3', '4/4', '5/5', '5/6']],
    ];
    for (const [i, [toAppend, want]] of cases.entries()) {
      const s = storage345();
      s.append(toAppend);
      const dummy = s.firstIndex() - 1;
      const got = [`${s.term(dummy)}/${dummy}`, ...it(s.entries(s.firstIndex(), s.lastIndex() + 1, NO_LIMIT))];
      assert.deepEqual(got, want, `#${i}`);
    }
    // Entirely compacted: nothing happens.
    const s = storage345();
    s.append(ents(1, 1, 1));
    assert.equal(s.lastIndex(), 5);
    // A gap is an invariant violation.
    assert.throws(() => storage345().append(ents(7, 5)), AssertionError);
  });

  test('TestStorageApplySnapshot', () => {
    const cs: ConfState = { ...emptyConfState(), nodes: [1, 2, 3] };
    const data = Buffer.from('data');
    const s = new MemoryStorage();
    s.applySnapshot(snap(4, 4, cs, data));
    assert.equal(s.firstIndex(), 5);
    assert.equal(s.lastIndex(), 4);
    assert.equal(s.term(4), 4);
    assert.deepEqual(s.initialState().confState, cs);
    // An older snapshot is refused.
    assert.equal(storageErrorCode(() => s.applySnapshot(snap(3, 3, cs, data))), RAFT_STORAGE_ERROR_CODES.SnapOutOfDate);
  });

  test('bootstrap only on an empty storage; setHardState is copied', () => {
    const s = new MemoryStorage();
    s.bootstrap({ ...emptyConfState(), nodes: [1] });
    const hs = { term: 2, vote: 1, commit: 0 };
    s.setHardState(hs);
    hs.term = 9;
    assert.deepEqual(s.initialState().hardState, { term: 2, vote: 1, commit: 0 });
    assert.throws(() => storage345().bootstrap({ ...emptyConfState(), nodes: [1] }), AssertionError);
  });
});
