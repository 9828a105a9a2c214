/**
 * A small port of the datadriven test format (cockroachdb/datadriven, as used
 * by etcd raft's interaction tests). A file is a sequence of test cases:
 *
 *     # comments and blank lines between cases are kept as they are
 *     command arg1 key=val key=(a,b) key=(a b)
 *     optional input lines
 *     ----
 *     expected output
 *     <blank line ends the case>
 *
 * An expected output that itself contains blank lines is written between
 * doubled separators:
 *
 *     command
 *     ----
 *     ----
 *     output with
 *
 *     a blank line
 *     ----
 *     ----
 *
 * `runTestFile` feeds each case to a handler and compares the handler's
 * output with the expected block. A mismatch throws an AssertionError showing
 * both outputs and a line diff; the file is never touched. In rewrite mode
 * (`rewrite: true`, or env `REWRITE=1` through {@link rewriteRequested}) the
 * expected blocks are replaced with the actual outputs and the file is
 * written back; comments, commands and inputs are kept verbatim.
 */
import { AssertionError } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';

/** One argument of a command line: `key`, `key=val` or `key=(v1,v2)`. */
export interface CmdArg {
  readonly key: string;
  readonly vals: readonly string[];
}

/** One test case of a file. */
export interface TestData {
  /** `file:line` of the command line, for messages. */
  readonly pos: string;
  readonly cmd: string;
  readonly cmdArgs: readonly CmdArg[];
  /** The lines between the command line and `----`, joined with '\n' (no trailing newline). */
  readonly input: string;
  /** The expected output, normalised to end with '\n' unless empty. */
  readonly expected: string;
}

type Chunk = { readonly kind: 'text'; readonly text: string } | { readonly kind: 'case'; readonly header: string; readonly data: TestData };

/**
 * Whether golden files should be rewritten: env `REWRITE=1`, or `--rewrite`
 * on the command line (`node dist/src/raft/interaction.test.js --rewrite`,
 * or `npm run raft:rewrite`).
 */
export function rewriteRequested(): boolean {
  if (process.argv.includes('--rewrite')) return true;
  const v = process.env['REWRITE'];
  return v !== undefined && v !== '' && v !== '0' && v !== 'false';
}

/** Looks up `key` among the arguments. */
export function findArg(args: readonly CmdArg[], key: string): CmdArg | undefined {
  return args.find((a) => a.key === key);
}

/**
 * Parses a command line `cmd a b=1 c=(x,y) d=(x y)` into the command and its
 * arguments. @throws {Error} on unbalanced parentheses.
 */
export function parseLine(line: string): { cmd: string; args: CmdArg[] } {
  const tokens: string[] = [];
  let cur = '';
  let depth = 0;
  for (const ch of line.trim()) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (depth < 0) throw new Error(`unbalanced ')' in ${JSON.stringify(line)}`);
    if (/\s/.test(ch) && depth === 0) {
      if (cur !== '') tokens.push(cur);
      cur = '';
    } else {
      cur += ch;
    }
  }
  if (depth !== 0) throw new Error(`unbalanced '(' in ${JSON.stringify(line)}`);
  if (cur !== '') tokens.push(cur);
  const [cmd, ...rest] = tokens;
  if (cmd === undefined) throw new Error('empty command line');
  const args = rest.map((tok): CmdArg => {
    const eq = tok.indexOf('=');
    if (eq < 0) return { key: tok, vals: [] };
    const key = tok.slice(0, eq);
    const val = tok.slice(eq + 1);
    if (val.startsWith('(') && val.endsWith(')')) {
      const inner = val.slice(1, -1).trim();
      return { key, vals: inner === '' ? [] : inner.split(/[\s,]+/).filter((v) => v !== '') };
    }
    return { key, vals: [val] };
  });
  return { cmd, args };
}

const SEP = '----';

function withTrailingNewline(s: string): string {
  return s === '' || s.endsWith('\n') ? s : `${s}\n`;
}

/** Splits a file into verbatim text (comments, blank lines) and test cases. */
export function parseTestFile(text: string, filename: string): Chunk[] {
  const lines = text.split('\n');
  // A final newline produces one empty trailing element: drop it.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const chunks: Chunk[] = [];
  let i = 0;
  let pendingText: string[] = [];
  const flushText = (): void => {
    if (pendingText.length > 0) chunks.push({ kind: 'text', text: pendingText.map((l) => `${l}\n`).join('') });
    pendingText = [];
  };
  while (i < lines.length) {
    const line = lines[i] as string;
    if (line.trim() === '' || line.startsWith('#')) {
      pendingText.push(line);
      i++;
      continue;
    }
    flushText();
    const startLine = i + 1;
    const headerLines: string[] = [line];
    i++;
    while (i < lines.length && lines[i] !== SEP) {
      headerLines.push(lines[i] as string);
      i++;
    }
    if (i >= lines.length) throw new Error(`${filename}:${startLine}: expected '${SEP}' after the command`);
    i++; // the separator
    const out: string[] = [];
    if (lines[i] === SEP) {
      // Doubled separators: the output runs until '----' '----'.
      i++;
      while (i < lines.length && !(lines[i] === SEP && lines[i + 1] === SEP)) {
        out.push(lines[i] as string);
        i++;
      }
      if (i >= lines.length) throw new Error(`${filename}:${startLine}: unterminated '${SEP}' '${SEP}' output block`);
      i += 2;
    } else {
      while (i < lines.length && (lines[i] as string) !== '') {
        out.push(lines[i] as string);
        i++;
      }
    }
    const { cmd, args } = parseLine(line);
    chunks.push({
      kind: 'case',
      header: headerLines.map((l) => `${l}\n`).join(''),
      data: {
        pos: `${filename}:${startLine}`,
        cmd,
        cmdArgs: args,
        input: headerLines.slice(1).join('\n'),
        expected: out.map((l) => `${l}\n`).join(''),
      },
    });
    // The blank line that ended the case is kept as text, like any other.
  }
  flushText();
  return chunks;
}

/** Renders one case back to text, choosing the doubled separators when needed. */
function renderCase(header: string, output: string): string {
  const out = withTrailingNewline(output);
  const needsDouble = out.split('\n').slice(0, -1).some((l) => l.trim() === '');
  if (needsDouble) return `${header}${SEP}\n${SEP}\n${out}${SEP}\n${SEP}\n`;
  return `${header}${SEP}\n${out}`;
}

/** A line-by-line diff (`-` expected, `+` actual), on the longest common subsequence. */
export function lineDiff(expected: string, actual: string): string {
  const a = expected.split('\n');
  const b = actual.split('\n');
  const n = a.length;
  const m = b.length;
  // lcs[i][j] = LCS length of a[i..] and b[j..].
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push(`  ${a[i]}`);
      i++;
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) {
      out.push(`- ${a[i]}`);
      i++;
    } else {
      out.push(`+ ${b[j]}`);
      j++;
    }
  }
  while (i < n) out.push(`- ${a[i++]}`);
  while (j < m) out.push(`+ ${b[j++]}`);
  return out.join('\n');
}

export interface RunOptions {
  /** Rewrite the file with the actual outputs instead of comparing. @default rewriteRequested() */
  readonly rewrite?: boolean;
}

/**
 * Runs every case of the file at `path` through `handler`, in order.
 * @throws {AssertionError} at the first case whose output differs (compare mode).
 */
export function runTestFile(path: string, handler: (d: TestData) => string, opts: RunOptions = {}): void {
  const rewrite = opts.rewrite ?? rewriteRequested();
  const chunks = parseTestFile(readFileSync(path, 'utf8'), path);
  let rewritten = '';
  for (const chunk of chunks) {
    if (chunk.kind === 'text') {
      rewritten += chunk.text;
      continue;
    }
    const d = chunk.data;
    const actual = withTrailingNewline(handler(d));
    if (rewrite) {
      rewritten += renderCase(chunk.header, actual);
      continue;
    }
    if (actual !== d.expected) {
      throw new AssertionError({
        message:
          `${d.pos}: output of \`${chunk.header.trimEnd()}\` differs from the golden file ` +
          `(REWRITE=1 rewrites it; review the diff first)\n` +
          `--- expected\n${d.expected}+++ actual\n${actual}` +
          `--- diff (- expected, + actual)\n${lineDiff(d.expected, actual)}`,
        expected: d.expected,
        actual,
        operator: 'datadriven',
      });
    }
  }
  if (rewrite) writeFileSync(path, rewritten);
}
