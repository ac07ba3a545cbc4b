import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { sql } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import postgres from 'postgres';
import * as schema from './schema/index.ts';
import { noDelaySocketOption } from './tcp-no-delay.ts';

export type Schema = typeof schema;
/** Both drivers produce this type; core code never needs to know which one it talks to. */
export type Database = PgDatabase<PgQueryResultHKT, Schema>;
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];
/** Either the database or an open transaction: use-cases accept both so they compose. */
export type Executor = Database | Transaction;

export type DatabaseKind = 'pglite' | 'postgres';

export interface DatabaseHandle {
  readonly db: Database;
  readonly kind: DatabaseKind;
  ping(): Promise<void>;
  migrate(): Promise<void>;
  close(): Promise<void>;
}

export type DatabaseOptions =
  | { kind: 'postgres'; url: string; maxConnections?: number; preparedStatements?: boolean }
  /** `dataDir` of `memory://` keeps the database in memory (tests). */
  | { kind: 'pglite'; dataDir: string };

/**
 * PGlite tuning for a small idle footprint: PostgreSQL's defaults size caches for a dedicated server.
 * A chat server's embedded database holds little hot data; these keep RSS down without hurting the
 * single-connection workload (see BENCHMARKS.md, "embedded idle RSS").
 */
export const PGLITE_POSTGRESQL_CONF = [
  'shared_buffers = 16MB',
  'work_mem = 2MB',
  'maintenance_work_mem = 16MB',
  'wal_buffers = 1MB',
  'temp_buffers = 1MB',
  'max_wal_size = 64MB',
  'min_wal_size = 32MB',
];

export function resolveMigrationsDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // Source layout (packages/db/src → ../migrations) and the bundled server (dist/ → ./migrations).
  for (const candidate of [path.join(here, '..', 'migrations'), path.join(here, 'migrations')]) {
    if (existsSync(path.join(candidate, 'meta', '_journal.json'))) return candidate;
  }
  throw new Error(`database migrations not found next to ${here}`);
}

/**
 * Drizzle's postgres-js session runs every query as `unsafe(sql, params, { prepare: false })` unless it was
 * built with `.prepare(name)`. postgres.js then sends an unnamed Parse+Describe, waits for the answer and only
 * then Bind+Execute: two network round trips per statement. With `prepare: true` each connection prepares a
 * statement text once and every later execution is one round trip (postgres.js' own default). Transactions
 * and savepoints hand Drizzle a new client, so those are wrapped too. Opt-in (DATABASE_PREPARED_STATEMENTS=true)
 * for the statements that are not prepared anyway: the hot ones always are — the send path's group statements
 * (Drizzle `.prepare(name)`) and the history page (preparedRows) — so a transaction-mode pooler in front of
 * PostgreSQL must support prepared statements (pgbouncer ≥ 1.21 with max_prepared_statements) in any case.
 */
function preparingStatements<T extends postgres.Sql>(sql: T): T {
  return new Proxy(sql, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (prop === 'unsafe') {
        // A statement without parameters is already one round trip unprepared, and is often built with
        // literals, so preparing it would only pile up statements on the connection.
        return (query: string, params?: unknown[], options?: Record<string, unknown>) =>
          target.unsafe(query, params as never, { ...options, prepare: (params?.length ?? 0) > 0 });
      }
      if (prop === 'begin' || prop === 'savepoint') {
        return (...args: unknown[]) => {
          const body = args.at(-1) as (tx: postgres.Sql) => unknown;
          args[args.length - 1] = (tx: postgres.Sql) => body(preparingStatements(tx));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** Per database handle (PostgreSQL only): the one-connection handle the send path's group statements use. */
const sendPipelines = new WeakMap<object, Database>();

/**
 * The handle the send path's group statements go through (the context reads and the write batches of
 * send-message.ts), and how many of each may be in flight.
 *
 * On PostgreSQL it is a client of its own with ONE connection, on which postgres.js pipelines: the next batch
 * is sent while the previous one is still running, PostgreSQL runs them one after the other on that backend,
 * so the backend goes on to the next statement at once instead of idling until this process has read the
 * previous answer (measured: that wait was about half of a write batch's 4.5 ms at saturation). Two write
 * batches on two pool connections would instead queue on each other's conversation row locks. One connection
 * also keeps the statements in the order they were sent: seq follows arrival order across batches, and a
 * context read sees every batch sent before it committed.
 * Anything else (PGlite, a transaction) answers itself with one statement of each kind in flight, as before.
 */
export function sendPipelineFor(db: Executor): { db: Executor; maxInFlight: number } {
  const pipeline = sendPipelines.get(db);
  return pipeline ? { db: pipeline, maxInFlight: 2 } : { db, maxInFlight: 1 };
}

/** Arbitrary constant: serialises migrations when several nodes start at once against one PostgreSQL. */
const MIGRATION_LOCK_ID = 7_311_942_013;

export async function createDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  const migrationsFolder = resolveMigrationsDir();
  if (options.kind === 'postgres') {
    const connection = { idle_timeout: 30, connect_timeout: 5, onnotice: () => undefined, ...noDelaySocketOption(options.url) };
    const client = postgres(options.url, {
      ...connection,
      max: options.maxConnections ?? 10,
      // plan_cache_mode stays PostgreSQL's `auto`: a named statement (the send path's group reads and writes,
      // everything under DATABASE_PREPARED_STATEMENTS) is planned per execution for its first five runs and then
      // keeps a generic plan only where that plan is estimated no dearer than the custom ones — so the send
      // batches, whose one JSON parameter never changes the plan, stop re-planning (≈ 30 % of PostgreSQL's CPU
      // per message: 119 → 85 µs, `npm run bench -- posts`), while parameter-sensitive statements keep custom
      // plans. ANALYZE invalidates cached plans, so a plan made while a table was young is redone once
      // autovacuum has statistics. (force_custom_plan, used before, re-planned every execution.)
      // Dates come back as Date objects through drizzle's own mapping; keep bigint ids as numbers.
      types: {},
    });
    const db = drizzlePostgres(options.preparedStatements ? preparingStatements(client) : client, { schema }) as unknown as Database;
    // The send path's pipeline (sendPipelineFor): one more connection, opened on the first send.
    const pipelineClient = postgres(options.url, { ...connection, max: 1, types: {} });
    sendPipelines.set(db, drizzlePostgres(pipelineClient, { schema }) as unknown as Database);
    return {
      db,
      kind: 'postgres',
      async ping() {
        await client`select 1`;
      },
      async migrate() {
        // One dedicated connection, so the advisory lock and the migration share a session.
        const single = postgres(options.url, { ...connection, max: 1 });
        try {
          await single`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
          await migratePostgres(drizzlePostgres(single), { migrationsFolder });
          await single`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
        } finally {
          await single.end({ timeout: 5 });
        }
      },
      async close() {
        await Promise.all([client.end({ timeout: 5 }), pipelineClient.end({ timeout: 5 })]);
      },
    };
  }

  if (!options.dataDir.startsWith('memory://')) {
    mkdirSync(options.dataDir, { recursive: true });
    if (!existsSync(path.join(options.dataDir, 'PG_VERSION'))) await initPgliteDataDir(options.dataDir);
  }
  const client = await PGlite.create({
    dataDir: options.dataDir,
    postgresqlconf: PGLITE_POSTGRESQL_CONF,
  });
  const db = drizzlePglite(client, { schema }) as unknown as Database;
  return {
    db,
    kind: 'pglite',
    async ping() {
      await client.query('select 1');
    },
    async migrate() {
      await migratePglite(drizzlePglite(client), { migrationsFolder });
    },
    async close() {
      if (!client.closed) await client.close();
    },
  };
}

/**
 * Creating a PGlite cluster (initdb) grows the WASM heap to ≈0.6–0.7 GB, and WASM memory never shrinks:
 * a server that initialised its own DATA_DIR kept that RSS for its whole life (≈700 MB idle, against
 * ≈160 MB when it opens an existing directory; BENCHMARKS.md "embedded idle RSS"). So initdb runs in a
 * short-lived child Node process that exits afterwards, and this process only ever opens an existing
 * directory. If the child cannot run, initdb happens in process as before (slower to release, same result).
 */
async function initPgliteDataDir(dataDir: string): Promise<void> {
  const pgliteEntry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const script = `(async () => {
    const { PGlite } = require(process.argv[1]);
    const db = await PGlite.create({ dataDir: process.argv[2], postgresqlconf: JSON.parse(process.argv[3]) });
    await db.close();
  })().catch((e) => { console.error(e && e.message ? e.message : e); process.exit(1); });`;
  const ok = await new Promise<boolean>((resolve) => {
    const child = spawn(process.execPath, ['-e', script, pgliteEntry, dataDir, JSON.stringify(PGLITE_POSTGRESQL_CONF)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr.resume();
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
  if (!ok || !existsSync(path.join(dataDir, 'PG_VERSION'))) {
    const client = await PGlite.create({ dataDir, postgresqlconf: PGLITE_POSTGRESQL_CONF });
    await client.close();
  }
}

export async function pingDatabase(db: Executor): Promise<void> {
  await db.execute(sql`select 1`);
}
