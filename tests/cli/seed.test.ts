import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count, eq } from 'drizzle-orm';
import { loadConfig } from '@reusable-chat/config';
import { authenticateApiKey, createWorkspace } from '@reusable-chat/core';
import { schema } from '@reusable-chat/db';
import { backends, createTestDatabase, type TestDatabase } from '@reusable-chat/testing';
import { seedDemo } from '../../apps/server/src/seed/seed-demo.ts';

/** The start-up seed (`npm start` calls seedDemo with onlyIfEmpty) — SPEC §1 "seeds a demo tenant on an empty database". */
describe.each(backends)('start-up seed (%s)', (backend) => {
  let testDb: TestDatabase;
  let dataDir: string;
  beforeAll(async () => {
    testDb = await createTestDatabase(backend);
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'rc-seed-'));
  });
  afterAll(async () => {
    await testDb?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const config = (env: Record<string, string> = {}) => loadConfig({ NODE_ENV: 'development', DATA_DIR: dataDir, ...env });

  it('in production without DEMO_API_KEY seeds nothing', async () => {
    const prod = loadConfig({ NODE_ENV: 'production', APP_SECRET: 'x'.repeat(40), DATA_DIR: dataDir });
    const result = await seedDemo({ db: testDb.handle.db, config: prod, onlyIfEmpty: true });
    expect(result.created).toEqual({ workspace: false, demoKey: false, devKey: false, admin: false });
    expect(result.admin).toBeNull();
    const [n] = await testDb.handle.db.select({ n: count() }).from(schema.workspaces);
    expect(n?.n).toBe(0);
  });

  it('seeds a database that has only CLI-made workspaces (no admin yet)', async () => {
    await createWorkspace({ db: testDb.handle.db, name: 'Made by workspace:create' });
    const result = await seedDemo({ db: testDb.handle.db, config: config(), onlyIfEmpty: true });
    expect(result.skipped).toBe(false);
    expect(result.created).toEqual({ workspace: true, demoKey: true, devKey: true, admin: true });
    const configs = await testDb.handle.db
      .select({ slug: schema.widgetConfigs.slug })
      .from(schema.widgetConfigs)
      .where(eq(schema.widgetConfigs.workspaceId, result.demoWorkspaceId!));
    expect(configs.map((c) => c.slug).sort()).toEqual(['guest-host', 'support']);
  });

  it('a later start creates nothing but reports the same login and keys', async () => {
    const first = await seedDemo({ db: testDb.handle.db, config: config(), onlyIfEmpty: true });
    expect(first.skipped).toBe(true);
    expect(first.created).toEqual({ workspace: false, demoKey: false, devKey: false, admin: false });
    expect(first.admin?.password).toMatch(/^\S{16,}$/);
    expect(first.devApiKey).toMatch(/^sk_test_/);
    expect(await authenticateApiKey({ db: testDb.handle.db, apiKey: first.devApiKey! })).not.toBeNull();
  });

  it('adds a changed DEMO_API_KEY to the existing demo workspace', async () => {
    const key = 'sk_demo_changed_key_for_this_deployment';
    const result = await seedDemo({ db: testDb.handle.db, config: config({ DEMO_API_KEY: key }), onlyIfEmpty: true });
    expect(result.created).toEqual({ workspace: false, demoKey: true, devKey: false, admin: false });
    const auth = await authenticateApiKey({ db: testDb.handle.db, apiKey: key });
    expect(auth?.workspace.id).toBe(result.demoWorkspaceId);
    expect(auth?.key.scope).toBe('demo');
  });
});
