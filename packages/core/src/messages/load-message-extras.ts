import { and, eq, inArray } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import { toAttachmentSummaryJson, toMessageJson, type StoredAttachmentRow, type MessageJson, type MessageJsonExtras, type MessageRow } from './message-json.ts';

export type AttachmentSerializer = (attachment: StoredAttachmentRow) => Record<string, unknown>;

/**
 * Serialises messages read elsewhere (send, edit, search, conversation lists, exports) with their senders,
 * attachments and reactions in at most four parallel queries, whatever their number (no N+1). All lookups
 * stay inside the workspace. A history page does not come here: listMessages reads it all in one statement.
 */
export async function serializeMessages(params: {
  db: Executor;
  workspaceId: string;
  messages: readonly MessageRow[];
  serializeAttachment?: AttachmentSerializer;
}): Promise<MessageJson[]> {
  const { db, workspaceId, messages } = params;
  if (messages.length === 0) return [];
  const messageIds = messages.map((m) => m.id);
  const userIds = [...new Set(messages.map((m) => m.senderUserId).filter((v): v is string => v !== null))];
  const adminIds = [...new Set(messages.map((m) => m.senderAdminId).filter((v): v is string => v !== null))];

  const [users, admins, attachmentRows, reactionRows] = await Promise.all([
    userIds.length
      ? db
          .select({ id: schema.chatUsers.id, externalId: schema.chatUsers.externalId, name: schema.chatUsers.name })
          .from(schema.chatUsers)
          .where(and(eq(schema.chatUsers.workspaceId, workspaceId), inArray(schema.chatUsers.id, userIds)))
      : [],
    adminIds.length
      ? db.select({ id: schema.admins.id, name: schema.admins.name }).from(schema.admins).where(inArray(schema.admins.id, adminIds))
      : [],
    db
      .select()
      .from(schema.attachments)
      .where(and(eq(schema.attachments.workspaceId, workspaceId), inArray(schema.attachments.messageId, messageIds))),
    db
      .select({ messageId: schema.reactions.messageId, emoji: schema.reactions.emoji, chatUserId: schema.reactions.chatUserId })
      .from(schema.reactions)
      .where(and(eq(schema.reactions.workspaceId, workspaceId), inArray(schema.reactions.messageId, messageIds)))
      .orderBy(schema.reactions.createdAt),
  ]);

  const userById = new Map(users.map((u) => [u.id, u]));
  const adminById = new Map(admins.map((a) => [a.id, a]));
  const serializeAttachment = params.serializeAttachment ?? toAttachmentSummaryJson;
  const attachmentsByMessage = new Map<string, Record<string, unknown>[]>();
  for (const a of attachmentRows) {
    if (!a.messageId) continue;
    const list = attachmentsByMessage.get(a.messageId) ?? [];
    list.push(serializeAttachment(a));
    attachmentsByMessage.set(a.messageId, list);
  }
  const reactionsByMessage = new Map<string, Map<string, { emoji: string; count: number; user_ids: string[] }>>();
  for (const r of reactionRows) {
    let byEmoji = reactionsByMessage.get(r.messageId);
    if (!byEmoji) reactionsByMessage.set(r.messageId, (byEmoji = new Map()));
    let summary = byEmoji.get(r.emoji);
    if (!summary) byEmoji.set(r.emoji, (summary = { emoji: r.emoji, count: 0, user_ids: [] }));
    summary.count += 1;
    summary.user_ids.push(r.chatUserId);
  }

  return messages.map((m) => {
    const extras: MessageJsonExtras = {
      senderUser: m.senderUserId ? (userById.get(m.senderUserId) ?? null) : null,
      senderAdmin: m.senderAdminId ? (adminById.get(m.senderAdminId) ?? null) : null,
      attachments: attachmentsByMessage.get(m.id) ?? [],
      reactions: [...(reactionsByMessage.get(m.id)?.values() ?? [])],
    };
    return toMessageJson(m, extras);
  });
}
