import cluster, { type Worker } from 'node:cluster';
import type { Config } from '@reusable-chat/config';

/**
 * Zero-downtime reload of one node (docs/restarts.md), the way pm2 reload and Node's cluster do it: a `node:cluster`
 * primary owns the listening port and runs one worker, which is the normal server. On SIGHUP it forks a new
 * worker, waits until it listens and its /ready is green, and only then asks the old one to shut down (its usual
 * graceful path: stop accepting, 4200 to every socket, drain, exit). pusher-js reconnects at once after 4200, and
 * that immediate retry is accepted by the primary and handed to the new worker, so the port never goes unanswered
 * (a cold restart leaves it closed and pusher-js then waits out its 15 s connection timeout).
 *
 * SIGHUP rather than SIGUSR2: nodemon and some debuggers take SIGUSR2 for themselves.
 */

/** Message a worker sends to the primary once it listens and /ready answers 200. */
export const READY_MESSAGE = 'reusable-chat:ready';

/** A new worker that is not ready in this long is killed and the reload abandoned (the old one keeps serving). */
const READY_TIMEOUT_MS = 90_000;
/** A worker asked to stop gets this long (its own shutdown deadline is 15 s) before it is killed. */
const STOP_TIMEOUT_MS = 20_000;
/** Crash re-fork back-off: doubles from the first step up to the cap, and starts over after a worker ran this long. */
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const BACKOFF_RESET_AFTER_MS = 60_000;
/** How often a starting worker asks its own /ready again while a dependency is not reachable yet. */
const READY_POLL_MS = 250;

export interface SupervisorOptions {
  readonly config: Config;
  /** The worker's entry script and arguments (the file that starts the server when it is the entry point). */
  readonly exec: string;
  readonly args?: readonly string[];
  /** Log lines (default: stdout, prefixed). */
  readonly log?: (line: string) => void;
}

interface Slot {
  readonly worker: Worker;
  readonly pid: number;
  readonly startedAt: number;
  ready: boolean;
  /** We asked it to stop (reload or shutdown): its exit is not a crash. */
  stopping: boolean;
  readonly readyPromise: Promise<boolean>;
  readonly exited: Promise<number>;
}

/**
 * Run the primary until SIGTERM/SIGINT; resolves with the exit code. The first worker failing before it was ever
 * ready ends the supervisor with 1 (a configuration error must not loop); later crashes are re-forked with back-off.
 */
export async function runSupervisor(options: SupervisorOptions): Promise<number> {
  const log = options.log ?? ((line: string) => process.stdout.write(`[supervisor ${process.pid}] ${line}\n`));
  const embedded = !options.config.databaseUrl;
  // Shared handle, not round-robin, unless NODE_CLUSTER_SCHED_POLICY says otherwise: with round-robin the primary
  // accepts every connection and hands it to the worker over IPC, one round trip per connection (measured: about
  // 2 000 connections/s); with SCHED_NONE the worker accepts from the primary's listening socket itself, with its
  // own backlog. The socket stays open while one worker (or the primary) holds it, so a reload never closes it.
  if (!process.env.NODE_CLUSTER_SCHED_POLICY) cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({ exec: options.exec, args: [...(options.args ?? [])] });

  let current: Slot | undefined;
  let everReady = false;
  let shuttingDown = false;
  let reloading = false;
  let backoffMs = BACKOFF_FIRST_MS;
  let reforkTimer: NodeJS.Timeout | undefined;
  const live = new Set<Slot>();
  let finish: ((code: number) => void) | undefined;
  const finished = new Promise<number>((resolve) => (finish = resolve));

  const fork = (): Slot => {
    const worker = cluster.fork();
    const pid = worker.process.pid ?? -1;
    let markReady: (ok: boolean) => void = () => undefined;
    const readyPromise = new Promise<boolean>((resolve) => (markReady = resolve));
    const exited = new Promise<number>((resolve) => {
      worker.on('exit', (code, signal) => {
        live.delete(slot);
        markReady(false);
        resolve(code ?? (signal ? 1 : 0));
        onExit(slot, code, signal);
      });
    });
    const slot: Slot = { worker, pid, startedAt: Date.now(), ready: false, stopping: false, readyPromise, exited };
    worker.on('message', (message: unknown) => {
      if ((message as { type?: unknown } | null)?.type !== READY_MESSAGE || slot.ready) return;
      slot.ready = true;
      markReady(true);
    });
    live.add(slot);
    log(`worker ${pid} starting`);
    return slot;
  };

  const waitReady = async (slot: Slot): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), READY_TIMEOUT_MS)));
    const ok = await Promise.race([slot.readyPromise, timedOut]);
    clearTimeout(timer);
    if (!ok && live.has(slot)) {
      // Not marked stopping: its exit then counts as a failed start (re-fork, abandoned reload, or first start).
      log(`worker ${slot.pid} not ready within ${READY_TIMEOUT_MS / 1000} s; killing it`);
      slot.worker.process.kill('SIGKILL');
      await slot.exited;
    }
    if (ok) {
      everReady = true;
      log(`worker ${slot.pid} ready`);
    }
    return ok;
  };

  /** The worker's own graceful shutdown (SIGTERM → 4200 to every socket, drain, exit), killed after a deadline. */
  const stop = async (slot: Slot): Promise<number> => {
    slot.stopping = true;
    if (live.has(slot)) slot.worker.process.kill('SIGTERM');
    const timer = setTimeout(() => {
      log(`worker ${slot.pid} still running ${STOP_TIMEOUT_MS / 1000} s after SIGTERM; killing it`);
      slot.worker.process.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    const code = await slot.exited;
    clearTimeout(timer);
    return code;
  };

  const startWorker = async (): Promise<void> => {
    const slot = fork();
    current = slot;
    await waitReady(slot);
  };

  function onExit(slot: Slot, code: number | null, signal: string | null): void {
    const how = signal ? `signal ${signal}` : `code ${code ?? '?'}`;
    if (slot.stopping || shuttingDown) {
      log(`worker ${slot.pid} exited (${how})`);
      return;
    }
    if (slot !== current) {
      log(`worker ${slot.pid} exited (${how}) before it was ready; the reload is abandoned`);
      return;
    }
    current = undefined;
    if (!everReady) {
      log(`worker ${slot.pid} exited (${how}) before it was ever ready; stopping`);
      shuttingDown = true;
      finish?.(1);
      return;
    }
    if (Date.now() - slot.startedAt > BACKOFF_RESET_AFTER_MS) backoffMs = BACKOFF_FIRST_MS;
    const delay = backoffMs;
    backoffMs = Math.min(backoffMs * 2, BACKOFF_MAX_MS);
    log(`worker ${slot.pid} died (${how}); starting a new one in ${delay} ms`);
    reforkTimer = setTimeout(() => {
      reforkTimer = undefined;
      if (!shuttingDown) void startWorker();
    }, delay);
  }

  const reload = async (): Promise<void> => {
    if (shuttingDown) return;
    if (embedded) {
      // PGlite is one process's database: a second worker cannot open DATA_DIR while the first holds it, so an
      // overlap is impossible, and stop-then-start would be a cold restart (port closed) under another name.
      log('SIGHUP ignored: reload needs PostgreSQL (DATABASE_URL); the embedded database cannot be opened by two workers at once. Restart the process instead.');
      return;
    }
    if (reloading || !current) {
      log('SIGHUP ignored: a reload or a worker start is already in progress');
      return;
    }
    reloading = true;
    try {
      const old = current;
      log(`SIGHUP: reloading (old worker ${old.pid})`);
      // Not `current` until ready: if it dies first, the old worker simply keeps serving.
      const next = fork();
      if (!(await waitReady(next))) {
        log(`reload failed: the new worker did not become ready; worker ${current?.pid ?? old.pid} keeps serving`);
        return;
      }
      if (shuttingDown) return;
      // If the old worker crashed meanwhile, its pending re-fork is not needed any more.
      if (reforkTimer) clearTimeout(reforkTimer);
      reforkTimer = undefined;
      const previous = current;
      current = next;
      if (previous) {
        log(`worker ${next.pid} serves; stopping worker ${previous.pid} (4200 to its sockets)`);
        await stop(previous);
      }
      log(`reload done: worker ${next.pid} serves`);
    } finally {
      reloading = false;
    }
  };

  const shutdown = (signal: NodeJS.Signals): void => {
    if (shuttingDown) return;
    shuttingDown = true;
    log(`${signal} received: stopping ${live.size} worker(s)`);
    if (reforkTimer) clearTimeout(reforkTimer);
    const wasCurrent = current;
    void Promise.all([...live].map((slot) => stop(slot))).then(async () => {
      const code = wasCurrent ? await wasCurrent.exited : 0;
      finish?.(code === 0 ? 0 : 1);
    });
  };
  const onHup = (): void => void reload();
  process.on('SIGHUP', onHup);
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  try {
    log(`supervising (reload: kill -HUP ${process.pid})`);
    await startWorker();
    const code = await finished;
    log('stopped');
    return code;
  } finally {
    process.removeListener('SIGHUP', onHup);
    process.removeListener('SIGTERM', shutdown);
    process.removeListener('SIGINT', shutdown);
  }
}

/** Whether this process is a worker forked by the supervisor (it then reports readiness and frees its port first). */
export function isSupervisedWorker(): boolean {
  return cluster.isWorker;
}

/**
 * In a supervised worker: tell the primary once the server answers its own /ready with 200 (what a load balancer
 * would wait for), asking in-process so the answer cannot come from the other worker behind the shared port.
 */
export async function reportReadyToSupervisor(app: { inject(opts: { method: 'GET'; url: string }): Promise<{ statusCode: number }> } | undefined, isClosing: () => boolean): Promise<void> {
  while (app && !isClosing()) {
    const res = await app.inject({ method: 'GET', url: '/ready' }).catch(() => ({ statusCode: 0 }));
    // 404: a role set without the health routes; listening is then all there is to wait for.
    if (res.statusCode === 200 || res.statusCode === 404) break;
    await new Promise((r) => setTimeout(r, READY_POLL_MS));
  }
  if (!isClosing()) process.send?.({ type: READY_MESSAGE, pid: process.pid });
}
