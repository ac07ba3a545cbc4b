import { eq, sql } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import { AppError } from '../errors/registry.ts';
import { safeEqual, sha256Hex } from '../shared/crypto.ts';
import type { AuthenticatedWidgetSession } from '../identity/widget-sessions.ts';

const SESSION_TOKEN_PATTERN = /^wst_[A-Za-z0-9]{40,64}$/;

export interface WidgetBearerAuth extends AuthenticatedWidgetSession {
  /** Origins the workspace's active public keys allow (the widget API's CORS allowlist, C-05). */
  readonly allowedOrigins: readonly string[];
}

/**
 * `Authorization: Bearer <session token>` → the session, its user and workspace, in ONE query (every widget
 * request pays for it): the session row by token hash (only hashes are stored), whether the user is banned,
 * and the workspace's allowed origins.
 * - A token that exists but expired, was revoked, or whose user was erased / workspace suspended answers
 *   `session_expired` (the widget then mints a new one); anything else `unauthenticated`.
 * - A banned user is refused on every call (SPEC §6: bans take effect at once on HTTP).
 */
export async function authenticateWidgetBearer(params: {
  db: Executor;
  authorization: string | undefined;
  now?: Date;
}): Promise<WidgetBearerAuth> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(params.authorization ?? '');
  if (!match) throw new AppError('unauthenticated', 'A widget session token is required (Authorization: Bearer …).');
  const token = match[1]!;
  if (!SESSION_TOKEN_PATTERN.test(token)) throw new AppError('unauthenticated');
  const now = params.now ?? new Date();
  const hash = sha256Hex(token);
  const ws = schema.widgetSessions;
  const nowSql = sql`${now.toISOString()}::timestamptz`;
  const rows = await params.db
    .select({
      session: ws,
      user: schema.chatUsers,
      workspace: schema.workspaces,
      banned: sql<boolean>`exists (select 1 from ${schema.bans} where ${schema.bans.workspaceId} = ${ws.workspaceId}
        and ${schema.bans.chatUserId} = ${ws.chatUserId} and ${schema.bans.liftedAt} is null
        and (${schema.bans.expiresAt} is null or ${schema.bans.expiresAt} > ${nowSql}))`,
      allowedOrigins: sql<string[]>`coalesce((select jsonb_agg(distinct o.value) from ${schema.publicKeys} pk
        cross join lateral jsonb_array_elements_text(pk.allowed_origins) as o(value)
        where pk.workspace_id = ${ws.workspaceId} and pk.revoked_at is null), '[]'::jsonb)`,
    })
    .from(ws)
    .innerJoin(schema.chatUsers, eq(schema.chatUsers.id, ws.chatUserId))
    .innerJoin(schema.workspaces, eq(schema.workspaces.id, ws.workspaceId))
    .where(eq(ws.tokenHash, hash))
    .limit(1);
  const row = rows[0];
  if (!row || !safeEqual(row.session.tokenHash, hash)) throw new AppError('unauthenticated');
  const usable =
    row.session.revokedAt === null &&
    row.session.expiresAt.getTime() > now.getTime() &&
    row.user.erasedAt === null &&
    row.workspace.status === 'active';
  if (!usable) throw new AppError('session_expired');
  if (row.banned === true || String(row.banned) === 'true') throw new AppError('user_banned');
  const origins = typeof row.allowedOrigins === 'string' ? (JSON.parse(row.allowedOrigins) as string[]) : row.allowedOrigins;
  return { session: row.session, user: row.user, workspace: row.workspace, allowedOrigins: Array.isArray(origins) ? origins : [] };
}
