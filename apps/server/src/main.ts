import { realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { ConfigError, loadConfig, type Config } from '@reusable-chat/config';
import { buildApp } from './app.ts';
import { composeDeps } from './compose.ts';
import type { AppDeps, ServerRole } from './deps.ts';
import { acquireDataDirLockIfEmbedded, DataDirBusyError } from './lifecycle/data-dir-lock.ts';
import { seedDemo, type SeedResult } from './seed/seed-demo.ts';
import { isSupervisedWorker, reportReadyToSupervisor, runSupervisor } from './supervisor.ts';
import { startWorker, type RunningWorker } from './worker/index.ts';

/**
 * The only composition root (ARCHITECTURE.md convention 6): config → drivers → migrate → seed → app → listen.
 * `npm start` runs the bundled copy (apps/server/dist/main.js); `reusable-chat serve` calls startServer.
 */

export const ALL_ROLES: readonly ServerRole[] = ['api', 'realtime', 'worker'];

/**
 * Pending-connection queue of the listening socket. Node's default (511) drops handshakes during a reconnect
 * storm after a restart, and each drop costs a client a back-off step; the kernel caps it at somaxconn anyway.
 */
const LISTEN_BACKLOG = 4096;

/** In-flight HTTP requests get this long to finish during shutdown before their connections are cut. */
const IN_FLIGHT_GRACE_MS = 3_000;

/** After a shutdown signal, give open requests, sockets and jobs this long before exiting anyway. */
const SHUTDOWN_DEADLINE_MS = 15_000;

export interface RunningServer {
  /** Absent for a worker-only process, which serves no HTTP. */
  readonly app: FastifyInstance | undefined;
  readonly deps: AppDeps;
  readonly worker: RunningWorker | undefined;
  /** The base URL actually listened on (differs from APP_URL with PORT=0); undefined without HTTP. */
  readonly url: string | undefined;
  readonly seed: SeedResult;
  close(): Promise<void>;
}

export interface StartServerOptions {
  readonly config: Config;
  readonly roles?: readonly ServerRole[];
  /** Override logging (tests: false). */
  readonly logger?: boolean | string;
}

export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const { config } = options;
  const roles = options.roles ?? ALL_ROLES;
  const lock = acquireDataDirLockIfEmbedded(config, 'server');
  let deps: Awaited<ReturnType<typeof composeDeps>> | undefined;
  let app: FastifyInstance | undefined;
  try {
    deps = await composeDeps({ config, roles });
    await deps.database.migrate();
    const seed = await seedDemo({ db: deps.database.db, config, onlyIfEmpty: true });
    const running = deps;
    // A worker-only process (`reusable-chat worker`) serves no HTTP, so it can run beside a server on one host.
    const servesHttp = roles.includes('api') || roles.includes('realtime');
    let url: string | undefined;
    if (servesHttp) {
      app = await buildApp(deps, options.logger === undefined ? {} : { logger: options.logger });
      await app.listen({ host: config.host, port: config.port, backlog: LISTEN_BACKLOG });
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.port;
      url = config.port === 0 ? `http://localhost:${port}` : config.appUrl;
    }
    const worker = roles.includes('worker') ? await startWorker(deps) : undefined;
    let closing: Promise<void> | undefined;
    return {
      app,
      deps: running,
      worker,
      url,
      seed,
      close() {
        // Stop accepting, close sockets (the realtime module sends 4200 from its onClose hook), finish in-flight
        // requests; stop polling for jobs; then drain the queue and close the database (dispose); then free DATA_DIR.
        closing ??= (async () => {
          try {
            // Fastify waits for in-flight requests, but a keep-alive connection that was busy when close began
            // would otherwise hold the server open for the whole keep-alive timeout (72 s): cut stragglers.
            const stragglers = setTimeout(() => app?.server.closeAllConnections(), IN_FLIGHT_GRACE_MS);
            stragglers.unref();
            await app?.close();
            clearTimeout(stragglers);
            await worker?.stop();
            await running.dispose();
          } finally {
            lock.release();
          }
        })();
        return closing;
      },
    };
  } catch (err) {
    await app?.close().catch(() => undefined);
    await deps?.dispose().catch(() => undefined);
    lock.release();
    throw err;
  }
}

export function formatBanner(server: Pick<RunningServer, 'url' | 'seed' | 'deps'>): string {
  const { url, seed, deps } = server;
  const { config } = deps;
  const storage = config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${path.resolve(config.dataDir)}`;
  const headline = `Reusable Chat is running — roles: ${deps.roles.join(', ')}; database: ${storage}`;
  if (!url) return ['', headline, '', 'Press Ctrl-C to stop.', ''].join('\n');
  const lines = [
    '',
    headline,
    '',
    `  App          ${url}/`,
    `  API docs     ${url}/api/docs`,
    `  Health       ${url}/health`,
    `  Demo         ${url}/demo  (live chat rooms; ${url}/demo/marketplace: guest and host with masking)`,
    `  Consumer API ${url}/api/v1`,
  ];
  if (seed.demoApiKey) lines.push(`  Demo key     ${seed.demoApiKey}  (scope: demo rooms only; header X-API-Key)`);
  if (seed.devApiKey) lines.push(`  Dev API key  ${seed.devApiKey}  (full scope, demo workspace, development only)`);
  if (seed.admin) {
    const password =
      seed.admin.password ??
      `(not stored here — set one with: npx reusable-chat admin:create --email ${seed.admin.email} --password …)`;
    lines.push(`  Admin login  ${seed.admin.email} / ${password}`);
  }
  lines.push('', 'Press Ctrl-C to stop.', '');
  return lines.join('\n');
}

/** Human-readable start-up failures: configuration and a busy DATA_DIR are the user's to fix, no stack trace. */
export function describeStartupError(err: unknown): string | undefined {
  if (err instanceof ConfigError || err instanceof DataDirBusyError) return err.message;
  const e = err as NodeJS.ErrnoException & { port?: number; address?: string };
  if (e?.code === 'EADDRINUSE') return `Port ${e.port ?? ''} is already in use${e.address ? ` on ${e.address}` : ''}: set PORT to another port.`;
  if (e?.code === 'EACCES' && e.syscall === 'listen') return `Not allowed to listen on port ${e.port ?? ''}: set PORT above 1024.`;
  return undefined;
}

/**
 * Start, print the banner, and stop cleanly on SIGINT/SIGTERM with exit code 0. `npm start` delivers Ctrl-C
 * twice (the terminal's process group and npm's forwarding), so later signals do not abort the shutdown;
 * a deadline does, if something hangs.
 */
export async function runServerUntilSignal(options: StartServerOptions): Promise<number> {
  // Handlers go in before start-up: a Ctrl-C during migrate/seed waits for them to finish instead of killing the
  // process in the middle of a write to the embedded database.
  let stopRequested: NodeJS.Signals | undefined;
  let stop: ((signal: NodeJS.Signals) => void) | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopRequested) return;
    stopRequested = signal;
    process.stdout.write(`${signal} received: shutting down…\n`);
    stop?.(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A supervised worker leaves SIGHUP (reload) to its primary: a terminal hangup reaches the whole process group.
  const ignoreHangup = (): void => undefined;
  if (isSupervisedWorker()) process.on('SIGHUP', ignoreHangup);
  try {
    const server = await startServer(options);
    if (!stopRequested) process.stdout.write(formatBanner(server) + '\n');
    const supervised = isSupervisedWorker();
    if (supervised) void reportReadyToSupervisor(server.app, () => stopRequested !== undefined);
    return await new Promise<number>((resolve) => {
      stop = () => {
        // Supervised (a reload): leave the shared port before the sockets are told 4200, so their immediate
        // reconnect is handed to the new worker rather than refused by this one (docs/restarts.md).
        if (supervised) server.app?.server.close();
        // Not unref'd: if closing stalls with nothing else pending, this timer is what ends the process.
        const deadline = setTimeout(() => {
          process.stderr.write(`Shutdown did not finish within ${SHUTDOWN_DEADLINE_MS / 1000} s; exiting.\n`);
          process.exit(1);
        }, SHUTDOWN_DEADLINE_MS);
        server.close().then(
          () => {
            clearTimeout(deadline);
            process.stdout.write('Reusable Chat stopped.\n');
            resolve(0);
          },
          (err: unknown) => {
            clearTimeout(deadline);
            process.stderr.write(`Shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`);
            resolve(1);
          },
        );
      };
      if (stopRequested) stop(stopRequested);
    });
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    process.removeListener('SIGHUP', ignoreHangup);
  }
}

/**
 * RELOADABLE=true: run under the reload supervisor (docs/restarts.md). Read before the rest of the configuration
 * (the CLI decides whether to supervise first); it accepts what loadConfig's schema accepts for RELOADABLE.
 */
export function isReloadable(env: Record<string, string | undefined>): boolean {
  const raw = env.RELOADABLE?.trim().toLowerCase();
  if (raw === undefined || raw === '' || raw === 'false' || raw === '0' || raw === 'no') return false;
  if (raw === 'true' || raw === '1' || raw === 'yes') return true;
  throw new ConfigError([{ variable: 'RELOADABLE', message: 'must be true or false' }]);
}

export async function runMain(env: Record<string, string | undefined> = process.env): Promise<never> {
  let code: number;
  try {
    const config = loadConfig(env);
    // The primary supervises; the worker it forks runs this same file and, being a cluster worker, serves.
    code =
      isReloadable(env) && !isSupervisedWorker()
        ? await runSupervisor({ config, exec: fileURLToPath(import.meta.url) })
        : await runServerUntilSignal({ config });
  } catch (err) {
    const message = describeStartupError(err);
    if (message) process.stderr.write(`Reusable Chat could not start.\n${message}\n`);
    else process.stderr.write(`Reusable Chat could not start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    code = 1;
  }
  // Explicit exit: a library timer or socket left behind must not keep a stopped server alive.
  process.exit(code);
}

/**
 * Run only when this very file is the entry point (`node dist/main.js`, `tsx src/main.ts`). The basename check keeps
 * the CLI bundle, which inlines this module, from starting a server when `node dist/cli.js` runs.
 */
function isEntryPoint(): boolean {
  const self = fileURLToPath(import.meta.url);
  if (!/^main\.(ts|js|mjs)$/.test(path.basename(self)) || !process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(self);
  } catch {
    return false;
  }
}

if (isEntryPoint()) await runMain();
