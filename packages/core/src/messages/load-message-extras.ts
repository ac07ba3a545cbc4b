import { and, eq, inArray } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import { toAttachmentSummaryJson, toMessageJson, type StoredAttachmentRow, type MessageJson, type MessageJsonExtras, type MessageRow, type ReactionSummary } from './message-json.ts';

/** Senders and which messages have attachments or reactions, read together with a page of messages. */
export interface KnownMessageExtras {
  readonly users: ReadonlyMap<string, { id: string; externalId: string; name: string }>;
  readonly admins: ReadonlyMap<string, { id: string; name: string }>;
  readonly attachmentMessageIds: string[];
  readonly reactionMessageIds: string[];
}

export type AttachmentSerializer = (attachment: StoredAttachmentRow) => Record<string, unknown>;

/**
 * Serialises a page of messages with their senders, attachments and reactions in at most four queries,
 * whatever the page size (no N+1); with `known` only the attachment and reaction look-ups that have
 * something to find. All lookups stay inside the workspace.
 */
export async function serializeMessages(params: {
  db: Executor;
  workspaceId: string;
  messages: readonly MessageRow[];
  serializeAttachment?: AttachmentSerializer;
  /** What the page query already read (see listMessages): skips the sender look-ups and empty ones. */
  known?: KnownMessageExtras;
}): Promise<MessageJson[]> {
  const { db, workspaceId, messages, known } = params;
  if (messages.length === 0) return [];
  const attachmentMessageIds = known ? known.attachmentMessageIds : messages.map((m) => m.id);
  const reactionMessageIds = known ? known.reactionMessageIds : messages.map((m) => m.id);
  const userIds = known ? [] : [...new Set(messages.map((m) => m.senderUserId).filter((v): v is string => v !== null))];
  const adminIds = known ? [] : [...new Set(messages.map((m) => m.senderAdminId).filter((v): v is string => v !== null))];

  const [users, admins, attachmentRows, reactionRows] = await Promise.all([
    known ? [...known.users.values()] : userIds.length
      ? db
          .select({ id: schema.chatUsers.id, externalId: schema.chatUsers.externalId, name: schema.chatUsers.name })
          .from(schema.chatUsers)
          .where(and(eq(schema.chatUsers.workspaceId, workspaceId), inArray(schema.chatUsers.id, userIds)))
      : [],
    known ? [...known.admins.values()] : adminIds.length
      ? db.select({ id: schema.admins.id, name: schema.admins.name }).from(schema.admins).where(inArray(schema.admins.id, adminIds))
      : [],
    attachmentMessageIds.length
      ? db
          .select()
          .from(schema.attachments)
          .where(and(eq(schema.attachments.workspaceId, workspaceId), inArray(schema.attachments.messageId, attachmentMessageIds)))
      : [],
    reactionMessageIds.length
      ? db
          .select({ messageId: schema.reactions.messageId, emoji: schema.reactions.emoji, chatUserId: schema.reactions.chatUserId })
          .from(schema.reactions)
          .where(and(eq(schema.reactions.workspaceId, workspaceId), inArray(schema.reactions.messageId, reactionMessageIds)))
          .orderBy(schema.reactions.createdAt)
      : [],
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
  const reactionsByMessage = new Map<string, Map<string, ReactionSummary>>();
  for (const r of reactionRows) {
    const byEmoji = reactionsByMessage.get(r.messageId) ?? new Map<string, ReactionSummary>();
    const summary = byEmoji.get(r.emoji) ?? { emoji: r.emoji, count: 0, user_ids: [] };
    byEmoji.set(r.emoji, { emoji: r.emoji, count: summary.count + 1, user_ids: [...summary.user_ids, r.chatUserId] });
    reactionsByMessage.set(r.messageId, byEmoji);
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
