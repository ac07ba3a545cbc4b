import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..');
const DIST_MAIN = path.join(REPO_ROOT, 'apps', 'server', 'dist', 'main.js');

/** Builds apps/server/dist when missing or older than its sources (scripts/build.mjs decides, as `npm start` does). */
export async function ensureServerBundle(): Promise<string> {
  const { isBuildStale, build } = (await import(pathToFileURL(path.join(REPO_ROOT, 'scripts', 'build.mjs')).href)) as {
    isBuildStale: () => boolean;
    build: (o: { quiet: boolean }) => Promise<void>;
  };
  if (isBuildStale()) await build({ quiet: true });
  if (!existsSync(DIST_MAIN)) throw new Error('apps/server/dist/main.js missing after the build');
  return DIST_MAIN;
}

/** Resident set size of a process, from /proc (Linux). */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

export interface ServerChild {
  readonly url: string;
  readonly pid: number;
  readonly child: ChildProcess;
  request<T>(message: Record<string, unknown>, replyType: string): Promise<T>;
  stop(): Promise<void>;
}

/**
 * Starts bench/lib/serve-child.ts with the given environment and waits until it listens. The child runs
 * startServer from the production bundle (apps/server/dist/main.js, rebuilt first when stale), the code `npm
 * start` runs: the sources through tsx differ from it (esbuild's keepNames wraps every closure made per request,
 * ≈ 8 % more server CPU per message in `posts`). A child that does not come up within `startTimeoutMs` is
 * killed, so the suite always ends.
 */
export async function startServerChild(env: Record<string, string>, startTimeoutMs = 120_000): Promise<ServerChild> {
  const bundle = await ensureServerBundle();
  const child = fork(path.join(here, 'serve-child.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BENCH_SERVER_MODULE: pathToFileURL(bundle).href, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<{ url: string; pid: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('bench server did not start in time'));
    }, startTimeoutMs);
    child.on('message', (m: { type: string; url: string; pid: number }) => {
      if (m.type === 'ready') {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bench server exited with code ${code}`));
    });
  });
  return {
    url: ready.url,
    pid: ready.pid,
    child,
    request<T>(message: Record<string, unknown>, replyType: string) {
      return new Promise<T>((resolve, reject) => {
        const onMessage = (m: { type: string; message?: string }) => {
          if (m.type === replyType) {
            child.off('message', onMessage);
            resolve(m as T);
          } else if (m.type === 'error') {
            child.off('message', onMessage);
            reject(new Error(m.message));
          }
        };
        child.on('message', onMessage);
        child.send(message);
      });
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.send({ type: 'stop' });
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface SequentialClient {
  /** `count` GET requests one after another on one keep-alive connection; their times in ms. Rejects on a non-200. */
  run(url: string, pathName: string, headers: Record<string, string>, count: number): Promise<number[]>;
  stop(): void;
}

/**
 * Starts bench/lib/sequential-http-client.mjs: plain Node (no TypeScript loader inherited from this
 * process), so its collector pauses stay short and out of the measured server latency.
 */
export async function startSequentialClient(): Promise<SequentialClient> {
  const child = fork(path.join(here, 'sequential-http-client.mjs'), [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`sequential client exited with code ${code}`)));
  });
  let nextId = 0;
  return {
    run(url, pathName, headers, count) {
      const id = nextId++;
      return new Promise<number[]>((resolve, reject) => {
        const onMessage = (m: { type: string; id: number; samples?: number[]; badStatus?: number; message?: string }) => {
          if (m.id !== id) return;
          child.off('message', onMessage);
          if (m.type === 'error') reject(new Error(m.message));
          else if (m.badStatus) reject(new Error(`${pathName} answered ${m.badStatus}`));
          else resolve(m.samples ?? []);
        };
        child.on('message', onMessage);
        child.send({ type: 'run', id, url, path: pathName, headers, count });
      });
    },
    stop() {
      if (child.exitCode === null) child.send({ type: 'stop' });
    },
  };
}
