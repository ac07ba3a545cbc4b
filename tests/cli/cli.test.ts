import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { count, eq } from 'drizzle-orm';
import { authenticateApiKey, findAdminByEmail, verifyPassword } from '@reusable-chat/core';
import { createDatabase, schema, type Database } from '@reusable-chat/db';
import { backends, createTestDatabase, pgliteTemplateDir, type Backend, type TestDatabase } from '@reusable-chat/testing';
import { runCli } from '../../apps/server/src/cli.ts';
import { LOCK_FILE_NAME } from '../../apps/server/src/lifecycle/data-dir-lock.ts';
import { DEV_ADMIN_EMAIL } from '../../apps/server/src/seed/seed-demo.ts';

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs CLI commands in-process (SPEC §1) against a database of its own: for PGlite a DATA_DIR whose
 * `pglite` folder is a copy of the migrated template (the CLI opens and closes it itself, as it would
 * for a user); for PostgreSQL a fresh database passed as DATABASE_URL.
 */
class CliHarness {
  private constructor(
    readonly backend: Backend,
    readonly dataDir: string,
    private readonly testDb: TestDatabase | undefined,
  ) {}

  static async create(backend: Backend): Promise<CliHarness> {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rc-cli-'));
    if (backend === 'pglite') {
      cpSync(pgliteTemplateDir(), path.join(dataDir, 'pglite'), { recursive: true });
      return new CliHarness(backend, dataDir, undefined);
    }
    return new CliHarness(backend, dataDir, await createTestDatabase('postgres'));
  }

  get env(): Record<string, string> {
    return {
      NODE_ENV: 'development',
      DATA_DIR: this.dataDir,
      LOG_LEVEL: 'silent',
      ...(this.testDb?.url ? { DATABASE_URL: this.testDb.url } : {}),
    };
  }

  async run(argv: string[], extraEnv: Record<string, string> = {}): Promise<CliResult> {
    let stdout = '';
    let stderr = '';
    const code = await runCli(argv, {
      env: { ...this.env, ...extraEnv },
      stdout: (t) => void (stdout += t),
      stderr: (t) => void (stderr += t),
    });
    return { code, stdout, stderr };
  }

  async runJson<T>(argv: string[]): Promise<T> {
    const result = await this.run([...argv, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout) as T;
  }

  /** Inspect the database the CLI wrote; PGlite is single-process, so it is opened only while no command runs. */
  async withDb<T>(fn: (db: Database) => Promise<T>): Promise<T> {
    if (this.testDb) return fn(this.testDb.handle.db);
    const handle = await createDatabase({ kind: 'pglite', dataDir: path.join(this.dataDir, 'pglite') });
    try {
      return await fn(handle.db);
    } finally {
      await handle.close();
    }
  }

  async close(): Promise<void> {
    await this.testDb?.drop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

async function countRows(db: Database) {
  const [w] = await db.select({ n: count() }).from(schema.workspaces);
  const [k] = await db.select({ n: count() }).from(schema.apiKeys);
  const [a] = await db.select({ n: count() }).from(schema.admins);
  const [c] = await db.select({ n: count() }).from(schema.widgetConfigs);
  return { workspaces: w?.n, keys: k?.n, admins: a?.n, widgetConfigs: c?.n };
}

describe.each(backends)('reusable-chat CLI (%s)', (backend) => {
  let cli: CliHarness;
  beforeAll(async () => {
    cli = await CliHarness.create(backend);
  });
  afterAll(async () => {
    await cli?.close();
  });

  it('workspace:create --json prints a workspace id and a full-scope key that authenticates', async () => {
    const out = await cli.runJson<{ workspace_id: string; api_key: string }>(['workspace:create', '--name', 'Acme', '--kind', 'marketplace']);
    expect(Object.keys(out).sort()).toEqual(['api_key', 'workspace_id']);
    expect(out.api_key).toMatch(/^sk_live_[A-Za-z0-9]{40,}$/);
    await cli.withDb(async (db) => {
      const auth = await authenticateApiKey({ db, apiKey: out.api_key });
      expect(auth?.workspace).toMatchObject({ id: out.workspace_id, name: 'Acme', kind: 'marketplace' });
      expect(auth?.key.scope).toBe('full');
      const configs = await db.select({ slug: schema.widgetConfigs.slug }).from(schema.widgetConfigs).where(eq(schema.widgetConfigs.workspaceId, out.workspace_id));
      expect(configs.map((c) => c.slug).sort()).toEqual(['guest-host', 'support']);
    });
  });

  it('key:create --json prints a key for that workspace; --scope demo makes a demo key', async () => {
    const ws = await cli.runJson<{ workspace_id: string }>(['workspace:create', '--name', 'Single']);
    const full = await cli.runJson<{ api_key: string }>(['key:create', '--workspace', ws.workspace_id]);
    const demo = await cli.runJson<{ api_key: string }>(['key:create', '--workspace', ws.workspace_id, '--scope', 'demo']);
    expect(Object.keys(full)).toEqual(['api_key']);
    expect(demo.api_key).toMatch(/^sk_demo_/);
    await cli.withDb(async (db) => {
      const a = await authenticateApiKey({ db, apiKey: full.api_key });
      const b = await authenticateApiKey({ db, apiKey: demo.api_key });
      expect(a?.workspace).toMatchObject({ id: ws.workspace_id, kind: 'single_app' });
      expect(a?.key.scope).toBe('full');
      expect(b?.workspace.id).toBe(ws.workspace_id);
      expect(b?.key.scope).toBe('demo');
    });
  });

  it('prints the key once in human form too', async () => {
    const res = await cli.run(['workspace:create', '--name', 'Readable']);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/Created single_app workspace "Readable": [0-9a-f-]{36}/);
    expect(res.stdout).toMatch(/API key \(full scope, shown once .*\): sk_live_\w+/);
  });

  it('refuses an unknown workspace and wrong usage with clear messages', async () => {
    const unknown = await cli.run(['key:create', '--workspace', '01890000-0000-7000-8000-000000000000', '--json']);
    expect(unknown).toMatchObject({ code: 1, stdout: '' });
    expect(unknown.stderr).toContain('workspace 01890000-0000-7000-8000-000000000000 not found');

    const missing = await cli.run(['workspace:create']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--name is required');

    const badKind = await cli.run(['workspace:create', '--name', 'x', '--kind', 'shop']);
    expect(badKind.code).toBe(2);
    expect(badKind.stderr).toContain('--kind must be one of: single_app, marketplace');

    const badRoles = await cli.run(['serve', '--roles', 'api,cron']);
    expect(badRoles.code).toBe(2);
    expect(badRoles.stderr).toContain('--roles takes a comma-separated list of: api, realtime, worker (unknown: cron)');

    const badCommand = await cli.run(['frobnicate']);
    expect(badCommand.code).toBe(2);
    expect(badCommand.stderr).toContain('unknown command "frobnicate"');
  });

  it('seed creates the demo tenant, demo key and dev admin once; a second run creates nothing', async () => {
    const first = await cli.runJson<{
      created: Record<string, boolean>;
      demo_workspace_id: string;
      demo_api_key: string;
      dev_api_key: string;
      admin_email: string;
      admin_password: string;
    }>(['seed']);
    expect(first.created).toEqual({ workspace: true, demoKey: true, devKey: true, admin: true });
    expect(first.demo_api_key).toBe('sk_demo_reusable_chat_demo_key_2026');
    expect(first.admin_email).toBe(DEV_ADMIN_EMAIL);
    const before = await cli.withDb(countRows);

    const second = await cli.runJson<{ created: Record<string, boolean>; demo_workspace_id: string }>(['seed']);
    expect(second.created).toEqual({ workspace: false, demoKey: false, devKey: false, admin: false });
    expect(second.demo_workspace_id).toBe(first.demo_workspace_id);

    await cli.withDb(async (db) => {
      expect(await countRows(db)).toEqual(before);
      const auth = await authenticateApiKey({ db, apiKey: first.demo_api_key });
      expect(auth?.workspace).toMatchObject({ id: first.demo_workspace_id, kind: 'marketplace', isDemo: true });
      expect(auth?.key.scope).toBe('demo');
      const dev = await authenticateApiKey({ db, apiKey: first.dev_api_key });
      expect(dev?.workspace.id).toBe(first.demo_workspace_id);
      expect(dev?.key).toMatchObject({ scope: 'full', environment: 'test' });
      const admin = await findAdminByEmail({ db, email: DEV_ADMIN_EMAIL });
      expect(admin?.isSuperAdmin).toBe(true);
      expect(await verifyPassword(first.admin_password, admin!.passwordHash)).toBe(true);
      const [membership] = await db.select().from(schema.workspaceMembers).where(eq(schema.workspaceMembers.adminId, admin!.id));
      expect(membership).toMatchObject({ workspaceId: first.demo_workspace_id, role: 'owner' });
    });
    expect(readFileSync(path.join(cli.dataDir, 'dev-admin-password'), 'utf8').trim()).toBe(first.admin_password);
  });

  it('admin:create creates an admin, and sets a new password when the email exists', async () => {
    const ws = await cli.runJson<{ workspace_id: string }>(['workspace:create', '--name', 'Team']);
    const made = await cli.runJson<{ admin_id: string; created: boolean; password: string }>([
      'admin:create', '--email', 'Agent@Example.com', '--workspace', ws.workspace_id, '--role', 'agent',
    ]);
    expect(made.created).toBe(true);
    expect(made.password.length).toBeGreaterThanOrEqual(16);
    const again = await cli.runJson<{ admin_id: string; created: boolean; password?: string }>([
      'admin:create', '--email', 'agent@example.com', '--password', 'a-new-password-123',
    ]);
    expect(again).toMatchObject({ admin_id: made.admin_id, created: false });
    expect(again.password).toBeUndefined();
    await cli.withDb(async (db) => {
      const admin = await findAdminByEmail({ db, email: 'AGENT@example.com' });
      expect(await verifyPassword('a-new-password-123', admin!.passwordHash)).toBe(true);
      expect(await verifyPassword(made.password, admin!.passwordHash)).toBe(false);
      const [membership] = await db.select().from(schema.workspaceMembers).where(eq(schema.workspaceMembers.adminId, made.admin_id));
      expect(membership).toMatchObject({ workspaceId: ws.workspace_id, role: 'agent' });
    });
    const short = await cli.run(['admin:create', '--email', 'x@example.com', '--password', 'short']);
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('password must be at least 8 characters');
  });

  it('a configuration error names the variable, without a stack trace', async () => {
    const res = await cli.run(['migrate'], { PORT: 'abc' });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('PORT:');
    expect(res.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('reusable-chat CLI and a server on the same embedded DATA_DIR', () => {
  let cli: CliHarness;
  beforeAll(async () => {
    cli = await CliHarness.create('pglite');
  });
  afterAll(async () => {
    await cli?.close();
  });
  const lockFile = () => path.join(cli.dataDir, LOCK_FILE_NAME);

  it('refuses to run while a live process holds the lock, and says why', async () => {
    // The vitest runner that forked this worker is a live Node process other than us.
    writeFileSync(lockFile(), JSON.stringify({ pid: process.ppid, hostname: os.hostname(), holder: 'server', started_at: '2026-01-01T00:00:00.000Z' }));
    const res = await cli.run(['migrate']);
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(`is in use by a running Reusable Chat server (pid ${process.ppid}`);
    expect(res.stderr).toContain('DATABASE_URL');
    expect(existsSync(lockFile())).toBe(true);
  });

  it('takes over a stale lock left by a process that is gone', async () => {
    writeFileSync(lockFile(), JSON.stringify({ pid: 2 ** 22 + 17, hostname: os.hostname(), holder: 'server', started_at: '2026-01-01T00:00:00.000Z' }));
    const res = await cli.run(['migrate']);
    expect(res).toMatchObject({ code: 0, stdout: 'Migrations applied.\n' });
    expect(existsSync(lockFile())).toBe(false);
  });

  it('a PostgreSQL configuration takes no lock', async () => {
    writeFileSync(lockFile(), JSON.stringify({ pid: process.ppid, hostname: os.hostname(), holder: 'server', started_at: '2026-01-01T00:00:00.000Z' }));
    // An unreachable database: the command fails on connecting, not on the lock.
    const res = await cli.run(['migrate'], { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
    expect(res.code).toBe(1);
    expect(res.stderr).not.toContain('is in use');
    rmSync(lockFile());
  });
});
