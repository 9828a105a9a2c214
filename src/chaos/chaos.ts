/**
 * The chaos test with real processes (docs/CHAOS.md): a playground cluster
 * (one scheduler, N stores, each a `tinykv` child process on loopback) under
 * client workers, while a nemesis SIGKILLs and restarts stores and the
 * scheduler and regions split at a small size. Then: restart everything,
 * wait until the cluster settles, read every key once more, check the
 * recorded history for linearizability (the final reads make a lost
 * acknowledged write a violation), stop the cluster gracefully and compare
 * the stores' replicas on disk.
 *
 * One seeded PRNG (`src/util/prng.ts`) drives every random choice, split
 * into one stream for the nemesis and one per worker. Real processes and
 * real time make a run not bit-reproducible, but a seed always gives the
 * same nemesis schedule and the same sequence of operations per worker.
 *
 * Phases (each a function below): start, run (workers + nemesis for the
 * duration), settle, final reads, linearizability, stop, convergence.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Playground } from '../cli/playground.js';
import { RawClient } from '../client/raw_client.js';
import { checkLinearizable } from '../sim/checkers/linearizable.js';
import type { KvOperation } from '../sim/history.js';
import { HistoryRecorder } from '../sim/recorder.js';
import { Prng } from '../util/prng.js';
import { Nemesis } from './nemesis.js';
import { OperatorInjector } from './operators.js';
import { resolveChaosOptions } from './options.js';
import type { ChaosOptions, ResolvedChaosOptions } from './options.js';
import { opsReport } from './report.js';
import type { ChaosReport, KillsReport, LinearizabilityReport } from './report.js';
import { waitSettled } from './settle.js';
import type { SettleResult } from './settle.js';
import { compareStores, readStore } from './store_convergence.js';
import type { ConvergenceReport } from './store_convergence.js';
import { ChaosBank } from './txn_bank.js';
import { finalReads, keyNames, Pacer, runWorker, WorkloadStats } from './workload.js';
import type { FinalReads } from './workload.js';

export type { ChaosOptions } from './options.js';
export type { ChaosReport } from './report.js';

/** Replicas per region the scheduler keeps (its default), capped by the store count. */
const REPLICAS = 3;
/** Deadline of each final read: the cluster has settled, but give a slow machine room. */
const FINAL_READ_DEADLINE_MS = 30_000;
/** Idle time between the last read and the graceful stop, ms. */
const QUIET_BEFORE_STOP_MS = 3_000;
/** How often the run prints a progress line, ms. */
const PROGRESS_MS = 10_000;
/** Share of `opsMax` the pacer spreads over the duration (the rest is slack for bursts). */
const PACED_SHARE = 0.9;

/** State shared by the phases of one run. */
interface Run {
  readonly o: ResolvedChaosOptions;
  readonly dataDir: string;
  readonly tempDir: boolean;
  readonly t0: number;
  readonly keys: readonly string[];
  readonly recorder: HistoryRecorder;
  readonly stats: WorkloadStats;
  readonly unexpectedExits: string[];
  readonly failures: string[];
  readonly warnings: string[];
  nemesis: Nemesis | undefined;
  operators: OperatorInjector | undefined;
  playground: Playground | undefined;
  bank: ChaosBank | undefined;
  capped: boolean;
  workloadMs: number;
}

/**
 * Runs the chaos test and reports; never throws for what it finds (a
 * failure is `ok: false` with reasons). @throws {ChaosOptionError} on bad options
 */
export async function runChaos(options: ChaosOptions = {}): Promise<ChaosReport> {
  const o = resolveChaosOptions(options, () => Math.floor(Math.random() * 2 ** 32));
  const tempDir = o.dataDir === undefined;
  const dataDir = o.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'tinykv-chaos-'));
  const run: Run = {
    o, dataDir, tempDir, t0: performance.now(), keys: keyNames(o.keys), recorder: new HistoryRecorder(() => performance.now()),
    stats: new WorkloadStats(), unexpectedExits: [], failures: [], warnings: [], nemesis: undefined, operators: undefined, playground: undefined, bank: undefined, capped: false, workloadMs: 0,
  };
  o.log(`SEED=${o.seed} ${settingsLine(o)} dataDir=${dataDir}`);
  const prng = new Prng(o.seed);
  let settle: SettleResult | undefined;
  let reads: FinalReads | undefined;
  let lin: LinearizabilityReport = { verdict: 'skipped', reason: 'the run aborted before the check' };
  let convergence: ChaosReport['convergence'];
  try {
    run.playground = await startCluster(run);
    await bankSetupPhase(run);
    await runFaultyPhase(run, prng);
    settle = await settlePhase(run);
    reads = await finalReadPhase(run);
    lin = linearizabilityPhase(run);
    await bankCheckPhase(run);
    // Followers learn the last commit index from the leader's next heartbeat: a short quiet time before the
    // parallel stop lets them apply it, so more replicas are at one applied index and get compared.
    await new Promise((resolve) => setTimeout(resolve, QUIET_BEFORE_STOP_MS));
  } catch (err: unknown) {
    run.failures.push(`run aborted: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  } finally {
    await run.bank?.close();
    await run.playground?.stop();
  }
  if (run.playground !== undefined) convergence = await convergencePhase(run);
  return finish(run, settle, reads, lin, convergence);
}

async function startCluster(run: Run): Promise<Playground> {
  const o = run.o;
  const storeArgs = ['--region-split-size', String(o.regionSplitSizeBytes), '--heartbeat-ms', String(o.heartbeatMs)];
  if (o.raftTickMs !== undefined) storeArgs.push('--raft-tick-ms', String(o.raftTickMs));
  const schedulerArgs = ['--max-replicas', String(Math.min(REPLICAS, o.stores))];
  if (o.maxStoreDownTimeMs !== undefined) schedulerArgs.push('--max-store-down-time', `${o.maxStoreDownTimeMs}ms`);
  const playground = await Playground.start({
    dataDir: run.dataDir, stores: o.stores, pdPort: 0, storePort: 0, storeArgs, schedulerArgs, logLevel: o.logLevel,
    onExit: (name, status) => {
      if (run.nemesis?.consumeExpectedExit(name) === true) return;
      const line = `${name} exited (${status}) at ${Math.round(performance.now() - run.t0)} ms; log ${path.join(run.dataDir, 'logs', `${name}.log`)}`;
      run.unexpectedExits.push(line);
      o.log(`UNEXPECTED: ${line}`);
    },
  });
  o.log(`cluster serving: scheduler ${playground.pdAddr}, stores ${playground.storeAddrs.join(' ')} (${Math.round(performance.now() - run.t0)} ms)`);
  return playground;
}

/** Workers and the nemesis for the duration; returns once both stopped and every child runs again. */
async function runFaultyPhase(run: Run, prng: Prng): Promise<void> {
  const o = run.o;
  const pg = run.playground as Playground;
  const start = performance.now();
  const nemesis = new Nemesis({
    playground: pg, rng: prng.split(), stores: o.stores, killIntervalMs: o.killIntervalMs, downMsMin: o.downMsMin, downMsMax: o.downMsMax,
    schedulerKillOneIn: o.schedulerKillOneIn, maxStoreDownTimeMs: o.maxStoreDownTimeMs, nowMs: () => performance.now() - run.t0, log: o.log,
  });
  run.nemesis = nemesis;
  let stopping = false;
  const pacer = new Pacer(o.durationMs / (o.opsMax * PACED_SHARE));
  const clients = Array.from({ length: o.workers }, () => new RawClient({ pd: pg.pdAddr, deadlineMs: o.opDeadlineMs }));
  const workers = clients.map((client, clientId) =>
    runWorker({
      clientId, client, recorder: run.recorder, rng: prng.split(), keys: run.keys, stats: run.stats, pacer,
      valueBytesMin: o.valueBytesMin, valueBytesMax: o.valueBytesMax, shouldStop: () => stopping, opsMax: o.opsMax,
    }),
  );
  const nemesisDone = nemesis.run();
  const operators = o.operatorIntervalMs > 0 ? new OperatorInjector({ pdAddr: pg.pdAddr, rng: prng.split(), intervalMs: o.operatorIntervalMs, log: o.log }) : undefined;
  run.operators = operators;
  const operatorsDone = operators?.run();
  // The bank's streams are split last, so that a seed's raw operations, kills and operators are as before it existed.
  const bankDone = run.bank?.run(Array.from({ length: o.txnWorkers }, () => prng.split()), () => stopping) ?? [];
  const progress = setInterval(() => o.log(progressLine(run, performance.now() - start)), PROGRESS_MS);
  try {
    await new Promise((resolve) => setTimeout(resolve, o.durationMs));
    stopping = true;
    nemesis.stop();
    operators?.stop();
    await Promise.all([nemesisDone, operatorsDone, ...workers, ...bankDone]);
  } finally {
    clearInterval(progress);
    for (const c of clients) c.close();
  }
  run.capped = run.recorder.size >= o.opsMax;
  run.workloadMs = Math.round(performance.now() - start);
  await nemesis.reviveExited();
  o.log(`faults stopped: ${progressLine(run, run.workloadMs)}`);
}

/** Opens the bank's accounts before the faults start (a failure here aborts the run). */
async function bankSetupPhase(run: Run): Promise<void> {
  const o = run.o;
  if (o.txnWorkers === 0) return;
  const pg = run.playground as Playground;
  run.bank = new ChaosBank({ pdAddr: pg.pdAddr, workers: o.txnWorkers, accounts: o.txnAccounts, opDeadlineMs: o.opDeadlineMs });
  await run.bank.setup();
  o.log(`txn bank: ${o.txnAccounts} accounts opened, ${o.txnWorkers} workers`);
}

/** On the settled cluster: the bank's unknown commits resolved, a last snapshot, snapshot isolation checked. */
async function bankCheckPhase(run: Run): Promise<void> {
  const bank = run.bank;
  if (bank === undefined) return;
  await bank.finalCheck(Math.max(run.o.opDeadlineMs, FINAL_READ_DEADLINE_MS));
  const r = bank.report();
  for (const f of r.failures) run.failures.push(f);
  const s = r.summary;
  if (s !== undefined) {
    run.o.log(`txn bank: snapshot isolation ok, ${s.txns} txns (${s.committed} committed, ${s.aborted} aborted, ${s.unknown} unknown of which ${s.unknownCommitted} committed), every snapshot summed to the total`);
  }
}

async function settlePhase(run: Run): Promise<SettleResult> {
  const pg = run.playground as Playground;
  const settle = await waitSettled(pg.pdAddr, Math.min(REPLICAS, run.o.stores), run.o.settleTimeoutMs);
  run.o.log(`settle: ${settle.settled ? `settled in ${settle.ms} ms` : `NOT settled after ${settle.ms} ms: ${settle.detail}`}`);
  if (!settle.settled) run.failures.push(`no liveness: the cluster did not settle within ${run.o.settleTimeoutMs} ms: ${settle.detail}`);
  return settle;
}

async function finalReadPhase(run: Run): Promise<FinalReads> {
  const pg = run.playground as Playground;
  const client = new RawClient({ pd: pg.pdAddr, deadlineMs: Math.max(run.o.opDeadlineMs, FINAL_READ_DEADLINE_MS) });
  try {
    const reads = await finalReads(client, run.recorder, run.o.workers, run.keys, run.stats);
    run.o.log(`final reads: ${reads.ok}/${reads.keys} answered, ${reads.present} present`);
    if (reads.failed > 0) run.failures.push(`no liveness: ${reads.failed} of ${reads.keys} final reads failed (first: ${reads.failures[0] ?? '?'})`);
    return reads;
  } finally {
    client.close();
  }
}

function linearizabilityPhase(run: Run): LinearizabilityReport {
  const history: readonly KvOperation[] = run.recorder.finish();
  const started = performance.now();
  const result = checkLinearizable(history, { timeoutOps: run.o.checkerTimeoutOps });
  const ms = Math.round(performance.now() - started);
  const operations = history.length;
  run.o.log(`linearizability: ${result.verdict} (${operations} operations, ${ms} ms)`);
  switch (result.verdict) {
    case 'ok':
      return { verdict: 'ok', ms, operations };
    case 'violation':
      run.failures.push(`linearizability violation on key ${JSON.stringify(result.key)}`);
      return { verdict: 'violation', ms, operations, key: result.key, report: result.report };
    case 'unknown':
      run.failures.push(`linearizability check gave up: ${result.reason}`);
      return { verdict: 'unknown', ms, operations, reason: result.reason };
  }
}

/** After the graceful stop: every store's engine, read and compared. */
async function convergencePhase(run: Run): Promise<ConvergenceReport | { readonly ok: false; readonly error: string }> {
  try {
    const stores = [];
    for (let i = 0; i < run.o.stores; i++) stores.push(await readStore(path.join(run.dataDir, `store-${i + 1}`)));
    const report = compareStores(stores);
    for (const d of report.divergences) run.failures.push(`replicas diverged: ${d}`);
    for (const d of report.overlaps) run.failures.push(`regions overlap: ${d}`);
    if (report.orphanKeys > 0) run.warnings.push(`${report.orphanKeys} keys on disk outside every region of their store (data a destroyed peer left behind)`);
    return report;
  } catch (err: unknown) {
    const error = err instanceof Error ? err.message : String(err);
    run.failures.push(`convergence check failed: ${error}`);
    return { ok: false, error };
  }
}

function finish(run: Run, settle: SettleResult | undefined, reads: FinalReads | undefined, lin: LinearizabilityReport, convergence: ChaosReport['convergence']): ChaosReport {
  const o = run.o;
  const kills = killsReport(run);
  for (const u of kills.unexpectedExits) run.failures.push(`a process crashed: ${u}`);
  if (kills.restartFailures.length > 0) run.failures.push(`${kills.restartFailures.length} restarts failed (first: ${kills.restartFailures[0] ?? '?'})`);
  const ops = opsReport(run.stats, run.capped);
  for (const code of Object.keys(ops.errors)) if (code.startsWith('UNEXPECTED_')) run.failures.push(`the client threw an untyped error ${code}: ${ops.errors[code]?.sample ?? ''}`);
  if (run.capped) run.warnings.push(`the workers stopped at the history bound of ${o.opsMax} operations before the duration ended`);
  const ok = run.failures.length === 0;
  const dataKept = !ok || o.keepData || !run.tempDir;
  if (!dataKept) fs.rmSync(run.dataDir, { recursive: true, force: true });
  return {
    ok, failures: run.failures, warnings: run.warnings, seed: o.seed, dataDir: run.dataDir, dataKept, settings: settings(o),
    workloadMs: run.workloadMs, totalMs: Math.round(performance.now() - run.t0), ops, kills, settle, regions: settle?.regions,
    finalReads: reads, linearizability: lin, txnBank: run.bank?.report(), convergence,
  };
}

function killsReport(run: Run): KillsReport {
  const byTarget: Record<string, number> = {};
  const n = run.nemesis;
  for (const k of n?.kills ?? []) byTarget[k.target] = (byTarget[k.target] ?? 0) + 1;
  return {
    total: n?.kills.length ?? 0, byTarget, restartFailures: n?.restartFailures ?? [], unexpectedExits: run.unexpectedExits,
    operatorsAccepted: Object.fromEntries(run.operators?.accepted ?? []), operatorsRefused: run.operators?.refused ?? 0,
  };
}

function progressLine(run: Run, elapsedMs: number): string {
  const s = run.stats;
  return `t=${(elapsedMs / 1000).toFixed(0)}s ops=${s.total()} ok=${s.total('ok')} indeterminate=${s.total('indeterminate')} fail=${s.total('fail')} kills=${run.nemesis?.kills.length ?? 0}`;
}

function settings(o: ResolvedChaosOptions): Record<string, number | string | boolean | undefined> {
  return {
    durationMs: o.durationMs, stores: o.stores, workers: o.workers, keys: o.keys, txnWorkers: o.txnWorkers, txnAccounts: o.txnAccounts, valueBytesMin: o.valueBytesMin, valueBytesMax: o.valueBytesMax,
    regionSplitSizeBytes: o.regionSplitSizeBytes, heartbeatMs: o.heartbeatMs, raftTickMs: o.raftTickMs, killIntervalMs: o.killIntervalMs,
    downMsMin: o.downMsMin, downMsMax: o.downMsMax, schedulerKillOneIn: o.schedulerKillOneIn, maxStoreDownTimeMs: o.maxStoreDownTimeMs,
    operatorIntervalMs: o.operatorIntervalMs, opDeadlineMs: o.opDeadlineMs, opsMax: o.opsMax,
  };
}

function settingsLine(o: ResolvedChaosOptions): string {
  return Object.entries(settings(o)).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${String(v)}`).join(' ');
}
