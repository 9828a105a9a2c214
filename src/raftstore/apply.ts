/**
 * Applying committed commands (TinyKV `peer_msg_handler` apply part): pure
 * functions that stage a command's writes into the round's batch and decide
 * what a CompactLog changes. The peer stages the apply state in the same
 * batch, so data and apply state are durable together.
 */
import { AdminCmdType, CmdType } from '../pb/raft_cmdpb.js';
import type { CompactLogRequest, RaftCmdRequest, RaftCmdResponse, Response } from '../pb/raft_cmdpb.js';
import type { RaftTruncatedState } from '../pb/raft_serverpb.js';
import type { WriteBatch } from '../storage/write_batch.js';
import { assert } from '../util/assert.js';
import { cfOf } from './cmd_check.js';
import { okHeader, requestResponse } from './responses.js';

/** Stages a committed write command's Puts and Deletes; returns its response. */
export function applyWrites(batch: WriteBatch, request: RaftCmdRequest, term: number, where: string): RaftCmdResponse {
  const responses: Response[] = [];
  for (const r of request.requests) {
    if (r.cmdType === CmdType.Put && r.put !== undefined) {
      batch.put(cfOf(r.put.cf), r.put.key, r.put.value);
      responses.push(requestResponse(CmdType.Put, { put: {} }));
    } else if (r.cmdType === CmdType.Delete && r.delete !== undefined) {
      batch.delete(cfOf(r.delete.cf), r.delete.key);
      responses.push(requestResponse(CmdType.Delete, { delete: {} }));
    } else {
      assert(false, `${where}: a committed entry holds a ${CmdType[r.cmdType]} request`);
    }
  }
  return { header: okHeader(term), responses, adminResponse: undefined };
}

/** Bytes a write command adds to its region (TinyKV's size delta: key and value of a put, key of a delete). */
export function writeBytesOf(request: RaftCmdRequest): number {
  let n = 0;
  for (const r of request.requests) {
    if (r.put !== undefined) n += r.put.key.length + r.put.value.length;
    else if (r.delete !== undefined) n += r.delete.key.length;
  }
  return n;
}

/** The CompactLog of a committed admin command. @throws {AssertionError} for any other admin command. */
export function compactLogOf(request: RaftCmdRequest, where: string): CompactLogRequest {
  const admin = request.adminRequest;
  assert(admin !== undefined && admin.cmdType === AdminCmdType.CompactLog && admin.compactLog !== undefined, `${where}: unexpected admin entry`);
  return admin.compactLog;
}

/**
 * The truncated state after applying `compact` (TinyKV `handleCompactLog`),
 * or undefined when it changes nothing (stale, or beyond what is applied).
 * `termAt` gives a log entry's term (undefined when compacted away).
 * @throws {AssertionError} when the log holds another term at the index.
 */
export function compactTo(
  compact: CompactLogRequest,
  truncated: RaftTruncatedState,
  applied: number,
  termAt: (index: number) => number | undefined,
  where: string,
): RaftTruncatedState | undefined {
  const { compactIndex, compactTerm } = compact;
  if (!(compactIndex > truncated.index && compactIndex <= applied)) return undefined;
  const stored = termAt(compactIndex);
  if (stored !== undefined && stored !== compactTerm) assert(false, `${where}: CompactLog ${compactIndex}/${compactTerm} but the log has term ${stored}`);
  return { index: compactIndex, term: compactTerm };
}
