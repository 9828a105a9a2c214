/**
 * Test support: the same request handlers reached two ways, directly on a
 * {@link Server} (as TinyKV's server_test.go does) and through the real gRPC
 * server on loopback port 0, so every raw-API test runs against both.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type {
  RawDeleteRequest,
  RawDeleteResponse,
  RawGetRequest,
  RawGetResponse,
  RawPutRequest,
  RawPutResponse,
  RawScanRequest,
  RawScanResponse,
} from '../pb/kvrpcpb.js';
import { TinyKvClient } from '../pb/tinykvpb.js';
import { LmdbEngine } from '../storage/lmdb_engine.js';
import { MemEngine } from '../storage/mem_engine.js';
import { StandaloneStorage } from '../storage/standalone_storage.js';
import type { Storage } from '../storage/storage.js';
import { silentLogger } from '../util/log.js';
import { startGrpcServer } from './grpc_server.js';
import type { RunningGrpcServer } from './grpc_server.js';
import { Server } from './server.js';

export interface RawApi {
  rawGet(req: RawGetRequest): Promise<RawGetResponse>;
  rawPut(req: RawPutRequest): Promise<RawPutResponse>;
  rawDelete(req: RawDeleteRequest): Promise<RawDeleteResponse>;
  rawScan(req: RawScanRequest): Promise<RawScanResponse>;
}

export interface Harness {
  readonly storage: Storage;
  readonly api: RawApi;
  /** The gRPC client, only in grpc mode. */
  readonly client?: TinyKvClient;
  readonly addr?: string;
  dispose(): Promise<void>;
}

export type Mode = 'direct' | 'grpc';
export type EngineKind = 'lmdb' | 'memory';

function promisify<Req, Res>(
  fn: (req: Req, md: grpc.Metadata, opts: Partial<grpc.CallOptions>, cb: (e: grpc.ServiceError | null, r: Res) => void) => unknown,
): (req: Req) => Promise<Res> {
  return (req) =>
    new Promise((resolve, reject) => {
      fn(req, new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (err, res) => (err ? reject(err) : resolve(res)));
    });
}

export function grpcApi(client: TinyKvClient): RawApi {
  return {
    rawGet: promisify<RawGetRequest, RawGetResponse>((r, m, o, c) => client.rawGet(r, m, o, c)),
    rawPut: promisify<RawPutRequest, RawPutResponse>((r, m, o, c) => client.rawPut(r, m, o, c)),
    rawDelete: promisify<RawDeleteRequest, RawDeleteResponse>((r, m, o, c) => client.rawDelete(r, m, o, c)),
    rawScan: promisify<RawScanRequest, RawScanResponse>((r, m, o, c) => client.rawScan(r, m, o, c)),
  };
}

export async function startHarness(mode: Mode, engineKind: EngineKind = 'lmdb'): Promise<Harness> {
  const dataDir = engineKind === 'lmdb' ? fs.mkdtempSync(path.join(os.tmpdir(), 'tinykv-server-')) : undefined;
  const engine = dataDir !== undefined ? new LmdbEngine({ dataDir }) : new MemEngine();
  const storage = new StandaloneStorage(engine);
  await storage.start();
  const server = new Server(storage);
  const cleanup = async (): Promise<void> => {
    await storage.stop();
    if (dataDir !== undefined) fs.rmSync(dataDir, { recursive: true, force: true });
  };
  if (mode === 'direct') return { storage, api: server, dispose: cleanup };
  let running: RunningGrpcServer;
  try {
    running = await startGrpcServer({ addr: '127.0.0.1:0', server, logger: silentLogger() });
  } catch (err: unknown) {
    await cleanup();
    throw err;
  }
  const client = new TinyKvClient(running.addr, grpc.credentials.createInsecure());
  return {
    storage,
    api: grpcApi(client),
    client,
    addr: running.addr,
    dispose: async () => {
      client.close();
      await running.shutdown(1_000);
      await cleanup();
    },
  };
}
