/**
 * Encoding of conf changes in log entries: TinyKV's ConfChange (single
 * add/remove, EntryConfChange) and the ConfChangeV2 extension (joint
 * consensus and learners, EntryConfChangeV2). The core works on V2 only.
 */
import { assert } from '../util/assert.js';
import { ConfChange, ConfChangeV2 } from '../pb/eraftpb.js';
import { ConfChangeTransition, EntryType } from './types.js';
import type { Entry } from './types.js';

export function confChangeToV2(cc: ConfChange): ConfChangeV2 {
  return {
    transition: ConfChangeTransition.Auto,
    changes: [{ changeType: cc.changeType, nodeId: cc.nodeId }],
    context: cc.context,
  };
}

export function isConfChangeV2(cc: ConfChange | ConfChangeV2): cc is ConfChangeV2 {
  return 'changes' in cc;
}

export function toV2(cc: ConfChange | ConfChangeV2): ConfChangeV2 {
  return isConfChangeV2(cc) ? cc : confChangeToV2(cc);
}

/** The entry type and payload for proposing `cc`. */
export function encodeConfChange(cc: ConfChange | ConfChangeV2): { entryType: EntryType; data: Buffer } {
  if (isConfChangeV2(cc)) return { entryType: EntryType.EntryConfChangeV2, data: Buffer.from(ConfChangeV2.encode(cc).finish()) };
  return { entryType: EntryType.EntryConfChange, data: Buffer.from(ConfChange.encode(cc).finish()) };
}

/** Decodes the conf change of a conf-change entry, as V2. */
export function decodeConfChangeEntry(e: Entry): ConfChangeV2 {
  assert(e.entryType !== EntryType.EntryNormal, 'decodeConfChangeEntry on a normal entry');
  if (e.entryType === EntryType.EntryConfChange) return confChangeToV2(ConfChange.decode(e.data));
  return ConfChangeV2.decode(e.data);
}
