/**
 * A snapshot-isolation checker over recorded transaction histories (in the
 * style of Adya's and Elle's SI checks, made exact by the timestamps
 * Percolator exposes).
 *
 * Under Percolator every transaction T reads the snapshot at its start
 * timestamp and, if it commits, installs all its writes at one commit
 * timestamp; both come from one TSO, so all timestamps are distinct and
 * totally ordered. That turns snapshot isolation into facts a history can be
 * checked against directly, without searching for an order:
 *
 * 1. **Reads come from the snapshot at startTs.** A value T read for key k
 *    must be the value of the committed write to k with the greatest commit
 *    timestamp below T.startTs (or the initial absence of k). This one rule
 *    catches dirty reads (the value of an aborted or unknown-outcome
 *    transaction that did not commit), reads from the future (a write
 *    committed after T started), stale reads, and fractured reads (T saw
 *    one write of a transaction but an older version of another key that
 *    transaction also wrote: every key is checked against the same
 *    snapshot).
 * 2. **First committer wins.** Two committed transactions that wrote a
 *    common key must not overlap: one must commit before the other starts.
 *    A violation is a lost update, a write-write conflict the store failed
 *    to detect.
 * 3. **Timestamps are sane.** startTs < commitTs; commit timestamps are
 *    unique; an unknown outcome that the cluster reports as committed names
 *    the commit timestamp the client chose.
 *
 * Values must identify their writer: workloads write values unique per
 * (transaction, key), so the checker can say which write a read returned.
 * Reads are the store's answers, not the transaction's own buffered writes
 * (workloads read a key before they write it).
 */

/** How a transaction ended, as the client saw it. */
export type TxnOutcome =
  /** The primary commit was acknowledged. */
  | 'committed'
  /** Definitely not committed: conflict, rollback, or a failure before the primary commit was sent. */
  | 'aborted'
  /** The primary commit was sent and its answer lost; to be resolved with the cluster's record. */
  | 'unknown';

export interface TxnRead {
  readonly key: string;
  /** undefined: the key did not exist in the snapshot. */
  readonly value: string | undefined;
}

export interface TxnRecord {
  /** Unique in the history, for messages. */
  readonly id: number;
  readonly client: number;
  readonly startTs: bigint;
  /** The commit timestamp the client chose, when it reached that point. */
  readonly commitTs: bigint | undefined;
  readonly outcome: TxnOutcome;
  readonly reads: readonly TxnRead[];
  /** Key → value written (undefined: deleted). Empty for read-only transactions. */
  readonly writes: ReadonlyMap<string, string | undefined>;
}

/** What the cluster says an unknown outcome became (its primary's write record). */
export type ResolvedOutcome = { readonly committed: true; readonly commitTs: bigint } | { readonly committed: false };

export interface SiViolation {
  readonly kind: 'read' | 'lost-update' | 'timestamps';
  readonly message: string;
}

export interface SiCheckInput {
  readonly txns: readonly TxnRecord[];
  /** Key → value before any transaction (absent: the key did not exist). */
  readonly initial: ReadonlyMap<string, string>;
  /** Final outcome of every 'unknown' transaction, by id. */
  readonly resolved: ReadonlyMap<number, ResolvedOutcome>;
}

interface Version {
  readonly commitTs: bigint;
  readonly value: string | undefined;
  readonly txn: TxnRecord;
}

/** At most this many violations are reported (the first explains the rest). */
const violationsMax = 10;

/** @returns the violations found (empty: the history is snapshot-isolated). */
export function checkSnapshotIsolation(input: SiCheckInput): SiViolation[] {
  const out: SiViolation[] = [];
  const add = (v: SiViolation): boolean => {
    out.push(v);
    return out.length >= violationsMax;
  };
  const committed = committedTxns(input, add);
  if (out.length > 0) return out;
  const versions = versionsByKey(committed);
  const writers = writerOfValue(input.txns);
  for (const t of input.txns) {
    for (const r of t.reads) {
      const expected = visibleAt(versions.get(r.key), t.startTs);
      const want = expected === undefined ? input.initial.get(r.key) : expected.value;
      if (want === r.value) continue;
      if (add({ kind: 'read', message: describeBadRead(t, r, want, expected, writers, committed) })) return out;
    }
  }
  for (const [key, list] of versions) {
    // Sorted by commitTs: an undetected conflict shows as a later writer that started before an earlier one committed.
    for (let i = 1; i < list.length; i++) {
      const a = list[i - 1] as Version;
      const b = list[i] as Version;
      if (b.txn.startTs < a.commitTs) {
        const msg = `lost update on ${key}: txn ${b.txn.id} (start ${b.txn.startTs}, commit ${b.commitTs}) and txn ${a.txn.id} (start ${a.txn.startTs}, commit ${a.commitTs}) both committed writes of it, and ${b.txn.id} started before ${a.txn.id} committed`;
        if (add({ kind: 'lost-update', message: msg })) return out;
      }
    }
  }
  return out;
}

/** The committed transactions with their commit timestamps, after checking the timestamp rules. */
function committedTxns(input: SiCheckInput, add: (v: SiViolation) => boolean): Map<TxnRecord, bigint> {
  const result = new Map<TxnRecord, bigint>();
  const byCommitTs = new Map<bigint, TxnRecord>();
  for (const t of input.txns) {
    // A read-only transaction installs nothing: it has no commit timestamp to check.
    if (t.writes.size === 0) continue;
    let commitTs: bigint | undefined;
    if (t.outcome === 'committed') commitTs = t.commitTs;
    else if (t.outcome === 'unknown') {
      const r = input.resolved.get(t.id);
      if (r === undefined) {
        if (add({ kind: 'timestamps', message: `txn ${t.id}: outcome unknown and not resolved` })) return result;
        continue;
      }
      if (!r.committed) continue;
      if (t.commitTs !== undefined && r.commitTs !== t.commitTs) {
        if (add({ kind: 'timestamps', message: `txn ${t.id}: committed at ${r.commitTs}, but its client chose commit ts ${t.commitTs}` })) return result;
        continue;
      }
      commitTs = r.commitTs;
    } else continue;
    if (commitTs === undefined) {
      if (add({ kind: 'timestamps', message: `txn ${t.id}: committed without a commit ts` })) return result;
      continue;
    }
    if (commitTs <= t.startTs) {
      if (add({ kind: 'timestamps', message: `txn ${t.id}: commit ts ${commitTs} not after start ts ${t.startTs}` })) return result;
      continue;
    }
    const other = byCommitTs.get(commitTs);
    if (other !== undefined) {
      if (add({ kind: 'timestamps', message: `txns ${other.id} and ${t.id} share commit ts ${commitTs}` })) return result;
      continue;
    }
    byCommitTs.set(commitTs, t);
    result.set(t, commitTs);
  }
  return result;
}

function versionsByKey(committed: ReadonlyMap<TxnRecord, bigint>): Map<string, Version[]> {
  const versions = new Map<string, Version[]>();
  for (const [txn, commitTs] of committed) {
    for (const [key, value] of txn.writes) {
      let list = versions.get(key);
      if (list === undefined) versions.set(key, (list = []));
      list.push({ commitTs, value, txn });
    }
  }
  for (const list of versions.values()) list.sort((a, b) => (a.commitTs < b.commitTs ? -1 : a.commitTs > b.commitTs ? 1 : 0));
  return versions;
}

/** The version with the greatest commitTs below `ts` (binary search over the sorted list). */
function visibleAt(list: readonly Version[] | undefined, ts: bigint): Version | undefined {
  if (list === undefined) return undefined;
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as Version).commitTs < ts) lo = mid + 1;
    else hi = mid;
  }
  return lo === 0 ? undefined : list[lo - 1];
}

/** "key\0value" → the transaction that wrote that value to that key. */
function writerOfValue(txns: readonly TxnRecord[]): Map<string, TxnRecord> {
  const m = new Map<string, TxnRecord>();
  for (const t of txns) {
    for (const [key, value] of t.writes) if (value !== undefined) m.set(`${key}\0${value}`, t);
  }
  return m;
}

function describeBadRead(
  t: TxnRecord,
  r: TxnRead,
  want: string | undefined,
  expected: Version | undefined,
  writers: ReadonlyMap<string, TxnRecord>,
  committed: ReadonlyMap<TxnRecord, bigint>,
): string {
  const source = expected === undefined ? 'the initial state' : `txn ${expected.txn.id} (commit ${expected.commitTs})`;
  const head = `txn ${t.id} (client ${t.client}, start ${t.startTs}) read ${r.key} = ${show(r.value)}, but the snapshot at its start holds ${show(want)} from ${source}`;
  if (r.value === undefined) return `${head}: a committed write was not visible`;
  const writer = writers.get(`${r.key}\0${r.value}`);
  if (writer === undefined) return `${head}: no transaction wrote that value`;
  const commitTs = committed.get(writer);
  if (commitTs === undefined) return `${head}: dirty read, txn ${writer.id} (${writer.outcome}) wrote it and did not commit`;
  if (commitTs > t.startTs) return `${head}: read from the future, txn ${writer.id} committed it at ${commitTs}`;
  return `${head}: stale or fractured read, txn ${writer.id}'s write (commit ${commitTs}) was already overwritten`;
}

function show(v: string | undefined): string {
  return v === undefined ? '<none>' : JSON.stringify(v);
}
