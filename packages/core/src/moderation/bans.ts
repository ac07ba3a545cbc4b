import { and, desc, eq, gt, isNull, lt, or, type SQL } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import type { DomainEventBus } from '../events/domain-events.ts';
import { cursorString, decodeCursor, encodeCursor, type CursorScope } from '../shared/cursor.ts';
import { toUserJson, type ChatUser } from '../users/user-json.ts';
import { recordAudit, type AuditActor } from './record-audit.ts';

export type BanRow = typeof schema.bans.$inferSelect;

/** A ban is active until lifted or expired (SPEC §6: bans take effect at once, on HTTP and sockets). */
export function activeBanCondition(now: Date): SQL {
  return and(isNull(schema.bans.liftedAt), or(isNull(schema.bans.expiresAt), gt(schema.bans.expiresAt, now)))!;
}

export function toBanJson(ban: BanRow, user?: ChatUser): Record<string, unknown> {
  return {
    id: ban.id,
    user_id: ban.chatUserId,
    ...(user ? { user: toUserJson(user, 'public') } : {}),
    reason: ban.reason,
    expires_at: ban.expiresAt?.toISOString() ?? null,
    lifted_at: ban.liftedAt?.toISOString() ?? null,
    created_at: ban.createdAt.toISOString(),
  };
}

export async function findActiveBan(params: {
  db: Executor;
  workspaceId: string;
  chatUserId: string;
  now?: Date;
}): Promise<BanRow | null> {
  const [ban] = await params.db
    .select()
    .from(schema.bans)
    .where(
      and(
        eq(schema.bans.workspaceId, params.workspaceId),
        eq(schema.bans.chatUserId, params.chatUserId),
        activeBanCondition(params.now ?? new Date()),
      ),
    )
    .orderBy(desc(schema.bans.createdAt))
    .limit(1);
  return ban ?? null;
}

/**
 * Bans a user (replacing any active ban, so there is one current ban with the latest reason/expiry).
 * After commit `user.banned` lets the realtime layer close the user's sockets.
 */
export async function banUser(params: {
  db: Executor;
  events?: DomainEventBus;
  workspaceId: string;
  user: ChatUser;
  reason?: string | null;
  expiresAt?: Date | null;
  actor: AuditActor;
}): Promise<BanRow> {
  const { workspaceId, user } = params;
  const now = new Date();
  const ban = await params.db.transaction(async (tx) => {
    await tx
      .update(schema.bans)
      .set({ liftedAt: now })
      .where(and(eq(schema.bans.workspaceId, workspaceId), eq(schema.bans.chatUserId, user.id), activeBanCondition(now)));
    const [row] = await tx
      .insert(schema.bans)
      .values({ workspaceId, chatUserId: user.id, reason: params.reason ?? null, expiresAt: params.expiresAt ?? null })
      .returning();
    if (!row) throw new Error('ban insert returned no row');
    await recordAudit({
      db: tx,
      workspaceId,
      actor: params.actor,
      action: 'user.banned',
      targetType: 'chat_user',
      targetId: user.id,
      metadata: { reason: row.reason, expires_at: row.expiresAt?.toISOString() ?? null },
    });
    return row;
  });
  await params.events?.emit({ type: 'user.banned', workspaceId, chatUserId: user.id, ban: toBanJson(ban, user) });
  return ban;
}

/** Lifts every active ban of the user; returns how many were lifted (0 is not an error: unban is idempotent). */
export async function unbanUser(params: {
  db: Executor;
  workspaceId: string;
  user: ChatUser;
  actor: AuditActor;
}): Promise<number> {
  const now = new Date();
  return params.db.transaction(async (tx) => {
    const lifted = await tx
      .update(schema.bans)
      .set({ liftedAt: now })
      .where(and(eq(schema.bans.workspaceId, params.workspaceId), eq(schema.bans.chatUserId, params.user.id), activeBanCondition(now)))
      .returning({ id: schema.bans.id });
    if (lifted.length > 0) {
      await recordAudit({
        db: tx,
        workspaceId: params.workspaceId,
        actor: params.actor,
        action: 'user.unbanned',
        targetType: 'chat_user',
        targetId: params.user.id,
      });
    }
    return lifted.length;
  });
}

/** Bans of the workspace, newest first; `activeOnly` (default) hides lifted and expired ones. */
export async function listBans(params: {
  db: Executor;
  workspaceId: string;
  cursorSecret: string;
  limit: number;
  cursor?: string;
  activeOnly?: boolean;
  chatUserId?: string;
}): Promise<{ data: Record<string, unknown>[]; nextCursor: string | null }> {
  const scope: CursorScope = { secret: params.cursorSecret, workspaceId: params.workspaceId, list: 'bans' };
  const conditions: SQL[] = [eq(schema.bans.workspaceId, params.workspaceId)];
  if (params.activeOnly ?? true) conditions.push(activeBanCondition(new Date()));
  if (params.chatUserId) conditions.push(eq(schema.bans.chatUserId, params.chatUserId));
  if (params.cursor) conditions.push(lt(schema.bans.id, cursorString(decodeCursor(scope, params.cursor), 'id')));
  const rows = await params.db
    .select({ ban: schema.bans, user: schema.chatUsers })
    .from(schema.bans)
    .innerJoin(schema.chatUsers, eq(schema.chatUsers.id, schema.bans.chatUserId))
    .where(and(...conditions))
    .orderBy(desc(schema.bans.id))
    .limit(params.limit + 1);
  const page = rows.slice(0, params.limit);
  const last = page.at(-1);
  return {
    data: page.map((r) => toBanJson(r.ban, r.user)),
    nextCursor: rows.length > params.limit && last ? encodeCursor(scope, { id: last.ban.id }) : null,
  };
}
