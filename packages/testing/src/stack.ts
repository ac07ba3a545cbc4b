import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '@reusable-chat/config';
import { createApiKey, createWorkspace } from '@reusable-chat/core';
import type { Database } from '@reusable-chat/db';
import { buildApp } from '../../../apps/server/src/app.ts';
import { composeDeps } from '../../../apps/server/src/compose.ts';
import type { AppDeps } from '../../../apps/server/src/deps.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import type { Backend } from './env.ts';

export interface TestStack {
  readonly app: FastifyInstance;
  readonly deps: AppDeps;
  readonly db: Database;
  readonly testDb: TestDatabase;
  readonly dataDir: string;
  /** Listens on 127.0.0.1:0 and returns the base URL (for WebSocket and official-client tests). */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export interface StackOptions {
  readonly backend: Backend;
  /** Extra environment, as a deployment would set it. */
  readonly env?: Record<string, string>;
  /** Reuse a database (e.g. a second node on the same PostgreSQL). */
  readonly testDb?: TestDatabase;
}

/** The whole server in-process with the embedded drivers, on a fresh copy of the migrated database. */
export async function startStack(options: StackOptions): Promise<TestStack> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rc-stack-'));
  const testDb = options.testDb ?? (await createTestDatabase(options.backend));
  const config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    APP_SECRET: 'test-app-secret-0123456789abcdefghijklmnopqrstuvwxyz',
    LOG_LEVEL: 'silent',
    ...options.env,
  });
  const deps = await composeDeps({ config, database: testDb.handle });
  const app = await buildApp(deps, { logger: false });
  await app.ready();
  let closed = false;
  return {
    app,
    deps,
    db: testDb.handle.db,
    testDb,
    dataDir,
    async listen() {
      const address = await app.listen({ host: '127.0.0.1', port: 0 });
      return address;
    },
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      // dispose() closes every driver composeDeps opened (queue, pub/sub, channel state, mailer, Redis);
      // the database is the test's own and is dropped below.
      await deps.dispose();
      if (!options.testDb) await testDb.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface Tenant {
  readonly workspaceId: string;
  readonly apiKey: string;
  readonly identitySecret: string;
}

/** A workspace with a full-scope key, created through core like the CLI's workspace:create. */
export async function createTenant(
  db: Database,
  options: { name?: string; kind?: 'single_app' | 'marketplace' } = {},
): Promise<Tenant> {
  const workspace = await createWorkspace({ db, name: options.name ?? 'Test workspace', kind: options.kind ?? 'marketplace' });
  const { apiKey } = await createApiKey({ db, workspaceId: workspace.id, environment: 'test' });
  return { workspaceId: workspace.id, apiKey, identitySecret: workspace.identitySecret };
}
