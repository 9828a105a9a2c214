/**
 * The state machine of the first consumer: string keys and values in the
 * engine's `default` column family, with the applied index in `meta`. Writes
 * are staged into the same batch as the applied index, so a crash keeps or
 * loses both together. Snapshot data is the whole contents, as JSON (small in
 * the simulator, and deterministic).
 */
import { assert, assertNever } from '../util/assert.js';
import { fromUtf8, utf8 } from '../util/bytes.js';
import { CF_DEFAULT, CF_META } from '../storage/engine.js';
import type { Reader } from '../storage/engine.js';
import type { WriteBatch } from '../storage/write_batch.js';
import type { KvInput, KvOutput } from './history.js';
import { scanLimitMax } from './limits.js';
import { APPLIED_KEY, encodeU64 } from './raft_storage.js';

/** A write as proposed: who asked (to answer them when it applies) and what. */
export interface KvCommand {
  readonly clientId: number;
  readonly opId: number;
  readonly attempt: number;
  readonly input: KvInput & { readonly kind: 'put' | 'delete' };
}

/**
 * A sim-local binary format (cheaper than JSON; entries are ours alone):
 * `[clientId u32][opId u32][attempt u32][kind u8][keyLength u32][key][value]`,
 * all little-endian, key and value in UTF-8 (the value, for a put, runs to the end).
 */
const KIND_PUT = 1;
const KIND_DELETE = 2;
const headerBytes = 17;

export function encodeCommand(cmd: KvCommand): Buffer {
  const input = cmd.input;
  const keyLength = Buffer.byteLength(input.key, 'utf8');
  const valueLength = input.kind === 'put' ? Buffer.byteLength(input.value, 'utf8') : 0;
  const out = Buffer.allocUnsafe(headerBytes + keyLength + valueLength);
  out.writeUInt32LE(cmd.clientId, 0);
  out.writeUInt32LE(cmd.opId, 4);
  out.writeUInt32LE(cmd.attempt, 8);
  out.writeUInt8(input.kind === 'put' ? KIND_PUT : KIND_DELETE, 12);
  out.writeUInt32LE(keyLength, 13);
  out.write(input.key, headerBytes, keyLength, 'utf8');
  if (input.kind === 'put') out.write(input.value, headerBytes + keyLength, valueLength, 'utf8');
  return out;
}

/** A decoded command: the proposal key, and the write's bytes (shared: the engine copies what it stores). */
export interface DecodedCommand {
  /** {@link proposalKey} of the command. */
  readonly proposalKey: string;
  readonly kind: 'put' | 'delete';
  readonly key: Uint8Array;
  /** Empty for a delete. */
  readonly value: Uint8Array;
}

/**
 * Decoded commands by payload buffer. Every node applies the same entry, and
 * delivered copies of an entry share its payload buffer, so the group decodes
 * each command once. Weak keys: entries that are gone free their slot.
 */
const decoded = new WeakMap<Buffer, DecodedCommand>();

/** @throws {AssertionError} when `data` is not an encoded command (entries are ours alone). */
export function decodeCommand(data: Buffer): DecodedCommand {
  const cached = decoded.get(data);
  if (cached !== undefined) return cached;
  const cmd = parseCommand(data);
  decoded.set(data, cmd);
  return cmd;
}

function parseCommand(data: Buffer): DecodedCommand {
  assert(data.length >= headerBytes, 'decodeCommand: not a command');
  const clientId = data.readUInt32LE(0);
  const opId = data.readUInt32LE(4);
  const attempt = data.readUInt32LE(8);
  const kindCode = data.readUInt8(12);
  const keyLength = data.readUInt32LE(13);
  if (!(headerBytes + keyLength <= data.length)) assert(false, 'decodeCommand: key runs past the end');
  if (kindCode !== KIND_PUT && kindCode !== KIND_DELETE) assert(false, `decodeCommand: not a write: kind ${kindCode}`);
  if (kindCode === KIND_DELETE && headerBytes + keyLength !== data.length) assert(false, 'decodeCommand: a delete with a value');
  // Plain Uint8Array views (not Buffer subarrays): what the engine stores is a copy anyway.
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.length);
  return {
    proposalKey: proposalKey(clientId, opId, attempt),
    kind: kindCode === KIND_PUT ? 'put' : 'delete',
    key: bytes.subarray(headerBytes, headerBytes + keyLength),
    value: bytes.subarray(headerBytes + keyLength),
  };
}

/** A key identifying one attempt of one operation, to match applied entries to waiting proposals. */
export function proposalKey(clientId: number, opId: number, attempt: number): string {
  return `${clientId}/${opId}/${attempt}`;
}

export function stageWrite(batch: WriteBatch, cmd: DecodedCommand): KvOutput {
  switch (cmd.kind) {
    case 'put':
      batch.put(CF_DEFAULT, cmd.key, cmd.value);
      return { kind: 'put' };
    case 'delete':
      batch.delete(CF_DEFAULT, cmd.key);
      return { kind: 'delete' };
    default:
      return assertNever(cmd.kind, 'stageWrite: not a write');
  }
}

/**
 * UTF-8 encodings of the keys reads use (the workload has few distinct
 * keys). Readers only look the bytes up; nothing retains or mutates them.
 */
const keyBytesCache = new Map<string, Uint8Array>();
const keyBytesCacheMax = 4096;

function keyBytes(key: string): Uint8Array {
  let bytes = keyBytesCache.get(key);
  if (bytes === undefined) {
    bytes = utf8(key);
    if (keyBytesCache.size < keyBytesCacheMax) keyBytesCache.set(key, bytes);
  }
  return bytes;
}

export function stageApplied(batch: WriteBatch, applied: number): void {
  batch.put(CF_META, APPLIED_KEY, encodeU64(applied));
}

/** Serves a read from the current contents. */
export function read(reader: Reader, input: KvInput & { readonly kind: 'get' | 'scan' }): KvOutput {
  if (input.kind === 'get') {
    const value = reader.get(CF_DEFAULT, keyBytes(input.key));
    return { kind: 'get', value: value === undefined ? undefined : fromUtf8(value) };
  }
  if (!(input.limit > 0 && input.limit <= scanLimitMax)) assert(false, `read: scan limit ${input.limit} out of range`);
  const entries: [string, string][] = [];
  const options = input.end === undefined ? { start: keyBytes(input.start), limit: input.limit } : { start: keyBytes(input.start), end: keyBytes(input.end), limit: input.limit };
  for (const { key, value } of reader.scan(CF_DEFAULT, options)) entries.push([fromUtf8(key), fromUtf8(value)]);
  assert(entries.length <= input.limit, 'read: scan returned more than its limit');
  return { kind: 'scan', entries };
}

/** Every pair, in key order. */
export function contents(reader: Reader): [string, string][] {
  const out: [string, string][] = [];
  for (const { key, value } of reader.scan(CF_DEFAULT)) out.push([fromUtf8(key), fromUtf8(value)]);
  return out;
}

export function encodeSnapshotData(reader: Reader): Buffer {
  return Buffer.from(JSON.stringify(contents(reader)));
}

/** Replaces the contents with a snapshot's, and sets the applied index, in `batch`. */
export function stageSnapshotData(batch: WriteBatch, data: Buffer, applied: number): number {
  const pairs: unknown = JSON.parse(data.toString('utf8'));
  assert(Array.isArray(pairs), 'stageSnapshotData: snapshot data is not a list of pairs');
  batch.deleteRange(CF_DEFAULT, new Uint8Array(0), new Uint8Array(0));
  for (const pair of pairs as [string, string][]) batch.put(CF_DEFAULT, utf8(pair[0]), utf8(pair[1]));
  stageApplied(batch, applied);
  return pairs.length;
}
