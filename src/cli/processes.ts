/**
 * Child processes of the playground and the chaos test: a scheduler or a
 * store started as `tinykv <subcommand>` exactly as an operator would start
 * it, its logs appended to a file, its address taken from its first stdout
 * line (`listening on <addr>`, the contract every server command keeps).
 *
 * Stopping is graceful first (SIGTERM: in-flight calls finish, engines
 * close) and forced after a grace period (SIGKILL), so a wedged child can
 * never hang the parent's shutdown. `kill('SIGKILL')` is the chaos test's
 * crash.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CodedError } from '../util/errors.js';

/** Set for children: their stdin is a pipe from the parent, and its end means "stop". */
export const LIFELINE_ENV = 'TINYKV_LIFELINE';

/** The repository's `bin/tinykv.js`, found from this compiled module (dist/src/cli). */
export const TINYKV_BIN = fileURLToPath(new URL('../../../bin/tinykv.js', import.meta.url));

export const PROCESS_ERROR_CODES = {
  /** The child exited or stayed silent instead of announcing its address. */
  StartFailed: 'PROCESS_START_FAILED',
} as const;
export type ProcessErrorCode = (typeof PROCESS_ERROR_CODES)[keyof typeof PROCESS_ERROR_CODES];

export class ProcessError extends CodedError<ProcessErrorCode> {
  override readonly name = 'ProcessError';
}

export interface ChildNodeOptions {
  /** For messages: "scheduler", "store 1", … */
  readonly name: string;
  /** Arguments after `tinykv`. */
  readonly args: readonly string[];
  /** Where stdout (after the address line) and stderr go, appended. */
  readonly logFile: string;
  /** @default 30_000 */
  readonly startTimeoutMs?: number;
}

/** How a child ended: its exit code, or the signal that ended it. */
export type ExitStatus = number | NodeJS.Signals;

export class ChildNode {
  readonly name: string;
  readonly addr: string;
  /** Settles once when the process ends. */
  readonly exited: Promise<ExitStatus>;
  private readonly child: ChildProcess;
  private ended = false;

  private constructor(name: string, addr: string, child: ChildProcess, exited: Promise<ExitStatus>) {
    this.name = name;
    this.addr = addr;
    this.child = child;
    this.exited = exited;
    void exited.then(() => {
      this.ended = true;
    });
  }

  /** Starts the child and waits for its address. @throws {ProcessError} PROCESS_START_FAILED */
  static async start(options: ChildNodeOptions): Promise<ChildNode> {
    fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
    const log = fs.openSync(options.logFile, 'a');
    // Own process group: a terminal's Ctrl-C reaches only the parent, which stops children in order (a child
    // signalled twice would exit without its graceful stop). The stdin pipe is the lifeline: when the parent
    // dies, even by SIGKILL, the pipe closes and the child stops itself (LIFELINE_ENV).
    const child = spawn(process.execPath, [TINYKV_BIN, ...options.args], {
      stdio: ['pipe', 'pipe', log], detached: true, env: { ...process.env, [LIFELINE_ENV]: '1' },
    });
    fs.closeSync(log); // the child holds its own descriptor
    const exited = new Promise<ExitStatus>((resolve) => {
      child.on('exit', (code, signal) => resolve(code ?? signal ?? 'SIGKILL'));
    });
    const timeoutMs = options.startTimeoutMs ?? 30_000;
    const logStream = fs.createWriteStream(options.logFile, { flags: 'a' });
    const addr = await new Promise<string>((resolve, reject) => {
      let seen = '';
      let found = false;
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new ProcessError(PROCESS_ERROR_CODES.StartFailed, `${options.name} did not announce its address within ${timeoutMs} ms (log: ${options.logFile})`));
      }, timeoutMs);
      child.stdout?.on('data', (d: Buffer) => {
        if (found) {
          logStream.write(d);
          return;
        }
        seen += d.toString();
        const m = /^listening on (\S+)$/m.exec(seen);
        if (m?.[1] === undefined) return;
        found = true;
        clearTimeout(timer);
        resolve(m[1]);
      });
      void exited.then((status) => {
        logStream.end();
        if (found) return;
        clearTimeout(timer);
        reject(new ProcessError(PROCESS_ERROR_CODES.StartFailed, `${options.name} exited (${status}) before listening; see ${options.logFile}:\n${tail(options.logFile)}`));
      });
    });
    return new ChildNode(options.name, addr, child, exited);
  }

  get running(): boolean {
    return !this.ended;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Sends a signal (SIGKILL: the chaos test's crash). */
  kill(signal: NodeJS.Signals): void {
    if (!this.ended) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL if the child is still there after `graceMs`. */
  async stop(graceMs = 10_000): Promise<ExitStatus> {
    if (this.ended) return this.exited;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The last lines of a log file, for an error message. */
function tail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}
