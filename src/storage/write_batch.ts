/**
 * A write batch: an ordered list of puts, deletes and range deletes across
 * column families that an {@link Engine} applies atomically.
 */
import { compareBytes, formatKey } from '../util/bytes.js';
import { engineKeyBytesMax } from '../config/limits.js';
import { EngineError, ENGINE_ERROR_CODES } from './engine.js';
import type { CfName } from './engine.js';

export type WriteOp =
  | { readonly type: 'put'; readonly cf: CfName; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: 'delete'; readonly cf: CfName; readonly key: Uint8Array }
  | { readonly type: 'deleteRange'; readonly cf: CfName; readonly start: Uint8Array; readonly end: Uint8Array };

export class WriteBatch {
  readonly ops: WriteOp[] = [];
  /** Sum of key and value bytes, for sizing batches. */
  byteSize = 0;

  /** @throws {EngineError} when the key is empty or longer than LMDB allows. */
  put(cf: CfName, key: Uint8Array, value: Uint8Array): this {
    checkEngineKey(key);
    this.ops.push({ type: 'put', cf, key, value });
    this.byteSize += key.length + value.length;
    return this;
  }

  delete(cf: CfName, key: Uint8Array): this {
    checkEngineKey(key);
    this.ops.push({ type: 'delete', cf, key });
    this.byteSize += key.length;
    return this;
  }

  /**
   * Deletes every key in [start, end). An empty `start` means from the first
   * key and an empty `end` means past the last key (TinyKV's region bounds).
   */
  deleteRange(cf: CfName, start: Uint8Array, end: Uint8Array): this {
    this.ops.push({ type: 'deleteRange', cf, start, end });
    this.byteSize += start.length + end.length;
    return this;
  }

  get count(): number {
    return this.ops.length;
  }

  isEmpty(): boolean {
    return this.ops.length === 0;
  }
}

/** @throws {EngineError} when `key` cannot be stored by the engine. */
export function checkEngineKey(key: Uint8Array): void {
  if (key.length === 0) {
    throw new EngineError(ENGINE_ERROR_CODES.InvalidKey, 'Cannot write an empty key');
  }
  if (key.length > engineKeyBytesMax) {
    throw new EngineError(
      ENGINE_ERROR_CODES.InvalidKey,
      `Cannot write key ${formatKey(key.subarray(0, 16))}...: ${key.length} bytes exceeds the engine limit of ${engineKeyBytesMax}`,
    );
  }
}

/** True when `key` lies in [start, end); an empty `end` means unbounded. */
export function inRange(key: Uint8Array, start: Uint8Array | undefined, end: Uint8Array | undefined): boolean {
  if (start !== undefined && compareBytes(key, start) < 0) return false;
  if (end !== undefined && end.length > 0 && compareBytes(key, end) >= 0) return false;
  return true;
}
