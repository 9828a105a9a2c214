#!/usr/bin/env node
// Runs every compiled test file under dist/ with node's test runner. Node 20
// does not expand globs in `node --test`, so the files are listed here.
// Usage: node scripts/run-tests.mjs [substring-filter ...]
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const distRoots = ['dist/src', 'dist/bench'].map((d) => join(root, d));

function walk(dir, out) {
  let names;
  try {
    names = readdirSync(dir).sort();
  } catch {
    return out;
  }
  for (const name of names) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.js')) out.push(relative(root, path));
  }
  return out;
}

const filters = process.argv.slice(2);
const files = distRoots
  .flatMap((d) => walk(d, []))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('run-tests: no test files found under dist/ (did the build run?)');
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--enable-source-maps', '--test', '--test-concurrency=2', '--test-reporter=tap', ...files],
  { cwd: root, stdio: 'inherit' },
);
process.exit(result.status ?? 1);
