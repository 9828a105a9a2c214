/**
 * The fast path of `checkLinearizable`: one replay of the whole history in
 * invocation order, which shows most keys linearizable without building
 * their sub-histories. Kept apart from the checks it spares because it only
 * saves time: it never decides a violation, so a key it cannot reproduce
 * goes to the full check unchanged.
 */
import { assert, assertNever } from '../../util/assert.js';
import type { KvOperation } from '../history.js';
import { byInvokeTime, scanObservations } from './lin_key_ops.js';

/** What replaying the history in invocation order showed, per key (by index in the universe). */
interface Replay {
  /** 1 = the replay reproduced every read of the key: its sub-history is linearizable. */
  readonly reproduced: Uint8Array;
  /** Operations in the key's sub-history, as `partitionByKey` would keep them (where reproduced). */
  readonly counts: Int32Array;
}

/**
 * The fast path: replays the `ok` operations in invocation order (ties by
 * id) on one register per key, and checks every read against it: each get,
 * and each key a scan constrains. One pass, no object per observation.
 *
 * Sound: invocation order extends real-time order (if a completes before b
 * is invoked, a was invoked first), so a replay that reproduces every read
 * of a key is a linearization of the key's sub-history. Indeterminate writes
 * are left out, which is allowed (they may never take effect); a key with
 * one that some read observes is left to the full check, so from a
 * reproduced key the replay left out only writes `partitionByKey` drops too
 * (and `counts` is the size of its sub-history). Not complete: a key whose
 * operations overlap may linearize only in another order, so a key not
 * reproduced gets the full check (pre-checks, search, shrinking), which
 * finds and reports a violation exactly as without the fast path.
 *
 * Why it pays: in the simulator's histories a client runs one operation at a
 * time and often has keys of its own, so the replay decides most keys, and a
 * scan-heavy run's million observations cost one string comparison each.
 */
export function replayInInvokeOrder(ops: readonly KvOperation[], universe: readonly string[]): Replay {
  const indexOf = new Map(universe.map((key, i) => [key, i]));
  const keyIndex = (key: string): number => {
    const i = indexOf.get(key);
    if (i === undefined) assert(false, `replay: key ${JSON.stringify(key)} is not in the universe`);
    return i;
  };
  const reproduced = new Uint8Array(universe.length).fill(1);
  const counts = new Int32Array(universe.length);
  const registers = new Array<string | undefined>(universe.length).fill(undefined);
  // The values read, kept only for keys with indeterminate writes: is one of them observed?
  const observedByKey = new Array<Set<string | undefined> | undefined>(universe.length);
  const maybes = ops.filter((op) => op.status === 'indeterminate');
  for (const op of maybes) observedByKey[keyIndex(singleKey(op))] ??= new Set();
  const read = (i: number, value: string | undefined): void => {
    counts[i]!++;
    if (registers[i] !== value) reproduced[i] = 0;
    observedByKey[i]?.add(value);
  };
  for (const op of [...ops].sort(byInvokeTime)) {
    if (op.status !== 'ok') continue;
    const input = op.input;
    switch (input.kind) {
      case 'put':
      case 'delete': {
        const i = keyIndex(input.key);
        registers[i] = input.kind === 'put' ? input.value : undefined;
        counts[i]!++;
        break;
      }
      case 'get':
        read(keyIndex(input.key), op.output?.kind === 'get' ? op.output.value : undefined);
        break;
      case 'scan':
        scanObservations(op, universe, read);
        break;
      default:
        assertNever(input);
    }
  }
  for (const op of maybes) {
    const i = keyIndex(singleKey(op));
    const value = op.input.kind === 'put' ? op.input.value : undefined;
    if (observedByKey[i]!.has(value)) reproduced[i] = 0;
  }
  return { reproduced, counts };
}

/** The key of an indeterminate operation: a write (`relevantOperations` drops indeterminate reads). */
function singleKey(op: KvOperation): string {
  const input = op.input;
  assert(input.kind === 'put' || input.kind === 'delete', `indeterminate operation #${op.id} is not a write`);
  return input.key;
}
