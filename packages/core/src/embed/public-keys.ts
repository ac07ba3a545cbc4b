import { and, eq, isNull, sql } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import { AppError } from '../errors/registry.ts';
import { randomToken } from '../shared/crypto.ts';
import type { WorkspaceRow } from '../workspaces/create-workspace.ts';

export type PublicKeyRow = typeof schema.publicKeys.$inferSelect;

/** `pk_<random>`: public by design (it sits in page HTML), so it grants nothing without an allowed origin. */
export const PUBLIC_KEY_PATTERN = /^pk_[A-Za-z0-9]{16,64}$/;

/**
 * An origin as browsers send it: scheme, host and optional port, nothing else. Stored origins are
 * normalised the same way so the comparison is exact (no prefix or substring matching, C-05).
 */
export function normalizeOrigin(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username || url.password) return null;
  return url.origin;
}

export async function createPublicKey(params: {
  db: Executor;
  workspaceId: string;
  name?: string;
  allowedOrigins: readonly string[];
  requireIdentityVerification?: boolean;
  allowAnonymous?: boolean;
  widgetConfigId?: string | null;
}): Promise<PublicKeyRow> {
  const origins: string[] = [];
  for (const o of params.allowedOrigins) {
    const normalized = normalizeOrigin(o);
    if (!normalized) throw new AppError('validation_failed', `"${o}" is not an http(s) origin.`);
    if (!origins.includes(normalized)) origins.push(normalized);
  }
  if (params.widgetConfigId) {
    const config = await params.db
      .select({ id: schema.widgetConfigs.id })
      .from(schema.widgetConfigs)
      .where(and(eq(schema.widgetConfigs.workspaceId, params.workspaceId), eq(schema.widgetConfigs.id, params.widgetConfigId)))
      .limit(1);
    if (config.length === 0) throw new AppError('not_found', 'Widget configuration not found.');
  }
  const [row] = await params.db
    .insert(schema.publicKeys)
    .values({
      workspaceId: params.workspaceId,
      key: `pk_${randomToken(24)}`,
      name: params.name ?? '',
      allowedOrigins: origins,
      requireIdentityVerification: params.requireIdentityVerification ?? true,
      allowAnonymous: params.allowAnonymous ?? true,
      widgetConfigId: params.widgetConfigId ?? null,
    })
    .returning();
  if (!row) throw new Error('public key insert returned no row');
  return row;
}

export async function revokePublicKey(params: { db: Executor; workspaceId: string; publicKeyId: string }): Promise<boolean> {
  const rows = await params.db
    .update(schema.publicKeys)
    .set({ revokedAt: new Date() })
    .where(
      and(
        eq(schema.publicKeys.workspaceId, params.workspaceId),
        eq(schema.publicKeys.id, params.publicKeyId),
        isNull(schema.publicKeys.revokedAt),
      ),
    )
    .returning({ id: schema.publicKeys.id });
  return rows.length > 0;
}

export async function listPublicKeys(params: { db: Executor; workspaceId: string }): Promise<PublicKeyRow[]> {
  return params.db
    .select()
    .from(schema.publicKeys)
    .where(eq(schema.publicKeys.workspaceId, params.workspaceId))
    .orderBy(schema.publicKeys.createdAt);
}

/**
 * Resolves a public key for a page at `origin`. A missing, revoked or suspended key and an origin the key
 * does not list all fail: the key alone is never enough (A-20, C-05). Origin `null`/absent fails too —
 * browsers always send Origin on the cross-origin POSTs the embed API answers.
 */
export async function resolvePublicKey(params: {
  db: Executor;
  key: string;
  origin: string | undefined;
  /** The app's own origin (the widget iframe runs there, V-21); always allowed. */
  appOrigin: string;
}): Promise<{ publicKey: PublicKeyRow; workspace: WorkspaceRow; origin: string }> {
  if (!PUBLIC_KEY_PATTERN.test(params.key)) throw new AppError('unauthenticated', 'Unknown public key.');
  const rows = await params.db
    .select({ publicKey: schema.publicKeys, workspace: schema.workspaces })
    .from(schema.publicKeys)
    .innerJoin(schema.workspaces, eq(schema.workspaces.id, schema.publicKeys.workspaceId))
    .where(and(eq(schema.publicKeys.key, params.key), isNull(schema.publicKeys.revokedAt)))
    .limit(1);
  const row = rows[0];
  if (!row) throw new AppError('unauthenticated', 'Unknown public key.');
  if (row.workspace.status !== 'active') throw new AppError('workspace_suspended');
  const origin = params.origin ? normalizeOrigin(params.origin) : null;
  if (!origin || !isOriginAllowed({ allowedOrigins: row.publicKey.allowedOrigins, origin, appOrigin: params.appOrigin })) {
    throw new AppError('origin_not_allowed');
  }
  return { ...row, origin };
}

export function isOriginAllowed(params: { allowedOrigins: readonly string[]; origin: string; appOrigin: string }): boolean {
  const origin = normalizeOrigin(params.origin);
  if (!origin) return false;
  if (origin === params.appOrigin) return true;
  return params.allowedOrigins.some((allowed) => normalizeOrigin(allowed) === origin);
}

/** Origins any active key of the workspace allows (the widget API's CORS allowlist, C-05). */
export async function workspaceAllowedOrigins(params: { db: Executor; workspaceId: string }): Promise<string[]> {
  const rows = await params.db
    .select({ origins: schema.publicKeys.allowedOrigins })
    .from(schema.publicKeys)
    .where(and(eq(schema.publicKeys.workspaceId, params.workspaceId), isNull(schema.publicKeys.revokedAt)));
  return [...new Set(rows.flatMap((r) => r.origins))];
}

/** Whether any active public key allows this origin: answers CORS preflights, which carry no credentials. */
export async function isOriginKnown(params: { db: Executor; origin: string }): Promise<boolean> {
  const rows = await params.db
    .select({ id: schema.publicKeys.id })
    .from(schema.publicKeys)
    .where(
      and(
        isNull(schema.publicKeys.revokedAt),
        sql`${schema.publicKeys.allowedOrigins} @> ${JSON.stringify([params.origin])}::jsonb`,
      ),
    )
    .limit(1);
  return rows.length > 0;
}
