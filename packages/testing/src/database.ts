import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { createDatabase, resolveMigrationsDir, type DatabaseHandle } from '@reusable-chat/db';
import { TEST_DATABASE_URL, type Backend } from './env.ts';

/** Migrations change rarely; a template keyed by their content is reused across runs. */
function migrationsHash(): string {
  const dir = resolveMigrationsDir();
  const h = createHash('sha256');
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.sql')).sort()) h.update(readFileSync(path.join(dir, f)));
  return h.digest('hex').slice(0, 12);
}

const TMP_ROOT = path.join(os.tmpdir(), 'reusable-chat-tests');

export function pgliteTemplateDir(): string {
  return path.join(TMP_ROOT, `pglite-template-${migrationsHash()}`);
}

export function postgresTemplateName(): string {
  return `rc_tpl_${migrationsHash()}`;
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Run once per test run (vitest globalSetup): build the migrated templates that test files copy. */
export async function prepareTemplates(): Promise<void> {
  const dir = pgliteTemplateDir();
  if (!existsSync(path.join(dir, 'PG_VERSION'))) {
    mkdirSync(TMP_ROOT, { recursive: true });
    const building = `${dir}.building-${process.pid}`;
    rmSync(building, { recursive: true, force: true });
    const handle = await createDatabase({ kind: 'pglite', dataDir: building });
    await handle.migrate();
    await handle.close();
    try {
      renameSync(building, dir);
    } catch {
      rmSync(building, { recursive: true, force: true }); // another run won the race
    }
  }
  if (TEST_DATABASE_URL) {
    const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => undefined });
    try {
      const name = postgresTemplateName();
      const exists = await admin`select 1 from pg_database where datname = ${name}`;
      if (exists.length === 0) {
        const building = `${name}_b${process.pid}`;
        await admin.unsafe(`drop database if exists "${building}"`);
        await admin.unsafe(`create database "${building}"`);
        const handle = await createDatabase({ kind: 'postgres', url: withDatabase(TEST_DATABASE_URL, building), maxConnections: 1 });
        await handle.migrate();
        await handle.close();
        try {
          await admin.unsafe(`alter database "${building}" rename to "${name}"`);
        } catch {
          await admin.unsafe(`drop database if exists "${building}"`);
        }
      }
    } finally {
      await admin.end();
    }
  }
}

let counter = 0;

export interface TestDatabase {
  readonly handle: DatabaseHandle;
  /** For PostgreSQL: the URL of this test's own database (e.g. to start a second node on it). */
  readonly url?: string;
  /** For PGlite: the data directory of this test's own copy. */
  readonly dataDir?: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database for one test file: a copy of the template (≈0.5 s), never a new initdb. */
export async function createTestDatabase(backend: Backend): Promise<TestDatabase> {
  counter += 1;
  const id = `${process.pid}_${Date.now().toString(36)}_${counter}`;
  if (backend === 'pglite') {
    const template = pgliteTemplateDir();
    if (!existsSync(template)) await prepareTemplates();
    const dataDir = path.join(TMP_ROOT, `db-${id}`);
    cpSync(template, dataDir, { recursive: true });
    const handle = await createDatabase({ kind: 'pglite', dataDir });
    return {
      handle,
      dataDir,
      async drop() {
        await handle.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  if (!TEST_DATABASE_URL) throw new Error('TEST_DATABASE_URL is not set');
  const name = `rc_test_${id}`;
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => undefined });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.unsafe(`create database "${name}" template "${postgresTemplateName()}"`);
        break;
      } catch (err) {
        // Two files copying the template at the same instant: "source database is being accessed".
        if (attempt >= 20) throw err;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
  } finally {
    await admin.end();
  }
  const url = withDatabase(TEST_DATABASE_URL, name);
  const handle = await createDatabase({ kind: 'postgres', url, maxConnections: 20 });
  return {
    handle,
    url,
    async drop() {
      await handle.close();
      const a = postgres(TEST_DATABASE_URL!, { max: 1, onnotice: () => undefined });
      try {
        await a.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await a.end();
      }
    },
  };
}
