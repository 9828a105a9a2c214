/**
 * Every bound of TinyKV.ts, named with units and qualifiers last (TigerStyle).
 * Relationships between constants are asserted when the module loads, the
 * TypeScript stand-in for TigerBeetle's comptime asserts.
 *
 * Key and value limits (documented for users in docs/LIMITS.md):
 *
 * LMDB refuses keys longer than {@link engineKeyBytesMax} (1,978 bytes with
 * its default 4 KiB pages). A user key reaches the engine after two
 * transformations that later layers add:
 *  - a column-family prefix (TinyKV's on-disk `cf + "_" + key`; we keep room
 *    for it even though our LMDB engine stores column families as named DBs);
 *  - the MVCC encoding of transactions: memcomparable groups (8 bytes become
 *    9, so a key of n bytes becomes 9 * (floor(n / 8) + 1) bytes) followed by
 *    an 8-byte inverted timestamp.
 * {@link userKeyBytesMax} is chosen so that the worst case still fits, which
 * {@link mvccEncodedKeyBytes} and the asserts below prove.
 */
import { assert } from '../util/assert.js';

/** LMDB's maximum key size with default page size (mdb_env_get_maxkeysize). */
export const engineKeyBytesMax = 1978;

/** Longest column-family prefix we budget for: `"default_"`. */
export const cfPrefixBytesMax = 'default_'.length;

/** Longest user key accepted by any API (raw and transactional). */
export const userKeyBytesMax = 1024;

/**
 * Largest value accepted by any API. Bounded so that a single write fits a
 * raft entry and a gRPC message with room to spare.
 */
export const userValueBytesMax = 1024 * 1024;

/** Largest `limit` a scan request may ask for. */
export const scanLimitMax = 10_000;

/**
 * Byte budget of one scan response (sum of key and value lengths). A server
 * stops a scan early, before `limit`, only when the next pair would exceed
 * this budget; a client detects that case with {@link scanResponseMayBeTruncated}.
 */
export const scanResponseBytesMax = 16 * 1024 * 1024;

/** Largest gRPC message the server and client accept, in bytes. */
export const grpcMessageBytesMax = 64 * 1024 * 1024;

/** Default deadline of a client call, in milliseconds. */
export const clientDeadlineMsDefault = 10_000;

/**
 * Longest key the scheduler accepts in a request: region boundaries (split
 * keys, which the raftstore bounds by {@link userKeyBytesMax}) and lookup
 * keys. No key in the system is longer than an engine can hold.
 */
export const schedulerKeyBytesMax = engineKeyBytesMax;

/**
 * Most peers a region reported to the scheduler may have: up to 9 replicas
 * (the schedule config's bound) plus one being added by a move, with room.
 */
export const schedulerRegionPeersMax = 16;

/**
 * Responses queued on one RegionHeartbeat stream before more are dropped (a
 * store that does not read its stream). Dropping is safe: an operator's
 * step is re-sent on the region's next heartbeat (TinyKV's heartbeat stream
 * channel drops when full too).
 */
export const schedulerHeartbeatQueueMax = 1024;

/** Default period of the scheduler's coordinator tick, in milliseconds. */
export const schedulerTickMsDefault = 100;

/** Size of a key after TinyKV's MVCC encoding (memcomparable + 8-byte timestamp). */
export function mvccEncodedKeyBytes(userKeyBytes: number): number {
  return 9 * (Math.floor(userKeyBytes / 8) + 1) + 8;
}

/**
 * True when a scan response of `pairBytes` total key+value bytes may have been
 * cut short by {@link scanResponseBytesMax} rather than by the end of data:
 * the server adds a pair only while the total stays within the budget, so a
 * response that could still take the largest possible pair was not cut.
 */
export function scanResponseMayBeTruncated(pairBytes: number): boolean {
  return pairBytes + userKeyBytesMax + userValueBytesMax > scanResponseBytesMax;
}

assert(
  cfPrefixBytesMax + mvccEncodedKeyBytes(userKeyBytesMax) <= engineKeyBytesMax,
  'userKeyBytesMax must fit LMDB after the CF prefix and MVCC encoding',
);
assert(userKeyBytesMax + userValueBytesMax < scanResponseBytesMax, 'one pair must fit a scan response');
assert(scanResponseBytesMax * 2 <= grpcMessageBytesMax, 'a full scan response must fit a gRPC message');
assert(userValueBytesMax * 4 <= grpcMessageBytesMax, 'a put request must fit a gRPC message');
assert(Number.isSafeInteger(scanLimitMax) && scanLimitMax > 0, 'scanLimitMax must be positive');
assert(schedulerKeyBytesMax >= userKeyBytesMax, 'the scheduler must accept every split key the raftstore accepts');
assert(Number.isSafeInteger(schedulerRegionPeersMax) && schedulerRegionPeersMax > 9, 'schedulerRegionPeersMax must exceed the largest maxReplicas');
// A full ScanRegions answer: each region's two keys, its peers (two varint u64s each, with tags) and its
// id, epoch and leader (generous 64 bytes), within one gRPC message.
assert(scanLimitMax * (2 * schedulerKeyBytesMax + schedulerRegionPeersMax * 24 + 64) <= grpcMessageBytesMax, 'a full ScanRegions answer must fit a gRPC message');
