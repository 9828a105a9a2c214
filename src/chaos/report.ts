/**
 * The result of a chaos run ({@link ChaosReport}) and its two renderings: a
 * human summary (several lines) and one JSON line for scripts.
 */
import type { TxnBankReport } from './txn_bank.js';
import type { OpStatus } from '../sim/history.js';
import type { FinalReads, OpKind, WorkloadStats } from './workload.js';
import type { RegionsSummary, SettleResult } from './settle.js';
import type { ConvergenceReport } from './store_convergence.js';

export interface OpsReport {
  readonly total: number;
  readonly byStatus: Readonly<Record<OpStatus, number>>;
  readonly byKind: Readonly<Record<OpKind, Readonly<Record<OpStatus, number>>>>;
  /** Errors by code, with one sample message each. */
  readonly errors: Readonly<Record<string, { readonly count: number; readonly sample: string }>>;
  /** The workers stopped early at the history bound. */
  readonly capped: boolean;
}

export interface KillsReport {
  readonly total: number;
  /** Kills per child name (`scheduler`, `store-1`, …). */
  readonly byTarget: Readonly<Record<string, number>>;
  readonly restartFailures: readonly string[];
  /** Children that exited without being killed (crashes of the system under test). */
  readonly unexpectedExits: readonly string[];
  /** Operators injected through the scheduler's admin service and accepted, by kind. */
  readonly operatorsAccepted: Readonly<Record<string, number>>;
  readonly operatorsRefused: number;
}

export type LinearizabilityReport =
  | { readonly verdict: 'ok'; readonly ms: number; readonly operations: number }
  | { readonly verdict: 'violation'; readonly ms: number; readonly operations: number; readonly key: string; readonly report: string }
  | { readonly verdict: 'unknown'; readonly ms: number; readonly operations: number; readonly reason: string }
  | { readonly verdict: 'skipped'; readonly reason: string };

export interface ChaosReport {
  readonly ok: boolean;
  /** Why the run failed (empty when ok). */
  readonly failures: readonly string[];
  /** Worth a look, but not failures. */
  readonly warnings: readonly string[];
  readonly seed: number;
  readonly dataDir: string;
  readonly dataKept: boolean;
  /** The resolved settings, for the record. */
  readonly settings: Readonly<Record<string, number | string | boolean | undefined>>;
  /** Wall time of the faulty phase and of the whole run, ms. */
  readonly workloadMs: number;
  readonly totalMs: number;
  readonly ops: OpsReport;
  readonly kills: KillsReport;
  readonly settle: SettleResult | undefined;
  /** The scheduler's regions once settled (or at the last look). */
  readonly regions: RegionsSummary | undefined;
  readonly finalReads: FinalReads | undefined;
  readonly linearizability: LinearizabilityReport;
  /** The transactional bank workload (undefined with txnWorkers 0). */
  readonly txnBank: TxnBankReport | undefined;
  readonly convergence: ConvergenceReport | { readonly ok: false; readonly error: string } | undefined;
}

export function opsReport(stats: WorkloadStats, capped: boolean): OpsReport {
  const byKind = {} as Record<OpKind, Record<OpStatus, number>>;
  for (const [kind, m] of stats.byKind) byKind[kind] = { ok: m.get('ok') ?? 0, fail: m.get('fail') ?? 0, indeterminate: m.get('indeterminate') ?? 0 };
  const errors: Record<string, { count: number; sample: string }> = {};
  for (const [code, e] of [...stats.errors].sort((a, b) => b[1].count - a[1].count)) errors[code] = { ...e };
  return {
    total: stats.total(),
    byStatus: { ok: stats.total('ok'), fail: stats.total('fail'), indeterminate: stats.total('indeterminate') },
    byKind,
    errors,
    capped,
  };
}

/** The human summary: a few lines, the violation report in full when there is one. */
export function renderSummary(r: ChaosReport): string {
  const lines: string[] = [];
  lines.push(`chaos summary (seed ${r.seed}, ${fmtS(r.workloadMs)} of faults, ${fmtS(r.totalMs)} in all)`);
  const o = r.ops;
  lines.push(`  ops: ${o.total} (ok ${o.byStatus.ok}, fail ${o.byStatus.fail}, indeterminate ${o.byStatus.indeterminate})${o.capped ? ' [stopped at the history bound]' : ''}`);
  for (const [kind, s] of Object.entries(o.byKind)) lines.push(`    ${kind.padEnd(6)} ok ${s.ok}, fail ${s.fail}, indeterminate ${s.indeterminate}`);
  for (const [code, e] of Object.entries(o.errors)) lines.push(`    error ${code} x${e.count}: ${e.sample}`);
  const targets = Object.entries(r.kills.byTarget).map(([t, n]) => `${t} x${n}`).join(', ');
  lines.push(`  kills: ${r.kills.total}${targets === '' ? '' : ` (${targets})`}; restart failures ${r.kills.restartFailures.length}; unexpected exits ${r.kills.unexpectedExits.length}`);
  const accepted = Object.entries(r.kills.operatorsAccepted).map(([k, n]) => `${k} x${n}`).join(', ');
  lines.push(`  injected operators: ${accepted === '' ? 'none accepted' : accepted}; refused ${r.kills.operatorsRefused}`);
  for (const u of r.kills.unexpectedExits) lines.push(`    unexpected exit: ${u}`);
  for (const f of r.kills.restartFailures) lines.push(`    restart failure: ${f}`);
  if (r.settle !== undefined) lines.push(`  settle: ${r.settle.settled ? `settled in ${fmtS(r.settle.ms)}` : `NOT settled after ${fmtS(r.settle.ms)}: ${r.settle.detail}`}`);
  if (r.regions !== undefined) {
    const g = r.regions;
    lines.push(`  regions: ${g.count} (max version ${g.maxVersion}, max conf ver ${g.maxConfVer}, with leader ${g.withLeader}, misreplicated ${g.misreplicated})`);
  }
  if (r.finalReads !== undefined) {
    const f = r.finalReads;
    lines.push(`  final reads: ${f.ok}/${f.keys} answered, ${f.present} keys present`);
    for (const x of f.failures) lines.push(`    failed: ${x}`);
  }
  lines.push(`  linearizability: ${renderLinearizability(r.linearizability)}`);
  if (r.txnBank !== undefined) lines.push(`  txn bank: ${renderTxnBank(r.txnBank)}`);
  lines.push(`  convergence: ${renderConvergence(r.convergence)}`);
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  for (const f of r.failures) lines.push(`  FAILURE: ${f}`);
  lines.push(`  data: ${r.dataDir}${r.dataKept ? ' (kept; logs in logs/)' : ' (removed)'}`);
  return lines.join('\n');
}

function renderLinearizability(l: LinearizabilityReport): string {
  switch (l.verdict) {
    case 'ok':
      return `ok (${l.operations} operations, ${fmtS(l.ms)})`;
    case 'violation':
      return `VIOLATION on key ${JSON.stringify(l.key)} (${fmtS(l.ms)})\n${l.report.split('\n').map((x) => `    ${x}`).join('\n')}`;
    case 'unknown':
      return `UNKNOWN (${l.reason}; ${l.operations} operations, ${fmtS(l.ms)})`;
    case 'skipped':
      return `skipped (${l.reason})`;
  }
}

function renderTxnBank(b: TxnBankReport): string {
  const s = b.summary;
  if (s === undefined) return `NOT checked (${b.failures[0] ?? 'the run ended first'})`;
  return `snapshot isolation ok, ${b.accounts} accounts, ${b.workers} workers: ${s.txns} txns (${s.committed} committed, ${s.aborted} aborted, ${s.unknown} outcome unknown, ${s.unknownCommitted} of those committed)`;
}

function renderConvergence(c: ChaosReport['convergence']): string {
  if (c === undefined) return 'not checked';
  if (!('stores' in c)) return `ERROR ${c.error}`;
  const head = `${c.ok ? 'ok' : 'DIVERGED'}: ${c.regionsTotal} regions over ${c.stores} stores, ${c.regionsConverged} fully converged, ${c.regionsCompared} compared (${c.replicasCompared} replicas), ${c.laggingReplicas} lagging replicas, ${c.tombstones} tombstones, ${c.removedPeers} removed peers pending destroy, ${c.orphanKeys} orphan keys`;
  const details = [...c.divergences, ...c.overlaps].slice(0, 20).map((d) => `\n    ${d}`).join('');
  return head + details;
}

function fmtS(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** One JSON line (the violation report included, as a string). */
export function renderJsonLine(r: ChaosReport): string {
  return JSON.stringify({ chaosReport: r });
}
