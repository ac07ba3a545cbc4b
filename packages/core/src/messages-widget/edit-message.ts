import { and, eq, isNull } from 'drizzle-orm';
import { schema, type Database } from '@reusable-chat/db';
import type { DomainEventBus } from '../events/domain-events.ts';
import { AppError, notFound } from '../errors/registry.ts';
import type { ConversationRow } from '../conversations/conversation-json.ts';
import { serializeMessages, type AttachmentSerializer } from '../messages/load-message-extras.ts';
import type { MessageJson, MessageRow } from '../messages/message-json.ts';
import { codePointLength, DEFAULT_MAX_MESSAGE_LENGTH, type MessagePolicyHook } from '../messages/message-policy-hook.ts';

async function loadOwnMessage(params: {
  db: Database;
  workspaceId: string;
  conversationId: string;
  messageId: string;
  chatUserId: string;
  /** Seconds after sending; null = always, 0 = never (core/policies edit_window_s / delete_window_s). */
  windowS: number | null;
  now: Date;
}): Promise<MessageRow> {
  const [message] = await params.db
    .select()
    .from(schema.messages)
    .where(
      and(
        eq(schema.messages.workspaceId, params.workspaceId),
        eq(schema.messages.conversationId, params.conversationId),
        eq(schema.messages.id, params.messageId),
        eq(schema.messages.isInternal, false),
        isNull(schema.messages.deletedAt),
      ),
    )
    .limit(1);
  if (!message) throw notFound('Message');
  if (message.senderType !== 'user' || message.senderUserId !== params.chatUserId) {
    throw new AppError('forbidden', 'Only the sender may change this message.');
  }
  if (params.windowS !== null && (params.windowS === 0 || params.now.getTime() - message.createdAt.getTime() > params.windowS * 1000)) {
    throw new AppError('forbidden', 'The edit window for this message has passed.', { edit_window_s: params.windowS });
  }
  return message;
}

/**
 * Edits the sender's own message within the window. The new text goes through the same policy hook as a
 * new message — an edit must not be a way around masking or blocked terms (SPEC §6).
 */
export async function editOwnMessage(params: {
  db: Database;
  events?: DomainEventBus;
  workspaceId: string;
  conversation: ConversationRow;
  messageId: string;
  chatUserId: string;
  content: string;
  windowS: number | null;
  maxLength?: number;
  policyHook?: MessagePolicyHook;
  serializeAttachment?: AttachmentSerializer;
  now?: Date;
}): Promise<MessageJson> {
  const { db, workspaceId, conversation } = params;
  const now = params.now ?? new Date();
  const message = await loadOwnMessage({ ...params, conversationId: conversation.id, now });
  if (params.content.length === 0) throw new AppError('validation_failed', 'Content must not be empty.', { field: 'content' });
  const maxLength = params.maxLength ?? DEFAULT_MAX_MESSAGE_LENGTH;
  const length = codePointLength(params.content);
  if (length > maxLength) {
    throw new AppError('validation_failed', `Message content exceeds ${maxLength} characters.`, { field: 'content', max_length: maxLength, length });
  }
  const [senderUser] = await db.select().from(schema.chatUsers).where(eq(schema.chatUsers.id, params.chatUserId)).limit(1);
  const policy = params.policyHook
    ? await params.policyHook({
        db,
        workspaceId,
        conversation,
        sender: { type: 'user', chatUserId: params.chatUserId },
        senderUser: senderUser ?? null,
        content: params.content,
        attachmentIds: [],
        now,
      })
    : { content: params.content };
  if (policy.rejected) throw new AppError('policy_rejected', policy.rejected.message, { rule: policy.rejected.rule });
  const [updated] = await db
    .update(schema.messages)
    .set({
      content: policy.content,
      originalContent: policy.content !== params.content ? params.content : null,
      masked: policy.masked ?? null,
      editedAt: now,
      ...(policy.flagged ? { isFlagged: true } : {}),
    })
    .where(and(eq(schema.messages.workspaceId, workspaceId), eq(schema.messages.id, message.id), isNull(schema.messages.deletedAt)))
    .returning();
  if (!updated) throw notFound('Message');
  if (policy.flagged) {
    await db.insert(schema.reports).values({ workspaceId, messageId: updated.id, source: 'flag', reason: policy.flagged.reason });
  }
  const [json] = await serializeMessages({
    db,
    workspaceId,
    messages: [updated],
    ...(params.serializeAttachment ? { serializeAttachment: params.serializeAttachment } : {}),
  });
  await params.events?.emit({ type: 'message.updated', workspaceId, conversationId: conversation.id, message: json as unknown as Record<string, unknown> });
  return json!;
}

/** Deletes (tombstones) the sender's own message within the window; seq stays so clients see no gap. */
export async function deleteOwnMessage(params: {
  db: Database;
  events?: DomainEventBus;
  workspaceId: string;
  conversationId: string;
  messageId: string;
  chatUserId: string;
  windowS: number | null;
  now?: Date;
}): Promise<MessageJson> {
  const { db, workspaceId } = params;
  const now = params.now ?? new Date();
  const message = await loadOwnMessage({ ...params, now });
  const [deleted] = await db
    .update(schema.messages)
    .set({ deletedAt: now })
    .where(and(eq(schema.messages.workspaceId, workspaceId), eq(schema.messages.id, message.id), isNull(schema.messages.deletedAt)))
    .returning();
  if (!deleted) throw notFound('Message');
  const [json] = await serializeMessages({ db, workspaceId, messages: [deleted] });
  await params.events?.emit({ type: 'message.deleted', workspaceId, conversationId: params.conversationId, message: json as unknown as Record<string, unknown> });
  return json!;
}
