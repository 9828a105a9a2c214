/**
 * Region snapshot data (the bytes of `eraftpb.Snapshot.data`): pure functions
 * to build it from a consistent engine read view, decode and validate it, and
 * stage applying it into a kv WriteBatch (TinyKV `snap.go` / region worker,
 * much simplified).
 *
 * Encoding: a `RaftSnapshotData{region=1, file_size=2, data=3, meta=5}`
 * message (PROTOCOL.md). The schema types `data` as `repeated KeyValue`, so
 * each key/value is one protobuf-length-delimited `KeyValue{key, value}`
 * (the length prefixes are protobuf's own) rather than a hand-made blob:
 * - `data` holds the entries grouped by column family, in the order of
 *   `meta.cf_files`, each group in strictly increasing key order;
 * - `meta.cf_files[i] = {cf, size, checksum}` names the i-th group's column
 *   family (`default`, `lock`, `write`, each at most once), `size` is its
 *   number of entries and `checksum` the FNV-1a 32-bit hash over, per entry,
 *   key length (4B BE), key, value length (4B BE), value;
 * - `file_size` is the total number of key and value bytes;
 * - `region` is the region the data belongs to; every key lies in
 *   [region.start_key, region.end_key) (empty end = unbounded).
 *
 * Everything is held in one message for now: sending it in bounded chunks
 * (issue 5, Snapshots; `SnapshotChunk`) comes with the transport.
 */
import type { Region } from '../pb/metapb.js';
import { RaftSnapshotData } from '../pb/raft_serverpb.js';
import type { KeyValue, SnapshotCFFile } from '../pb/raft_serverpb.js';
import { DATA_CFS } from '../storage/engine.js';
import type { CfName, Reader } from '../storage/engine.js';
import { inRange } from '../storage/write_batch.js';
import type { WriteBatch } from '../storage/write_batch.js';
import { compareBytes } from '../util/bytes.js';
import { CodedError } from '../util/errors.js';

export const SNAPSHOT_ERROR_CODES = {
  /** The bytes are not a RaftSnapshotData message. */
  Malformed: 'SNAPSHOT_MALFORMED',
  /** The message decodes but breaks the encoding rules above. */
  Invalid: 'SNAPSHOT_INVALID',
} as const;
export type SnapshotErrorCode = (typeof SNAPSHOT_ERROR_CODES)[keyof typeof SNAPSHOT_ERROR_CODES];

/** Snapshot data that cannot be applied (an operating error: the bytes came from the network). */
export class SnapshotError extends CodedError<SnapshotErrorCode> {
  override readonly name = 'SnapshotError';
}

/** One column family's entries, in key order. */
export interface SnapshotCf {
  readonly cf: CfName;
  readonly entries: readonly KeyValue[];
}

/** Decoded, validated snapshot data. */
export interface RegionSnapshotData {
  readonly region: Region;
  readonly cfs: readonly SnapshotCf[];
}

/** Reads every key of the data CFs within the region's range from `reader` (a read view). */
export function collectRegionData(reader: Reader, region: Region): RegionSnapshotData {
  const cfs: SnapshotCf[] = DATA_CFS.map((cf) => {
    const entries: KeyValue[] = [];
    for (const { key, value } of reader.scan(cf, { start: region.startKey, end: region.endKey })) {
      entries.push({ key: Buffer.from(key), value: Buffer.from(value) });
    }
    return { cf, entries };
  });
  return { region, cfs };
}

/** Encodes snapshot data (see the file comment for the layout). */
export function encodeSnapshotData(data: RegionSnapshotData): Buffer {
  const cfFiles: SnapshotCFFile[] = [];
  const entries: KeyValue[] = [];
  let fileSize = 0;
  for (const { cf, entries: es } of data.cfs) {
    cfFiles.push({ cf, size: es.length, checksum: checksumOf(es) });
    for (const e of es) {
      entries.push(e);
      fileSize += e.key.length + e.value.length;
    }
  }
  const msg: RaftSnapshotData = { region: data.region, fileSize, data: entries, meta: { cfFiles } };
  return Buffer.from(RaftSnapshotData.encode(msg).finish());
}

/** Builds the snapshot bytes of `region` from a consistent read view. */
export function buildSnapshotData(reader: Reader, region: Region): Buffer {
  return encodeSnapshotData(collectRegionData(reader, region));
}

/**
 * Decodes and validates snapshot bytes.
 * @throws {SnapshotError} Malformed when the bytes do not decode, Invalid when
 * the content breaks a rule (unknown or repeated CF, counts, order, range,
 * checksum, size).
 */
export function decodeSnapshotData(bytes: Uint8Array): RegionSnapshotData {
  let msg: RaftSnapshotData;
  try {
    msg = RaftSnapshotData.decode(bytes);
  } catch (err) {
    throw new SnapshotError(SNAPSHOT_ERROR_CODES.Malformed, `snapshot data does not decode: ${String(err)}`, { cause: err });
  }
  const invalid = (why: string): SnapshotError => new SnapshotError(SNAPSHOT_ERROR_CODES.Invalid, `invalid snapshot data: ${why}`);
  const region = msg.region;
  if (region === undefined) throw invalid('no region');
  if (!(Number.isSafeInteger(region.id) && region.id > 0)) throw invalid(`region id ${region.id}`);
  if (region.endKey.length > 0 && compareBytes(region.startKey, region.endKey) >= 0) throw invalid('empty region range');
  const cfFiles = msg.meta?.cfFiles ?? [];
  const seen = new Set<string>();
  const cfs: SnapshotCf[] = [];
  let at = 0;
  let fileSize = 0;
  for (const file of cfFiles) {
    const cf = DATA_CFS.find((c) => c === file.cf);
    if (cf === undefined) throw invalid(`unknown column family ${JSON.stringify(file.cf)}`);
    if (seen.has(cf)) throw invalid(`column family ${cf} repeated`);
    seen.add(cf);
    if (!(Number.isSafeInteger(file.size) && file.size >= 0 && at + file.size <= msg.data.length)) {
      throw invalid(`${cf}: ${file.size} entries, ${msg.data.length - at} left`);
    }
    const entries = msg.data.slice(at, at + file.size);
    at += file.size;
    let prev: Uint8Array | undefined;
    for (const e of entries) {
      if (e.key.length === 0) throw invalid(`${cf}: empty key`);
      if (prev !== undefined && compareBytes(prev, e.key) >= 0) throw invalid(`${cf}: keys out of order`);
      if (!inRange(e.key, region.startKey, region.endKey)) throw invalid(`${cf}: key outside region ${region.id}`);
      prev = e.key;
      fileSize += e.key.length + e.value.length;
    }
    if (checksumOf(entries) !== file.checksum) throw invalid(`${cf}: checksum mismatch`);
    cfs.push({ cf, entries });
  }
  if (at !== msg.data.length) throw invalid(`${msg.data.length - at} entries belong to no column family`);
  if (fileSize !== msg.fileSize) throw invalid(`file size ${msg.fileSize}, entries hold ${fileSize}`);
  return { region, cfs };
}

/**
 * Stages applying snapshot data into a kv batch: every data CF is cleared
 * over the snapshot region's range, then the entries are put. Clearing the
 * peer's previous range (when it differs) is the caller's business
 * ({@link stageClearRange}), and only for an initialized peer.
 */
export function stageApplySnapshotData(kvBatch: WriteBatch, data: RegionSnapshotData): void {
  stageClearRange(kvBatch, data.region.startKey, data.region.endKey);
  for (const { cf, entries } of data.cfs) {
    for (const e of entries) kvBatch.put(cf, e.key, e.value);
  }
}

/** Stages deleting every data-CF key in [start, end) (empty end = unbounded). */
export function stageClearRange(kvBatch: WriteBatch, start: Uint8Array, end: Uint8Array): void {
  for (const cf of DATA_CFS) kvBatch.deleteRange(cf, start, end);
}

/** FNV-1a 32-bit over key length, key, value length, value of each entry. */
function checksumOf(entries: readonly KeyValue[]): number {
  let h = 0x811c9dc5;
  const mix = (b: number): void => {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  };
  const mixLen = (n: number): void => {
    mix((n >>> 24) & 0xff);
    mix((n >>> 16) & 0xff);
    mix((n >>> 8) & 0xff);
    mix(n & 0xff);
  };
  for (const e of entries) {
    mixLen(e.key.length);
    for (const b of e.key) mix(b);
    mixLen(e.value.length);
    for (const b of e.value) mix(b);
  }
  return h >>> 0;
}
