/**
 * TinyKV's `RegionReader` (kv/storage/raft_storage/region_reader.go): a
 * {@link StorageReader} over the read view a Snap command returned, bounded
 * to the region the view was taken for. Shared by the shells that serve the
 * Storage interface over a raftstore: `RaftStorage` (src/server) and the
 * simulator's `SimRaftStorage` (src/sim/cluster), so both refuse a key
 * outside the region the same way.
 */
import type { Region } from '../pb/metapb.js';
import type { CfName, ReadView } from '../storage/engine.js';
import { EngineIterator } from '../storage/engine_iterator.js';
import { checkDataCf, StorageError } from '../storage/storage.js';
import type { DBIterator, StorageReader } from '../storage/storage.js';
import { keyInRegion } from './cmd_check.js';
import type { RegionView } from './reads.js';
import { keyNotInRegion } from './region_errors.js';

/** A read view bounded to its region (TinyKV `RegionReader`). Closing it closes the view. */
export class RegionReader implements StorageReader {
  private readonly iterators = new Set<DBIterator>();
  private readonly region: Region;
  private readonly view: ReadView;

  constructor(regionView: RegionView) {
    this.region = regionView.region;
    this.view = regionView.view;
  }

  /** @throws {StorageError} STORAGE_REGION_ERROR (KeyNotInRegion) for a key outside the region. */
  getCF(cf: CfName, key: Uint8Array): Uint8Array | undefined {
    checkDataCf(cf);
    if (!keyInRegion(key, this.region)) throw StorageError.region(keyNotInRegion(key, this.region));
    return this.view.get(cf, key);
  }

  /**
   * Iterates [max(seek key, region start), region end): a seek before the
   * region starts at its first key, and the iterator is invalid past its end.
   */
  iterCF(cf: CfName): DBIterator {
    checkDataCf(cf);
    const it = new EngineIterator(this.view, cf, { start: this.region.startKey, end: this.region.endKey });
    this.iterators.add(it);
    return it;
  }

  close(): void {
    for (const it of this.iterators) it.close();
    this.iterators.clear();
    this.view.close();
  }
}
