/**
 * etcd for `bench/cluster.ts`: a local 3-member cluster on loopback, and a
 * minimal client for the two calls the bench makes (KV.Put, KV.Range).
 *
 * The cluster runs the `etcd` binary of the Debian package `etcd-server`
 * (3.4.x) with its defaults (fsync on, 100 ms heartbeat, 1 s election), each
 * member with its own data dir and log file under one root. Each member runs
 * under `sh` with a lifeline: the shell's stdin is a pipe from this process,
 * and when it closes (stop(), or this process dying even by SIGKILL) the
 * shell sends etcd SIGTERM and waits for it. Same contract as the
 * playground's children (src/cli/processes.ts).
 *
 * The client speaks etcd's gRPC API (`etcdserverpb.KV`) with @grpc/grpc-js
 * and the protobuf wire codec of @bufbuild/protobuf: the same client stack
 * as TinyKV.ts's RawClient (grpc-js + ts-proto over that codec), so the
 * comparison measures the servers, not two client libraries. Only the fields
 * the bench needs are encoded; unknown fields in answers are skipped.
 * Field numbers: etcd api/etcdserverpb/rpc.proto and api/mvccpb/kv.proto.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';

/** `etcd` on PATH, or undefined. */
export function findEtcd(): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, 'etcd');
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** A free TCP port on 127.0.0.1 (free when asked; the usual small race). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Member {
  readonly name: string;
  readonly clientUrl: string;
  readonly shell: ChildProcess;
  readonly exited: Promise<void>;
}

export interface EtcdClusterOptions {
  /** The `etcd` binary. */
  readonly bin: string;
  /** Root of the members' data dirs and logs. */
  readonly dataDir: string;
  /** @default 3 */
  readonly members?: number;
  /** How long to wait for every member to report healthy. @default 30_000 */
  readonly readyTimeoutMs?: number;
}

export class EtcdCluster {
  private constructor(private readonly members: readonly Member[]) {}

  /** Client URLs (`http://127.0.0.1:port`), by member. */
  get clientUrls(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  /** Client addresses (`127.0.0.1:port`) for gRPC, by member. */
  get clientAddrs(): string[] {
    return this.members.map((m) => m.clientUrl.replace(/^http:\/\//, ''));
  }

  /** Starts every member and waits until each reports healthy; on failure stops what started. */
  static async start(options: EtcdClusterOptions): Promise<EtcdCluster> {
    const n = options.members ?? 3;
    const ports = await Promise.all(Array.from({ length: 2 * n }, freePort));
    const names = Array.from({ length: n }, (_, i) => `etcd-${i + 1}`);
    const peerUrl = (i: number): string => `http://127.0.0.1:${ports[2 * i + 1]}`;
    const initialCluster = names.map((name, i) => `${name}=${peerUrl(i)}`).join(',');
    fs.mkdirSync(options.dataDir, { recursive: true });
    const members: Member[] = [];
    const cluster = new EtcdCluster(members);
    try {
      for (const [i, name] of names.entries()) {
        const clientUrl = `http://127.0.0.1:${ports[2 * i]}`;
        const args = [
          '--name', name, '--data-dir', path.join(options.dataDir, name),
          '--listen-client-urls', clientUrl, '--advertise-client-urls', clientUrl,
          '--listen-peer-urls', peerUrl(i), '--initial-advertise-peer-urls', peerUrl(i),
          '--initial-cluster', initialCluster, '--initial-cluster-state', 'new',
          '--initial-cluster-token', `tinykv-bench-${process.pid}`, '--logger', 'zap',
        ];
        members.push(startMember(options.bin, name, clientUrl, args, path.join(options.dataDir, `${name}.log`)));
      }
      await cluster.waitHealthy(options.readyTimeoutMs ?? 30_000);
      return cluster;
    } catch (err: unknown) {
      await cluster.stop();
      throw err;
    }
  }

  /** The client address of the current leader (asked of each member through the gRPC gateway). */
  async leaderAddr(): Promise<string> {
    for (const m of this.members) {
      if (m.shell.exitCode !== null || m.shell.signalCode !== null) continue;
      const status = await postJson(`${m.clientUrl}/v3/maintenance/status`).catch(() => ({} as Record<string, unknown>));
      const header = status['header'] as { member_id?: string } | undefined;
      if (header?.member_id !== undefined && header.member_id === status['leader']) return m.clientUrl.replace(/^http:\/\//, '');
    }
    throw new Error('Cannot find the etcd leader: no member reports itself as leader');
  }

  /**
   * Closes every lifeline (etcd gets SIGTERM), then SIGKILLs what is left after `graceMs`. Idempotent.
   * The current leader goes first, one at a time: on SIGTERM it hands leadership to a live follower,
   * which is quick, while a leader whose followers are stopping waits seconds for a transfer that
   * cannot happen.
   */
  async stop(graceMs = 10_000): Promise<void> {
    for (let left = this.members.length; left > 1; left--) {
      const leader = await this.leaderAddr().catch(() => undefined);
      const first = this.members.find((m) => m.clientUrl === `http://${leader}`);
      if (first === undefined) break;
      await stopMember(first, graceMs);
    }
    await Promise.all(this.members.map((m) => stopMember(m, graceMs)));
  }

  /** Synchronous last resort for process 'exit': SIGKILL every member's process group. */
  killNow(): void {
    for (const m of this.members) killGroup(m.shell);
  }

  private async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const m of this.members) {
      for (;;) {
        if (m.shell.exitCode !== null || m.shell.signalCode !== null) {
          throw new Error(`${m.name} exited before it was healthy; see its log under the data dir`);
        }
        if (await healthy(m.clientUrl)) break;
        if (Date.now() > deadline) throw new Error(`etcd member ${m.name} not healthy within ${timeoutMs} ms`);
        await sleep(100);
      }
    }
  }
}

function startMember(bin: string, name: string, clientUrl: string, args: readonly string[], logFile: string): Member {
  const log = fs.openSync(logFile, 'a');
  // `cat` returns when the lifeline closes; then etcd gets SIGTERM and the shell waits for it.
  const script = '"$0" "$@" </dev/null & p=$!; cat >/dev/null; kill -TERM "$p" 2>/dev/null; wait "$p"';
  const shell = spawn('sh', ['-c', script, bin, ...args], { stdio: ['pipe', log, log], detached: true });
  fs.closeSync(log);
  const exited = new Promise<void>((resolve) => shell.once('exit', () => resolve()));
  return { name, clientUrl, shell, exited };
}

async function stopMember(m: Member, graceMs: number): Promise<void> {
  m.shell.stdin?.end();
  const timer = setTimeout(() => killGroup(m.shell), graceMs);
  try {
    await m.exited;
  } finally {
    clearTimeout(timer);
  }
}

function killGroup(shell: ChildProcess): void {
  if (shell.pid === undefined || shell.exitCode !== null || shell.signalCode !== null) return;
  try {
    process.kill(-shell.pid, 'SIGKILL'); // the shell and etcd share the group (detached: its own)
  } catch {
    // already gone
  }
}

async function healthy(clientUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(2_000) });
    const body = (await res.json()) as { health?: string };
    return res.ok && body.health === 'true';
  } catch {
    return false;
  }
}

async function postJson(url: string): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method: 'POST', body: '{}', signal: AbortSignal.timeout(2_000) });
  if (!res.ok) throw new Error(`POST ${url}: HTTP ${res.status}`);
  return (await res.json()) as Record<string, unknown>;
}

// --- the client ---------------------------------------------------------------------------------

interface PutRequest {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
}

interface RangeRequest {
  readonly key: Uint8Array;
  /** false = linearizable (etcd's default). */
  readonly serializable: boolean;
}

/** RangeResponse reduced to the first kv's value. */
interface RangeResult {
  readonly value: Uint8Array | undefined;
}

/** PutRequest: key = 1, value = 2. */
function encodePut(req: PutRequest): Buffer {
  return Buffer.from(new BinaryWriter().uint32(10).bytes(req.key).uint32(18).bytes(req.value).finish());
}

/** RangeRequest: key = 1, serializable = 7 (bool). */
function encodeRange(req: RangeRequest): Buffer {
  const w = new BinaryWriter().uint32(10).bytes(req.key);
  if (req.serializable) w.uint32(56).bool(true);
  return Buffer.from(w.finish());
}

/** PutResponse: only its arrival matters (grpc-js treats a null message as none received). */
function decodePut(_buf: Buffer): Record<string, never> {
  return {};
}

/** RangeResponse: kvs = 2 (mvccpb.KeyValue: value = 5). */
function decodeRange(buf: Buffer): RangeResult {
  const r = new BinaryReader(buf);
  while (r.pos < r.len) {
    const [field, wireType] = r.tag();
    if (field !== 2) {
      r.skip(wireType);
      continue;
    }
    const kv = new BinaryReader(r.bytes());
    while (kv.pos < kv.len) {
      const [f, t] = kv.tag();
      if (f === 5) return { value: kv.bytes() };
      kv.skip(t);
    }
    return { value: new Uint8Array() };
  }
  return { value: undefined };
}

/** KV.Put and KV.Range (linearizable unless asked) against one etcd member. */
export class EtcdKvClient {
  private readonly client: grpc.Client;

  constructor(addr: string, private readonly deadlineMs = 10_000) {
    this.client = new grpc.Client(addr, grpc.credentials.createInsecure());
  }

  put(key: Uint8Array, value: Uint8Array): Promise<void> {
    return this.unary('/etcdserverpb.KV/Put', encodePut, decodePut, { key, value }).then(() => undefined);
  }

  /** The value of `key`, or undefined; a linearizable read unless `serializable`. */
  async get(key: Uint8Array, serializable = false): Promise<Uint8Array | undefined> {
    return (await this.unary('/etcdserverpb.KV/Range', encodeRange, decodeRange, { key, serializable })).value;
  }

  close(): void {
    this.client.close();
  }

  private unary<Req, Res>(method: string, encode: (r: Req) => Buffer, decode: (b: Buffer) => Res, req: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(method, encode, decode, req, { deadline: Date.now() + this.deadlineMs }, (err, res) => {
        if (err !== null) reject(err);
        else resolve(res as Res);
      });
    });
  }
}
