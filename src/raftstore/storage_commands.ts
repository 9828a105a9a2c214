/**
 * The raft commands that serve the Storage interface (src/storage/storage.ts)
 * over a raftstore, as TiKV's `RaftKv` (src/server/raftkv.rs) builds them: a
 * request context becomes a RaftRequestHeader, a batch of modifies one
 * command of puts and deletes (atomic: one raft entry), a read a Snap; a
 * region error in the answer becomes a STORAGE_REGION_ERROR, which the txn
 * and raw handlers answer in the response's `regionError` field. Shared by
 * `RaftStorage` (src/server) and the simulator's `SimRaftStorage`, so both
 * shells propose exactly the same commands.
 */
import type { Error as RegionError } from '../pb/errorpb.js';
import { CmdType } from '../pb/raft_cmdpb.js';
import type { RaftCmdResponse, RaftRequestHeader, Request } from '../pb/raft_cmdpb.js';
import { checkDataCf, StorageError } from '../storage/storage.js';
import type { Modify, StorageContext } from '../storage/storage.js';

/** The header of a command routed by `ctx` (region id, epoch and peer as the client sent them). */
export function routedHeader(ctx: StorageContext): RaftRequestHeader {
  return {
    regionId: ctx.regionId,
    peer: ctx.peer === undefined ? undefined : { id: ctx.peer.id, storeId: ctx.peer.storeId },
    regionEpoch: ctx.regionEpoch === undefined ? undefined : { confVer: ctx.regionEpoch.confVer, version: ctx.regionEpoch.version },
    term: ctx.term,
  };
}

/**
 * One modify as a raft Put or Delete request.
 * @throws {StorageError} STORAGE_INVALID_CF for an internal column family.
 */
export function modifyRequest(m: Modify): Request {
  checkDataCf(m.cf);
  const key = Buffer.from(m.key.buffer, m.key.byteOffset, m.key.byteLength);
  if (m.type === 'put') {
    const value = Buffer.from(m.value.buffer, m.value.byteOffset, m.value.byteLength);
    return { cmdType: CmdType.Put, get: undefined, put: { cf: m.cf, key, value }, delete: undefined, snap: undefined };
  }
  return { cmdType: CmdType.Delete, get: undefined, put: undefined, delete: { cf: m.cf, key }, snap: undefined };
}

/** The Snap request whose answer carries a read view of the region (ReadIndex on the leader). */
export function snapRequest(): Request {
  return { cmdType: CmdType.Snap, get: undefined, put: undefined, delete: undefined, snap: {} };
}

/** @throws {StorageError} STORAGE_REGION_ERROR carrying the answer's region error, if it has one. */
export function throwRegionError(response: RaftCmdResponse): void {
  const error: RegionError | undefined = response.header?.error;
  if (error !== undefined) throw StorageError.region(error);
}
