/**
 * Stable text renderings of raft values for golden-file tests and logs, e.g.
 * `1->2 MsgAppend term:3 log:3/11 commit:11 entries:[3/12 EntryNormal "data"]`.
 * Changing a format breaks every golden file: do it only on purpose.
 */
import { ConfChange, ConfChangeV2 } from '../pb/eraftpb.js';
import { isJoint } from './tracker/tracker.js';
import { configToString } from './tracker/tracker.js';
import type { Raft } from './raft.js';
import type { Ready } from './ready.js';
import { ConfChangeType, EntryType, MessageType, STATE_NAMES } from './types.js';
import type { ConfState, Entry, HardState, Message, Snapshot, SoftState } from './types.js';
import { sortedIds } from './util.js';

function describeData(data: Buffer): string {
  if (data.length === 0) return '';
  for (const b of data) if (b < 0x20 || b > 0x7e) return `0x${data.toString('hex')}`;
  return JSON.stringify(data.toString('latin1'));
}

const CC_NAMES: Record<number, string> = {
  [ConfChangeType.AddNode]: 'v',
  [ConfChangeType.RemoveNode]: 'r',
  [ConfChangeType.AddLearnerNode]: 'l',
};

function describeConfChangeV2(cc: ConfChangeV2): string {
  const changes = cc.changes.map((c) => `${CC_NAMES[c.changeType] ?? '?'}${c.nodeId}`).join(' ');
  return changes === '' ? 'leave-joint' : changes;
}

export function describeEntry(e: Entry): string {
  const head = `${e.term}/${e.index} ${EntryType[e.entryType]}`;
  if (e.entryType === EntryType.EntryConfChange) return `${head} ${describeConfChangeV2({ transition: 0, changes: [ConfChange.decode(e.data)], context: Buffer.alloc(0) })}`;
  if (e.entryType === EntryType.EntryConfChangeV2) return `${head} ${describeConfChangeV2(ConfChangeV2.decode(e.data))}`;
  const data = describeData(e.data);
  return data === '' ? head : `${head} ${data}`;
}

export function describeEntries(ents: readonly Entry[]): string {
  return ents.map(describeEntry).join(', ');
}

export function describeConfState(cs: ConfState): string {
  let s = `voters=[${sortedIds(cs.nodes).join(' ')}]`;
  if (cs.votersOutgoing.length > 0) s += `&&[${sortedIds(cs.votersOutgoing).join(' ')}]`;
  if (cs.learners.length > 0) s += ` learners=[${sortedIds(cs.learners).join(' ')}]`;
  if (cs.learnersNext.length > 0) s += ` learners_next=[${sortedIds(cs.learnersNext).join(' ')}]`;
  if (cs.autoLeave) s += ' autoleave';
  return s;
}

export function describeSnapshot(s: Snapshot): string {
  const m = s.metadata;
  return `index:${m?.index ?? 0} term:${m?.term ?? 0} ${describeConfState(m?.confState ?? { nodes: [], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false })}`;
}

export function describeHardState(hs: HardState): string {
  return `term:${hs.term} vote:${hs.vote} commit:${hs.commit}`;
}

export function describeSoftState(ss: SoftState): string {
  return `lead:${ss.lead} state:${STATE_NAMES[ss.raftState]}`;
}

export function describeMessage(m: Message): string {
  let s = `${m.from}->${m.to} ${MessageType[m.msgType] ?? `Msg${m.msgType}`} term:${m.term}`;
  if (m.logTerm !== 0 || m.index !== 0) s += ` log:${m.logTerm}/${m.index}`;
  if (m.reject) s += ` rejected (hint: ${m.rejectHint})`;
  if (m.commit !== 0) s += ` commit:${m.commit}`;
  if (m.context.length > 0) s += ` context:${describeData(m.context)}`;
  if (m.entries.length > 0) s += ` entries:[${describeEntries(m.entries)}]`;
  if (m.snapshot !== undefined && (m.snapshot.metadata?.index ?? 0) !== 0) s += ` snapshot:{${describeSnapshot(m.snapshot)}}`;
  return s;
}

export function describeReady(rd: Ready): string {
  const lines: string[] = [];
  if (rd.softState !== undefined) lines.push(describeSoftState(rd.softState));
  if (rd.hardState !== undefined) lines.push(`HardState ${describeHardState(rd.hardState)}`);
  if (rd.readStates.length > 0) lines.push(`ReadStates ${rd.readStates.map((r) => `${r.index}:${describeData(r.requestCtx)}`).join(' ')}`);
  if (rd.entries.length > 0) lines.push(`Entries:\n${rd.entries.map((e) => `${describeEntry(e)}`).join('\n')}`);
  if (rd.snapshot !== undefined) lines.push(`Snapshot ${describeSnapshot(rd.snapshot)}`);
  if (rd.committedEntries.length > 0) lines.push(`CommittedEntries:\n${rd.committedEntries.map(describeEntry).join('\n')}`);
  if (rd.messages.length > 0) lines.push(`Messages:\n${rd.messages.map(describeMessage).join('\n')}`);
  return lines.length === 0 ? '<empty Ready>' : lines.join('\n');
}

/** One line per member of the leader's progress, plus the config. */
export function describeRaftState(r: Raft): string {
  const lines = [`${r.id} ${STATE_NAMES[r.state]} term:${r.term} vote:${r.vote} lead:${r.lead} commit:${r.raftLog.committed} applied:${r.raftLog.applied} last:${r.raftLog.lastIndex()}`];
  lines.push(`config: ${configToString(r.prs.config)}${isJoint(r.prs.config) ? ' (joint)' : ''}`);
  r.prs.visit((id, pr) => lines.push(`${id}: ${pr.toString()}`));
  return lines.join('\n');
}
