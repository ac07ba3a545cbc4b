import type { Executor } from './client.ts';

interface PostgresJsClient {
  unsafe(query: string, params: unknown[], options: { prepare: boolean }): Promise<unknown[]>;
}

interface PgliteClient {
  query(query: string, params: unknown[]): Promise<{ rows: unknown[] }>;
}

/**
 * Runs a hand-written statement with `$1…` bind parameters as a server-side prepared statement, answering
 * its rows as objects decoded by the driver (as `db.execute` would). For hot statements whose SQL is text
 * rather than a Drizzle builder: postgres.js prepares each distinct text once per connection (one round trip
 * afterwards, and PostgreSQL may keep a generic plan); PGlite runs it in-process with the same parameters.
 * Works on the database handle and inside a transaction (Drizzle's session client is the transaction's).
 */
export async function preparedRows<Row>(db: Executor, text: string, params: unknown[]): Promise<Row[]> {
  const client = driverClient(db);
  if (typeof (client as Partial<PostgresJsClient>).unsafe === 'function') {
    return (await (client as PostgresJsClient).unsafe(text, params, { prepare: true })) as Row[];
  }
  if (typeof (client as Partial<PgliteClient>).query === 'function') {
    return (await (client as PgliteClient).query(text, params)).rows as Row[];
  }
  throw new Error('preparedRows: unsupported database driver');
}

function driverClient(db: Executor): unknown {
  // Drizzle keeps the driver's client on its session (the transaction's client inside a transaction); the
  // database object also exposes it as $client.
  const session = (db as unknown as { session?: { client?: unknown } }).session;
  return session?.client ?? (db as unknown as { $client?: unknown }).$client;
}
