import { spawnSync } from 'node:child_process';
import postgres from 'postgres';
import { createDatabase, type DatabaseHandle } from '@reusable-chat/db';

/**
 * The PostgreSQL server the PostgreSQL scenarios use: BENCH_DATABASE_URL, else TEST_DATABASE_URL, else
 * DATABASE_URL. Every scenario works in its own throw-away database on that server and drops it.
 */
export const BENCH_DATABASE_URL =
  process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL || process.env.DATABASE_URL || undefined;

export function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function isPostgresReachable(url: string | undefined): Promise<boolean> {
  if (!url) return false;
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => undefined });
  try {
    await sql`select 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 2 });
  }
}

export interface ScratchDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/** A fresh database on the bench server, dropped (forcibly) by drop(). */
export async function createScratchDatabase(serverUrl: string, label: string): Promise<ScratchDatabase> {
  const name = `rc_bench_${label}_${process.pid}_${Date.now().toString(36)}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => undefined });
  try {
    await admin.unsafe(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: withDatabase(serverUrl, name),
    async drop() {
      const a = postgres(serverUrl, { max: 1, onnotice: () => undefined });
      try {
        await a.unsafe(`drop database if exists "${name}" with (force)`);
      } finally {
        await a.end();
      }
    },
  };
}

/** A scratch database with the product's schema migrated in. */
export async function createMigratedDatabase(serverUrl: string, label: string): Promise<{ scratch: ScratchDatabase; handle: DatabaseHandle }> {
  const scratch = await createScratchDatabase(serverUrl, label);
  const handle = await createDatabase({ kind: 'postgres', url: scratch.url, maxConnections: 4 });
  await handle.migrate();
  return { scratch, handle };
}

/** The server's version and synchronous_commit, so a reader knows what the numbers were measured on. */
export async function describePostgres(url: string): Promise<{ version: string; synchronousCommit: string }> {
  const sql = postgres(url, { max: 1, onnotice: () => undefined });
  try {
    const [v] = await sql<{ server_version: string }[]>`show server_version`;
    const [s] = await sql<{ synchronous_commit: string }[]>`show synchronous_commit`;
    return { version: v!.server_version, synchronousCommit: s!.synchronous_commit };
  } finally {
    await sql.end();
  }
}

export function pgbenchPath(): string | undefined {
  for (const candidate of [process.env.PGBENCH, '/usr/bin/pgbench', 'pgbench']) {
    if (!candidate) continue;
    const r = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return candidate;
  }
  return undefined;
}
