import { existsSync, realpathSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { eq } from 'drizzle-orm';
import { ConfigError, loadConfig, type Config } from '@reusable-chat/config';
import {
  AppError,
  addWorkspaceMember,
  createApiKey,
  createWorkspace,
  generatePassword,
  upsertAdmin,
  type WorkspaceRole,
} from '@reusable-chat/core';
import { schema, type DatabaseHandle } from '@reusable-chat/db';
import { composeDeps, openDatabase } from './compose.ts';
import type { ServerRole } from './deps.ts';
import { acquireDataDirLockIfEmbedded, DataDirBusyError } from './lifecycle/data-dir-lock.ts';
import { ALL_ROLES, describeStartupError, isReloadable, runServerUntilSignal } from './main.ts';
import { DEV_ADMIN_EMAIL, seedDemo } from './seed/seed-demo.ts';
import { isSupervisedWorker, runSupervisor } from './supervisor.ts';
import { runWorkspaceDeletion } from './worker/workspace-deletion.ts';

/**
 * `npx reusable-chat <command>` (SPEC §1). Every command migrates first. `runCli` is exported so tests run
 * commands in-process against a test database instead of spawning a process per case.
 */

export interface CliIo {
  /** Environment to load the configuration from (default: process.env). */
  readonly env?: Record<string, string | undefined>;
  readonly stdout?: (text: string) => void;
  readonly stderr?: (text: string) => void;
}

/** Wrong usage exits 2 (like most Unix tools), a failure 1. */
class UsageError extends Error {}
class CommandError extends Error {}

const USAGE = `Usage: reusable-chat <command> [options]

Commands:
  serve [--roles api,realtime,worker] [--reloadable]
                                          start the server (default: all roles); --reloadable (or
                                          RELOADABLE=true) runs it under a supervisor that reloads it with
                                          zero downtime on SIGHUP (docs/restarts.md)
  worker                                  start only the background worker (same as serve --roles worker)
  migrate                                 apply database migrations
  seed                                    create the demo workspace, demo key and (in development) dev admin
  admin:create --email E [--password P] [--name N] [--super-admin]
               [--workspace ID [--role owner|admin|agent|viewer]] [--json]
                                          create a dashboard admin, or set a new password for an existing one
  workspace:create --name N [--kind single_app|marketplace] [--json]
                                          create a workspace and a full-scope API key (shown once)
  key:create --workspace ID [--scope full|demo] [--name N] [--json]
                                          create an API key for a workspace (shown once)
  workspace:delete ID --yes [--json]      delete a workspace for good: keys and sessions revoked, sockets closed,
                                          webhooks disabled, stored objects and rows removed (docs/workspace-deletion.md)

Configuration comes from the environment (see docs/configuration.md). With the embedded database (no
DATABASE_URL) a command cannot run while a server uses the same DATA_DIR.
`;

type Options = NonNullable<ParseArgsConfig['options']>;

function parse(argv: readonly string[], options: Options): Record<string, string | boolean | undefined> {
  try {
    const { values } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false });
    return values as Record<string, string | boolean | undefined>;
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

function requireString(values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v.trim() === '') throw new UsageError(`--${name} is required`);
  return v.trim();
}

function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`--${name} must be one of: ${allowed.join(', ')}`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Opens the database (taking the DATA_DIR lock in embedded mode), migrates, runs `fn`, and always cleans up. */
async function withDatabase<T>(config: Config, command: string, fn: (handle: DatabaseHandle) => Promise<T>): Promise<T> {
  const lock = acquireDataDirLockIfEmbedded(config, `cli ${command}`);
  let handle: DatabaseHandle | undefined;
  try {
    handle = await openDatabase(config);
    await handle.migrate();
    return await fn(handle);
  } finally {
    await handle?.close();
    lock.release();
  }
}

type Out = (text: string) => void;

async function commandMigrate(config: Config, argv: readonly string[], out: Out): Promise<void> {
  parse(argv, {});
  await withDatabase(config, 'migrate', async () => undefined);
  out('Migrations applied.\n');
}

async function commandSeed(config: Config, argv: readonly string[], out: Out): Promise<void> {
  const values = parse(argv, { json: { type: 'boolean' } });
  const result = await withDatabase(config, 'seed', ({ db }) => seedDemo({ db, config }));
  if (values.json) {
    out(
      JSON.stringify({
        created: result.created,
        demo_workspace_id: result.demoWorkspaceId,
        demo_api_key: result.demoApiKey,
        dev_api_key: result.created.devKey ? result.devApiKey : null,
        admin_email: result.admin?.email ?? null,
        admin_password: result.created.admin ? result.admin?.password ?? null : null,
      }) + '\n',
    );
    return;
  }
  const made = Object.entries(result.created)
    .filter(([, v]) => v)
    .map(([k]) => k);
  out(made.length ? `Seeded: ${made.join(', ')}.\n` : 'Nothing to seed: the demo workspace, demo key and admin exist.\n');
  if (result.demoWorkspaceId) out(`Demo workspace: ${result.demoWorkspaceId}\n`);
  if (result.demoApiKey) out(`Demo key:       ${result.demoApiKey}\n`);
  if (result.devApiKey && result.created.devKey) out(`Dev API key:    ${result.devApiKey} (full scope)\n`);
  if (result.admin && result.created.admin) out(`Admin login:    ${result.admin.email} / ${result.admin.password ?? ''}\n`);
}

async function commandAdminCreate(config: Config, argv: readonly string[], out: Out): Promise<void> {
  const values = parse(argv, {
    email: { type: 'string' },
    password: { type: 'string' },
    name: { type: 'string' },
    'super-admin': { type: 'boolean' },
    workspace: { type: 'string' },
    role: { type: 'string' },
    json: { type: 'boolean' },
  });
  const email = requireString(values, 'email');
  const role = oneOf<WorkspaceRole>(values.role, 'role', ['owner', 'admin', 'agent', 'viewer'], 'owner');
  if (values.role !== undefined && values.workspace === undefined) throw new UsageError('--role needs --workspace');
  const workspaceId = typeof values.workspace === 'string' ? values.workspace : undefined;
  if (workspaceId !== undefined && !UUID.test(workspaceId)) throw new UsageError('--workspace must be a workspace id (UUID)');
  const generated = values.password === undefined;
  const password = typeof values.password === 'string' ? values.password : generatePassword();

  const { admin, created } = await withDatabase(config, 'admin:create', async ({ db }) =>
    db.transaction(async (tx) => {
      if (workspaceId) {
        const [ws] = await tx.select({ id: schema.workspaces.id }).from(schema.workspaces).where(eq(schema.workspaces.id, workspaceId));
        if (!ws) throw new CommandError(`workspace ${workspaceId} not found`);
      }
      let result;
      try {
        result = await upsertAdmin({
          db: tx,
          email,
          password,
          ...(typeof values.name === 'string' ? { name: values.name } : {}),
          ...(values['super-admin'] ? { isSuperAdmin: true } : {}),
        });
      } catch (err) {
        throw new CommandError(err instanceof Error ? err.message : String(err));
      }
      if (workspaceId) await addWorkspaceMember({ db: tx, workspaceId, adminId: result.admin.id, role });
      return result;
    }),
  );
  // Keep the password `npm start` prints in step with a reset of the dev admin.
  const devPasswordFile = path.join(config.dataDir, 'dev-admin-password');
  if (admin.email.toLowerCase() === DEV_ADMIN_EMAIL && existsSync(devPasswordFile)) {
    writeFileSync(devPasswordFile, `${password}\n`, { mode: 0o600 });
  }
  if (values.json) {
    out(
      JSON.stringify({
        admin_id: admin.id,
        email: admin.email,
        created,
        is_super_admin: admin.isSuperAdmin,
        ...(generated ? { password } : {}),
      }) + '\n',
    );
    return;
  }
  out(`${created ? 'Created admin' : 'Updated the password of admin'} ${admin.email} (${admin.id}).\n`);
  if (generated) out(`Password (shown once): ${password}\n`);
  if (workspaceId) out(`Member of workspace ${workspaceId} as ${role}.\n`);
}

async function commandWorkspaceCreate(config: Config, argv: readonly string[], out: Out): Promise<void> {
  const values = parse(argv, { name: { type: 'string' }, kind: { type: 'string' }, json: { type: 'boolean' } });
  const name = requireString(values, 'name');
  const kind = oneOf(values.kind, 'kind', ['single_app', 'marketplace'] as const, 'single_app');
  const { workspace, apiKey } = await withDatabase(config, 'workspace:create', async ({ db }) =>
    db.transaction(async (tx) => {
      const ws = await createWorkspace({ db: tx, name, kind });
      const key = await createApiKey({ db: tx, workspaceId: ws.id, scope: 'full', name: 'Created by workspace:create' });
      return { workspace: ws, apiKey: key.apiKey };
    }),
  );
  if (values.json) {
    out(JSON.stringify({ workspace_id: workspace.id, api_key: apiKey }) + '\n');
    return;
  }
  out(`Created ${kind} workspace "${workspace.name}": ${workspace.id}\n`);
  out(`API key (full scope, shown once — store it now): ${apiKey}\n`);
}

async function commandKeyCreate(config: Config, argv: readonly string[], out: Out): Promise<void> {
  const values = parse(argv, {
    workspace: { type: 'string' },
    scope: { type: 'string' },
    name: { type: 'string' },
    json: { type: 'boolean' },
  });
  const workspaceId = requireString(values, 'workspace');
  if (!UUID.test(workspaceId)) throw new UsageError('--workspace must be a workspace id (UUID)');
  const scope = oneOf(values.scope, 'scope', ['full', 'demo'] as const, 'full');
  const apiKey = await withDatabase(config, 'key:create', async ({ db }) => {
    const [ws] = await db.select({ id: schema.workspaces.id }).from(schema.workspaces).where(eq(schema.workspaces.id, workspaceId));
    if (!ws) throw new CommandError(`workspace ${workspaceId} not found`);
    const name = typeof values.name === 'string' ? values.name : 'Created by key:create';
    return (await createApiKey({ db, workspaceId, scope, name })).apiKey;
  });
  if (values.json) {
    out(JSON.stringify({ api_key: apiKey }) + '\n');
    return;
  }
  out(`API key (${scope} scope, shown once — store it now): ${apiKey}\n`);
}

async function commandWorkspaceDelete(config: Config, argv: readonly string[], out: Out): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: { yes: { type: 'boolean' }, json: { type: 'boolean' } }, strict: true, allowPositionals: true });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  const [workspaceId, ...extra] = parsed.positionals;
  if (!workspaceId || extra.length > 0) throw new UsageError('workspace:delete takes exactly one workspace id');
  if (!UUID.test(workspaceId)) throw new UsageError('the workspace id must be a UUID');
  if (!parsed.values.yes) throw new UsageError('this deletes the workspace and all of its data for good; add --yes to confirm');
  const result = await withDatabase(config, 'workspace:delete', async (database) => {
    // Storage and the realtime cluster bus come from the same drivers a server would use.
    const deps = await composeDeps({ config, database, roles: [] });
    try {
      return await runWorkspaceDeletion(deps, workspaceId, { type: 'system', id: 'cli' });
    } catch (err) {
      if (err instanceof AppError && err.code === 'not_found') throw new CommandError(`workspace ${workspaceId} not found`);
      throw err;
    } finally {
      await deps.dispose();
    }
  });
  if (parsed.values.json) {
    out(
      JSON.stringify({
        workspace_id: result.workspaceId,
        api_keys_revoked: result.apiKeysRevoked,
        public_keys_revoked: result.publicKeysRevoked,
        sessions_revoked: result.sessionsRevoked,
        webhooks_disabled: result.webhooksDisabled,
        sockets_terminated_for: result.socketsTerminatedFor,
        storage_objects_deleted: result.storageObjectsDeleted,
      }) + '\n',
    );
    return;
  }
  out(`Deleted workspace ${result.workspaceId}: ${result.apiKeysRevoked} API keys and ${result.sessionsRevoked} sessions revoked, `);
  out(`${result.webhooksDisabled} webhook endpoints disabled, ${result.storageObjectsDeleted} stored objects deleted.\n`);
}

function parseRoles(value: unknown): ServerRole[] {
  if (value === undefined) return [...ALL_ROLES];
  const roles = String(value)
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  const unknown = roles.filter((r) => !(ALL_ROLES as readonly string[]).includes(r));
  if (roles.length === 0 || unknown.length > 0) {
    throw new UsageError(`--roles takes a comma-separated list of: ${ALL_ROLES.join(', ')}${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`);
  }
  return [...new Set(roles)] as ServerRole[];
}

export async function runCli(argv: readonly string[], io: CliIo = {}): Promise<number> {
  const out = io.stdout ?? ((t: string) => void process.stdout.write(t));
  const err = io.stderr ?? ((t: string) => void process.stderr.write(t));
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    (command ? out : err)(USAGE);
    return command ? 0 : 2;
  }
  try {
    const config = loadConfig(io.env ?? process.env);
    switch (command) {
      case 'serve': {
        const values = parse(rest, { roles: { type: 'string' }, reloadable: { type: 'boolean' } });
        const roles = parseRoles(values.roles);
        if ((values.reloadable === true || isReloadable(io.env ?? process.env)) && !isSupervisedWorker()) {
          // The worker runs this same file as `serve --roles …`; being a cluster worker, it serves.
          return await runSupervisor({ config, exec: fileURLToPath(import.meta.url), args: ['serve', '--roles', roles.join(',')] });
        }
        return await runServerUntilSignal({ config, roles });
      }
      case 'worker':
        parse(rest, {});
        return await runServerUntilSignal({ config, roles: ['worker'] });
      case 'migrate':
        await commandMigrate(config, rest, out);
        return 0;
      case 'seed':
        await commandSeed(config, rest, out);
        return 0;
      case 'admin:create':
        await commandAdminCreate(config, rest, out);
        return 0;
      case 'workspace:create':
        await commandWorkspaceCreate(config, rest, out);
        return 0;
      case 'key:create':
        await commandKeyCreate(config, rest, out);
        return 0;
      case 'workspace:delete':
        await commandWorkspaceDelete(config, rest, out);
        return 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      err(`reusable-chat ${command}: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    if (e instanceof CommandError || e instanceof ConfigError || e instanceof DataDirBusyError) {
      err(`reusable-chat ${command}: ${e.message}\n`);
      return 1;
    }
    const known = describeStartupError(e);
    if (known) {
      err(`reusable-chat ${command}: ${known}\n`);
      return 1;
    }
    err(`reusable-chat ${command} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 1;
  }
}

/** Same entry-point rule as main.ts: run only as `node dist/cli.js` / `tsx src/cli.ts`, never when imported. */
function isEntryPoint(): boolean {
  const self = fileURLToPath(import.meta.url);
  if (!/^cli\.(ts|js|mjs)$/.test(path.basename(self)) || !process.argv[1]) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(self);
  } catch {
    return false;
  }
}

if (isEntryPoint()) process.exit(await runCli(process.argv.slice(2)));
