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

export function encodeCommand(cmd: KvCommand): Buffer {
  return Buffer.from(JSON.stringify([cmd.clientId, cmd.opId, cmd.attempt, cmd.input]));
}

/**
 * Decoded commands by payload buffer. Every node applies the same entry, and
 * delivered copies of an entry share its payload buffer, so the group decodes
 * each command once. Weak keys: entries that are gone free their slot.
 */
const decoded = new WeakMap<Buffer, KvCommand>();

/** @throws {AssertionError} when `data` is not an encoded command (entries are ours alone). */
export function decodeCommand(data: Buffer): KvCommand {
  const cached = decoded.get(data);
  if (cached !== undefined) return cached;
  const cmd = parseCommand(data);
  decoded.set(data, cmd);
  return cmd;
}

function parseCommand(data: Buffer): KvCommand {
  const parsed: unknown = JSON.parse(data.toString('utf8'));
  assert(Array.isArray(parsed) && parsed.length === 4, 'decodeCommand: not a command');
  const [clientId, opId, attempt, input] = parsed as [number, number, number, KvCommand['input']];
  if (input.kind !== 'put' && input.kind !== 'delete') assert(false, `decodeCommand: not a write: ${String((input as { kind: unknown }).kind)}`);
  return { clientId, opId, attempt, input };
}

/** A key identifying one attempt of one operation, to match applied entries to waiting proposals. */
export function proposalKey(clientId: number, opId: number, attempt: number): string {
  return `${clientId}/${opId}/${attempt}`;
}

export function stageWrite(batch: WriteBatch, input: KvCommand['input']): KvOutput {
  switch (input.kind) {
    case 'put':
      batch.put(CF_DEFAULT, utf8(input.key), utf8(input.value));
      return { kind: 'put' };
    case 'delete':
      batch.delete(CF_DEFAULT, utf8(input.key));
      return { kind: 'delete' };
    default:
      return assertNever(input, 'stageWrite: not a write');
  }
}

export function stageApplied(batch: WriteBatch, applied: number): void {
  batch.put(CF_META, APPLIED_KEY, encodeU64(applied));
}

/** Serves a read from the current contents. */
export function read(reader: Reader, input: KvInput & { readonly kind: 'get' | 'scan' }): KvOutput {
  if (input.kind === 'get') {
    const value = reader.get(CF_DEFAULT, utf8(input.key));
    return { kind: 'get', value: value === undefined ? undefined : fromUtf8(value) };
  }
  if (!(input.limit > 0 && input.limit <= scanLimitMax)) assert(false, `read: scan limit ${input.limit} out of range`);
  const entries: [string, string][] = [];
  const options = input.end === undefined ? { start: utf8(input.start), limit: input.limit } : { start: utf8(input.start), end: utf8(input.end), limit: input.limit };
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
