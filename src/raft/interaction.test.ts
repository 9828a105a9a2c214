/**
 * Goal: pin down whole raft interactions (elections, replication, conf
 * changes, snapshots, leader transfer, ReadIndex) message by message, as
 * etcd raft's datadriven interaction tests do.
 *
 * Method: every `src/raft/testdata/*.txt` script is run, as one test named
 * after the file, against a fresh InteractionEnv (testing/interaction_env.ts);
 * each command's output must equal the golden block under it
 * (testing/datadriven.ts). A mismatch fails with expected, actual and a diff.
 *
 * To regenerate the goldens after an intended change, rebuild and run
 *
 *     REWRITE=1 node --test dist/src/raft/interaction.test.js
 *
 * which rewrites the .txt files in src/raft/testdata/ (the source tree: tsc
 * does not copy them to dist/, so the path is resolved back from
 * import.meta.url). Then review every changed output with `git diff`: the
 * goldens are only as good as that review.
 *
 * The datadriven runner itself is checked first, on scratch files: parsing,
 * a mismatch (fails with a diff, file untouched), and rewrite mode.
 *
 * A script whose leading comment has a line `# skip: <reason>` is registered
 * as skipped with that reason (used for `CORE BUG: ...` scripts whose golden
 * shows the correct behaviour the core does not have yet). Skipped scripts
 * are not run, so REWRITE=1 leaves them untouched.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseLine, runTestFile } from './testing/datadriven.js';
import type { TestData } from './testing/datadriven.js';
import { InteractionEnv, parseConfChanges } from './testing/interaction_env.js';

/** src/raft/testdata of the source tree, whether this runs from dist/ or from src/. */
function testdataDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const distMarker = `${sep}dist${sep}src${sep}`;
  const i = here.lastIndexOf(distMarker);
  const srcDir = i < 0 ? here : `${here.slice(0, i)}${sep}src${sep}${here.slice(i + distMarker.length)}`;
  return join(srcDir, 'testdata');
}

describe('datadriven runner', () => {
  const echo = (d: TestData): string => `${d.cmd}|${d.cmdArgs.map((a) => `${a.key}=${a.vals.join('+')}`).join(' ')}|${d.input}`;

  function withScratch(text: string, f: (path: string) => void): void {
    const dir = mkdtempSync(join(tmpdir(), 'datadriven-'));
    try {
      const path = join(dir, 'case.txt');
      writeFileSync(path, text);
      f(path);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test('parseLine: keys, values and lists', () => {
    assert.deepEqual(parseLine('add-nodes 3 voters=(1,2, 3) learners=(4 5) index=10 empty=()'), {
      cmd: 'add-nodes',
      args: [
        { key: '3', vals: [] },
        { key: 'voters', vals: ['1', '2', '3'] },
        { key: 'learners', vals: ['4', '5'] },
        { key: 'index', vals: ['10'] },
        { key: 'empty', vals: [] },
      ],
    });
    assert.throws(() => parseLine('cmd a=(1,2'), /unbalanced/);
    assert.deepEqual(parseConfChanges(' v2 l3\nr4 '), [
      { changeType: 0, nodeId: 2 },
      { changeType: 2, nodeId: 3 },
      { changeType: 1, nodeId: 4 },
    ]);
  });

  const script = '# comment\n\ncmd a b=(1,2)\nline two\n----\ncmd|a= b=1+2|line two\n\n# another\nother\n----\n----\nx\n\ny\n----\n----\n';

  test('matching outputs pass, including a doubled-separator block', () => {
    withScratch(script, (path) => {
      runTestFile(path, (d) => (d.cmd === 'other' ? 'x\n\ny' : echo(d)), { rewrite: false });
    });
  });

  test('a mismatch fails with expected, actual and a diff, and leaves the file untouched', () => {
    withScratch(script, (path) => {
      assert.throws(
        () => runTestFile(path, (d) => (d.cmd === 'other' ? 'x\n\nz' : echo(d)), { rewrite: false }),
        (err: unknown) => {
          assert.ok(err instanceof assert.AssertionError);
          assert.match(err.message, /case\.txt:9: output of `other` differs/);
          assert.match(err.message, /- y\n\+ z/);
          return true;
        },
      );
      assert.equal(readFileSync(path, 'utf8'), script);
    });
  });

  test('rewrite mode replaces outputs and keeps comments, commands and inputs', () => {
    withScratch(script, (path) => {
      runTestFile(path, (d) => (d.cmd === 'other' ? 'single' : `new ${d.cmd}`), { rewrite: true });
      assert.equal(readFileSync(path, 'utf8'), '# comment\n\ncmd a b=(1,2)\nline two\n----\nnew cmd\n\n# another\nother\n----\nsingle\n');
    });
  });
});

const dir = testdataDir();
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.txt'))
  .sort();

test('interaction testdata is present', () => {
  if (files.length === 0) throw new Error(`no .txt scripts in ${dir}`);
});

/** The reason of a `# skip: <reason>` line in the file's leading comment block. */
function skipReason(path: string): string | undefined {
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.startsWith('#')) break;
    const m = /^# skip: (.+)$/.exec(line);
    if (m !== null) return m[1];
  }
  return undefined;
}

for (const file of files) {
  const skip = skipReason(join(dir, file));
  test(file.replace(/\.txt$/, ''), skip !== undefined ? { skip } : {}, () => {
    const env = new InteractionEnv();
    runTestFile(join(dir, file), (d) => env.handle(d));
  });
}
