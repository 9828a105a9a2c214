/**
 * A local cluster of real processes (`tinykv playground`, `npm start`): one
 * scheduler and N stores on loopback, each a `tinykv` child process with its
 * own data dir under one root, logs in `<root>/logs`. Restarting with the
 * same root reuses the data (the stores keep their identities, the scheduler
 * its cluster id, ids and timestamps).
 *
 * Start order: the scheduler, then the first store (which bootstraps a new
 * cluster: TinyKV's first region, one peer), then the others, which join
 * empty and receive replicas from the scheduler's replica checker. The
 * playground is "serving" once a read through the routed client succeeds;
 * it then waits (bounded) until the first region has its full replica count,
 * so the cluster a user looks at is the replicated one.
 *
 * Stop order is the reverse: stores, then the scheduler; each gets SIGTERM
 * and a grace period before SIGKILL.
 */
import * as path from 'node:path';
import { RawClient } from '../client/raw_client.js';
import { PdClient } from '../client/scheduler_client.js';
import { ChildNode } from './processes.js';

export interface PlaygroundOptions {
  /** Root of every data dir and of the logs. */
  readonly dataDir: string;
  readonly stores: number;
  /** Host of every listener. @default 127.0.0.1 */
  readonly host?: string;
  /** The scheduler's port; 0 picks a free one. @default 2379 */
  readonly pdPort?: number;
  /** Store i (from 0) listens on storePort + i; 0 picks free ones. @default 20160 */
  readonly storePort?: number;
  /** Extra arguments for every store (e.g. `--region-split-size 65536`). */
  readonly storeArgs?: readonly string[];
  /** Extra arguments for the scheduler. */
  readonly schedulerArgs?: readonly string[];
  /** @default 'info' */
  readonly logLevel?: string;
  /** How long to wait for the cluster to serve. @default 60_000 */
  readonly readyTimeoutMs?: number;
  /** Called when a child exits while the playground runs. */
  readonly onExit?: (name: string, status: string) => void;
}

/** Replicas the scheduler keeps per region by default. */
const REPLICAS = 3;

export class Playground {
  readonly dataDir: string;
  private scheduler: ChildNode | undefined;
  private readonly storeNodes: (ChildNode | undefined)[] = [];
  private stopping = false;

  private constructor(private readonly options: PlaygroundOptions) {
    this.dataDir = path.resolve(options.dataDir);
  }

  get pdAddr(): string {
    const s = this.scheduler;
    if (s === undefined) throw new Error('the playground has no scheduler');
    return s.addr;
  }

  /** Addresses of the running stores, by store index. */
  get storeAddrs(): string[] {
    return this.storeNodes.map((n) => n?.addr ?? '');
  }

  get logDir(): string {
    return path.join(this.dataDir, 'logs');
  }

  /** Starts every process and waits until the cluster serves; on failure stops what started. */
  static async start(options: PlaygroundOptions): Promise<Playground> {
    const p = new Playground(options);
    try {
      await p.startAll();
      return p;
    } catch (err: unknown) {
      await p.stop();
      throw err;
    }
  }

  /** The child running store `index` (tests and the chaos test kill and restart them). */
  store(index: number): ChildNode | undefined {
    return this.storeNodes[index];
  }

  schedulerNode(): ChildNode | undefined {
    return this.scheduler;
  }

  /** Starts (or restarts) store `index` on its own data dir and port. */
  async startStore(index: number): Promise<ChildNode> {
    const o = this.options;
    const port = (o.storePort ?? 20160) === 0 ? 0 : (o.storePort ?? 20160) + index;
    const previous = this.storeNodes[index];
    // A restarted store keeps its port when it had a fixed one; a free port otherwise (its address is re-registered).
    const addr = `${o.host ?? '127.0.0.1'}:${port === 0 && previous !== undefined ? previous.addr.split(':').pop() ?? '0' : port}`;
    const node = await this.startChild(`store-${index + 1}`, [
      'server', '--pd', this.pdAddr, '--addr', addr, '--data-dir', path.join(this.dataDir, `store-${index + 1}`), '--log-level', o.logLevel ?? 'info',
      ...(o.storeArgs ?? []),
    ]);
    this.storeNodes[index] = node;
    return node;
  }

  /** Starts (or restarts) the scheduler on its own data dir and port. */
  async startScheduler(): Promise<ChildNode> {
    const o = this.options;
    const port = this.scheduler !== undefined ? (this.scheduler.addr.split(':').pop() ?? '0') : String(o.pdPort ?? 2379);
    const node = await this.startChild('scheduler', [
      'scheduler', '--addr', `${o.host ?? '127.0.0.1'}:${port}`, '--data-dir', path.join(this.dataDir, 'scheduler'), '--log-level', o.logLevel ?? 'info',
      ...(o.schedulerArgs ?? []),
    ]);
    this.scheduler = node;
    return node;
  }

  /** Stops the stores, then the scheduler. Idempotent. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.storeNodes.map((n) => n?.stop()));
    await this.scheduler?.stop();
  }

  private async startAll(): Promise<void> {
    const o = this.options;
    await this.startScheduler();
    // The first store bootstraps the cluster; the others join it.
    await this.startStore(0);
    await Promise.all(Array.from({ length: o.stores - 1 }, (_, i) => this.startStore(i + 1)));
    await this.waitServing(o.readyTimeoutMs ?? 60_000);
  }

  private async startChild(name: string, args: string[]): Promise<ChildNode> {
    const node = await ChildNode.start({ name, args, logFile: path.join(this.logDir, `${name}.log`) });
    void node.exited.then((status) => {
      if (!this.stopping) this.options.onExit?.(name, String(status));
    });
    return node;
  }

  /** A read through the routed client succeeds, then (bounded) the first region has its replicas. */
  private async waitServing(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const client = new RawClient({ pd: this.pdAddr, deadlineMs: timeoutMs });
    try {
      await client.get(new TextEncoder().encode('playground-probe'));
    } finally {
      client.close();
    }
    const want = Math.min(REPLICAS, this.options.stores);
    const pd = new PdClient({ addrs: this.pdAddr });
    try {
      while (Date.now() < deadline) {
        const first = await pd.getRegion(new Uint8Array());
        if ((first?.region.peers.length ?? 0) >= want) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      pd.close();
    }
  }
}
