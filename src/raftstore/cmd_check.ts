/**
 * Checks a command against the peer that received it, before it is proposed
 * or read (TinyKV `preProposeRaftCommand` + `util.CheckRegionEpoch`), and
 * again at apply time for what may have changed meanwhile (the epoch). Pure
 * functions: they return the region error to answer, or undefined.
 */
import type { Error as RegionError } from '../pb/errorpb.js';
import type { Region, RegionEpoch } from '../pb/metapb.js';
import { AdminCmdType, CmdType } from '../pb/raft_cmdpb.js';
import type { RaftCmdRequest, Request } from '../pb/raft_cmdpb.js';
import { CF_DEFAULT, DATA_CFS, isCfName } from '../storage/engine.js';
import { assert } from '../util/assert.js';
import { compareBytes } from '../util/bytes.js';
import { userKeyBytesMax, userValueBytesMax } from '../config/limits.js';
import { epochNotMatch, invalidRequest, keyNotInRegion, regionNotFound, staleCommand, storeNotMatch } from './region_errors.js';

/** What a command does, which decides how it is served. */
export type CmdKind = 'read' | 'write' | 'admin';

/**
 * Classifies a command: only reads (served by ReadIndex, no log write), only
 * writes, or one admin request. Mixed reads and writes are refused (TiKV
 * refuses them too): a read inside a write batch would need the batch's own
 * uncommitted writes.
 */
export function classify(req: RaftCmdRequest): CmdKind | RegionError {
  if (req.adminRequest !== undefined) {
    if (req.requests.length > 0) return invalidRequest('admin and normal requests in one command');
    return 'admin';
  }
  if (req.requests.length === 0) return invalidRequest('empty command');
  let reads = 0;
  for (const r of req.requests) if (r.cmdType === CmdType.Get || r.cmdType === CmdType.Snap) reads++;
  if (reads === req.requests.length) return 'read';
  if (reads === 0) return 'write';
  return invalidRequest('reads and writes mixed in one command');
}

/** The header names this store, this region and this peer (TinyKV checks store, peer and term). */
export function checkHeader(req: RaftCmdRequest, storeId: number, region: Region, peerId: number, term: number): RegionError | undefined {
  const h = req.header;
  if (h === undefined) return invalidRequest('missing header');
  if (h.regionId !== region.id) return regionNotFound(h.regionId);
  if (h.peer !== undefined && h.peer.storeId !== 0 && h.peer.storeId !== storeId) return storeNotMatch(h.peer.storeId, storeId);
  // A request for another peer id of the region on this store: that peer is gone (removed, then
  // the store re-added with a new id); the client's view is stale, as with an unknown region.
  if (h.peer !== undefined && h.peer.id !== 0 && h.peer.id !== peerId) return regionNotFound(h.regionId);
  // A command stamped two or more terms ago was meant for a leadership that is gone (TinyKV).
  if (h.term !== 0 && term > h.term + 1) return staleCommand(`request term ${h.term}, current term ${term}`);
  return undefined;
}

/** Which parts of the epoch a command depends on (TinyKV `util.CheckRegionEpoch`). */
function epochChecks(req: RaftCmdRequest): { confVer: boolean; version: boolean } {
  const admin = req.adminRequest;
  if (admin === undefined) return { confVer: false, version: true };
  switch (admin.cmdType) {
    case AdminCmdType.CompactLog:
    case AdminCmdType.TransferLeader:
    case AdminCmdType.InvalidAdmin:
      return { confVer: false, version: false };
    case AdminCmdType.ChangePeer:
      return { confVer: true, version: false };
    case AdminCmdType.Split:
      return { confVer: false, version: true };
    default:
      return { confVer: true, version: true };
  }
}

/** The command's epoch is current for what it depends on. */
export function checkEpoch(req: RaftCmdRequest, region: Region): RegionError | undefined {
  const checks = epochChecks(req);
  if (!checks.confVer && !checks.version) return undefined;
  const from: RegionEpoch | undefined = req.header?.regionEpoch;
  const cur: RegionEpoch = region.regionEpoch ?? { confVer: 0, version: 0 };
  if (from === undefined) return epochNotMatch(`missing epoch, current ${describeEpoch(cur)}`, [region]);
  if ((checks.confVer && from.confVer !== cur.confVer) || (checks.version && from.version !== cur.version)) {
    return epochNotMatch(`request ${describeEpoch(from)}, current ${describeEpoch(cur)}`, [region]);
  }
  return undefined;
}

function describeEpoch(e: RegionEpoch): string {
  return `{conf_ver ${e.confVer}, version ${e.version}}`;
}

export function keyInRegion(key: Uint8Array, region: Region): boolean {
  if (compareBytes(key, region.startKey) < 0) return false;
  return region.endKey.length === 0 || compareBytes(key, region.endKey) < 0;
}

/** Shape, sizes and key range of each normal request (HARD-CASES P1: keyed requests stay in their region). */
export function checkRequests(req: RaftCmdRequest, region: Region): RegionError | undefined {
  for (const r of req.requests) {
    const err = checkRequest(r, region);
    if (err !== undefined) return err;
  }
  return undefined;
}

function checkRequest(r: Request, region: Region): RegionError | undefined {
  let cf: string;
  let key: Buffer;
  switch (r.cmdType) {
    case CmdType.Snap:
      return r.snap === undefined ? invalidRequest('Snap request without body') : undefined;
    case CmdType.Get:
      if (r.get === undefined) return invalidRequest('Get request without body');
      ({ cf, key } = r.get);
      break;
    case CmdType.Put:
      if (r.put === undefined) return invalidRequest('Put request without body');
      ({ cf, key } = r.put);
      if (r.put.value.length > userValueBytesMax) return invalidRequest(`value of ${r.put.value.length} bytes exceeds ${userValueBytesMax}`);
      break;
    case CmdType.Delete:
      if (r.delete === undefined) return invalidRequest('Delete request without body');
      ({ cf, key } = r.delete);
      break;
    default:
      return invalidRequest(`unknown command type ${r.cmdType}`);
  }
  const cfName = cf === '' ? CF_DEFAULT : cf;
  if (!isCfName(cfName) || !DATA_CFS.includes(cfName)) return invalidRequest(`unknown column family "${cf}"`);
  if (key.length === 0 || key.length > userKeyBytesMax) return invalidRequest(`key of ${key.length} bytes, want 1..${userKeyBytesMax}`);
  if (!keyInRegion(key, region)) return keyNotInRegion(key, region);
  return undefined;
}

/** The engine column family of a request's `cf` field ("" means default, as in TinyKV). */
export function cfOf(cf: string): (typeof DATA_CFS)[number] {
  const name = cf === '' ? CF_DEFAULT : cf;
  if (!isCfName(name) || !DATA_CFS.includes(name)) assert(false, `column family "${cf}" was not checked`);
  return name;
}
