import { and, eq, gt, isNull } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import { randomToken, sha256Hex } from '../shared/crypto.ts';

export type WidgetSessionRow = typeof schema.widgetSessions.$inferSelect;
export type ChatUserRow = typeof schema.chatUsers.$inferSelect;
import type { WorkspaceRow } from '../workspaces/create-workspace.ts';

/** SPEC §3: default 24 h, at most 30 days. */
export const DEFAULT_SESSION_TTL_S = 24 * 3600;
export const MAX_SESSION_TTL_S = 30 * 24 * 3600;
/** Prefix makes leaked tokens recognisable to secret scanners; 256 bits of randomness follow. */
export const SESSION_TOKEN_PREFIX = 'wst_';
const SESSION_TOKEN_PATTERN = /^wst_[A-Za-z0-9]{40,64}$/;

export async function createWidgetSession(params: {
  db: Executor;
  workspaceId: string;
  chatUserId: string;
  expiresInS?: number;
  origin?: string | null;
  now?: Date;
}): Promise<{ token: string; session: WidgetSessionRow }> {
  const ttl = Math.min(Math.max(params.expiresInS ?? DEFAULT_SESSION_TTL_S, 60), MAX_SESSION_TTL_S);
  const now = params.now ?? new Date();
  const token = SESSION_TOKEN_PREFIX + randomToken(32);
  const [session] = await params.db
    .insert(schema.widgetSessions)
    .values({
      workspaceId: params.workspaceId,
      chatUserId: params.chatUserId,
      tokenHash: sha256Hex(token),
      origin: params.origin ?? null,
      expiresAt: new Date(now.getTime() + ttl * 1000),
    })
    .returning();
  if (!session) throw new Error('session insert returned no row');
  return { token, session };
}

export interface AuthenticatedWidgetSession {
  readonly session: WidgetSessionRow;
  readonly user: ChatUserRow;
  readonly workspace: WorkspaceRow;
}

/**
 * Bearer token → session, user and workspace. Looked up by SHA-256 (only hashes are stored); expired,
 * revoked, erased-user and suspended-workspace sessions all fail the same way (checklist ).
 */
export async function authenticateWidgetSession(params: {
  db: Executor;
  token: string;
  now?: Date;
}): Promise<AuthenticatedWidgetSession | null> {
  if (!SESSION_TOKEN_PATTERN.test(params.token)) return null;
  const now = params.now ?? new Date();
  const rows = await params.db
    .select({ session: schema.widgetSessions, user: schema.chatUsers, workspace: schema.workspaces })
    .from(schema.widgetSessions)
    .innerJoin(schema.chatUsers, eq(schema.chatUsers.id, schema.widgetSessions.chatUserId))
    .innerJoin(schema.workspaces, eq(schema.workspaces.id, schema.widgetSessions.workspaceId))
    .where(
      and(
        eq(schema.widgetSessions.tokenHash, sha256Hex(params.token)),
        isNull(schema.widgetSessions.revokedAt),
        gt(schema.widgetSessions.expiresAt, now),
        isNull(schema.chatUsers.erasedAt),
        eq(schema.workspaces.status, 'active'),
      ),
    )
    .limit(1);
  return rows[0] ?? null;
}

/** Revokes one session by id, or every session of a user; returns the revoked sessions' user ids. */
export async function revokeWidgetSessions(params: {
  db: Executor;
  workspaceId: string;
  sessionId?: string;
  chatUserId?: string;
}): Promise<{ revoked: number; chatUserIds: string[] }> {
  if (!params.sessionId && !params.chatUserId) return { revoked: 0, chatUserIds: [] }; // never a broad revoke (G-04)
  const conditions = [eq(schema.widgetSessions.workspaceId, params.workspaceId), isNull(schema.widgetSessions.revokedAt)];
  if (params.sessionId) conditions.push(eq(schema.widgetSessions.id, params.sessionId));
  if (params.chatUserId) conditions.push(eq(schema.widgetSessions.chatUserId, params.chatUserId));
  const rows = await params.db
    .update(schema.widgetSessions)
    .set({ revokedAt: new Date() })
    .where(and(...conditions))
    .returning({ chatUserId: schema.widgetSessions.chatUserId });
  return { revoked: rows.length, chatUserIds: [...new Set(rows.map((r) => r.chatUserId))] };
}
