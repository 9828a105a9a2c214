#!/usr/bin/env node
// The `tinykv` command. The TypeScript sources are compiled to dist/ by
// `npm run build` (run automatically by `npm ci` through the prepare script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/src/cli/bin.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('tinykv: dist/ is missing; run `npm run build` first\n');
  process.exit(1);
}
await import(entry.href);
