// Goal: the append-order check (TinyKV GenericTest's checkClntAppends and
// checkConcurrentAppends) accepts every value built by appending a client's
// elements once each in order, and reports missing, duplicated and reordered
// elements. Method: values built by hand from `appendElement`, including
// interleavings of several clients and prefixes that look alike (x 1 1 y vs
// x 1 10 y), checking the message names the offending element.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendElement, checkClientAppends, checkConcurrentAppends } from './append_order.js';

const elems = (client: number, js: readonly number[]): string => js.map((j) => appendElement(client, j)).join('');

describe('checkClientAppends', () => {
  test('accepts all appends once, in order', () => {
    assert.equal(checkClientAppends(3, elems(3, [0, 1, 2, 3]), 4), undefined);
  });

  test('accepts an empty value when nothing was acknowledged', () => {
    assert.equal(checkClientAppends(0, '', 0), undefined);
  });

  test('ignores an extra trailing append beyond count (an indeterminate last append may have landed)', () => {
    assert.equal(checkClientAppends(1, elems(1, [0, 1, 2]), 2), undefined);
  });

  test('ignores other clients\' elements interleaved', () => {
    const value = appendElement(1, 0) + appendElement(2, 0) + appendElement(1, 1) + appendElement(2, 1);
    assert.equal(checkClientAppends(1, value, 2), undefined);
    assert.equal(checkClientAppends(2, value, 2), undefined);
  });

  test('does not confuse x 1 1 y with x 1 10 y or x 11 1 y', () => {
    const value = elems(1, [0, 2, 3, 4, 5, 6, 7, 8, 9, 10]) + appendElement(11, 1);
    const problem = checkClientAppends(1, value, 11);
    assert.match(problem ?? '', /missing element "x 1 1 y"/);
  });

  test('reports a missing element (lost write)', () => {
    const problem = checkClientAppends(2, elems(2, [0, 2]), 3);
    assert.match(problem ?? '', /^client 2: missing element "x 2 1 y" \(append 1 of 3\)/);
  });

  test('reports a duplicated element (a proposal applied twice)', () => {
    const problem = checkClientAppends(0, elems(0, [0, 1, 1, 2]), 3);
    assert.match(problem ?? '', /^client 0: duplicate element "x 0 1 y" at offsets 7 and 14/);
  });

  test('reports the wrong order (appends applied out of order)', () => {
    const problem = checkClientAppends(4, elems(4, [1, 0, 2]), 3);
    assert.match(problem ?? '', /^client 4: wrong order: "x 4 1 y" at offset 0 precedes "x 4 0 y"/);
  });

  test('shortens long values in messages', () => {
    const value = elems(5, Array.from({ length: 200 }, (_, j) => j).filter((j) => j !== 150));
    const problem = checkClientAppends(5, value, 200) ?? '';
    assert.match(problem, /missing element "x 5 150 y"/);
    assert.match(problem, /chars\)$/);
    assert.ok(problem.length < 400, problem);
  });
});

describe('checkConcurrentAppends', () => {
  test('accepts interleaved clients each in order', () => {
    const value = appendElement(0, 0) + appendElement(1, 0) + appendElement(1, 1) + appendElement(0, 1);
    assert.equal(checkConcurrentAppends(value, [2, 2]), undefined);
  });

  test('reports the first client with a problem', () => {
    const value = appendElement(0, 0) + appendElement(1, 1) + appendElement(1, 0);
    assert.match(checkConcurrentAppends(value, [1, 2]) ?? '', /^client 1: wrong order/);
  });
});
