import { eq, sql } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import { hashPassword, MIN_PASSWORD_LENGTH } from './passwords.ts';

export type AdminRow = typeof schema.admins.$inferSelect;
export type WorkspaceRole = (typeof schema.workspaceMembers.$inferSelect)['role'];

export async function findAdminByEmail(params: { db: Executor; email: string }): Promise<AdminRow | null> {
  const rows = await params.db
    .select()
    .from(schema.admins)
    .where(eq(sql`lower(${schema.admins.email})`, params.email.trim().toLowerCase()))
    .limit(1);
  return rows[0] ?? null;
}

/**
 * Creates a dashboard admin, or — when the email exists — sets a new password (the CLI's recovery path
 * for a lost login). Emails are unique case-insensitively (admins_email_uq on lower(email)).
 */
export async function upsertAdmin(params: {
  db: Executor;
  email: string;
  password: string;
  name?: string;
  isSuperAdmin?: boolean;
}): Promise<{ admin: AdminRow; created: boolean }> {
  const email = params.email.trim();
  if (!/^[^\s@]+@[^\s@]+$/.test(email)) throw new Error(`not an email address: ${email}`);
  if (params.password.length < MIN_PASSWORD_LENGTH) {
    throw new Error(`password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  const passwordHash = await hashPassword(params.password);
  const existing = await findAdminByEmail({ db: params.db, email });
  if (existing) {
    const [admin] = await params.db
      .update(schema.admins)
      .set({
        passwordHash,
        ...(params.name !== undefined ? { name: params.name } : {}),
        ...(params.isSuperAdmin !== undefined ? { isSuperAdmin: params.isSuperAdmin } : {}),
        updatedAt: new Date(),
      })
      .where(eq(schema.admins.id, existing.id))
      .returning();
    if (!admin) throw new Error('admin update returned no row');
    return { admin, created: false };
  }
  const [admin] = await params.db
    .insert(schema.admins)
    .values({ email, name: params.name ?? '', passwordHash, isSuperAdmin: params.isSuperAdmin ?? false })
    .returning();
  if (!admin) throw new Error('admin insert returned no row');
  return { admin, created: true };
}

/** Idempotent: an existing membership keeps its role. */
export async function addWorkspaceMember(params: {
  db: Executor;
  workspaceId: string;
  adminId: string;
  role: WorkspaceRole;
}): Promise<void> {
  await params.db
    .insert(schema.workspaceMembers)
    .values({ workspaceId: params.workspaceId, adminId: params.adminId, role: params.role })
    .onConflictDoNothing();
}
