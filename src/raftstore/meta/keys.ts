/**
 * Byte-exact keys of the raftstore's local metadata (PROTOCOL.md "Storage
 * encodings", TinyKV `kv/raftstore/meta/keys.go`). All ids and indexes are
 * 8-byte big-endian, so keys of one region sort by log index and every key of
 * a region stays within that region's prefix range.
 *
 * Raft engine (CF `raft`):
 *   raft_log_key(rid, idx) = 0x01 0x02 rid(8B) 0x01 idx(8B)
 *   raft_state_key(rid)    = 0x01 0x02 rid(8B) 0x02          (RaftLocalState)
 * KV engine (CF `meta`):
 *   apply_state_key(rid)   = 0x01 0x02 rid(8B) 0x03          (RaftApplyState)
 *   region_state_key(rid)  = 0x01 0x03 rid(8B) 0x01          (RegionLocalState)
 */
import { assert } from '../../util/assert.js';

export const LOCAL_PREFIX = 0x01;
/** Second byte of the per-region raft keys (log, raft state, apply state). */
export const REGION_RAFT_PREFIX = 0x02;
/** Second byte of the per-region meta keys (region state). */
export const REGION_META_PREFIX = 0x03;

export const RAFT_LOG_SUFFIX = 0x01;
export const RAFT_STATE_SUFFIX = 0x02;
export const APPLY_STATE_SUFFIX = 0x03;
export const REGION_STATE_SUFFIX = 0x01;

/** TinyKV's `PrepareBootstrapKey` (0x01 0x01) and `StoreIdentKey` (0x01 0x02). */
export const PREPARE_BOOTSTRAP_KEY: Uint8Array = Uint8Array.of(LOCAL_PREFIX, 0x01);
export const STORE_IDENT_KEY: Uint8Array = Uint8Array.of(LOCAL_PREFIX, 0x02);

/** Length of prefix(2) + region id(8) + suffix(1). */
const REGION_KEY_BYTES = 11;
const RAFT_LOG_KEY_BYTES = REGION_KEY_BYTES + 8;

/** Writes `n` as 8 bytes big-endian at `offset`. Ids and indexes are non-negative safe integers. */
function putU64(buf: Uint8Array, offset: number, n: number): void {
  if (!(Number.isSafeInteger(n) && n >= 0)) assert(false, `meta key: ${n} is not a non-negative safe integer`);
  // Byte arithmetic rather than a DataView: this runs for every raft log key.
  let hi = Math.floor(n / 2 ** 32);
  let lo = n >>> 0;
  for (let i = 7; i >= 4; i--) {
    buf[offset + i] = lo & 0xff;
    lo >>>= 8;
  }
  for (let i = 3; i >= 0; i--) {
    buf[offset + i] = hi & 0xff;
    hi >>>= 8;
  }
}

function getU64(buf: Uint8Array, offset: number): number {
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < 4; i++) hi = hi * 256 + (buf[offset + i] as number);
  for (let i = 4; i < 8; i++) lo = lo * 256 + (buf[offset + i] as number);
  const n = hi * 2 ** 32 + lo;
  if (!Number.isSafeInteger(n)) assert(false, `meta key: index at ${offset} exceeds 2^53`);
  return n;
}

function regionKey(prefix: number, regionId: number, suffix: number, extraBytes: number): Uint8Array {
  const key = new Uint8Array(REGION_KEY_BYTES + extraBytes);
  key[0] = LOCAL_PREFIX;
  key[1] = prefix;
  putU64(key, 2, regionId);
  key[10] = suffix;
  return key;
}

export function raftLogKey(regionId: number, index: number): Uint8Array {
  const key = regionKey(REGION_RAFT_PREFIX, regionId, RAFT_LOG_SUFFIX, 8);
  putU64(key, REGION_KEY_BYTES, index);
  return key;
}

export function raftStateKey(regionId: number): Uint8Array {
  return regionKey(REGION_RAFT_PREFIX, regionId, RAFT_STATE_SUFFIX, 0);
}

export function applyStateKey(regionId: number): Uint8Array {
  return regionKey(REGION_RAFT_PREFIX, regionId, APPLY_STATE_SUFFIX, 0);
}

export function regionStateKey(regionId: number): Uint8Array {
  return regionKey(REGION_META_PREFIX, regionId, REGION_STATE_SUFFIX, 0);
}

/**
 * [start, end) covering every raft log key of the region and nothing else:
 * start = raft_log_key(rid, 0), end = the log prefix with suffix 0x02 (which
 * is also raft_state_key, the first key after the log).
 */
export function raftLogKeyRange(regionId: number): { readonly start: Uint8Array; readonly end: Uint8Array } {
  return { start: raftLogKey(regionId, 0), end: regionKey(REGION_RAFT_PREFIX, regionId, RAFT_LOG_SUFFIX + 1, 0) };
}

/** True when `key` is a raft log key of `regionId`. */
export function isRaftLogKey(key: Uint8Array, regionId: number): boolean {
  if (key.length !== RAFT_LOG_KEY_BYTES) return false;
  if (key[0] !== LOCAL_PREFIX || key[1] !== REGION_RAFT_PREFIX || key[10] !== RAFT_LOG_SUFFIX) return false;
  return getU64(key, 2) === regionId;
}

/** The log index of a raft log key. @throws {AssertionError} when `key` is not a raft log key. */
export function raftLogIndex(key: Uint8Array): number {
  assert(key.length === RAFT_LOG_KEY_BYTES, `raft log key must be ${RAFT_LOG_KEY_BYTES} bytes, got ${key.length}`);
  assert(key[0] === LOCAL_PREFIX && key[1] === REGION_RAFT_PREFIX, 'raft log key: wrong prefix');
  assert(key[10] === RAFT_LOG_SUFFIX, 'raft log key: wrong suffix');
  return getU64(key, REGION_KEY_BYTES);
}

/** The region id of any per-region meta key built above. @throws {AssertionError} on a foreign key. */
export function regionIdOfKey(key: Uint8Array): number {
  assert(key.length >= REGION_KEY_BYTES && key[0] === LOCAL_PREFIX, 'not a region meta key');
  assert(key[1] === REGION_RAFT_PREFIX || key[1] === REGION_META_PREFIX, 'not a region meta key');
  return getU64(key, 2);
}
