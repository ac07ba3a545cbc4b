import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * PGlite is single-process (stack-notes): two processes opening one DATA_DIR corrupt it. Whoever opens the
 * embedded database — the server or a CLI command — first takes this lock file; the second one stops with a
 * clear message instead of a WASM crash. PostgreSQL deployments take no lock (many processes share it).
 */
export const LOCK_FILE_NAME = 'reusable-chat.lock';

export interface LockInfo {
  readonly pid: number;
  readonly hostname: string;
  /** `server` or `cli <command>`. */
  readonly holder: string;
  readonly started_at: string;
}

export class DataDirBusyError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: LockInfo,
  ) {
    const who = holder.holder === 'server' ? 'a running Reusable Chat server' : `another command (${holder.holder})`;
    const where = holder.hostname === os.hostname() ? `pid ${holder.pid}` : `pid ${holder.pid} on host ${holder.hostname}`;
    super(
      `The embedded database in ${dataDir} is in use by ${who} (${where}, since ${holder.started_at}).\n` +
        'The embedded database (PGlite) allows one process at a time: stop that process first, run this command\n' +
        'against PostgreSQL by setting DATABASE_URL, or use another DATA_DIR.\n' +
        `If no such process exists, delete ${path.join(dataDir, LOCK_FILE_NAME)}.`,
    );
    this.name = 'DataDirBusyError';
  }
}

export interface DataDirLock {
  readonly file: string;
  release(): void;
}

function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: the process exists but belongs to someone else — still alive.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A pid reused after a reboot by something that is not Node is not our server (Linux only; elsewhere trust kill).
  const cmdline = `/proc/${pid}/cmdline`;
  if (existsSync(cmdline)) {
    try {
      return /node|tsx|vitest/.test(readFileSync(cmdline, 'utf8'));
    } catch {
      return true;
    }
  }
  return true;
}

function readLock(file: string): LockInfo | null {
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockInfo>;
    if (typeof info.pid !== 'number' || typeof info.hostname !== 'string') return null;
    return {
      pid: info.pid,
      hostname: info.hostname,
      holder: typeof info.holder === 'string' ? info.holder : 'unknown',
      started_at: typeof info.started_at === 'string' ? info.started_at : 'unknown time',
    };
  } catch {
    return null;
  }
}

/** A lock is stale when its process is gone (or is us: a container restarted as pid 1 again). */
function isStale(info: LockInfo | null): boolean {
  if (!info) return true;
  if (info.hostname !== os.hostname()) return false; // cannot check another host's processes
  return info.pid === process.pid || !isProcessAlive(info.pid);
}

export function acquireDataDirLock(dataDir: string, holder: string): DataDirLock {
  const dir = path.resolve(dataDir);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE_NAME);
  const mine: LockInfo = { pid: process.pid, hostname: os.hostname(), holder, started_at: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      // `wx` fails if the file exists: creation is the atomic test-and-set.
      writeFileSync(file, JSON.stringify(mine) + '\n', { flag: 'wx', mode: 0o644 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const current = readLock(file);
      if (!isStale(current) || attempt >= 3) throw new DataDirBusyError(dir, current ?? { ...mine, holder: 'unknown' });
      rmSync(file, { force: true });
    }
  }

  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.removeListener('exit', release);
    const current = readLock(file);
    if (current && current.pid === process.pid && current.started_at === mine.started_at) rmSync(file, { force: true });
  };
  // A crash after this point still removes the file; a SIGKILL leaves it, and the next start finds it stale.
  process.on('exit', release);
  return { file, release };
}

/** Lock only when the database is the embedded one. */
export function acquireDataDirLockIfEmbedded(
  config: { databaseUrl: string | undefined; dataDir: string },
  holder: string,
): DataDirLock {
  if (config.databaseUrl) return { file: '', release: () => undefined };
  return acquireDataDirLock(config.dataDir, holder);
}
