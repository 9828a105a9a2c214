/**
 * Raft safety, checked as the run goes (not only at the end): at most one
 * leader per term (election safety), and every node applies the same entry
 * at each index (state machine safety, raft paper Figure 3). Entries are
 * compared by term, type and payload. A violation throws a
 * {@link SimulationError} of kind `safety` at the event that caused it.
 */
import type { Entry } from '../raft/types.js';
import { SimulationError } from './errors.js';
import type { SafetyObserver } from './raft_kv.js';

export class SafetyChecker implements SafetyObserver {
  /** Entry identity per applied index, from the first node that applied it. */
  private readonly applied = new Map<number, { readonly nodeId: number; readonly key: string }>();
  private readonly leaders = new Map<number, number>();
  appliedEntries = 0;

  onApply(nodeId: number, entry: Entry): void {
    this.appliedEntries++;
    const key = `${entry.term}|${entry.entryType}|${entry.data.toString('latin1')}`;
    const first = this.applied.get(entry.index);
    if (first === undefined) {
      this.applied.set(entry.index, { nodeId, key });
      return;
    }
    if (first.key !== key) {
      throw new SimulationError(
        'safety',
        `state machine safety: n${nodeId} applied ${describeKey(key)} at index ${entry.index}, but n${first.nodeId} applied ${describeKey(first.key)}`,
      );
    }
  }

  onLeader(nodeId: number, term: number): void {
    const existing = this.leaders.get(term);
    if (existing !== undefined && existing !== nodeId) {
      throw new SimulationError('safety', `election safety: n${nodeId} and n${existing} both lead term ${term}`);
    }
    this.leaders.set(term, nodeId);
  }

  /** Highest index applied anywhere. */
  highestApplied(): number {
    let max = 0;
    for (const index of this.applied.keys()) max = Math.max(max, index);
    return max;
  }
}

function describeKey(key: string): string {
  const [term, type, ...data] = key.split('|');
  return `entry(term ${term}, type ${type}, ${JSON.stringify(data.join('|').slice(0, 80))})`;
}
