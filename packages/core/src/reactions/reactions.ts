import { and, count, eq } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import type { DomainEventBus } from '../events/domain-events.ts';
import { AppError, notFound } from '../errors/registry.ts';

/** Distinct reactions one user may put on one message: bounds the reactions array of a message's JSON. */
export const MAX_REACTIONS_PER_USER_PER_MESSAGE = 20;

export type ReactionRow = typeof schema.reactions.$inferSelect;

export function toReactionJson(row: ReactionRow, conversationId: string): Record<string, unknown> {
  return {
    message_id: row.messageId,
    conversation_id: conversationId,
    user_id: row.chatUserId,
    emoji: row.emoji,
    created_at: row.createdAt.toISOString(),
  };
}

/**
 * Adds a reaction; adding the same one twice is a no-op (no second event). The caller checked that the
 * message belongs to a conversation the user takes part in (T-03).
 */
export async function addReaction(params: {
  db: Executor;
  events?: DomainEventBus;
  workspaceId: string;
  conversationId: string;
  message: { id: string; deletedAt: Date | null };
  chatUserId: string;
  emoji: string;
}): Promise<{ reaction: Record<string, unknown>; created: boolean }> {
  if (params.message.deletedAt) throw notFound('Message');
  const [mine] = await params.db
    .select({ n: count() })
    .from(schema.reactions)
    .where(and(eq(schema.reactions.messageId, params.message.id), eq(schema.reactions.chatUserId, params.chatUserId)));
  if (Number(mine?.n ?? 0) >= MAX_REACTIONS_PER_USER_PER_MESSAGE) {
    throw new AppError('validation_failed', `At most ${MAX_REACTIONS_PER_USER_PER_MESSAGE} reactions per message.`);
  }
  const inserted = await params.db
    .insert(schema.reactions)
    .values({ messageId: params.message.id, workspaceId: params.workspaceId, chatUserId: params.chatUserId, emoji: params.emoji })
    .onConflictDoNothing()
    .returning();
  if (inserted[0]) {
    const reaction = toReactionJson(inserted[0], params.conversationId);
    await params.events?.emit({ type: 'reaction.added', workspaceId: params.workspaceId, conversationId: params.conversationId, reaction });
    return { reaction, created: true };
  }
  const [existing] = await params.db
    .select()
    .from(schema.reactions)
    .where(
      and(
        eq(schema.reactions.messageId, params.message.id),
        eq(schema.reactions.chatUserId, params.chatUserId),
        eq(schema.reactions.emoji, params.emoji),
      ),
    )
    .limit(1);
  if (!existing) throw notFound('Reaction');
  return { reaction: toReactionJson(existing, params.conversationId), created: false };
}

export async function removeReaction(params: {
  db: Executor;
  events?: DomainEventBus;
  workspaceId: string;
  conversationId: string;
  messageId: string;
  chatUserId: string;
  emoji: string;
}): Promise<void> {
  const rows = await params.db
    .delete(schema.reactions)
    .where(
      and(
        eq(schema.reactions.workspaceId, params.workspaceId),
        eq(schema.reactions.messageId, params.messageId),
        eq(schema.reactions.chatUserId, params.chatUserId),
        eq(schema.reactions.emoji, params.emoji),
      ),
    )
    .returning();
  if (!rows[0]) throw notFound('Reaction');
  await params.events?.emit({
    type: 'reaction.removed',
    workspaceId: params.workspaceId,
    conversationId: params.conversationId,
    reaction: toReactionJson(rows[0], params.conversationId),
  });
}
