/**
 * The chaos test's transactional workload: the simulator's bank workload
 * (src/sim/txn_workload.ts: transfers between accounts, read-only
 * snapshots that must sum to the total, every transaction recorded for the
 * snapshot-isolation checker) run by its own workers through real
 * `TxnClient`s over gRPC while the nemesis kills stores and the scheduler.
 *
 * Its accounts live under `bank/`, apart from the raw workers' keys (`k…`):
 * raw scans start at the raw keys and never reach them, and transactional
 * reads never see raw data. After the faults stop and the cluster settles,
 * unknown commits are resolved from their primaries and the history is
 * checked (TxnWorkload.finalCheck).
 */
import { GrpcTxnRpc } from '../client/txn_rpc_grpc.js';
import { TxnClient } from '../client/txn_client.js';
import { SimulationError } from '../sim/errors.js';
import { TxnWorkload } from '../sim/txn_workload.js';
import type { TxnWorkloadSummary } from '../sim/txn_workload.js';
import type { Prng } from '../util/prng.js';

export const BANK_KEY_PREFIX = 'bank/';

export interface TxnBankReport {
  readonly workers: number;
  readonly accounts: number;
  /** Set when the final check ran and passed. */
  readonly summary: TxnWorkloadSummary | undefined;
  /** Why the workload failed (empty when it passed). */
  readonly failures: readonly string[];
}

export interface ChaosBankOptions {
  readonly pdAddr: string;
  readonly workers: number;
  readonly accounts: number;
  /** Each transactional operation's deadline, ms. */
  readonly opDeadlineMs: number;
}

export class ChaosBank {
  private readonly workload: TxnWorkload;
  private readonly options: ChaosBankOptions;
  private readonly clients: { readonly client: TxnClient; readonly rpc: GrpcTxnRpc }[] = [];
  private readonly failures: string[] = [];
  private summary: TxnWorkloadSummary | undefined;

  constructor(options: ChaosBankOptions) {
    this.options = options;
    this.workload = new TxnWorkload({ kind: 'bank', keyCount: options.accounts, keyPrefix: BANK_KEY_PREFIX });
  }

  private newClient(): { readonly client: TxnClient; readonly rpc: GrpcTxnRpc } {
    const rpc = new GrpcTxnRpc({ pd: this.options.pdAddr });
    const c = { client: new TxnClient({ rpc, timeoutMs: this.options.opDeadlineMs }), rpc };
    this.clients.push(c);
    return c;
  }

  /** Opens the accounts (one transaction), before the faults start. */
  async setup(): Promise<void> {
    await this.workload.setup(this.newClient().client);
  }

  /** The workers' loops, until `shouldStop()`; they never reject (a failure is recorded). */
  run(rngs: readonly Prng[], shouldStop: () => boolean): Promise<void>[] {
    return rngs.map(async (rng, id) => {
      const { client } = this.newClient();
      try {
        while (!shouldStop() && this.failures.length === 0) await this.workload.runOne(client, id, rng);
      } catch (err: unknown) {
        this.failures.push(`txn bank worker ${id}: ${describe(err)}`);
      }
    });
  }

  /** On the settled cluster: resolves unknown commits, reads the accounts once more, checks the history. */
  async finalCheck(deadlineMs: number): Promise<void> {
    if (this.failures.length > 0) return;
    const { client, rpc } = this.newClient();
    try {
      this.summary = await this.workload.finalCheck(client, rpc, rpc.nowMs() + deadlineMs);
    } catch (err: unknown) {
      this.failures.push(`txn bank final check: ${describe(err)}`);
    }
  }

  report(): TxnBankReport {
    return { workers: this.options.workers, accounts: this.options.accounts, summary: this.summary, failures: [...this.failures] };
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.client.close()));
  }
}

function describe(err: unknown): string {
  if (err instanceof SimulationError) return `${err.kind}: ${err.message}`;
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
