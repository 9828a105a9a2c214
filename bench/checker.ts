/**
 * Linearizability checker speed on a recorded history: the wall time of
 * `checkLinearizable` on a JSON array of `KvOperation` (as a simulator run
 * records it), one JSON line per repeat plus the median.
 *
 * The history is parsed once, outside the timing; each repeat checks the
 * same parsed array (the checker does not mutate it). The first repeat runs
 * on a cold JIT, so the median is the figure to compare.
 *
 * With `--no-replay` the invocation-order replay is off, so every key takes
 * the full path (pre-checks, then the search): the cost of a history whose
 * keys the replay cannot decide (clients sharing keys concurrently).
 *
 * Run: npm run build && node dist/bench/checker.js <history.json> [--repeats R] [--no-replay]
 * Profile: node --cpu-prof dist/bench/checker.js <history.json> --repeats 1
 */
import { readFileSync } from 'node:fs';
import { argNumber, nowMs, report, round } from './_report.js';
import { checkLinearizable } from '../src/sim/checkers/linearizable.js';
import type { KvOperation } from '../src/sim/history.js';

const path = process.argv[2];
if (path === undefined || path.startsWith('--')) {
  throw new Error('Cannot run the checker bench: give a history file, e.g. node dist/bench/checker.js history.json');
}
const repeats = argNumber('repeats', 3);
const replay = !process.argv.includes('--no-replay');
const scenario = replay ? 'checkLinearizable' : 'checkLinearizable --no-replay';
const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
if (!Array.isArray(parsed)) throw new TypeError(`Cannot load history ${path}: expected a JSON array of operations`);
const history = parsed as KvOperation[];

const elapsed: number[] = [];
for (let i = 0; i < repeats; i++) {
  const started = nowMs();
  const result = checkLinearizable(history, { replay });
  const ms = nowMs() - started;
  elapsed.push(ms);
  const detail = result.verdict === 'ok' ? '' : result.verdict === 'unknown' ? result.reason : result.report.split('\n')[0]!;
  report('checker', scenario, { file: path, ops: history.length, repeat: i, verdict: result.verdict, detail, ms: round(ms) });
}
const median = [...elapsed].sort((a, b) => a - b)[repeats >>> 1]!;
report('checker', `${scenario} median`, { file: path, ops: history.length, repeats, ms: round(median) });
