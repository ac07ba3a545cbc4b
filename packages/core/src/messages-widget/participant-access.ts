import { and, eq, isNull } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import { notFound } from '../errors/registry.ts';
import type { ConversationRow, ParticipantRow } from '../conversations/conversation-json.ts';

import type { WidgetConfigRow } from '../embed/init-embed.ts';

/**
 * The whole ownership chain in one query (T-03, T-05, A-07): the conversation is in the workspace AND the
 * user currently takes part in it. Another tenant's id, a conversation of the same workspace the user is
 * not in, and one they left all answer the same 404 — existence never leaks.
 */
export async function requireParticipant(params: {
  db: Executor;
  workspaceId: string;
  conversationId: string;
  chatUserId: string;
}): Promise<{ conversation: ConversationRow; participant: ParticipantRow; widgetConfig: WidgetConfigRow | null }> {
  const rows = await params.db
    .select({ conversation: schema.conversations, participant: schema.participants, widgetConfig: schema.widgetConfigs })
    .from(schema.participants)
    .innerJoin(
      schema.conversations,
      and(eq(schema.conversations.id, schema.participants.conversationId), eq(schema.conversations.workspaceId, params.workspaceId)),
    )
    .leftJoin(
      schema.widgetConfigs,
      and(eq(schema.widgetConfigs.id, schema.conversations.widgetConfigId), eq(schema.widgetConfigs.workspaceId, params.workspaceId)),
    )
    .where(
      and(
        eq(schema.participants.workspaceId, params.workspaceId),
        eq(schema.participants.conversationId, params.conversationId),
        eq(schema.participants.chatUserId, params.chatUserId),
        isNull(schema.participants.leftAt),
      ),
    )
    .limit(1);
  const row = rows[0];
  if (!row) throw notFound('Conversation');
  return row;
}

/** A message of a conversation the caller already passed requireParticipant for; 404 otherwise (T-03). */
export async function requireMessageInConversation(params: {
  db: Executor;
  workspaceId: string;
  conversationId: string;
  messageId: string;
}): Promise<typeof schema.messages.$inferSelect> {
  const rows = await params.db
    .select()
    .from(schema.messages)
    .where(
      and(
        eq(schema.messages.workspaceId, params.workspaceId),
        eq(schema.messages.conversationId, params.conversationId),
        eq(schema.messages.id, params.messageId),
        eq(schema.messages.isInternal, false),
      ),
    )
    .limit(1);
  if (!rows[0]) throw notFound('Message');
  return rows[0];
}
