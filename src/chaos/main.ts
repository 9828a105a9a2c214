/**
 * `npm run chaos`: the chaos test with real processes (docs/CHAOS.md).
 *
 *   node dist/src/chaos/main.js [--duration 10m] [--seed N] [--stores 3]
 *     [--workers 8] [--keys 64] [--txn-workers 4] [--kill-interval 4s]
 *     [--max-store-down-time 10s] [--data-dir DIR] [--keep-data]
 *
 * Prints progress and the human summary, then one JSON line, and last
 * `chaos: ok` or `chaos: FAILED (<why>)`. Exits 0 only when the run is ok,
 * 1 when it found a problem, 2 on bad flags.
 */
import { parseArgs } from 'node:util';
import { runChaos } from './chaos.js';
import type { ChaosOptions } from './options.js';
import { ChaosOptionError, parseDurationMs } from './options.js';
import { renderJsonLine, renderSummary } from './report.js';

const USAGE = 'usage: chaos [--duration 10m] [--seed N] [--stores 3] [--workers 8] [--keys 64] [--txn-workers 4] [--kill-interval 4s] [--max-store-down-time 10s] [--data-dir DIR] [--keep-data]';

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

function parseFlags(argv: readonly string[]): ChaosOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      duration: { type: 'string' },
      seed: { type: 'string' },
      stores: { type: 'string' },
      workers: { type: 'string' },
      keys: { type: 'string' },
      'txn-workers': { type: 'string' },
      'kill-interval': { type: 'string' },
      'max-store-down-time': { type: 'string' },
      'data-dir': { type: 'string' },
      'keep-data': { type: 'boolean' },
      'log-level': { type: 'string' },
    },
    strict: true,
  });
  const int = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isSafeInteger(n)) throw new ChaosOptionError('CHAOS_BAD_OPTION', `--${name} must be an integer, got "${v}"`);
    return n;
  };
  const o: { -readonly [K in keyof ChaosOptions]: ChaosOptions[K] } = {};
  o.durationMs = values.duration === undefined ? 600_000 : parseDurationMs(values.duration);
  const seed = int('seed', values.seed);
  if (seed !== undefined) o.seed = seed;
  const stores = int('stores', values.stores);
  if (stores !== undefined) o.stores = stores;
  const workers = int('workers', values.workers);
  if (workers !== undefined) o.workers = workers;
  const keys = int('keys', values.keys);
  if (keys !== undefined) o.keys = keys;
  const txnWorkers = int('txn-workers', values['txn-workers']);
  if (txnWorkers !== undefined) o.txnWorkers = txnWorkers;
  if (values['kill-interval'] !== undefined) o.killIntervalMs = parseDurationMs(values['kill-interval']);
  if (values['max-store-down-time'] !== undefined) o.maxStoreDownTimeMs = parseDurationMs(values['max-store-down-time']);
  if (values['data-dir'] !== undefined) o.dataDir = values['data-dir'];
  if (values['keep-data'] === true) o.keepData = true;
  if (values['log-level'] !== undefined) o.logLevel = values['log-level'];
  return o;
}

async function main(): Promise<number> {
  let options: ChaosOptions;
  try {
    options = parseFlags(process.argv.slice(2));
  } catch (err: unknown) {
    out(`chaos: ${err instanceof Error ? err.message : String(err)}`);
    out(USAGE);
    out('chaos: FAILED (bad flags)');
    return 2;
  }
  const started = Date.now();
  const report = await runChaos({ ...options, log: (line) => out(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`) });
  out(renderSummary(report));
  out(renderJsonLine(report));
  // The last line is one line whatever the failures say.
  out(report.ok ? 'chaos: ok' : `chaos: FAILED (${report.failures.join('; ').replace(/\s+/g, ' ').slice(0, 500)})`);
  return report.ok ? 0 : 1;
}

// process.exit rather than exitCode: a gRPC channel some library keeps open must not keep a finished run alive.
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    out(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    out(`chaos: FAILED (${err instanceof ChaosOptionError ? 'bad options' : 'internal error'})`);
    process.exit(err instanceof ChaosOptionError ? 2 : 1);
  },
);
