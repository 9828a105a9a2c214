/**
 * Membership changes of a region (TinyKV 3B `ChangePeer`), as pure functions
 * over the region: what goes into the log and what applying it does.
 *
 * HARD-CASES C1: the conf change entry carries the whole admin request (change
 * type, peer id and store id) in its context, so apply never guesses the
 * store of a peer. Apply validates it against the region as applied so far:
 * the epoch's conf_ver must be the one the proposal saw (a re-sent operator
 * proposed twice applies once; the second is stale), an added peer must not
 * exist yet and its store must not hold another peer of the region, a removed
 * peer must be there with that store. Every applied change bumps conf_ver.
 */
import { ConfChange, ConfChangeType } from '../pb/eraftpb.js';
import type { Error as RegionError } from '../pb/errorpb.js';
import type { Peer, Region } from '../pb/metapb.js';
import { RaftCmdRequest } from '../pb/raft_cmdpb.js';
import { epochNotMatch, invalidRequest } from './region_errors.js';
import { cloneRegion } from './responses.js';

/** The eraftpb ConfChange proposed for a ChangePeer admin command (C1: the request rides in the context). */
export function confChangeOf(request: RaftCmdRequest): ConfChange | Refused {
  const cp = request.adminRequest?.changePeer;
  if (cp === undefined || cp.peer === undefined) return refuse(invalidRequest('ChangePeer without a peer'));
  if (!(cp.peer.id > 0 && cp.peer.storeId > 0)) return refuse(invalidRequest(`ChangePeer with peer ${cp.peer.id} on store ${cp.peer.storeId}`));
  if (cp.changeType !== ConfChangeType.AddNode && cp.changeType !== ConfChangeType.RemoveNode) {
    return refuse(invalidRequest(`ChangePeer type ${cp.changeType} is not supported`));
  }
  return { changeType: cp.changeType, nodeId: cp.peer.id, context: Buffer.from(RaftCmdRequest.encode(request).finish()) };
}

export interface AppliedChange {
  readonly region: Region;
  readonly changeType: ConfChangeType;
  readonly peer: Peer;
}

/**
 * The region after applying a committed conf change entry's data, or the
 * error to answer when it no longer fits the region (nothing changes then).
 */
export function applyChangePeer(region: Region, entryData: Uint8Array): AppliedChange | Refused {
  const cc = ConfChange.decode(entryData);
  const request = RaftCmdRequest.decode(cc.context);
  const cp = request.adminRequest?.changePeer;
  const peer = cp?.peer;
  if (cp === undefined || peer === undefined || peer.id !== cc.nodeId || cp.changeType !== cc.changeType) {
    return refuse(invalidRequest(`conf change entry for node ${cc.nodeId} does not carry its request`));
  }
  if (cp.changeType !== ConfChangeType.AddNode && cp.changeType !== ConfChangeType.RemoveNode) {
    return refuse(invalidRequest(`conf change type ${cp.changeType} is not supported`));
  }
  const epoch = region.regionEpoch ?? { confVer: 0, version: 0 };
  const seen = request.header?.regionEpoch;
  if (seen === undefined || seen.confVer !== epoch.confVer) {
    return refuse(epochNotMatch(`conf change proposed at conf_ver ${seen?.confVer ?? '?'}, region is at ${epoch.confVer}`, [cloneRegion(region)]));
  }
  const next = cloneRegion(region);
  if (cp.changeType === ConfChangeType.AddNode) {
    if (region.peers.some((p) => p.id === peer.id || p.storeId === peer.storeId)) {
      return refuse(epochNotMatch(`peer ${peer.id} or another peer on store ${peer.storeId} is already in region ${region.id}`, [cloneRegion(region)]));
    }
    next.peers.push({ id: peer.id, storeId: peer.storeId });
  } else {
    const i = region.peers.findIndex((p) => p.id === peer.id && p.storeId === peer.storeId);
    if (i < 0) return refuse(epochNotMatch(`peer ${peer.id} on store ${peer.storeId} is not in region ${region.id}`, [cloneRegion(region)]));
    next.peers.splice(i, 1);
  }
  next.regionEpoch = { confVer: epoch.confVer + 1, version: epoch.version };
  return { region: next, changeType: cp.changeType, peer: { id: peer.id, storeId: peer.storeId } };
}

function refuse(error: RegionError): Refused {
  return { error };
}

/** A refusal: the region error to answer. */
export interface Refused {
  readonly error: RegionError;
}
