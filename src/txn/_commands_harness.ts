/**
 * Test support for the transactional command tests (commands4b.test.ts,
 * commands4c.test.ts): TinyKV's testBuilder (kv/transaction/commands_test.go)
 * ported. A `Server` over StandaloneStorage on a MemEngine, called
 * in-process. Fixtures are written raw into the CFs with TinyKV's bytes;
 * timestamps come from `nextTs` (starting at 100), and an entry without a
 * `ts` uses the latest one (TinyKV's prevTs), as TinyKV's `init` and `assert`
 * do. The latch Validation hook asserts that every key a command writes was
 * latched.
 */
import assert from 'node:assert/strict';
import type {
  BatchRollbackRequest,
  CheckTxnStatusRequest,
  CommitRequest,
  GetRequest,
  Mutation,
  Op,
  PrewriteRequest,
  ResolveLockRequest,
  ScanRequest,
} from '../pb/kvrpcpb.js';
import { Server } from '../server/server.js';
import { CF_DEFAULT, CF_LOCK, CF_WRITE } from '../storage/engine.js';
import type { CfName, Engine } from '../storage/engine.js';
import { MemEngine } from '../storage/mem_engine.js';
import { StandaloneStorage } from '../storage/standalone_storage.js';
import type { Modify, Storage } from '../storage/storage.js';
import { equalBytes } from '../util/bytes.js';
import { decodeUserKey, encodeKey, U64_MAX } from './codec.js';

export const CTX = { regionId: 1, term: 0 } as const;
export const TS_MAX = U64_MAX;
export const buf = (...b: number[]): Buffer => Buffer.from(b);
export const be64 = (ts: number | bigint): number[] => {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(BigInt(ts));
  return [...out];
};

/** A fixture or expected entry; `value` undefined in an expectation means "present and unchanged"; `ts` undefined means the builder's latest ts. */
export interface Kv {
  readonly cf: CfName;
  readonly key: number[];
  readonly ts?: number | bigint;
  readonly value?: number[];
}

export interface BuilderOptions {
  /** The storage the server uses, over the builder's engine. @default the builder's own StandaloneStorage */
  readonly serverStorage?: (engine: Engine, fixtures: Storage) => Storage;
}

/** TinyKV's testBuilder for the 4B/4C command tests. */
export class Builder {
  readonly server: Server;
  /** Fixtures and assertions go through this storage, whatever the server uses. */
  private readonly storage: StandaloneStorage;
  private prevTs = 99n;
  private initial = new Map<string, number[]>();
  validations = 0;

  private constructor(storage: StandaloneStorage, serverStorage: Storage) {
    this.storage = storage;
    this.server = new Server(serverStorage);
    // TinyKV newBuilder: every written key must have been latched.
    this.server.latches.validation = (txn, keys) => {
      this.validations++;
      for (const m of txn.writes()) {
        const userKey = m.cf === CF_LOCK ? m.key : decodeUserKey(m.key);
        assert.ok(keys.some((k) => equalBytes(k, userKey)), `write to unlatched key ${[...userKey]}`);
      }
    };
  }

  static async create(options: BuilderOptions = {}): Promise<Builder> {
    const engine = new MemEngine();
    const storage = new StandaloneStorage(engine);
    await storage.start();
    return new Builder(storage, options.serverStorage?.(engine, storage) ?? storage);
  }

  nextTs(): bigint {
    this.prevTs++;
    return this.prevTs;
  }

  /** TinyKV builder.ts(): the latest timestamp as one byte. */
  ts(): number {
    return Number(this.prevTs & 0xffn);
  }

  storedKey(kv: Kv): Uint8Array {
    return kv.cf === CF_LOCK ? Uint8Array.from(kv.key) : encodeKey(Uint8Array.from(kv.key), BigInt(kv.ts ?? this.prevTs));
  }

  async init(kvs: readonly Kv[]): Promise<void> {
    const batch: Modify[] = kvs.map((kv) => ({ type: 'put', cf: kv.cf, key: this.storedKey(kv), value: Uint8Array.from(kv.value ?? []) }));
    for (const kv of kvs) this.initial.set(this.id(kv), kv.value ?? []);
    await this.storage.write(CTX, batch);
  }

  getRequest(key: number[], version: bigint): GetRequest {
    return { context: undefined, key: Buffer.from(key), version };
  }

  prewriteRequest(...mutations: Mutation[]): PrewriteRequest {
    return { context: undefined, mutations, primaryLock: buf(1), startVersion: this.nextTs(), lockTtl: 0 };
  }

  commitRequest(...keys: number[][]): CommitRequest {
    return { context: undefined, startVersion: this.nextTs(), keys: keys.map((k) => Buffer.from(k)), commitVersion: this.prevTs + 10n };
  }

  rollbackRequest(...keys: number[][]): BatchRollbackRequest {
    return { context: undefined, startVersion: this.nextTs(), keys: keys.map((k) => Buffer.from(k)) };
  }

  /** TinyKV: lockTs = BE(0,0,5,0,0,0,0,ts) and currentTs = BE(0,0,6,0,0,0,0,ts), a physical gap of 2^22 ms. */
  checkTxnStatusRequest(key: number[]): CheckTxnStatusRequest {
    this.nextTs();
    const ts = BigInt(this.ts());
    return { context: undefined, primaryKey: Buffer.from(key), lockTs: (5n << 40n) | ts, currentTs: (6n << 40n) | ts };
  }

  resolveRequest(startVersion: bigint, commitVersion: bigint): ResolveLockRequest {
    return { context: undefined, startVersion, commitVersion };
  }

  scanRequest(startKey: number[], limit: number): ScanRequest {
    return { context: undefined, startKey: Buffer.from(startKey), limit, version: this.nextTs() };
  }

  /** Asserts each entry is stored with its value (or, without one, with its initial value). */
  async assertKvs(kvs: readonly Kv[]): Promise<void> {
    const reader = await this.storage.reader(CTX);
    try {
      for (const kv of kvs) {
        const id = this.id(kv);
        const expected = kv.value ?? this.initial.get(id);
        assert.ok(expected !== undefined, `no expected value for ${id}`);
        const got = reader.getCF(kv.cf, this.storedKey(kv));
        assert.deepEqual(got === undefined ? undefined : [...got], expected, id);
      }
    } finally {
      reader.close();
    }
  }

  async assertLens(def: number, lock: number, write: number): Promise<void> {
    const reader = await this.storage.reader(CTX);
    const count = (cf: CfName): number => {
      let n = 0;
      const it = reader.iterCF(cf);
      for (it.seek(new Uint8Array(0)); it.valid(); it.next()) n++;
      return n;
    };
    try {
      assert.deepEqual([count(CF_DEFAULT), count(CF_LOCK), count(CF_WRITE)], [def, lock, write]);
    } finally {
      reader.close();
    }
  }

  async dispose(): Promise<void> {
    await this.storage.stop();
  }

  private id(kv: Kv): string {
    return `${kv.cf}/${Buffer.from(this.storedKey(kv)).toString('hex')}`;
  }
}

export const mutation = (key: number, value: number[], op: Op): Mutation => ({ op, key: buf(key), value: Buffer.from(value) });
export const lockBytes = (primary: number[], kind: number, ts: number | bigint, ttl: number | bigint = 0): number[] => [
  ...primary,
  kind,
  ...be64(ts),
  ...be64(ttl),
];
export const writeBytes = (kind: number, startTs: number | bigint): number[] => [kind, ...be64(startTs)];

export async function withBuilder(body: (b: Builder) => Promise<void>, options: BuilderOptions = {}): Promise<void> {
  const b = await Builder.create(options);
  try {
    await body(b);
  } finally {
    await b.dispose();
  }
}
