// Goal: the LMDB engine and the in-memory engine behave identically, so tests
// and the simulator that run on the in-memory engine say something about
// production. Method: the shared suite in engine_conformance.ts, once per
// engine, each test on a fresh engine (LMDB in a fresh temp directory).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeEngineConformance } from './engine_conformance.js';
import { LmdbEngine } from './lmdb_engine.js';
import { MemEngine } from './mem_engine.js';

describeEngineConformance('lmdb', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tinykv-engine-'));
  const engine = new LmdbEngine({ dataDir });
  return {
    engine,
    dispose: async () => {
      await engine.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
});

describeEngineConformance('memory', async () => {
  const engine = new MemEngine();
  return { engine, dispose: () => engine.close() };
});
