/**
 * Test support: runs `tinykv server` (`--standalone` unless told otherwise)
 * as a real child process, the way an operator would, so tests can SIGKILL
 * it and restart it.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository's `bin/tinykv.js`, found from the compiled test location. */
export const TINYKV_BIN = fileURLToPath(new URL('../../../bin/tinykv.js', import.meta.url));

export interface ChildServer {
  readonly child: ChildProcess;
  readonly addr: string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  stderr(): string;
}

export interface SpawnResult {
  readonly code: number | string;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Starts a server and waits for its `listening on <addr>` line. `modeArgs`
 * choose the mode and its options (e.g. `['--raft', '--raft-tick-ms', '20']`).
 */
export async function spawnServer(dataDir: string, timeoutMs = 15_000, modeArgs: readonly string[] = ['--standalone']): Promise<ChildServer> {
  const child = spawn(
    process.execPath,
    [TINYKV_BIN, 'server', ...modeArgs, '--data-dir', dataDir, '--addr', '127.0.0.1:0', '--log-level', 'warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const addr = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    child.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /^listening on (\S+)$/m.exec(stdout);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening: ${stderr}`));
    });
  });
  return { child, addr, exited, stderr: () => stderr };
}

/** Runs `tinykv <args>` to completion. */
export function runTinykv(args: readonly string[], timeoutMs = 30_000): Promise<SpawnResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TINYKV_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`tinykv ${args.join(' ')} did not finish in ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal ?? -1, stdout, stderr });
    });
  });
}
