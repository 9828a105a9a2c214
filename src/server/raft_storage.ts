/**
 * The replicated {@link Storage} (TinyKV `kv/storage/raft_storage`): writes
 * and reads go through the raft group of the region named by the request
 * context, via this store's peer of it. A write resolves once its entry is
 * committed (durable on a majority) and applied here; a reader is a read
 * view taken by a ReadIndex read on the leader (linearizable), bounded to the
 * region it was taken for.
 *
 * A refusal by the raftstore (NotLeader, EpochNotMatch, KeyNotInRegion,
 * StaleCommand, …) is thrown as a `StorageError` with code
 * `STORAGE_REGION_ERROR` carrying the errorpb.Error; the request handlers
 * answer it in the response's `regionError` field (raw_api.ts).
 *
 * A context with region id 0 (a client that does not route, such as the
 * standalone RawClient) means "the one region this store holds": with a
 * single region covering every key, it behaves like standalone storage.
 */
import type { Error as RegionError } from '../pb/errorpb.js';
import type { Region } from '../pb/metapb.js';
import { CmdType } from '../pb/raft_cmdpb.js';
import type { RaftCmdResponse, RaftRequestHeader, Request } from '../pb/raft_cmdpb.js';
import { keyInRegion } from '../raftstore/cmd_check.js';
import type { RegionView } from '../raftstore/peer.js';
import { keyNotInRegion, regionNotFound } from '../raftstore/region_errors.js';
import type { CfName, ReadView } from '../storage/engine.js';
import { EngineIterator } from '../storage/engine_iterator.js';
import { checkDataCf, StorageError, STORAGE_ERROR_CODES } from '../storage/storage.js';
import type { DBIterator, Modify, Storage, StorageContext, StorageReader } from '../storage/storage.js';
import { assert } from '../util/assert.js';
import type { StoreNode } from './store_node.js';

export class RaftStorage implements Storage {
  /** Serves through `node`; {@link stop} stops it. */
  constructor(private readonly node: StoreNode) {}

  async start(): Promise<void> {
    this.checkRunning();
  }

  /** Stops the store node (idempotent). */
  async stop(): Promise<void> {
    await this.node.stop();
  }

  /**
   * Proposes `batch` as one command: atomic, and durable once this resolves.
   * @throws {StorageError} STORAGE_REGION_ERROR when the raftstore refuses it
   * (the outcome is definite unless the region error says OutcomeUnknown);
   * STORAGE_INVALID_CF; STORAGE_STOPPED.
   */
  async write(ctx: StorageContext, batch: readonly Modify[]): Promise<void> {
    this.checkRunning();
    const requests = batch.map(toRequest);
    if (requests.length === 0) return;
    const { response } = await this.node.command({ header: this.header(ctx), requests, adminRequest: undefined });
    throwRegionError(response);
  }

  /**
   * A reader over a read view of the region, taken once a ReadIndex read
   * confirmed this store's peer leads it. Close it when done.
   * @throws {StorageError} STORAGE_REGION_ERROR, STORAGE_STOPPED.
   */
  async reader(ctx: StorageContext): Promise<StorageReader> {
    this.checkRunning();
    const snap: Request = { cmdType: CmdType.Snap, get: undefined, put: undefined, delete: undefined, snap: {} };
    const { response, regionView } = await this.node.command({ header: this.header(ctx), requests: [snap], adminRequest: undefined });
    if (response.header?.error !== undefined) {
      regionView?.view.close();
      throwRegionError(response);
    }
    assert(regionView !== undefined, `store ${this.node.storeId}: a successful Snap read came without a read view`);
    return new RegionReader(regionView);
  }

  private header(ctx: StorageContext): RaftRequestHeader {
    if (ctx.regionId !== 0) {
      return {
        regionId: ctx.regionId,
        peer: ctx.peer === undefined ? undefined : { id: ctx.peer.id, storeId: ctx.peer.storeId },
        regionEpoch: ctx.regionEpoch === undefined ? undefined : { confVer: ctx.regionEpoch.confVer, version: ctx.regionEpoch.version },
        term: ctx.term,
      };
    }
    const ids = this.node.regionIds();
    const regionId = ids[0];
    if (ids.length !== 1 || regionId === undefined) throw StorageError.region(regionNotFound(0));
    const region = this.node.region(regionId) as Region;
    const epoch = region.regionEpoch;
    return {
      regionId,
      peer: this.node.localPeer(regionId),
      regionEpoch: epoch === undefined ? undefined : { confVer: epoch.confVer, version: epoch.version },
      term: 0,
    };
  }

  private checkRunning(): void {
    if (!this.node.isRunning) throw new StorageError(STORAGE_ERROR_CODES.Stopped, `Store ${this.node.storeId} is not running`);
  }
}

/** A read view bounded to its region (TinyKV `RegionReader`). */
class RegionReader implements StorageReader {
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

/**
 * Iterates [max(seek key, region start), region end): a seek before the
 * region starts at its first key, and the iterator is invalid past its end.
 */
function toRequest(m: Modify): Request {
  checkDataCf(m.cf);
  const key = Buffer.from(m.key.buffer, m.key.byteOffset, m.key.byteLength);
  if (m.type === 'put') {
    const value = Buffer.from(m.value.buffer, m.value.byteOffset, m.value.byteLength);
    return { cmdType: CmdType.Put, get: undefined, put: { cf: m.cf, key, value }, delete: undefined, snap: undefined };
  }
  return { cmdType: CmdType.Delete, get: undefined, put: undefined, delete: { cf: m.cf, key }, snap: undefined };
}

function throwRegionError(response: RaftCmdResponse): void {
  const error: RegionError | undefined = response.header?.error;
  if (error !== undefined) throw StorageError.region(error);
}
