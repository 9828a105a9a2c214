// Goal: the chaos test with real processes passes a short run inside
// `npm test`: a 3-store playground under 8 client workers while stores and
// the scheduler are SIGKILLed and restarted and regions split; no acknowledged
// write is lost, the history is linearizable, replicas converge on disk; and
// 4 bank workers' transactions keep snapshot isolation and the bank's total.
// Method: `runChaos` for ~25 s with a fixed seed and a short kill interval
// (so several kills happen), then plain assertions on its report. On a
// failure the report (printed) names the kept data dir with the logs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runChaos } from './chaos.js';
import { renderSummary } from './report.js';

test('chaos: 25 s of kills, restarts and splits under clients; no lost write, linearizable, snapshot-isolated bank, converged', { timeout: 240_000 }, async () => {
  const report = await runChaos({
    durationMs: 25_000, seed: 20240611, stores: 3, workers: 8, keys: 64, killIntervalMs: 3_000, downMsMax: 3_000, logLevel: 'info',
  });
  console.log(renderSummary(report));
  assert.equal(report.ok, true, `chaos failed: ${report.failures.join('; ')} (data in ${report.dataDir})`);
  assert.ok(report.ops.total >= 300, `only ${report.ops.total} operations`);
  assert.ok(report.ops.byStatus.ok >= 200, `only ${report.ops.byStatus.ok} ok operations`);
  assert.ok(report.kills.total >= 2, `only ${report.kills.total} kills`);
  assert.equal(report.linearizability.verdict, 'ok');
  assert.equal(report.finalReads?.failed, 0);
  const bank = report.txnBank?.summary;
  assert.ok(bank !== undefined, 'the bank workload was checked');
  assert.ok(bank.committed >= 10, `only ${bank.committed} bank transactions committed`);
});
