/**
 * Successful command responses as the raftstore builds them (region errors
 * are in region_errors.ts), and the region copy a response or read view
 * carries (an immutable copy: HARD-CASES P2).
 */
import type { Region } from '../pb/metapb.js';
import { AdminCmdType } from '../pb/raft_cmdpb.js';
import type { CmdType, RaftCmdResponse, Response } from '../pb/raft_cmdpb.js';

export function okHeader(term: number): RaftCmdResponse['header'] {
  return { error: undefined, uuid: Buffer.alloc(0), currentTerm: term };
}

/** One request's response: `cmdType` and its body, the other bodies unset. */
export function requestResponse(cmdType: CmdType, body: Partial<Response>): Response {
  return { cmdType, get: undefined, put: undefined, delete: undefined, snap: undefined, ...body };
}

export function adminResponse(cmdType: AdminCmdType, term: number): RaftCmdResponse {
  return {
    header: okHeader(term),
    responses: [],
    adminResponse: {
      cmdType, changePeer: undefined, split: undefined,
      compactLog: cmdType === AdminCmdType.CompactLog ? {} : undefined,
      transferLeader: cmdType === AdminCmdType.TransferLeader ? {} : undefined,
    },
  };
}

export function cloneRegion(r: Region): Region {
  return {
    id: r.id, startKey: Buffer.from(r.startKey), endKey: Buffer.from(r.endKey),
    regionEpoch: r.regionEpoch === undefined ? undefined : { ...r.regionEpoch }, peers: r.peers.map((p) => ({ ...p })),
  };
}
