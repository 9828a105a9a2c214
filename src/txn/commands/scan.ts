/**
 * KvScan (TinyKV 4C): a snapshot read of up to `limit` keys from `startKey`
 * on, at `version`, through the {@link Scanner}. A key locked by a txn with
 * lock ts <= version cannot be decided by the read (that txn may commit
 * below `version`), so its pair carries KeyError.locked instead of a value,
 * as TiKV does; the client resolves the lock and scans again. Locked pairs
 * count toward `limit`.
 *
 * TinyKV's ScanRequest has no end key: the scan runs to the end of the
 * region the reader covers (a region-bounded reader's iterators stop there),
 * and the client continues in the next region. Like RawScan, the response is
 * also cut before a pair that would take it past `scanResponseBytesMax`
 * (always keeping at least one pair). `limit` 0 answers no pairs
 * (TestScanLimitZero4C). Read-only: no latches, the read view is consistent.
 */
import { scanResponseBytesMax } from '../../config/limits.js';
import type { KvPair, ScanRequest, ScanResponse } from '../../pb/kvrpcpb.js';
import type { Storage } from '../../storage/storage.js';
import { Scanner } from '../scanner.js';
import type { ScanEntry } from '../scanner.js';
import { answeringRegionErrors, keyError, lockInfo, storageContext, toBuffer } from './_common.js';

/** @throws {MvccError} on corrupt MVCC records; storage errors other than region errors. */
export async function kvScan(storage: Storage, req: ScanRequest): Promise<ScanResponse> {
  if (req.limit === 0) return { regionError: undefined, pairs: [] };
  return answeringRegionErrors<ScanResponse>(async () => {
    const reader = await storage.reader(storageContext(req.context));
    const scanner = new Scanner(reader, req.version, { startKey: req.startKey });
    const pairs: KvPair[] = [];
    let bytes = 0;
    try {
      // Bounded by `limit` (validated at the edge to at most scanLimitMax).
      while (pairs.length < req.limit) {
        const entry = scanner.next();
        if (entry === undefined) break;
        const pair = toPair(entry);
        bytes += pair.key.length + pair.value.length + (entry.kind === 'locked' ? entry.lock.primary.length : 0);
        if (bytes > scanResponseBytesMax && pairs.length > 0) break;
        pairs.push(pair);
      }
    } finally {
      scanner.close();
      reader.close();
    }
    return { regionError: undefined, pairs };
  }, (regionError) => ({ regionError, pairs: [] }));
}

function toPair(entry: ScanEntry): KvPair {
  if (entry.kind === 'locked') {
    return { error: keyError({ locked: lockInfo(entry.key, entry.lock) }), key: toBuffer(entry.key), value: Buffer.alloc(0) };
  }
  return { error: undefined, key: toBuffer(entry.key), value: toBuffer(entry.value) };
}
