import { and, desc, eq } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import type { DomainEventBus } from '../events/domain-events.ts';
import { AppError, notFound } from '../errors/registry.ts';
import { toUserJson } from '../users/user-json.ts';

/**
 * User-to-user blocks (SPEC §6). A blocked user's messages are not delivered to the blocker: HTTP listings
 * filter them here; open sockets are filtered by the realtime fan-out, told by `user.blocked`.
 */
export async function blockUser(params: {
  db: Executor;
  events?: DomainEventBus;
  workspaceId: string;
  blockerUserId: string;
  blockedUserId: string;
}): Promise<{ created: boolean }> {
  if (params.blockerUserId === params.blockedUserId) throw new AppError('validation_failed', 'You cannot block yourself.');
  const target = await params.db
    .select({ id: schema.chatUsers.id })
    .from(schema.chatUsers)
    .where(and(eq(schema.chatUsers.workspaceId, params.workspaceId), eq(schema.chatUsers.id, params.blockedUserId)))
    .limit(1);
  if (target.length === 0) throw notFound('User');
  const rows = await params.db
    .insert(schema.blocks)
    .values({ workspaceId: params.workspaceId, blockerUserId: params.blockerUserId, blockedUserId: params.blockedUserId })
    .onConflictDoNothing()
    .returning({ blocked: schema.blocks.blockedUserId });
  if (rows.length > 0) {
    await params.events?.emit({
      type: 'user.blocked',
      workspaceId: params.workspaceId,
      blockerUserId: params.blockerUserId,
      blockedUserId: params.blockedUserId,
    });
  }
  return { created: rows.length > 0 };
}

export async function unblockUser(params: {
  db: Executor;
  workspaceId: string;
  blockerUserId: string;
  blockedUserId: string;
}): Promise<boolean> {
  const rows = await params.db
    .delete(schema.blocks)
    .where(
      and(
        eq(schema.blocks.workspaceId, params.workspaceId),
        eq(schema.blocks.blockerUserId, params.blockerUserId),
        eq(schema.blocks.blockedUserId, params.blockedUserId),
      ),
    )
    .returning({ blocked: schema.blocks.blockedUserId });
  return rows.length > 0;
}

export async function listBlocks(params: { db: Executor; workspaceId: string; blockerUserId: string }) {
  const rows = await params.db
    .select({ block: schema.blocks, user: schema.chatUsers })
    .from(schema.blocks)
    .innerJoin(schema.chatUsers, eq(schema.chatUsers.id, schema.blocks.blockedUserId))
    .where(and(eq(schema.blocks.workspaceId, params.workspaceId), eq(schema.blocks.blockerUserId, params.blockerUserId)))
    .orderBy(desc(schema.blocks.createdAt))
    .limit(1000);
  return rows.map((r) => ({ user: toUserJson(r.user, 'public'), created_at: r.block.createdAt.toISOString() }));
}

/** Ids this user has blocked: their messages are left out of what the user is shown. */
export async function blockedUserIds(params: { db: Executor; workspaceId: string; blockerUserId: string }): Promise<Set<string>> {
  const rows = await params.db
    .select({ id: schema.blocks.blockedUserId })
    .from(schema.blocks)
    .where(and(eq(schema.blocks.workspaceId, params.workspaceId), eq(schema.blocks.blockerUserId, params.blockerUserId)));
  return new Set(rows.map((r) => r.id));
}

/** Whether `blockerUserId` has blocked `blockedUserId` (used to refuse starting a conversation with a blocker). */
export async function isBlockedBy(params: { db: Executor; workspaceId: string; blockerUserId: string; blockedUserId: string }) {
  const rows = await params.db
    .select({ id: schema.blocks.blockedUserId })
    .from(schema.blocks)
    .where(
      and(
        eq(schema.blocks.workspaceId, params.workspaceId),
        eq(schema.blocks.blockerUserId, params.blockerUserId),
        eq(schema.blocks.blockedUserId, params.blockedUserId),
      ),
    )
    .limit(1);
  return rows.length > 0;
}
