import { and, eq, isNull, sql } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import type { DomainEventBus } from '../events/domain-events.ts';
import { notFound } from '../errors/registry.ts';
import { countUnreadForViewer } from '../messages-widget/widget-conversations.ts';

/**
 * Read receipt (SPEC §4 `POST …/read {seq}`): moves the reader's marker forward only (a late, smaller seq
 * never un-reads), clamped to the conversation's last seq. Emits `messages.read` to the conversation when
 * receipts are on for it, and always `unread.updated` to the reader's own channel (their badges).
 */
export async function markConversationRead(params: {
  db: Executor;
  events?: DomainEventBus;
  workspaceId: string;
  conversationId: string;
  chatUserId: string;
  seq: number;
  broadcastReceipt: boolean;
  /** Senders the reader blocked: their messages are not counted as unread (they are never shown). */
  blocked?: ReadonlySet<string>;
}): Promise<{ lastReadSeq: number; unreadCount: number; totalUnread: number; advanced: boolean }> {
  const { db, workspaceId, conversationId, chatUserId } = params;
  const [conversation] = await db
    .select({ lastSeq: schema.conversations.lastSeq })
    .from(schema.conversations)
    .where(and(eq(schema.conversations.workspaceId, workspaceId), eq(schema.conversations.id, conversationId)))
    .limit(1);
  if (!conversation) throw notFound('Conversation');
  const target = Math.min(params.seq, conversation.lastSeq);
  const advanced = await db
    .update(schema.participants)
    .set({ lastReadSeq: sql`greatest(${schema.participants.lastReadSeq}, ${target})` })
    .where(
      and(
        eq(schema.participants.workspaceId, workspaceId),
        eq(schema.participants.conversationId, conversationId),
        eq(schema.participants.chatUserId, chatUserId),
        isNull(schema.participants.leftAt),
        sql`${schema.participants.lastReadSeq} < ${target}`,
      ),
    )
    .returning({ lastReadSeq: schema.participants.lastReadSeq });
  const unread = await countUnreadForViewer({ db, workspaceId, chatUserId, blocked: params.blocked ?? new Set() });
  const lastReadSeq = advanced[0]?.lastReadSeq ?? unread.lastReadSeq.get(conversationId) ?? 0;
  const unreadCount = unread.byConversation.get(conversationId) ?? 0;
  if (advanced.length > 0) {
    if (params.broadcastReceipt) {
      await params.events?.emit({ type: 'messages.read', workspaceId, conversationId, chatUserId, seq: lastReadSeq });
    }
    await params.events?.emit({
      type: 'unread.updated',
      workspaceId,
      chatUserId,
      unread: { conversation_id: conversationId, unread_count: unreadCount, last_read_seq: lastReadSeq, total_unread: unread.total },
    });
  }
  return { lastReadSeq, unreadCount, totalUnread: unread.total, advanced: advanced.length > 0 };
}
