/**
 * Region errors (errorpb.Error) as the raftstore answers them, and the
 * response shapes that carry them. Each error says whether the command may
 * have taken effect, which is what a client needs to retry safely:
 *
 * - definite, nothing happened: NotLeader, RegionNotFound, EpochNotMatch,
 *   KeyNotInRegion, StoreNotMatch, ServerIsBusy, StaleCommand (the raftstore
 *   answers StaleCommand only when another entry was applied at the
 *   proposal's index, so the proposal can never apply: Log Matching);
 * - unknown outcome: an error with only a message starting "OutcomeUnknown"
 *   (the proposal's index was covered by a snapshot, so whether it applied
 *   cannot be known locally).
 *
 * TinyKV's errorpb has no ServerIsBusy; TiKV's does, at field 6, which
 * TinyKV reserves. We keep TinyKV's wire format and answer ServerIsBusy as a
 * message-only error with the prefix "ServerIsBusy" (docs/ERRORS.md).
 */
import type { Error as RegionError } from '../pb/errorpb.js';
import type { Peer, Region } from '../pb/metapb.js';
import type { RaftCmdResponse } from '../pb/raft_cmdpb.js';

export const SERVER_IS_BUSY_PREFIX = 'ServerIsBusy';
export const OUTCOME_UNKNOWN_PREFIX = 'OutcomeUnknown';

function base(message: string): RegionError {
  return {
    message, notLeader: undefined, regionNotFound: undefined, keyNotInRegion: undefined,
    epochNotMatch: undefined, staleCommand: undefined, storeNotMatch: undefined,
  };
}

export function notLeader(regionId: number, leader: Peer | undefined): RegionError {
  return { ...base(`peer is not the leader of region ${regionId}`), notLeader: { regionId, leader } };
}

export function regionNotFound(regionId: number): RegionError {
  return { ...base(`region ${regionId} is not found`), regionNotFound: { regionId } };
}

export function keyNotInRegion(key: Uint8Array, region: Region): RegionError {
  return {
    ...base(`key is not in region ${region.id}`),
    keyNotInRegion: { key: Buffer.from(key), regionId: region.id, startKey: Buffer.from(region.startKey), endKey: Buffer.from(region.endKey) },
  };
}

export function epochNotMatch(message: string, currentRegions: Region[]): RegionError {
  return { ...base(`epoch not match: ${message}`), epochNotMatch: { currentRegions } };
}

export function staleCommand(why: string): RegionError {
  return { ...base(`stale command: ${why}`), staleCommand: {} };
}

export function storeNotMatch(requestStoreId: number, actualStoreId: number): RegionError {
  return { ...base(`store not match: request for store ${requestStoreId}, this is store ${actualStoreId}`), storeNotMatch: { requestStoreId, actualStoreId } };
}

export function serverIsBusy(why: string): RegionError {
  return base(`${SERVER_IS_BUSY_PREFIX}: ${why}`);
}

export function outcomeUnknown(why: string): RegionError {
  return base(`${OUTCOME_UNKNOWN_PREFIX}: ${why}`);
}

/** A request the raftstore refuses before proposing (bad shape): definite, nothing happened. */
export function invalidRequest(why: string): RegionError {
  return base(`InvalidRequest: ${why}`);
}

export function errorResponse(error: RegionError, currentTerm = 0): RaftCmdResponse {
  return { header: { error, uuid: Buffer.alloc(0), currentTerm }, responses: [], adminResponse: undefined };
}

/** True when a response error means the command may have taken effect. */
export function isOutcomeUnknown(error: RegionError | undefined): boolean {
  return error !== undefined && error.message.startsWith(OUTCOME_UNKNOWN_PREFIX);
}
