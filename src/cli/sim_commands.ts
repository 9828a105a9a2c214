/**
 * `tinykv sim list` and `tinykv sim run <scenario|all> --seeds a..b`: the
 * deterministic simulator from the command line. Each seed's run is fully
 * determined by the seed, so every failure line carries the exact command
 * that replays it. Progress goes to stderr; results and the final
 * `N passed, M failed` line go to stdout.
 */
import { Command, Option } from 'commander';
import { replayCommand, runSeedAsync, withBuggyFollowerReads } from '../sim/runner.js';
import type { RunResult } from '../sim/runner.js';
import { SCENARIOS, findScenario } from '../sim/scenarios.js';
import type { AnyScenario } from '../sim/scenario.js';
import { EXIT } from './exit_codes.js';
import { UsageError } from './format.js';

/** Most seeds one invocation may run (a typo like 1..1e9 should not hang the shell). */
const SEEDS_MAX = 1_000_000;

export interface SeedRange {
  readonly first: number;
  readonly last: number;
}

/** Parses `a..b` or a single `n`. @throws {UsageError} on anything else. */
export function parseSeeds(text: string): SeedRange {
  const m = /^(\d+)(?:\.\.(\d+))?$/.exec(text.trim());
  if (m === null) throw new UsageError(`--seeds must be "a..b" or "n" with non-negative integers, got "${text}"`);
  const first = Number(m[1]);
  const last = m[2] === undefined ? first : Number(m[2]);
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last)) throw new UsageError(`--seeds bounds must be safe integers, got "${text}"`);
  if (last < first) throw new UsageError(`--seeds range is empty: ${first} > ${last}`);
  if (last - first + 1 > SEEDS_MAX) throw new UsageError(`--seeds covers more than ${SEEDS_MAX} seeds`);
  return { first, last };
}

function resolveScenarios(name: string): readonly AnyScenario[] {
  if (name === 'all') return SCENARIOS;
  const scenario = findScenario(name);
  if (scenario === undefined) {
    throw new UsageError(`unknown scenario "${name}"; known: ${SCENARIOS.map((s) => s.name).join(', ')}, all`);
  }
  return [scenario];
}

interface RunCommandOptions {
  seeds: SeedRange;
  verbose: boolean;
  buggyFollowerReads: boolean;
}

function printFailure(result: RunResult, opts: RunCommandOptions): void {
  const f = result.failure;
  if (f === undefined) return;
  const firstLine = f.message.split('\n')[0] ?? '';
  process.stdout.write(`FAIL ${result.scenario} seed ${result.seed}: ${f.kind}: ${firstLine} | reproduce: ${replayCommand(result.scenario, result.seed, opts.buggyFollowerReads ? ['--buggy-follower-reads'] : [])}\n`);
}

/** The whole failure report of a single-seed run; the trace tail shows what led to a crash or a stall. */
function printDetails(result: RunResult): void {
  const f = result.failure;
  if (f === undefined) return;
  process.stdout.write(`${f.kind} failure:\n${f.message}\n`);
  if (f.kind !== 'linearizability') process.stdout.write(`trace tail (rerun with --verbose for every event):\n${result.traceTail.join('\n')}\n`);
}

async function runAll(scenarios: readonly AnyScenario[], opts: RunCommandOptions): Promise<number> {
  const { first, last } = opts.seeds;
  const single = scenarios.length === 1 && first === last;
  const total = scenarios.length * (last - first + 1);
  let passed = 0;
  let failed = 0;
  for (const scenario of scenarios) {
    for (let seed = first; seed <= last; seed++) {
      process.stderr.write(`\r[${passed + failed + 1}/${total}] ${scenario.name} seed ${seed}   `);
      // Async scenarios (transactions on virtual time) need the async driver; the rest run as before.
      const result = await runSeedAsync(scenario, seed, {
        // A single seed prints its drawn options first, then (on failure) the details.
        ...(single ? { log: (line: string) => process.stdout.write(`${line}\n`) } : {}),
        ...(opts.verbose ? { traceSink: (line: string) => process.stdout.write(`  ${line}\n`) } : {}),
        ...(opts.buggyFollowerReads ? { adjust: withBuggyFollowerReads } : {}),
      });
      // A single seed also prints its trace digest: a replay must print the same one.
      if (single) process.stdout.write(`trace sha256=${result.traceDigest} virtual ${result.virtualMs} ms, ${result.stats['operations'] ?? 0} operations\n`);
      if (result.passed) {
        passed++;
      } else {
        failed++;
        if (single) printDetails(result);
        printFailure(result, opts);
      }
    }
  }
  process.stderr.write('\n');
  process.stdout.write(`${passed} passed, ${failed} failed\n`);
  return failed === 0 ? EXIT.ok : EXIT.failed;
}

export function simCommand(setExit: (code: number) => void): Command {
  const sim = new Command('sim').description('deterministic cluster simulation (virtual time, one seed per run)');
  sim
    .command('list')
    .description('list the scenarios')
    .action(() => {
      const width = Math.max(...SCENARIOS.map((s) => s.name.length));
      for (const s of SCENARIOS) process.stdout.write(`${s.name.padEnd(width)}  ${s.description}\n`);
      setExit(EXIT.ok);
    });
  sim
    .command('run')
    .description('run a scenario (or all) for a range of seeds')
    .argument('<scenario>', 'scenario name, or "all"')
    .addOption(new Option('--seeds <a..b>', 'seeds to run: "a..b" or "n"').default(parseSeeds('1..1'), '1').argParser(parseSeeds))
    .option('--verbose', 'print the event trace', false)
    .option('--buggy-follower-reads', 'test the tester: followers serve stale reads, the checker must fail the seed', false)
    .action(async (name: string, opts: RunCommandOptions) => {
      setExit(await runAll(resolveScenarios(name), opts));
    });
  return sim;
}
