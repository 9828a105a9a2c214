/**
 * Shared by the benches that run real processes (`cluster.ts`, `txn.ts`):
 * a {@link BenchSession} owning one temp dir and every process started under
 * it, stopped on every exit path (normal end, exception, SIGINT/SIGTERM; the
 * children also stop by themselves when the bench dies, through their stdin
 * lifelines), and {@link startPlayground}, the TinyKV.ts cluster both benches
 * measure, started the same way: `Playground` (one `tinykv scheduler` and N
 * `tinykv server --pd` processes on loopback, LMDB, every write fsynced) on
 * free ports, with the stores' own defaults.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Playground } from '../src/cli/playground.js';
import { nowMs, round } from './_report.js';

/** A stop function registered with a session; stopping it again does nothing more. */
export type Stop = () => Promise<void>;

export class BenchSession {
  private rootDir: string | undefined;
  private interruptedFlag = false;
  private readonly running = new Set<Stop>();
  private cleaning: Promise<void> | undefined;

  /** Installs the SIGINT/SIGTERM handlers. @param bench the `bench` field of every line */
  constructor(readonly bench: string) {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        this.interruptedFlag = true;
        this.progress(`${signal}: stopping every process`);
        void this.cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
      });
    }
  }

  /** Temp dir holding every data dir of the run, made on first use (bad flags leave nothing behind); removed by cleanup(). */
  get root(): string {
    this.rootDir ??= fs.mkdtempSync(path.join(os.tmpdir(), `tinykv-bench-${this.bench}-`));
    return this.rootDir;
  }

  /** Set by SIGINT/SIGTERM: workers stop and no more figures are printed (they would be the shutdown's). */
  get interrupted(): boolean {
    return this.interruptedFlag;
  }

  /** Registers `stop` for cleanup(). @returns a stop that also unregisters it */
  track(stop: Stop): Stop {
    this.running.add(stop);
    return async () => {
      this.running.delete(stop);
      await stop();
    };
  }

  /** Stops whatever is still registered and removes the temp dir. Idempotent. */
  cleanup(): Promise<void> {
    this.cleaning ??= (async () => {
      await Promise.allSettled([...this.running].map((stop) => stop()));
      this.running.clear();
      if (this.rootDir !== undefined) fs.rmSync(this.rootDir, { recursive: true, force: true });
    })();
    return this.cleaning;
  }

  /** One JSON line on stdout: `bench`, the fields, then `node`, `cpus`, `at`. Nothing once interrupted. */
  line(fields: Record<string, number | string | boolean>): void {
    if (this.interruptedFlag) return;
    const out = { bench: this.bench, ...fields, node: process.version, cpus: os.cpus().length, at: new Date().toISOString() };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  }

  /** Progress goes to stderr, so stdout holds only the JSON lines. */
  progress(message: string): void {
    process.stderr.write(`bench:${this.bench}: ${message}\n`);
  }
}

export interface RunningPlayground {
  readonly pdAddr: string;
  readonly storeAddrs: readonly string[];
  /** Stops the stores, then the scheduler (tracked by the session until then). */
  readonly stop: Stop;
}

/**
 * Starts a scheduler and `stores` stores under `dataDir` on free ports and
 * waits until they serve (Playground.start: a routed read succeeds and the
 * first region has its replicas). A child exiting during the bench is
 * reported with the log dir.
 */
export async function startPlayground(session: BenchSession, dataDir: string, stores: number): Promise<RunningPlayground> {
  session.progress(`tinykv: starting a scheduler and ${stores} stores`);
  const started = nowMs();
  const playground = await Playground.start({
    dataDir, stores, pdPort: 0, storePort: 0,
    onExit: (name, status) => session.progress(`tinykv: ${name} exited (${status}) during the bench; see ${path.join(dataDir, 'logs')}`),
  });
  const stop = session.track(() => playground.stop());
  session.progress(`tinykv: serving in ${round(nowMs() - started, 0)} ms (scheduler ${playground.pdAddr}, stores ${playground.storeAddrs.join(' ')})`);
  return { pdAddr: playground.pdAddr, storeAddrs: playground.storeAddrs, stop };
}
