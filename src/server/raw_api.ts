/**
 * The raw key-value commands (TinyKV kv/server/raw_api.go): no transactions,
 * no MVCC, just column-family-addressed bytes. Every handler validates its
 * input first and answers bad input in the response's `error` field without
 * touching storage. A region error from replicated storage (NotLeader,
 * EpochNotMatch, KeyNotInRegion, …: a `STORAGE_REGION_ERROR`) is answered in
 * the response's `regionError` field, as TinyKV does; other storage failures
 * propagate as thrown errors, which the gRPC edge maps to a status
 * (server/grpc_errors.ts).
 */
import { scanResponseBytesMax } from '../config/limits.js';
import type {
  KvPair,
  RawDeleteRequest,
  RawDeleteResponse,
  RawGetRequest,
  RawGetResponse,
  RawPutRequest,
  RawPutResponse,
  RawScanRequest,
  RawScanResponse,
} from '../pb/kvrpcpb.js';
import { answeringRegionErrors } from '../storage/storage.js';
import type { Storage, StorageContext } from '../storage/storage.js';
import { toBuffer } from './buffers.js';
import { checkCf, checkKey, checkScanLimit, checkStartKey, checkValue } from './validate.js';

const NO_CONTEXT: StorageContext = { regionId: 0, term: 0 };

export async function rawGet(storage: Storage, req: RawGetRequest): Promise<RawGetResponse> {
  const res: RawGetResponse = { regionError: undefined, error: '', value: Buffer.alloc(0), notFound: false };
  const cf = checkCf(req.cf);
  if (!cf.ok) return { ...res, error: cf.error };
  const keyError = checkKey(req.key);
  if (keyError !== undefined) return { ...res, error: keyError };
  return answeringRegionErrors<RawGetResponse>(async () => {
    const reader = await storage.reader(req.context ?? NO_CONTEXT);
    try {
      const value = reader.getCF(cf.value, req.key);
      return value === undefined ? { ...res, notFound: true } : { ...res, value: toBuffer(value) };
    } finally {
      reader.close();
    }
  }, (regionError) => ({ ...res, regionError }));
}

export async function rawPut(storage: Storage, req: RawPutRequest): Promise<RawPutResponse> {
  const cf = checkCf(req.cf);
  if (!cf.ok) return { regionError: undefined, error: cf.error };
  const error = checkKey(req.key) ?? checkValue(req.value);
  if (error !== undefined) return { regionError: undefined, error };
  return answeringRegionErrors<RawPutResponse>(async () => {
    await storage.write(req.context ?? NO_CONTEXT, [{ type: 'put', cf: cf.value, key: req.key, value: req.value }]);
    return { regionError: undefined, error: '' };
  }, (regionError) => ({ regionError, error: '' }));
}

export async function rawDelete(storage: Storage, req: RawDeleteRequest): Promise<RawDeleteResponse> {
  const cf = checkCf(req.cf);
  if (!cf.ok) return { regionError: undefined, error: cf.error };
  const error = checkKey(req.key);
  if (error !== undefined) return { regionError: undefined, error };
  return answeringRegionErrors<RawDeleteResponse>(async () => {
    await storage.write(req.context ?? NO_CONTEXT, [{ type: 'delete', cf: cf.value, key: req.key }]);
    return { regionError: undefined, error: '' };
  }, (regionError) => ({ regionError, error: '' }));
}

/**
 * Returns up to `limit` pairs from `startKey` on, in key order. It stops
 * early only when the next pair would push the response past
 * `scanResponseBytesMax` (always returning at least one pair); clients tell
 * that case apart with `scanResponseMayBeTruncated` (config/limits.ts).
 */
export async function rawScan(storage: Storage, req: RawScanRequest): Promise<RawScanResponse> {
  const cf = checkCf(req.cf);
  if (!cf.ok) return { regionError: undefined, error: cf.error, kvs: [] };
  const error = checkStartKey(req.startKey) ?? checkScanLimit(req.limit);
  if (error !== undefined) return { regionError: undefined, error, kvs: [] };
  const limit = req.limit;
  return answeringRegionErrors<RawScanResponse>(async () => {
    const reader = await storage.reader(req.context ?? NO_CONTEXT);
    const kvs: KvPair[] = [];
    let bytes = 0;
    try {
      const it = reader.iterCF(cf.value);
      it.seek(req.startKey);
      for (; it.valid() && kvs.length < limit; it.next()) {
        const { key, value } = it.item();
        bytes += key.length + value.length;
        if (bytes > scanResponseBytesMax && kvs.length > 0) break;
        kvs.push({ error: undefined, key: toBuffer(key), value: toBuffer(value) });
      }
    } finally {
      reader.close();
    }
    return { regionError: undefined, error: '', kvs };
  }, (regionError) => ({ regionError, error: '', kvs: [] }));
}
