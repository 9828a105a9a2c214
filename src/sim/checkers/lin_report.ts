/**
 * The text of a violation report: the minimal operations one per line, then
 * a timeline of them. Apart from the checks because it only formats: no
 * verdict depends on it, and both checks' reports share its layout.
 */
import type { KvOperation } from '../history.js';

/** Histories longer than this are reported without a timeline. */
const MAX_TIMELINE_OPS = 60;

export function renderReport(
  header: string,
  ops: readonly KvOperation[],
  lines: readonly string[],
  originalCount: number,
  note: string,
): string {
  const out = [`${header}: ${ops.length} of ${originalCount} operations suffice${note}:`];
  out.push(...lines.map((line) => `  ${line}`));
  if (ops.length <= MAX_TIMELINE_OPS) {
    out.push('timeline (time compressed to event order; [#id-] spans invoke..complete; > = indeterminate, may take effect any time after invoke, or never):');
    out.push(...renderTimeline(ops).map((line) => `  ${line}`));
  }
  return out.join('\n');
}

/**
 * One row per client (more if its operations overlap), time compressed to
 * the order of distinct event times so short histories fit on a line.
 */
function renderTimeline(ops: readonly KvOperation[]): string[] {
  const maybe = (op: KvOperation): boolean => op.status !== 'ok';
  const times = [...new Set(ops.flatMap((op) => (maybe(op) ? [op.invokeTime] : [op.invokeTime, op.completeTime])))];
  times.sort((a, b) => a - b);
  const slot = new Map(times.map((t, i) => [t, i]));
  const step = Math.max(...ops.map((op) => `#${op.id}`.length)) + 2;
  const width = times.length * step;
  const clients = [...new Set(ops.map((op) => op.clientId))].sort((a, b) => a - b);
  const labelWidth = Math.max(...clients.map((c) => `c${c}`.length));
  const rows: string[] = [];
  for (const client of clients) {
    const lanes: string[][] = [];
    const laneEnds: number[] = [];
    for (const op of ops.filter((o) => o.clientId === client)) {
      const from = slot.get(op.invokeTime)! * step;
      const to = maybe(op) ? width - 1 : slot.get(op.completeTime)! * step + step - 1;
      let lane = laneEnds.findIndex((end) => end < from);
      if (lane < 0) {
        lane = lanes.push(new Array<string>(width).fill(' ')) - 1;
        laneEnds.push(-1);
      }
      drawSpan(lanes[lane]!, from, to, `#${op.id}`, maybe(op));
      laneEnds[lane] = to;
    }
    lanes.forEach((lane, i) => rows.push(`${(i === 0 ? `c${client}` : '').padEnd(labelWidth)} ${lane.join('').trimEnd()}`));
  }
  return rows;
}

function drawSpan(row: string[], from: number, to: number, label: string, open: boolean): void {
  for (let c = from; c <= to; c++) row[c] = '-';
  row[from] = '[';
  row[to] = open ? '>' : ']';
  for (const [i, ch] of [...label].entries()) if (from + 1 + i < to) row[from + 1 + i] = ch;
}
