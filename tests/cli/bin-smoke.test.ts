import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgliteTemplateDir } from '@reusable-chat/testing';

/**
 * The one spawned test (the rest of tests/cli runs runCli in-process): the package's bin builds the bundle
 * when needed and runs it as a user would run `npx reusable-chat`; `serve` answers /health and stops on
 * SIGINT with exit code 0 (SPEC §1).
 */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(root, 'apps/server/bin/reusable-chat.mjs');

function spawnBin(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

describe('the reusable-chat bin, spawned', () => {
  let dataDir: string;
  let env: Record<string, string>;
  beforeAll(() => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'rc-bin-'));
    cpSync(pgliteTemplateDir(), path.join(dataDir, 'pglite'), { recursive: true });
    env = { NODE_ENV: 'development', DATA_DIR: dataDir, LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: '0' };
  });
  afterAll(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serve seeds, answers /health and the demo key, and exits 0 on SIGINT', async () => {
    const run = spawnBin(['serve'], env);
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no banner: ${JSON.stringify(run.output())}`)), 45_000);
      run.child.stdout.on('data', () => {
        const m = /Health\s+(http:\/\/localhost:\d+)\/health/.exec(run.output().stdout);
        if (m?.[1]) {
          clearTimeout(timer);
          resolve(m[1]);
        }
      });
      void run.exited.then((code) => reject(new Error(`exited ${code}: ${JSON.stringify(run.output())}`)));
    });
    const { stdout } = run.output();
    expect(stdout).toContain('Demo key     sk_demo_reusable_chat_demo_key_2026');
    expect(stdout).toMatch(/Admin login {2}admin@localhost\.test \/ \S{16,}/);
    const health = await fetch(`${url}/health`);
    expect(await health.json()).toEqual({ status: 'ok' });
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    expect(run.output().stdout).toContain('Reusable Chat stopped.');
  }, 60_000);

  // After serve: the start-up seed runs only on an empty database.
  it('workspace:create --json prints parseable JSON', async () => {
    const run = spawnBin(['workspace:create', '--name', 'Spawned', '--json'], env);
    expect(await run.exited).toBe(0);
    const out = JSON.parse(run.output().stdout) as { workspace_id: string; api_key: string };
    expect(out.workspace_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(out.api_key).toMatch(/^sk_live_/);
  }, 60_000);
});
