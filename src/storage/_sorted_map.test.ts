// Goal: the persistent AVL map behaves exactly like a sorted associative
// array, stays balanced, and never changes a root once it is returned (the
// property MemEngine's O(1) read views rely on). Method: model-based fast-check
// properties with a fixed seed against a naive sorted-array model, plus a few
// examples for identities and worst-case (sequential) insertion orders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compareBytes, toHex } from '../util/bytes.js';
import {
  EMPTY_SORTED_MAP,
  checkInvariants,
  entries,
  get,
  insert,
  remove,
  removeRange,
  size,
} from './_sorted_map.js';
import type { SortedMapRoot } from './_sorted_map.js';

const FC_OPTIONS = { seed: 1, numRuns: 300 } as const;

type Entry = readonly [Uint8Array, Uint8Array];

/** The model: entries sorted by key, rebuilt naively on every change. */
class Model {
  constructor(readonly items: readonly Entry[] = []) {}

  insert(key: Uint8Array, value: Uint8Array): Model {
    const rest = this.items.filter(([k]) => compareBytes(k, key) !== 0);
    return new Model([...rest, [key, value] as const].sort(([a], [b]) => compareBytes(a, b)));
  }

  remove(key: Uint8Array): Model {
    return new Model(this.items.filter(([k]) => compareBytes(k, key) !== 0));
  }

  range(start: Uint8Array | undefined, end: Uint8Array | undefined, reverse: boolean): Entry[] {
    const inside = this.items.filter(
      ([k]) => (start === undefined || compareBytes(k, start) >= 0) && (end === undefined || compareBytes(k, end) < 0),
    );
    return reverse ? inside.reverse() : inside;
  }
}

// A small alphabet and short keys make collisions, prefixes and empty keys common.
const keyArb = fc.uint8Array({ min: 0, max: 3, maxLength: 3 });
const valueArb = fc.uint8Array({ maxLength: 2 });
const boundArb = fc.option(keyArb, { nil: undefined });

type Command =
  | { readonly type: 'insert'; readonly key: Uint8Array; readonly value: Uint8Array }
  | { readonly type: 'remove'; readonly key: Uint8Array }
  | { readonly type: 'removeRange'; readonly start: Uint8Array | undefined; readonly end: Uint8Array | undefined };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ type: fc.constant('insert' as const), key: keyArb, value: valueArb }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('remove' as const), key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('removeRange' as const), start: boundArb, end: boundArb }) },
);

function applyToRoot(root: SortedMapRoot, command: Command): SortedMapRoot {
  switch (command.type) {
    case 'insert':
      return insert(root, command.key, command.value);
    case 'remove':
      return remove(root, command.key);
    case 'removeRange':
      return removeRange(root, { start: command.start, end: command.end });
  }
}

function applyToModel(model: Model, command: Command): Model {
  switch (command.type) {
    case 'insert':
      return model.insert(command.key, command.value);
    case 'remove':
      return model.remove(command.key);
    case 'removeRange': {
      let next = model;
      for (const [k] of model.range(command.start, command.end, false)) next = next.remove(k);
      return next;
    }
  }
}

type KeyValue = { readonly key: Uint8Array; readonly value: Uint8Array };

/** Hex strings compare readably in assertion diffs. */
function show(items: Iterable<KeyValue>): string[] {
  return Array.from(items, ({ key, value }) => `${toHex(key)}=${toHex(value)}`);
}

function showModel(items: readonly Entry[]): string[] {
  return show(items.map(([key, value]) => ({ key, value })));
}

/** Asserts that `root` holds exactly the model's entries, by every read path. */
function assertMatches(root: SortedMapRoot, model: Model, probes: readonly Uint8Array[]): void {
  checkInvariants(root);
  assert.equal(size(root), model.items.length);
  assert.deepEqual(show(entries(root)), showModel(model.items));
  assert.deepEqual(show(entries(root, { reverse: true })), showModel([...model.items].reverse()));
  for (const key of probes) {
    const expected = model.items.find(([k]) => compareBytes(k, key) === 0)?.[1];
    assert.deepEqual(get(root, key), expected);
  }
}

test('sorted map matches a sorted-array model; old roots keep their contents', () => {
  fc.assert(
    fc.property(
      fc.array(commandArb, { maxLength: 80 }),
      fc.nat(),
      fc.array(fc.tuple(boundArb, boundArb, fc.boolean()), { maxLength: 6 }),
      fc.array(keyArb, { maxLength: 8 }),
      (commands, snapshotSeed, ranges, probes) => {
        const snapshotAt = snapshotSeed % (commands.length + 1);
        let root: SortedMapRoot = EMPTY_SORTED_MAP;
        let model = new Model();
        let oldRoot: SortedMapRoot = root;
        let oldModel = model;
        for (const [i, command] of commands.entries()) {
          if (i === snapshotAt) [oldRoot, oldModel] = [root, model];
          [root, model] = [applyToRoot(root, command), applyToModel(model, command)];
          checkInvariants(root);
        }
        if (snapshotAt === commands.length) [oldRoot, oldModel] = [root, model];
        assertMatches(root, model, probes);
        for (const [start, end, reverse] of ranges) {
          assert.deepEqual(show(entries(root, { start, end, reverse })), showModel(model.range(start, end, reverse)));
        }
        // Everything applied after the capture must be invisible through the old root.
        assertMatches(oldRoot, oldModel, probes);
      },
    ),
    FC_OPTIONS,
  );
});

test('an iteration over a root ignores updates made while it runs', () => {
  fc.assert(
    fc.property(fc.array(commandArb, { maxLength: 40 }), fc.array(commandArb, { maxLength: 20 }), (before, during) => {
      let root: SortedMapRoot = EMPTY_SORTED_MAP;
      let model = new Model();
      for (const command of before) [root, model] = [applyToRoot(root, command), applyToModel(model, command)];
      const seen: KeyValue[] = [];
      let next = root;
      const iterator = entries(root);
      for (let step = iterator.next(); step.done !== true; step = iterator.next()) {
        seen.push(step.value);
        // Interleave an update of the same lineage after each yielded entry.
        const command = during[seen.length - 1];
        if (command !== undefined) next = applyToRoot(next, command);
      }
      assert.deepEqual(show(seen), showModel(model.items));
    }),
    FC_OPTIONS,
  );
});

test('remove() of an absent key returns the same root', () => {
  const one = insert(EMPTY_SORTED_MAP, new Uint8Array([1]), new Uint8Array([10]));
  const root = insert(one, new Uint8Array([3]), new Uint8Array([30]));
  assert.equal(remove(root, new Uint8Array([2])), root);
  assert.equal(remove(EMPTY_SORTED_MAP, new Uint8Array([2])), null);
});

test('sequential inserts and removes keep the tree logarithmic', () => {
  const n = 5000;
  const key = (i: number): Uint8Array => new Uint8Array([i >> 8, i & 0xff]);
  let root: SortedMapRoot = EMPTY_SORTED_MAP;
  for (let i = 0; i < n; i++) root = insert(root, key(i), new Uint8Array([i & 0xff]));
  checkInvariants(root);
  assert.equal(size(root), n);
  // AVL height bound: h < 1.4405 log2(n + 2).
  assert.ok(root !== null && root.height < 1.4405 * Math.log2(n + 2), `height ${root?.height}`);
  for (let i = n - 1; i >= n / 2; i--) root = remove(root, key(i));
  checkInvariants(root);
  assert.equal(size(root), n / 2);
  // Iteration from a bound starts at the right place and honours reverse.
  const first = entries(root, { start: key(100), reverse: false }).next();
  assert.deepEqual(first.done === true ? undefined : first.value.key, key(100));
  const last = entries(root, { end: key(100), reverse: true }).next();
  assert.deepEqual(last.done === true ? undefined : last.value.key, key(99));
  assert.equal(removeRange(root, {}), null);
});
