import { and, desc, eq, inArray, isNull, lt, notInArray, or, sql, type SQL } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import { AppError } from '../errors/registry.ts';
import { cursorString, decodeCursor, encodeCursor, type CursorScope } from '../shared/cursor.ts';
import { serializeMessages, type AttachmentSerializer } from '../messages/load-message-extras.ts';
import type { MessageJson } from '../messages/message-json.ts';
import { activeConversationIdsOf } from '../conversations/active-memberships.ts';

export const SEARCH_QUERY_MAX = 200;

/**
 * Full-text search over the caller's own conversations (SPEC §4): `messages.search_vector` (generated
 * tsvector, GIN-indexed) matched with `websearch_to_tsquery('simple', …)`. The query is a bound
 * parameter, never SQL text (V-12); websearch syntax cannot raise a syntax error, so odd input simply
 * matches nothing. Deleted messages, internal notes and messages of users the caller blocked are left out.
 * Newest first; the UUIDv7 id is the keyset.
 */
export async function searchOwnMessages(params: {
  db: Executor;
  workspaceId: string;
  chatUserId: string;
  query: string;
  cursorSecret: string;
  limit?: number;
  cursor?: string;
  conversationId?: string;
  excludeSenderIds?: ReadonlySet<string>;
  serializeAttachment?: AttachmentSerializer;
}): Promise<{ data: MessageJson[]; nextCursor: string | null }> {
  const { db, workspaceId } = params;
  const query = params.query.trim();
  if (query.length === 0 || query.length > SEARCH_QUERY_MAX) {
    throw new AppError('validation_failed', `The search query must be 1–${SEARCH_QUERY_MAX} characters.`, { field: 'q' });
  }
  const limit = Math.min(Math.max(params.limit ?? 20, 1), 100);
  const scope: CursorScope = { secret: params.cursorSecret, workspaceId, list: `search:${params.chatUserId}:${query}` };
  const m = schema.messages;
  const mine = activeConversationIdsOf(db, workspaceId, params.chatUserId);
  const conditions: SQL[] = [
    eq(m.workspaceId, workspaceId),
    inArray(m.conversationId, mine),
    eq(m.isInternal, false),
    isNull(m.deletedAt),
    sql`${m.searchVector} @@ websearch_to_tsquery('simple', ${query})`,
  ];
  if (params.conversationId) conditions.push(eq(m.conversationId, params.conversationId));
  const excluded = [...(params.excludeSenderIds ?? [])];
  if (excluded.length > 0) conditions.push(or(isNull(m.senderUserId), notInArray(m.senderUserId, excluded))!);
  if (params.cursor) conditions.push(lt(m.id, cursorString(decodeCursor(scope, params.cursor), 'id')));
  const rows = await db.select().from(m).where(and(...conditions)).orderBy(desc(m.id)).limit(limit + 1);
  const page = rows.slice(0, limit);
  const data = await serializeMessages({
    db,
    workspaceId,
    messages: page,
    ...(params.serializeAttachment ? { serializeAttachment: params.serializeAttachment } : {}),
  });
  const last = page.at(-1);
  return { data, nextCursor: rows.length > limit && last ? encodeCursor(scope, { id: last.id }) : null };
}
