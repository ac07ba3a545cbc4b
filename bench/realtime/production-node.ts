/**
 * A server node started the way production starts it, for the restart storm (bench/realtime/scale.ts): the esbuild
 * bundle `node apps/server/dist/main.js` (what `npm start` runs after its build check; rebuilt here first if any
 * source is newer), every role, NODE_ENV=production, on a database that already exists and is migrated, as after
 * a restart. With a PostgreSQL server (BENCH_DATABASE_URL) the node uses a migrated scratch database, as a node of
 * a scaled deployment does; without one, an embedded PGlite DATA_DIR migrated beforehand.
 *
 * The process speaks no bench IPC: readiness is the first answered `GET /health`, publishing goes through the
 * Pusher HTTP API (the production path, signed by the `pusher` SDK), and CPU and RSS are read from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import PusherServer from 'pusher';
import { createDatabase } from '@reusable-chat/db';
import { createMigratedDatabase } from '../lib/postgres.ts';
import { REPO_ROOT } from '../lib/process.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A port nothing listens on right now (the node is told it in PORT). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface ProductionDatabase {
  /** Environment for the node: DATABASE_URL, or DATA_DIR holding a migrated PGlite. */
  readonly env: Record<string, string>;
  readonly label: string;
  drop(): Promise<void>;
}

/** A database in the state a restarting node finds it: created and migrated by an earlier run. */
export async function prepareProductionDatabase(postgresUrl: string | undefined): Promise<ProductionDatabase> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rc-bench-rt-prod-'));
  if (postgresUrl) {
    const { scratch, handle } = await createMigratedDatabase(postgresUrl, 'rt_restart');
    await handle.close();
    return {
      env: { DATA_DIR: dataDir, DATABASE_URL: scratch.url },
      label: 'PostgreSQL',
      async drop() {
        await scratch.drop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  // The embedded layout (compose.ts): DATA_DIR/pglite.
  const handle = await createDatabase({ kind: 'pglite', dataDir: path.join(dataDir, 'pglite') });
  await handle.migrate();
  await handle.close();
  return {
    env: { DATA_DIR: dataDir },
    label: 'embedded PGlite',
    async drop() {
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ProductionNode {
  readonly pid: number;
  readonly port: number;
  /** Date.now() when /health first answered. */
  readonly readyAt: number;
  readonly process: ChildProcess;
  /** user + system CPU of the process so far (from /proc, 10 ms resolution). */
  cpuUs(): number;
  rssBytes(): number;
  /** One event through the Pusher HTTP API. */
  trigger(channel: string, event: string, data: string): Promise<void>;
  /** SIGTERM (the node's graceful shutdown: 4200 to every socket), SIGKILL after 15 s. */
  stop(): Promise<void>;
}

/** user + system CPU of any process so far, from /proc (10 ms resolution); 0 once it is gone. */
export function processCpuUs(pid: number): number {
  try {
    // /proc/<pid>/stat: fields after the parenthesised name; utime and stime are the 12th and 13th of those.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / 100; // USER_HZ on Linux
  } catch {
    return 0;
  }
}

/** The direct children of a process (the reload supervisor's workers), from /proc. */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export async function startProductionNode(
  main: string,
  env: Record<string, string>,
  app: { id: string; key: string; secret: string },
  options: { onStdoutLine?: (line: string) => void } = {},
): Promise<ProductionNode> {
  const port = Number(env.PORT);
  // BENCH_CPU_PROF_DIR: a V8 CPU profile of the node, written when it exits (as for the bench's own children).
  const profile = process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF_DIR] : [];
  const child = spawn(process.execPath, [...profile, main], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, NODE_ENV: 'production' },
    stdio: ['ignore', options.onStdoutLine ? 'pipe' : 'ignore', 'inherit'],
  });
  if (options.onStdoutLine) {
    const onLine = options.onStdoutLine;
    let partial = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) if (line) onLine(line);
    });
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`production node exited with code ${child.exitCode}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('production node did not answer /health within 60 s');
    }
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
    if (ok) break;
    await sleep(25);
  }
  const readyAt = Date.now();
  const sdk = new PusherServer({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(port), useTLS: false });
  const pid = child.pid!;
  return {
    pid,
    port,
    readyAt,
    process: child,
    cpuUs() {
      return processCpuUs(pid);
    },
    rssBytes() {
      const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      return Number(kb ?? 0) * 1024;
    },
    async trigger(channel, event, data) {
      const res = await sdk.trigger(channel, event, data);
      if (res.status !== 200) throw new Error(`trigger answered ${res.status}`);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
