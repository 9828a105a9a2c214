/**
 * An exclusive lock on a data directory, so that two servers never open the
 * same engine files (LMDB itself allows multi-process access, which would
 * let two raft stores with the same identity diverge silently).
 *
 * The lock is a `LOCK` file created with O_EXCL holding the owner's pid. A
 * lock left behind by a process that died (SIGKILL, power loss) is stale: its
 * pid is no longer alive and the next opener takes it over.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { EngineError, ENGINE_ERROR_CODES } from './engine.js';

export interface DataDirLock {
  readonly dir: string;
  release(): void;
}

const LOCK_FILE = 'LOCK';

/**
 * Creates `dir` if needed and locks it for this process.
 * @throws {EngineError} ENGINE_DATA_DIR_LOCKED when a live process holds it.
 */
export function acquireDataDirLock(dir: string): DataDirLock {
  fs.mkdirSync(dir, { recursive: true });
  const lockPath = path.join(dir, LOCK_FILE);
  const token = `${process.pid}\n`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockPath, token, { flag: 'wx' });
      return { dir, release: () => releaseLock(lockPath, token) };
    } catch (err: unknown) {
      if (!isErrno(err, 'EEXIST')) {
        throw new EngineError(ENGINE_ERROR_CODES.Io, `Cannot lock data dir ${dir}: ${String(err)}`, { cause: err });
      }
    }
    const owner = readOwnerPid(lockPath);
    if (owner !== undefined && isAlive(owner)) {
      throw new EngineError(
        ENGINE_ERROR_CODES.DataDirLocked,
        `Cannot open data dir ${dir}: it is in use by process ${owner} (lock file ${lockPath})`,
      );
    }
    // Stale lock of a dead process: remove it and try once more. If another
    // opener wins that race, our second O_EXCL create fails and we report it.
    fs.rmSync(lockPath, { force: true });
  }
  throw new EngineError(ENGINE_ERROR_CODES.DataDirLocked, `Cannot open data dir ${dir}: another process took the lock`);
}

function releaseLock(lockPath: string, token: string): void {
  try {
    if (fs.readFileSync(lockPath, 'utf8') === token) fs.rmSync(lockPath, { force: true });
  } catch {
    // Already gone: nothing to release.
  }
}

function readOwnerPid(lockPath: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(lockPath, 'utf8').trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err: unknown) {
    // EPERM: the process exists but belongs to someone else.
    return isErrno(err, 'EPERM');
  }
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
