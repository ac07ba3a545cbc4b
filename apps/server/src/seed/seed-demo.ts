import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { asc, count, eq, sql } from 'drizzle-orm';
import type { Config } from '@reusable-chat/config';
import {
  addWorkspaceMember,
  authenticateApiKey,
  createApiKey,
  createWorkspace,
  findAdminByEmail,
  generatePassword,
  sha256Hex,
  upsertAdmin,
} from '@reusable-chat/core';
import { schema, type Database } from '@reusable-chat/db';

/** The development login printed by `npm start` (SPEC §1). Never created when NODE_ENV=production. */
export const DEV_ADMIN_EMAIL = 'admin@localhost.test';
export const DEMO_WORKSPACE_NAME = 'Demo marketplace';
/** Arbitrary constant: two nodes starting on one empty PostgreSQL seed once, not twice. */
const SEED_LOCK_ID = 7_311_942_014;

export interface SeedResult {
  /** What this run created; all false on a database that was already seeded. */
  readonly created: { readonly workspace: boolean; readonly demoKey: boolean; readonly devKey: boolean; readonly admin: boolean };
  readonly skipped: boolean;
  readonly demoWorkspaceId: string | null;
  readonly demoApiKey: string | null;
  /** Development only: a full-scope key of the demo workspace, for trying the consumer API (README walk-through). */
  readonly devApiKey: string | null;
  readonly admin: { readonly email: string; readonly password: string | null } | null;
}

function devPasswordFile(config: Config): string {
  return path.join(config.dataDir, 'dev-admin-password');
}

function devApiKeyFile(config: Config): string {
  return path.join(config.dataDir, 'dev-api-key');
}

/** Generated dev credentials are kept beside the embedded database (like app-secret) so every start can print them. */
function readDevFile(file: string): string | null {
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || null : null;
}

function writeDevFile(config: Config, file: string, value: string): void {
  mkdirSync(config.dataDir, { recursive: true });
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
}

/**
 * Seeds the demo tenant (SPEC §1): a marketplace workspace (createWorkspace adds the `guest-host` and `support`
 * widget configurations) with the demo-scoped key DEMO_API_KEY, and in development a super-admin owner of it and
 * a full-scope dev key. In production only the workspace and DEMO_API_KEY, and only when DEMO_API_KEY is set.
 * Idempotent: every piece is looked up first, so a second run creates nothing.
 *
 * `onlyIfEmpty` (what `npm start` uses): once an admin or a demo workspace exists, only the configured demo key is
 * added to the existing demo workspace (so a changed DEMO_API_KEY works) — a tenant that deleted the demo
 * workspace does not get it back on every restart. Workspaces made with `workspace:create` before the first
 * start do not count: that database has no admin yet, so it still gets the demo tenant and the login.
 */
export async function seedDemo(params: { db: Database; config: Config; onlyIfEmpty?: boolean }): Promise<SeedResult> {
  const { db, config } = params;
  const created = { workspace: false, demoKey: false, devKey: false, admin: false };
  let generatedPassword: string | null = null;
  let generatedDevKey: string | null = null;
  let skipped = false;
  const existingDevKey = config.isProduction ? null : readDevFile(devApiKeyFile(config));

  const outcome = await db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${SEED_LOCK_ID})`);
    const [admins] = await tx.select({ n: count() }).from(schema.admins);
    let [demo] = await tx
      .select()
      .from(schema.workspaces)
      .where(eq(schema.workspaces.isDemo, true))
      .orderBy(asc(schema.workspaces.createdAt))
      .limit(1);

    if (params.onlyIfEmpty && (demo || (admins?.n ?? 0) > 0)) {
      skipped = true;
    } else if (!demo && (!config.isProduction || config.demoApiKey)) {
      demo = await createWorkspace({ db: tx, name: DEMO_WORKSPACE_NAME, kind: 'marketplace', isDemo: true });
      created.workspace = true;
    }

    if (demo && config.demoApiKey) {
      const [existingKey] = await tx
        .select({ id: schema.apiKeys.id })
        .from(schema.apiKeys)
        .where(eq(schema.apiKeys.keyHash, sha256Hex(config.demoApiKey)))
        .limit(1);
      if (!existingKey) {
        await createApiKey({
          db: tx,
          workspaceId: demo.id,
          environment: 'demo',
          scope: 'demo',
          name: 'Demo key (DEMO_API_KEY)',
          plaintext: config.demoApiKey,
        });
        created.demoKey = true;
      }
    }

    if (!skipped && demo && !config.isProduction) {
      const existingAdmin = await findAdminByEmail({ db: tx, email: DEV_ADMIN_EMAIL });
      if (!existingAdmin) {
        generatedPassword = generatePassword();
        const { admin } = await upsertAdmin({
          db: tx,
          email: DEV_ADMIN_EMAIL,
          password: generatedPassword,
          name: 'Development admin',
          isSuperAdmin: true,
        });
        await addWorkspaceMember({ db: tx, workspaceId: demo.id, adminId: admin.id, role: 'owner' });
        created.admin = true;
      }
      const devKeyWorks = existingDevKey !== null && (await authenticateApiKey({ db: tx, apiKey: existingDevKey })) !== null;
      if (!devKeyWorks) {
        generatedDevKey = (
          await createApiKey({ db: tx, workspaceId: demo.id, environment: 'test', scope: 'full', name: 'Development key (npm start)' })
        ).apiKey;
        created.devKey = true;
      }
    }
    return { demoWorkspaceId: demo?.id ?? null };
  });

  // After commit: a rolled-back seed must not leave files for credentials that do not exist.
  if (generatedPassword) writeDevFile(config, devPasswordFile(config), generatedPassword);
  if (generatedDevKey) writeDevFile(config, devApiKeyFile(config), generatedDevKey);
  const hasDevAdmin = !config.isProduction && (created.admin || (await findAdminByEmail({ db, email: DEV_ADMIN_EMAIL })) !== null);
  return {
    created,
    skipped,
    demoWorkspaceId: outcome.demoWorkspaceId,
    demoApiKey: outcome.demoWorkspaceId ? (config.demoApiKey ?? null) : null,
    devApiKey: config.isProduction ? null : (generatedDevKey ?? existingDevKey),
    admin: hasDevAdmin ? { email: DEV_ADMIN_EMAIL, password: generatedPassword ?? readDevFile(devPasswordFile(config)) } : null,
  };
}
