/**
 * TinyKV's append-order check (kv/test_raftstore GenericTest,
 * `checkClntAppends` / `checkConcurrentAppends`). In those workloads client
 * `c` repeatedly reads its key and writes back the old value followed by
 * `x <c> <j> y` for j = 0, 1, 2, ...; the final value must then contain each
 * of the client's `count` acknowledged elements exactly once and in
 * increasing j order. A lost write shows up as a missing element, a replayed
 * (duplicated) proposal as a duplicate, a reordered apply as a wrong order.
 *
 * Elements with j >= count are not checked: the client's last append may
 * have timed out (indeterminate) and still taken effect, as in the Go test.
 */

/** The element client `clientId` appends on its j-th append. */
export function appendElement(clientId: number, j: number): string {
  return `x ${clientId} ${j} y`;
}

/**
 * Checks that `value` holds `appendElement(clientId, j)` exactly once for
 * every j in [0, count), in increasing j order.
 * @returns a description of the first problem found, or undefined if none.
 */
export function checkClientAppends(clientId: number, value: string, count: number): string | undefined {
  let lastOffset = -1;
  for (let j = 0; j < count; j++) {
    const wanted = appendElement(clientId, j);
    const offset = value.indexOf(wanted);
    if (offset < 0) {
      return `client ${clientId}: missing element "${wanted}" (append ${j} of ${count}) in value ${snippet(value)}`;
    }
    const lastOccurrence = value.lastIndexOf(wanted);
    if (lastOccurrence !== offset) {
      return `client ${clientId}: duplicate element "${wanted}" at offsets ${offset} and ${lastOccurrence} in value ${snippet(value)}`;
    }
    if (offset <= lastOffset) {
      return `client ${clientId}: wrong order: "${wanted}" at offset ${offset} precedes "${appendElement(clientId, j - 1)}" at offset ${lastOffset} in value ${snippet(value)}`;
    }
    lastOffset = offset;
  }
  return undefined;
}

/**
 * The concurrent variant: several clients appended to one shared key;
 * `counts[c]` is client c's number of acknowledged appends.
 */
export function checkConcurrentAppends(value: string, counts: readonly number[]): string | undefined {
  for (const [clientId, count] of counts.entries()) {
    const problem = checkClientAppends(clientId, value, count);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** Values grow long in these workloads: show both ends only. */
function snippet(value: string): string {
  const max = 160;
  if (value.length <= max) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, max / 2))}…${JSON.stringify(value.slice(-max / 2))} (${value.length} chars)`;
}
