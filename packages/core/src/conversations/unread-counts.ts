import { and, count, eq, gt, inArray, isNull, ne, or, type SQL } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';

export interface UnreadCounts {
  total: number;
  conversations: { conversation_id: string; unread_count: number; last_read_seq: number }[];
}

/**
 * Unread messages per conversation for one user: visible messages after the user's read marker that
 * someone else sent (deleted messages and internal notes do not count). One grouped query.
 */
export async function getUnreadCounts(params: {
  db: Executor;
  workspaceId: string;
  chatUserId: string;
  conversationIds?: readonly string[];
}): Promise<UnreadCounts> {
  const p = schema.participants;
  const m = schema.messages;
  const conditions: SQL[] = [eq(p.workspaceId, params.workspaceId), eq(p.chatUserId, params.chatUserId), isNull(p.leftAt)];
  if (params.conversationIds) {
    if (params.conversationIds.length === 0) return { total: 0, conversations: [] };
    conditions.push(inArray(p.conversationId, [...params.conversationIds]));
  }
  const rows = await params.db
    .select({ conversationId: p.conversationId, lastReadSeq: p.lastReadSeq, unread: count(m.id) })
    .from(p)
    .leftJoin(
      m,
      and(
        eq(m.conversationId, p.conversationId),
        gt(m.seq, p.lastReadSeq),
        eq(m.isInternal, false),
        isNull(m.deletedAt),
        or(isNull(m.senderUserId), ne(m.senderUserId, p.chatUserId)),
      ),
    )
    .where(and(...conditions))
    .groupBy(p.conversationId, p.lastReadSeq)
    .orderBy(p.conversationId);
  const conversations = rows.map((r) => ({ conversation_id: r.conversationId, unread_count: Number(r.unread), last_read_seq: r.lastReadSeq }));
  return { total: conversations.reduce((n, c) => n + c.unread_count, 0), conversations };
}
