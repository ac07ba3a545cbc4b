import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@reusable-chat/config';
import { backends, createTestDatabase, pgliteTemplateDir, type TestDatabase } from '@reusable-chat/testing';
import { LOCK_FILE_NAME } from '../../apps/server/src/lifecycle/data-dir-lock.ts';
import { formatBanner, startServer } from '../../apps/server/src/main.ts';

/** main.ts's startServer in-process: the composition `npm start` and `reusable-chat serve|worker` run. */
describe.each(backends)('startServer (%s)', (backend) => {
  let dataDir: string;
  let testDb: TestDatabase | undefined;
  let env: Record<string, string>;
  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'rc-main-'));
    if (backend === 'pglite') {
      cpSync(pgliteTemplateDir(), path.join(dataDir, 'pglite'), { recursive: true });
    } else {
      testDb = await createTestDatabase('postgres');
    }
    env = {
      NODE_ENV: 'development',
      DATA_DIR: dataDir,
      HOST: '127.0.0.1',
      PORT: '0',
      LOG_LEVEL: 'silent',
      ...(testDb?.url ? { DATABASE_URL: testDb.url } : {}),
    };
  });
  afterAll(async () => {
    await testDb?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('migrates, seeds, serves HTTP with every role, and closes cleanly', async () => {
    const server = await startServer({ config: loadConfig(env), logger: false });
    try {
      expect(server.worker).toBeDefined();
      expect(server.url).toMatch(/^http:\/\/localhost:\d+$/);
      expect(existsSync(path.join(dataDir, LOCK_FILE_NAME))).toBe(backend === 'pglite');
      expect(server.seed.created).toEqual({ workspace: true, demoKey: true, devKey: true, admin: true });
      const health = await fetch(`${server.url}/health`);
      expect(await health.json()).toEqual({ status: 'ok' });
      const banner = formatBanner(server);
      expect(banner).toContain(`API docs     ${server.url}/api/docs`);
      expect(banner).toContain('Demo key     sk_demo_reusable_chat_demo_key_2026');
      expect(banner).toContain(`Admin login  admin@localhost.test / ${server.seed.admin!.password}`);
    } finally {
      await server.close();
    }
    expect(existsSync(path.join(dataDir, LOCK_FILE_NAME))).toBe(false);
  });

  it('runs a worker-only process without HTTP, on the data the first start left', async () => {
    const server = await startServer({ config: loadConfig(env), roles: ['worker'], logger: false });
    try {
      expect(server.app).toBeUndefined();
      expect(server.url).toBeUndefined();
      expect(server.worker).toBeDefined();
      expect(server.seed.skipped).toBe(true);
      expect(formatBanner(server)).toContain('roles: worker');
      expect(formatBanner(server)).not.toContain('http://');
    } finally {
      await server.close();
    }
  });
});
