/**
 * Store-to-store transport benchmark: `node dist/bench/transport.js [--n N]`.
 *
 * Spawns itself with `--serve` as the receiving store (a gRPC server whose
 * raft sink only counts), so sender and receiver do not share a JS thread,
 * then measures, one JSON line per scenario:
 * - `transport-*`: GrpcTransport.send of N raft messages, B per event-loop
 *   turn (each turn's messages go out in one flush), the next turn once all
 *   were reported; the rate counts until the receiver saw the last one (a
 *   fence message behind them on the same stream);
 * - `raw-stream-*`: the same messages written back to back on one bare
 *   grpc-js `Raft` client stream with grpc-js's default channel options
 *   (retry buffer on; write until false, then 'drain'): the naive baseline;
 * - `snapshot`: one snapshot of `--snap-mib` MiB in 1 MiB chunks over the
 *   `Snapshot` stream, until the receiver answered Done.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { MessageType } from '../src/pb/eraftpb.js';
import { RaftMessage } from '../src/pb/raft_serverpb.js';
import { TinyKvClient } from '../src/pb/tinykvpb.js';
import { emptyConfState, newMessage } from '../src/raft/types.js';
import { DEFAULT_RAFTSTORE_CONFIG } from '../src/raftstore/config.js';
import { startGrpcServer } from '../src/server/grpc_server.js';
import { GrpcTransport } from '../src/server/grpc_transport.js';
import { Server } from '../src/server/server.js';
import { MemEngine } from '../src/storage/mem_engine.js';
import { StandaloneStorage } from '../src/storage/standalone_storage.js';
import { silentLogger } from '../src/util/log.js';
import { Prng } from '../src/util/prng.js';
import { argNumber, nowMs, report, round } from './_report.js';

/** A message with this commit ends a scenario: the receiver prints how many it counted before it. */
const FENCE_COMMIT = 0x7fff_ffff;

function message(msgType: MessageType, fields: { entries?: number; commit?: number; snapshotBytes?: number } = {}): RaftMessage {
  const entries = Array.from({ length: fields.entries ?? 0 }, (_, i) => ({
    entryType: 0, term: 5, index: 100 + i + 1, data: Buffer.alloc(100, i & 0xff),
  }));
  return {
    regionId: 1, fromPeer: { id: 2, storeId: 1 }, toPeer: { id: 3, storeId: 2 },
    message: newMessage({
      msgType, from: 2, to: 3, term: 5, logTerm: 5, index: 100, commit: fields.commit ?? 100, entries,
      ...(fields.snapshotBytes === undefined ? {} : {
        snapshot: { data: Buffer.alloc(fields.snapshotBytes, 7), metadata: { index: 100, term: 5, confState: { ...emptyConfState(), nodes: [2, 3] } } },
      }),
    }),
    regionEpoch: { confVer: 1, version: 1 }, isTombstone: false, startKey: Buffer.alloc(0), endKey: Buffer.alloc(0),
  };
}

async function serve(): Promise<void> {
  const storage = new StandaloneStorage(new MemEngine());
  await storage.start();
  let count = 0;
  const running = await startGrpcServer({
    addr: '127.0.0.1:0', server: new Server(storage), logger: silentLogger(),
    raftSink: {
      onRaftMessage: (m) => {
        if (m.message?.commit === FENCE_COMMIT) {
          process.stdout.write(`fence ${count}\n`);
          count = 0;
        } else {
          count++;
        }
        return true;
      },
    },
  });
  process.stdout.write(`listening ${running.addr}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void running.shutdown(100).then(() => process.exit(0)));
}

class Receiver {
  private readonly fences: ((n: number) => void)[] = [];
  private constructor(readonly child: ChildProcess, readonly addr: string, lines: readline.Interface) {
    lines.on('line', (line) => {
      const m = /^fence (\d+)$/.exec(line);
      if (m !== null) this.fences.shift()?.(Number(m[1]));
    });
  }

  static async spawn(): Promise<Receiver> {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = readline.createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const addr = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`receiver exited with ${code}`)));
      lines.once('line', (line) => resolve(line.replace(/^listening /, '')));
    });
    return new Receiver(child, addr, lines);
  }

  /** Resolves with the count the receiver printed at the next fence. */
  nextFence(): Promise<number> {
    return new Promise((resolve) => this.fences.push(resolve));
  }

  stop(): void {
    this.child.stdin?.end();
  }
}

async function transportScenario(rx: Receiver, name: string, msg: RaftMessage, n: number, perTurn: number): Promise<void> {
  const t = new GrpcTransport({ resolve: async () => rx.addr, rng: new Prng(1) });
  // Connect first: the connection's setup is not what is measured.
  await new Promise((resolve) => t.send(message(MessageType.MsgHeartbeat, { commit: FENCE_COMMIT }), resolve));
  await rx.nextFence();
  const bytes = RaftMessage.encode(msg).finish().length;
  const start = nowMs();
  let dropped = 0;
  for (let sent = 0; sent < n; sent += perTurn) {
    const batch = Math.min(perTurn, n - sent);
    const reports: Promise<boolean>[] = [];
    for (let i = 0; i < batch; i++) reports.push(new Promise((resolve) => t.send(msg, resolve)));
    for (const delivered of await Promise.all(reports)) if (!delivered) dropped++;
  }
  const fence = rx.nextFence();
  t.send(message(MessageType.MsgHeartbeat, { commit: FENCE_COMMIT }));
  const received = await fence;
  const ms = nowMs() - start;
  await t.close();
  report('transport', name, {
    messages: n, perTurn, messageBytes: bytes, received, dropped, ms: round(ms),
    msgsPerSec: Math.round((received / ms) * 1000), mibPerSec: round((received * bytes) / ms / 1024 / 1024 * 1000),
  });
}

async function rawScenario(rx: Receiver, name: string, msg: RaftMessage, n: number): Promise<void> {
  const client = new TinyKvClient(rx.addr, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  const done = new Promise<void>((resolve) => {
    const call = client.raft(() => resolve());
    const fenced = rx.nextFence();
    call.write(message(MessageType.MsgHeartbeat, { commit: FENCE_COMMIT }));
    void fenced.then(async () => {
      const start = nowMs();
      let i = 0;
      await new Promise<void>((written) => {
        const pump = (): void => {
          while (i < n) {
            i++;
            if (!call.write(msg)) {
              call.once('drain', pump);
              return;
            }
          }
          written();
        };
        pump();
      });
      const fence = rx.nextFence();
      call.write(message(MessageType.MsgHeartbeat, { commit: FENCE_COMMIT }));
      const received = await fence;
      const ms = nowMs() - start;
      report('transport', name, { messages: n, received, ms: round(ms), msgsPerSec: Math.round((received / ms) * 1000) });
      call.end();
    });
  });
  await done;
  client.close();
}

async function snapshotScenario(rx: Receiver, mib: number): Promise<void> {
  const t = new GrpcTransport({ resolve: async () => rx.addr, rng: new Prng(1) });
  await new Promise((resolve) => t.send(message(MessageType.MsgHeartbeat, { commit: FENCE_COMMIT }), resolve));
  await rx.nextFence();
  const msg = message(MessageType.MsgSnapshot, { snapshotBytes: mib * 1024 * 1024 });
  const start = nowMs();
  const delivered = await new Promise<boolean>((resolve) => t.send(msg, resolve));
  const ms = nowMs() - start;
  await t.close();
  report('transport', 'snapshot', {
    mib, chunkBytes: DEFAULT_RAFTSTORE_CONFIG.snapshotChunkBytes, delivered, ms: round(ms), mibPerSec: round((mib / ms) * 1000),
  });
}

async function main(): Promise<void> {
  if (process.argv.includes('--serve')) {
    await serve();
    return;
  }
  const n = argNumber('n', 100_000);
  const rx = await Receiver.spawn();
  try {
    const heartbeat = message(MessageType.MsgHeartbeat);
    const append = message(MessageType.MsgAppend, { entries: 100 });
    await rawScenario(rx, 'raw-stream-heartbeat', heartbeat, n);
    for (const perTurn of [1, 64, 1024]) {
      await transportScenario(rx, `transport-heartbeat-${perTurn}-per-turn`, heartbeat, perTurn === 1 ? Math.min(n, 20_000) : n, perTurn);
    }
    await rawScenario(rx, 'raw-stream-append100', append, Math.ceil(n / 10));
    await transportScenario(rx, 'transport-append100-16-per-turn', append, Math.ceil(n / 10), 16);
    await snapshotScenario(rx, argNumber('snap-mib', 64));
  } finally {
    rx.stop();
  }
}

await main();
