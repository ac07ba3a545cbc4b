/**
 * Idle RSS of the embedded server (SPEC §1 default: PGlite in DATA_DIR, everything in one process), on a
 * fresh DATA_DIR (first `npm start`) and on a restart (existing DATA_DIR), beside two baselines measured in
 * the same run: an empty Node process, and a bare PGlite with the same postgresql.conf opened on a migrated
 * data directory in its own process — so "PGlite's share" and "everything else" can be told apart.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createDatabase, PGLITE_POSTGRESQL_CONF } from '@reusable-chat/db';
import { REPO_ROOT, rssBytes } from '../lib/process.ts';
import { ratioOf, type BenchRow } from '../lib/report.ts';
import { mb, sleep } from '../lib/stats.ts';

/** After start-up settles (GC of start-up garbage, first timers), RSS is sampled this often, this many times. */
const SETTLE_MS = 5_000;
const SAMPLES = 5;
const SAMPLE_EVERY_MS = 500;

type ServerCommand = { argv: string[]; label: string };

export async function benchIdleRss(): Promise<BenchRow[]> {
  const bareNode = await measureForked(path.join(REPO_ROOT, 'bench', 'lib', 'bare-node.mjs'), []);
  const barePglite = await measureBarePglite(PGLITE_POSTGRESQL_CONF);
  // PostgreSQL's stock postgresql.conf (shared_buffers 128MB …), to show what PGLITE_POSTGRESQL_CONF saves.
  const barePgliteStock = await measureBarePglite([]);
  const command = await serverCommand();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rc-bench-rss-'));
  try {
    const fresh = await measureServer(command, dataDir);
    const restart = await measureServer(command, dataDir);
    const baseline = { label: 'empty Node process', value: mb(bareNode), unit: 'MB' };
    const pgliteShare = barePglite - bareNode;
    const note = (serverRss: number) =>
      `PGlite ≈ ${mb(pgliteShare)} MB (${Math.round((pgliteShare / serverRss) * 100)}%), Node floor ${mb(bareNode)} MB, rest (app, Fastify, drivers${command.label.includes('tsx') ? ', tsx' : ''}) ≈ ${mb(serverRss - barePglite)} MB; ${command.label}`;
    return [
      { scenario: 'idle RSS: embedded server, fresh DATA_DIR', metric: 'RSS', value: mb(fresh.rss), unit: 'MB', baseline, ratio: ratioOf(fresh.rss, bareNode), note: `${note(fresh.rss)}; ready in ${fresh.startS} s`, detail: { ...fresh, command: command.argv } },
      { scenario: 'idle RSS: embedded server, restart', metric: 'RSS', value: mb(restart.rss), unit: 'MB', baseline, ratio: ratioOf(restart.rss, bareNode), note: `${note(restart.rss)}; ready in ${restart.startS} s`, detail: { ...restart } },
      { scenario: 'idle RSS: bare PGlite (same conf, migrated dir)', metric: 'RSS', value: mb(barePglite), unit: 'MB', baseline, ratio: ratioOf(barePglite, bareNode), note: `postgresql.conf: ${PGLITE_POSTGRESQL_CONF.join(', ')}` },
      { scenario: 'idle RSS: bare PGlite, stock postgresql.conf', metric: 'RSS', value: mb(barePgliteStock), unit: 'MB', baseline: { label: 'bare PGlite, tuned conf', value: mb(barePglite), unit: 'MB' }, ratio: ratioOf(barePgliteStock, barePglite), note: 'what PGLITE_POSTGRESQL_CONF saves' },
    ];
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** The bundled server (what `npm start` runs), rebuilt if stale; from source through tsx if the build fails. */
async function serverCommand(): Promise<ServerCommand> {
  const buildScript = path.join(REPO_ROOT, 'scripts', 'build.mjs');
  const dist = path.join(REPO_ROOT, 'apps', 'server', 'dist', 'main.js');
  if (existsSync(buildScript)) {
    try {
      const { isBuildStale, build } = (await import(pathToFileURL(buildScript).href)) as {
        isBuildStale: () => boolean;
        build: (o: { quiet: boolean }) => Promise<void>;
      };
      if (isBuildStale()) await build({ quiet: true });
    } catch (err) {
      console.warn(`bench: build failed (${err instanceof Error ? err.message.split('\n')[0] : String(err)}); measuring from source with tsx`);
    }
  }
  if (existsSync(dist)) return { argv: [dist], label: 'node apps/server/dist/main.js' };
  return { argv: ['--import', 'tsx', path.join(REPO_ROOT, 'apps', 'server', 'src', 'main.ts')], label: 'node --import tsx apps/server/src/main.ts' };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

async function sampleRss(pid: number): Promise<number> {
  let last = 0;
  for (let i = 0; i < SAMPLES; i++) {
    last = rssBytes(pid);
    await sleep(SAMPLE_EVERY_MS);
  }
  return last;
}

async function measureServer(command: ServerCommand, dataDir: string): Promise<{ rss: number; startS: number }> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, command.argv, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', NODE_ENV: 'development' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  try {
    const deadline = Date.now() + 180_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`server exited with code ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error('server did not answer /health within 180 s');
      const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
      if (ok) break;
      await sleep(200);
    }
    const startS = Math.round((performance.now() - t0) / 100) / 10;
    await sleep(SETTLE_MS);
    return { rss: await sampleRss(child.pid!), startS };
  } finally {
    await stopChild(child, 'SIGTERM');
  }
}

async function measureBarePglite(conf: readonly string[]): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rc-bench-bare-pglite-'));
  try {
    const handle = await createDatabase({ kind: 'pglite', dataDir: dir });
    await handle.migrate();
    await handle.close();
    return await measureForked(path.join(REPO_ROOT, 'bench', 'lib', 'bare-pglite.mjs'), [dir, JSON.stringify(conf)]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Forks a plain-Node script that answers {type:'rss'} over IPC; settles, samples, stops it. */
async function measureForked(script: string, args: string[]): Promise<number> {
  const child = fork(script, args, { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${path.basename(script)} did not start`)), 120_000);
      child.once('message', () => {
        clearTimeout(timer);
        resolve();
      });
      child.once('exit', (code) => reject(new Error(`${path.basename(script)} exited with ${code}`)));
    });
    await sleep(SETTLE_MS);
    return await sampleRss(child.pid!);
  } finally {
    await stopChild(child, 'SIGKILL');
  }
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}
