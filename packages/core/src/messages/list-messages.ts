import { and, asc, desc, eq, getTableColumns, gt, lt, sql, type SQL } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import { AppError } from '../errors/registry.ts';
import { cursorNumber, cursorString, decodeCursor, encodeCursor, type CursorScope } from '../shared/cursor.ts';
import { serializeMessages, type AttachmentSerializer, type KnownMessageExtras } from './load-message-extras.ts';
import type { MessageJson, MessageRow } from './message-json.ts';

export const MESSAGE_PAGE_MAX = 100;

/** Every column but the generated search vector (a tsvector of the content nobody reads back). */
const { searchVector: _searchVector, ...messageColumns } = getTableColumns(schema.messages);

/** Drivers return booleans; tolerate the text form of a raw expression too. */
function isTrue(value: unknown): boolean {
  return value === true || value === 't' || value === 'true';
}

/**
 * One page of a conversation's messages, always in ascending seq order (SPEC §4):
 * - default / `cursor` from a backward page: the newest messages (older than the cursor), `next_cursor`
 *   pages further back;
 * - `afterSeq`: catch-up after a reconnect (SPEC §5) — exactly the messages with seq > n, oldest first;
 *   `next_cursor` continues forward when the gap is larger than one page.
 * The caller has already checked that the conversation belongs to the workspace and the viewer may read it.
 */
export async function listMessages(params: {
  db: Executor;
  workspaceId: string;
  conversationId: string;
  cursorSecret: string;
  limit?: number;
  cursor?: string;
  afterSeq?: number;
  includeInternal?: boolean;
  serializeAttachment?: AttachmentSerializer;
}): Promise<{ data: MessageJson[]; nextCursor: string | null }> {
  const { db, workspaceId, conversationId } = params;
  const limit = Math.min(Math.max(params.limit ?? 50, 1), MESSAGE_PAGE_MAX);
  const scope: CursorScope = { secret: params.cursorSecret, workspaceId, list: `messages:${conversationId}` };

  let direction: 'backward' | 'forward' = params.afterSeq !== undefined ? 'forward' : 'backward';
  let boundary: number | null = params.afterSeq ?? null;
  if (params.cursor) {
    if (params.afterSeq !== undefined) throw new AppError('validation_failed', 'Use either a cursor or after_seq, not both.');
    const position = decodeCursor(scope, params.cursor);
    const d = cursorString(position, 'd');
    if (d !== 'b' && d !== 'f') throw new AppError('invalid_cursor');
    direction = d === 'b' ? 'backward' : 'forward';
    boundary = cursorNumber(position, 's');
  }

  const conditions: SQL[] = [eq(schema.messages.workspaceId, workspaceId), eq(schema.messages.conversationId, conversationId)];
  if (!params.includeInternal) conditions.push(eq(schema.messages.isInternal, false));
  if (boundary !== null) conditions.push(direction === 'backward' ? lt(schema.messages.seq, boundary) : gt(schema.messages.seq, boundary));

  // One query for the page with its senders and whether any attachment/reaction exists: the common page
  // (plain text) needs no second round trip, and the search vector is never shipped.
  const m = schema.messages;
  const rows = await db
    .select({
      message: messageColumns,
      userExternalId: schema.chatUsers.externalId,
      userName: schema.chatUsers.name,
      adminName: schema.admins.name,
      hasAttachments: sql<unknown>`exists (select 1 from ${schema.attachments} where ${schema.attachments.workspaceId} = ${m.workspaceId} and ${schema.attachments.messageId} = ${m.id})`,
      hasReactions: sql<unknown>`exists (select 1 from ${schema.reactions} where ${schema.reactions.messageId} = ${m.id} and ${schema.reactions.workspaceId} = ${m.workspaceId})`,
    })
    .from(m)
    .leftJoin(schema.chatUsers, and(eq(schema.chatUsers.id, m.senderUserId), eq(schema.chatUsers.workspaceId, workspaceId)))
    .leftJoin(schema.admins, eq(schema.admins.id, m.senderAdminId))
    .where(and(...conditions))
    .orderBy(direction === 'backward' ? desc(m.seq) : asc(m.seq))
    .limit(limit + 1);
  const hasMore = rows.length > limit;
  const pageRows = rows.slice(0, limit);
  if (direction === 'backward') pageRows.reverse();
  const page: MessageRow[] = pageRows.map((r) => r.message);
  const known: KnownMessageExtras = {
    users: new Map(
      pageRows.flatMap((r) =>
        r.message.senderUserId && r.userExternalId !== null
          ? [[r.message.senderUserId, { id: r.message.senderUserId, externalId: r.userExternalId, name: r.userName ?? '' }] as const]
          : [],
      ),
    ),
    admins: new Map(
      pageRows.flatMap((r) =>
        r.message.senderAdminId && r.adminName !== null
          ? [[r.message.senderAdminId, { id: r.message.senderAdminId, name: r.adminName }] as const]
          : [],
      ),
    ),
    attachmentMessageIds: pageRows.filter((r) => isTrue(r.hasAttachments)).map((r) => r.message.id),
    reactionMessageIds: pageRows.filter((r) => isTrue(r.hasReactions)).map((r) => r.message.id),
  };
  let nextCursor: string | null = null;
  if (hasMore && page.length > 0) {
    nextCursor =
      direction === 'backward'
        ? encodeCursor(scope, { d: 'b', s: page[0]!.seq })
        : encodeCursor(scope, { d: 'f', s: page.at(-1)!.seq });
  }
  const data = await serializeMessages({
    db,
    workspaceId,
    messages: page,
    known,
    ...(params.serializeAttachment ? { serializeAttachment: params.serializeAttachment } : {}),
  });
  return { data, nextCursor };
}
