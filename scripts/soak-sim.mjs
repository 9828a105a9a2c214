#!/usr/bin/env node
// Soak run of the raftstore scenarios (TinyKV's 2B/2C tests and the
// store-level hard cases) and the transactional ones (txnBank, txnCycle):
// every scenario for SEEDS (default 1..200), one
// `tinykv sim run <scenario> --seeds a..b` per scenario, spread over one
// worker process per CPU. Prints each scenario's result line and wall time,
// every FAIL line with its replay command, and ends with `N passed, M failed`.
//
// Usage: npm run soak:sim [-- <scenario regex>]   (SEEDS=a..b to change the seeds)
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { CLUSTER_SCENARIOS } from '../dist/src/sim/cluster/scenarios.js';
import { TXN_SCENARIOS } from '../dist/src/sim/cluster/txn_scenarios.js';

const seeds = process.env.SEEDS ?? '1..200';
const filter = process.argv[2] === undefined ? undefined : new RegExp(process.argv[2]);
const bin = fileURLToPath(new URL('../bin/tinykv.js', import.meta.url));
const queue = [...CLUSTER_SCENARIOS, ...TXN_SCENARIOS].map((s) => s.name).filter((n) => filter === undefined || filter.test(n));
let passed = 0;
let failed = 0;

function runOne(name) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [bin, 'sim', 'run', name, '--seeds', seeds], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    // stderr carries the progress line; keep its tail for a crash report.
    child.stderr.on('data', (d) => { err = (err + d).slice(-4000); });
    child.on('close', (code, signal) => {
      const lines = out.trim().split('\n');
      for (const l of lines) if (l.startsWith('FAIL')) process.stdout.write(`${l}\n`);
      const m = /^(\d+) passed, (\d+) failed$/.exec(lines.at(-1) ?? '');
      if (m === null) {
        failed++;
        process.stdout.write(`${name}: no result line (exit ${code ?? signal}); stderr tail:\n${err.split('\r').slice(-3).join('\n')}\n`);
      } else {
        passed += Number(m[1]);
        failed += Number(m[2]);
        process.stdout.write(`${name}: ${m[1]} passed, ${m[2]} failed (${((Date.now() - started) / 1000).toFixed(1)} s wall)\n`);
      }
      resolve();
    });
  });
}

async function worker() {
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) await runOne(name);
}

await Promise.all(Array.from({ length: Math.max(1, cpus().length) }, worker));
process.stdout.write(`${passed} passed, ${failed} failed\n`);
process.exitCode = failed === 0 ? 0 : 1;
