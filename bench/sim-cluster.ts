/**
 * Wall time of the raftstore scenarios (TinyKV's 2B/2C tests and the
 * store-level hard cases on the simulator): per scenario, the median and
 * maximum wall time per seed, split into the simulation and the
 * linearizability check of its history, and the virtual/wall speed. Issue
 * 5's target: each 2B/2C scenario under 3 s of wall time per seed (TinyKV
 * takes 25-45 s of real time per run).
 *
 * Run: npm run build && node dist/bench/sim-cluster.js [--seeds N] [--first F] [--only REGEX]
 */
import { argNumber, nowMs, quantile, report, round } from './_report.js';
import { checkLinearizable } from '../src/sim/checkers/linearizable.js';
import { runSeed } from '../src/sim/runner.js';
import { CLUSTER_SCENARIOS } from '../src/sim/cluster/scenarios.js';

const seeds = argNumber('seeds', 3);
const first = argNumber('first', 1);
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? new RegExp(process.argv[onlyAt + 1] ?? '') : undefined;

for (const scenario of CLUSTER_SCENARIOS) {
  if (only !== undefined && !only.test(scenario.name)) continue;
  const wall: number[] = [];
  const sim: number[] = [];
  const check: number[] = [];
  let virtualMs = 0;
  let operations = 0;
  let failed = 0;
  for (let seed = first; seed < first + seeds; seed++) {
    const t0 = nowMs();
    const result = runSeed(scenario, seed, { traceEnabled: true, checkHistory: false });
    const t1 = nowMs();
    const verdict = checkLinearizable(result.history);
    const t2 = nowMs();
    if (!result.passed || verdict.verdict !== 'ok') failed++;
    sim.push(t1 - t0);
    check.push(t2 - t1);
    wall.push(t2 - t0);
    virtualMs += result.virtualMs;
    operations += result.history.length;
  }
  const asc = (a: number[]): number[] => [...a].sort((x, y) => x - y);
  const simTotal = sim.reduce((a, b) => a + b, 0);
  report('sim-cluster', scenario.name, {
    seeds,
    failed,
    wallMsMedian: round(quantile(asc(wall), 0.5)),
    wallMsMax: round(quantile(asc(wall), 1)),
    simMsMedian: round(quantile(asc(sim), 0.5)),
    checkMsMedian: round(quantile(asc(check), 0.5)),
    virtualMsPerSeed: round(virtualMs / seeds, 0),
    operationsPerSeed: round(operations / seeds, 0),
    virtualPerWall: round(virtualMs / simTotal, 1),
  });
}
