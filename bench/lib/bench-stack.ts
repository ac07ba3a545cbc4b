import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, type Database } from '@reusable-chat/db';
import { createBenchTenant, type BenchTenant } from './fixtures.ts';
import { createMigratedDatabase } from './postgres.ts';
import { startServerChild, type ServerChild } from './process.ts';

export const BENCH_APP_SECRET = 'bench-app-secret-0123456789abcdefghijklmnopqrstuvwxyz';
export const BENCH_PUSHER_APP = { id: 'bench-app', key: 'bench-key', secret: 'bench-pusher-secret-0123456789abcdef' };

export interface BenchStack {
  readonly server: ServerChild;
  readonly tenant: BenchTenant;
  close(): Promise<void>;
}

/**
 * A migrated database (a PGlite DATA_DIR, or a throw-away PostgreSQL database) with a bench tenant, and the
 * real server running on it in a child process, configured as production would be.
 */
export async function startBenchStack(
  kind: 'pglite' | 'postgres',
  serverUrl: string | undefined,
  conversations: number,
  /** Extra server environment for one scenario (e.g. WEBHOOKS_ALLOW_PRIVATE for a loopback receiver). */
  extraEnv: Record<string, string> = {},
  /** Extra rows a scenario needs, written before the server starts (PGlite is single-process). */
  setup?: (db: Database, tenant: BenchTenant) => Promise<void>,
): Promise<BenchStack> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `rc-bench-${kind}-`));
  let tenant: BenchTenant;
  let dropScratch: (() => Promise<void>) | undefined;
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    APP_SECRET: BENCH_APP_SECRET,
    DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: '0',
    LOG_LEVEL: 'warn',
    REVERB_APP_ID: BENCH_PUSHER_APP.id,
    REVERB_APP_KEY: BENCH_PUSHER_APP.key,
    REVERB_APP_SECRET: BENCH_PUSHER_APP.secret,
    ...extraEnv,
  };
  if (kind === 'postgres') {
    if (!serverUrl) throw new Error('no PostgreSQL');
    const { scratch, handle } = await createMigratedDatabase(serverUrl, 'stack');
    tenant = await createBenchTenant(handle.db, { conversations });
    await setup?.(handle.db, tenant);
    await handle.close();
    env.DATABASE_URL = scratch.url;
    dropScratch = () => scratch.drop();
  } else {
    // The server opens DATA_DIR/pglite; prepare it here first (PGlite is single-process).
    const handle = await createDatabase({ kind: 'pglite', dataDir: path.join(dataDir, 'pglite') });
    await handle.migrate();
    tenant = await createBenchTenant(handle.db, { conversations });
    await setup?.(handle.db, tenant);
    await handle.close();
  }
  let server: ServerChild;
  try {
    server = await startServerChild(env);
  } catch (err) {
    await dropScratch?.();
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    server,
    tenant,
    async close() {
      await server.stop();
      await dropScratch?.();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
