/**
 * A persistent (immutable, path-copying) AVL tree from byte keys to byte
 * values, ordered by {@link compareBytes}. It backs `MemEngine`.
 *
 * Why persistent: an update copies only the O(log n) nodes on the path to the
 * changed key and shares everything else, so every older root stays a valid,
 * unchanging map. Capturing a root is therefore an O(1) point-in-time read
 * view, and an iteration over a captured root is unaffected by later writes.
 *
 * The API is a set of functions over roots (`SortedMapRoot`, `null` is the
 * empty map) rather than a class, so that a read view is just a reference.
 * Nodes are frozen by contract (`readonly`), never mutated after creation.
 * The map stores the key and value references it is given: callers that do
 * not own their buffers must copy them first (MemEngine does).
 */
import { assert } from '../util/assert.js';
import { compareBytes } from '../util/bytes.js';

export interface SortedMapNode {
  readonly key: Uint8Array;
  readonly value: Uint8Array;
  readonly left: SortedMapRoot;
  readonly right: SortedMapRoot;
  /** Height of this subtree; a leaf has height 1. */
  readonly height: number;
  /** Number of entries in this subtree, so that `size` is O(1). */
  readonly size: number;
}

/** A map is its root node; `null` is the empty map. */
export type SortedMapRoot = SortedMapNode | null;

export const EMPTY_SORTED_MAP: SortedMapRoot = null;

/** Bounds of an iteration; `undefined` means unbounded on that side. */
export interface SortedMapRange {
  /** Inclusive lower bound. */
  readonly start?: Uint8Array | undefined;
  /**
   * Exclusive upper bound. Unlike engine scans, an empty array here is a real
   * bound (it excludes every key); engines map their "empty = unbounded" to `undefined`.
   */
  readonly end?: Uint8Array | undefined;
  /** Visit keys from high to low, still within [start, end). */
  readonly reverse?: boolean | undefined;
}

function heightOf(node: SortedMapRoot): number {
  return node === null ? 0 : node.height;
}

/** Number of entries, O(1). */
export function size(root: SortedMapRoot): number {
  return root === null ? 0 : root.size;
}

function makeNode(key: Uint8Array, value: Uint8Array, left: SortedMapRoot, right: SortedMapRoot): SortedMapNode {
  return {
    key,
    value,
    left,
    right,
    height: Math.max(heightOf(left), heightOf(right)) + 1,
    size: size(left) + size(right) + 1,
  };
}

/**
 * Builds a node from two AVL subtrees whose heights differ by at most 2 (the
 * most a single insert or remove can cause), rotating to restore balance.
 */
function balance(key: Uint8Array, value: Uint8Array, left: SortedMapRoot, right: SortedMapRoot): SortedMapNode {
  const hl = heightOf(left);
  const hr = heightOf(right);
  if (!(Math.abs(hl - hr) <= 2)) assert(false, `AVL balance: subtree heights ${hl} and ${hr} differ by more than 2`);
  if (hl > hr + 1) {
    assert(left !== null, 'AVL balance: taller left subtree is empty');
    if (heightOf(left.left) >= heightOf(left.right)) {
      // Single right rotation.
      return makeNode(left.key, left.value, left.left, makeNode(key, value, left.right, right));
    }
    // Left-right double rotation: left.right becomes the new root.
    const lr = left.right;
    assert(lr !== null, 'AVL balance: left-right rotation without a pivot');
    const newLeft = makeNode(left.key, left.value, left.left, lr.left);
    return makeNode(lr.key, lr.value, newLeft, makeNode(key, value, lr.right, right));
  }
  if (hr > hl + 1) {
    assert(right !== null, 'AVL balance: taller right subtree is empty');
    if (heightOf(right.right) >= heightOf(right.left)) {
      // Single left rotation.
      return makeNode(right.key, right.value, makeNode(key, value, left, right.left), right.right);
    }
    // Right-left double rotation: right.left becomes the new root.
    const rl = right.left;
    assert(rl !== null, 'AVL balance: right-left rotation without a pivot');
    const newRight = makeNode(right.key, right.value, rl.right, right.right);
    return makeNode(rl.key, rl.value, makeNode(key, value, left, rl.left), newRight);
  }
  return makeNode(key, value, left, right);
}

/** The value at `key`, or `undefined`. O(log n). */
export function get(root: SortedMapRoot, key: Uint8Array): Uint8Array | undefined {
  let node = root;
  while (node !== null) {
    const c = compareBytes(key, node.key);
    if (c === 0) return node.value;
    node = c < 0 ? node.left : node.right;
  }
  return undefined;
}

/** A new root mapping `key` to `value` (replacing any old value); `root` is unchanged. O(log n). */
export function insert(root: SortedMapRoot, key: Uint8Array, value: Uint8Array): SortedMapNode {
  if (root === null) return makeNode(key, value, null, null);
  const c = compareBytes(key, root.key);
  if (c === 0) return makeNode(key, value, root.left, root.right);
  if (c < 0) return balance(root.key, root.value, insert(root.left, key, value), root.right);
  return balance(root.key, root.value, root.left, insert(root.right, key, value));
}

/** Splits off the smallest entry of a non-empty tree. */
function removeMin(node: SortedMapNode): { min: SortedMapNode; rest: SortedMapRoot } {
  if (node.left === null) return { min: node, rest: node.right };
  const { min, rest } = removeMin(node.left);
  return { min, rest: balance(node.key, node.value, rest, node.right) };
}

/** Joins two AVL trees whose heights differ by at most 1 and whose keys are ordered left < right. */
function join(left: SortedMapRoot, right: SortedMapRoot): SortedMapRoot {
  if (left === null) return right;
  if (right === null) return left;
  const { min, rest } = removeMin(right);
  return balance(min.key, min.value, left, rest);
}

/**
 * A new root without `key`; `root` is unchanged. When `key` is absent the
 * same root is returned (callers may rely on identity to detect a no-op).
 * O(log n).
 */
export function remove(root: SortedMapRoot, key: Uint8Array): SortedMapRoot {
  if (root === null) return null;
  const c = compareBytes(key, root.key);
  if (c === 0) return join(root.left, root.right);
  if (c < 0) {
    const left = remove(root.left, key);
    return left === root.left ? root : balance(root.key, root.value, left, root.right);
  }
  const right = remove(root.right, key);
  return right === root.right ? root : balance(root.key, root.value, root.left, right);
}

/**
 * A new root without any key in [start, end); `root` is unchanged.
 * O(k log n) for k removed keys: it iterates the old root, which stays valid
 * while the new one is built, instead of collecting the keys first.
 */
export function removeRange(root: SortedMapRoot, range: Omit<SortedMapRange, 'reverse'>): SortedMapRoot {
  let next = root;
  for (const node of nodes(root, range)) next = remove(next, node.key);
  return next;
}

/**
 * Entries within the bounds in key order (or reverse order), lazily: an
 * explicit stack of at most O(log n) nodes, O(log n + k) for k entries.
 * Yields the stored key and value references (see the module comment).
 */
export function* entries(
  root: SortedMapRoot,
  range: SortedMapRange = {},
): Generator<{ readonly key: Uint8Array; readonly value: Uint8Array }, void, undefined> {
  for (const node of nodes(root, range)) yield { key: node.key, value: node.value };
}

function nodes(root: SortedMapRoot, range: SortedMapRange): Generator<SortedMapNode, void, undefined> {
  return range.reverse === true
    ? nodesReverse(root, range.start, range.end)
    : nodesForward(root, range.start, range.end);
}

function* nodesForward(
  root: SortedMapRoot,
  start: Uint8Array | undefined,
  end: Uint8Array | undefined,
): Generator<SortedMapNode, void, undefined> {
  // The stack holds, bottom to top, the ancestors still to visit: each is >= start.
  const stack: SortedMapNode[] = [];
  let node = root;
  while (node !== null) {
    if (start === undefined || compareBytes(node.key, start) >= 0) {
      stack.push(node);
      node = node.left;
    } else {
      node = node.right;
    }
  }
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    if (end !== undefined && compareBytes(top.key, end) >= 0) return;
    yield top;
    for (let n = top.right; n !== null; n = n.left) stack.push(n);
  }
}

function* nodesReverse(
  root: SortedMapRoot,
  start: Uint8Array | undefined,
  end: Uint8Array | undefined,
): Generator<SortedMapNode, void, undefined> {
  // Mirror image of nodesForward: the stack holds ancestors that are < end.
  const stack: SortedMapNode[] = [];
  let node = root;
  while (node !== null) {
    if (end === undefined || compareBytes(node.key, end) < 0) {
      stack.push(node);
      node = node.right;
    } else {
      node = node.left;
    }
  }
  for (let top = stack.pop(); top !== undefined; top = stack.pop()) {
    if (start !== undefined && compareBytes(top.key, start) < 0) return;
    yield top;
    for (let n = top.left; n !== null; n = n.right) stack.push(n);
  }
}

/**
 * Checks every structural invariant (strict key order, cached heights and
 * sizes, AVL balance) in O(n). For tests and debugging.
 * @throws {AssertionError} on the first broken invariant.
 */
export function checkInvariants(root: SortedMapRoot): void {
  checkSubtree(root, undefined, undefined);
}

function checkSubtree(node: SortedMapRoot, low: Uint8Array | undefined, high: Uint8Array | undefined): void {
  if (node === null) return;
  assert(low === undefined || compareBytes(low, node.key) < 0, 'sorted map: key not above its lower bound');
  assert(high === undefined || compareBytes(node.key, high) < 0, 'sorted map: key not below its upper bound');
  checkSubtree(node.left, low, node.key);
  checkSubtree(node.right, node.key, high);
  const hl = heightOf(node.left);
  const hr = heightOf(node.right);
  if (!(Math.abs(hl - hr) <= 1)) assert(false, `sorted map: unbalanced node (heights ${hl} and ${hr})`);
  assert(node.height === Math.max(hl, hr) + 1, 'sorted map: stale height');
  assert(node.size === size(node.left) + size(node.right) + 1, 'sorted map: stale size');
}
