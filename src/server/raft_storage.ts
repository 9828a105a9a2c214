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
import type { Region } from '../pb/metapb.js';
import type { RaftRequestHeader } from '../pb/raft_cmdpb.js';
import { RegionReader } from '../raftstore/region_reader.js';
import { regionNotFound } from '../raftstore/region_errors.js';
import { modifyRequest, routedHeader, snapRequest, throwRegionError } from '../raftstore/storage_commands.js';
import { StorageError, STORAGE_ERROR_CODES } from '../storage/storage.js';
import type { Modify, Storage, StorageContext, StorageReader } from '../storage/storage.js';
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
    const requests = batch.map(modifyRequest);
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
    const { response, regionView } = await this.node.command({ header: this.header(ctx), requests: [snapRequest()], adminRequest: undefined });
    if (response.header?.error !== undefined) {
      regionView?.view.close();
      throwRegionError(response);
    }
    assert(regionView !== undefined, `store ${this.node.storeId}: a successful Snap read came without a read view`);
    return new RegionReader(regionView);
  }

  private header(ctx: StorageContext): RaftRequestHeader {
    if (ctx.regionId !== 0) return routedHeader(ctx);
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
