import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface ImageJob {
  readonly path: string;
  readonly mime: string;
  readonly maxInputPixels: number;
  readonly thumbnailMaxPx: number;
  /** libvips' own per-operation timeout inside the child. */
  readonly timeoutSeconds: number;
}

export interface ImageJobResult {
  readonly width: number;
  readonly height: number;
  readonly cleaned: Buffer;
  readonly thumbnail: Buffer;
}

type ChildReply = { id: number; ok: true; result: ImageJobResult } | { id: number; ok: false; message: string };

interface Pending {
  resolve(result: ImageJobResult): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

const CHILD_FILE = 'image-process.child.mjs';

/**
 * Where the child script is: beside this module in the source tree, or beside the server bundle
 * (scripts/build.mjs copies it into apps/server/dist).
 */
function childScript(): string {
  const candidates = [new URL(`./${CHILD_FILE}`, import.meta.url), new URL(`./storage/${CHILD_FILE}`, import.meta.url)];
  for (const url of candidates) {
    const file = fileURLToPath(url);
    if (existsSync(file)) return file;
  }
  throw new Error(`${CHILD_FILE} not found next to ${fileURLToPath(import.meta.url)}`);
}

/**
 * Runs image jobs in one long-lived child process (U-07). A job that outlives `hardTimeoutMs` (libvips'
 * own timeout failed to stop it) kills the child; a crash fails only the jobs it had, and the next job
 * forks a fresh child. The child exits after `idleMs` without work, so an idle server holds no libvips.
 * Handles are unref'd: the pool never keeps a process (or a test run) alive.
 */
export class ImageProcessPool {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: { hardTimeoutMs: number; idleMs: number }) {}

  /** The child's pid while one runs (tests check the work happens in another process). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  run(job: ImageJob): Promise<ImageJobResult> {
    const child = this.ensureChild();
    const id = this.nextId++;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    return new Promise<ImageJobResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(child, new Error('image processing timed out'));
        child.kill('SIGKILL');
      }, this.options.hardTimeoutMs);
      timer.unref();
      this.pending.set(id, { resolve, reject, timer });
      this.setRef(child, true); // a job in flight keeps the process alive until it settles
      child.send({ id, ...job }, (error) => {
        if (error) this.settle(id, error);
      });
    });
  }

  /** Test hook: makes the child exit abruptly, as a libvips crash would. */
  crashForTest(): void {
    this.child?.send({ type: 'crash-for-test' });
  }

  close(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const child = this.child;
    if (child) {
      this.fail(child, new Error('image processing stopped'));
      child.kill('SIGKILL');
    }
  }

  private ensureChild(): ChildProcess {
    if (this.child && this.child.connected) return this.child;
    const child = fork(childScript(), [], {
      serialization: 'advanced', // Buffers cross IPC as bytes, not JSON arrays
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      execArgv: [],
    });
    child.on('message', (reply: ChildReply) => {
      if (reply.ok) this.settle(reply.id, undefined, { ...reply.result, cleaned: Buffer.from(reply.result.cleaned), thumbnail: Buffer.from(reply.result.thumbnail) });
      else this.settle(reply.id, new Error(reply.message));
    });
    child.on('exit', (code, signal) => this.fail(child, new Error(`image processing failed: the child process exited (${signal ?? code})`)));
    child.on('error', (error) => this.fail(child, error));
    this.setRef(child, false);
    this.child = child;
    return child;
  }

  private settle(id: number, error?: Error, result?: ImageJobResult): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    if (error) entry.reject(error);
    else entry.resolve(result!);
    if (this.pending.size === 0) {
      if (this.child) this.setRef(this.child, false);
      this.scheduleIdleExit();
    }
  }

  private setRef(child: ChildProcess, ref: boolean): void {
    const channel = child.channel as { ref?: () => void; unref?: () => void } | null | undefined;
    if (ref) {
      child.ref();
      channel?.ref?.();
    } else {
      child.unref();
      channel?.unref?.();
    }
  }

  /** Every job the given child had fails; the next job forks a new child. */
  private fail(child: ChildProcess, error: Error): void {
    if (this.child !== child) return;
    this.child = undefined;
    for (const [id, entry] of this.pending) {
      this.pending.delete(id);
      clearTimeout(entry.timer);
      entry.reject(error);
    }
  }

  private scheduleIdleExit(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      const child = this.child;
      if (child && this.pending.size === 0) {
        this.child = undefined;
        child.disconnect(); // the child exits on 'disconnect'
      }
    }, this.options.idleMs);
    this.idleTimer.unref();
  }
}
