/**
 * Client operation histories recorded by the simulator and read by the
 * checkers. Times are virtual (ticks of the simulator clock). Keys and values
 * are strings here: the simulator's workloads use printable keys, and strings
 * make memoization keys and failure reports cheap and readable.
 */

export type KvInput =
  | { readonly kind: 'get'; readonly key: string }
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  | { readonly kind: 'delete'; readonly key: string }
  /** Keys in [start, end) (end undefined = unbounded), at most `limit` of them. */
  | { readonly kind: 'scan'; readonly start: string; readonly end?: string; readonly limit: number };

export type KvOutput =
  | { readonly kind: 'get'; readonly value: string | undefined }
  | { readonly kind: 'put' }
  | { readonly kind: 'delete' }
  | { readonly kind: 'scan'; readonly entries: readonly (readonly [key: string, value: string])[] };

/**
 * How an operation ended:
 * - `ok`: it took effect (writes) or returned `output` (reads), somewhere
 *   between `invokeTime` and `completeTime`;
 * - `fail`: it definitely did not take effect (e.g. refused before being
 *   proposed) and returned nothing;
 * - `indeterminate`: the client gave up (timeout): a write may or may not
 *   have taken effect, at any time after `invokeTime`; a read tells nothing.
 */
export type OpStatus = 'ok' | 'fail' | 'indeterminate';

export interface KvOperation {
  /** Unique within a history, in invocation order. */
  readonly id: number;
  readonly clientId: number;
  readonly input: KvInput;
  /** Present when status is `ok`. */
  readonly output?: KvOutput;
  readonly status: OpStatus;
  readonly invokeTime: number;
  /** For `indeterminate` operations, the time the client gave up. */
  readonly completeTime: number;
}

/** Renders one operation for failure reports: `c3 put(k1, v7) -> ok [120, 135]`. */
export function describeOperation(op: KvOperation): string {
  const i = op.input;
  const call =
    i.kind === 'get'
      ? `get(${i.key})`
      : i.kind === 'put'
        ? `put(${i.key}, ${i.value})`
        : i.kind === 'delete'
          ? `delete(${i.key})`
          : `scan(${i.start}..${i.end ?? ''}, limit ${i.limit})`;
  let result: string = op.status;
  const o = op.output;
  if (op.status === 'ok' && o !== undefined) {
    if (o.kind === 'get') result = o.value === undefined ? 'not found' : JSON.stringify(o.value);
    else if (o.kind === 'scan') result = `[${o.entries.map(([k, v]) => `${k}=${v}`).join(' ')}]`;
    else result = 'ok';
  }
  return `#${op.id} c${op.clientId} ${call} -> ${result} [${op.invokeTime}, ${op.status === 'indeterminate' ? '?' : op.completeTime}]`;
}
