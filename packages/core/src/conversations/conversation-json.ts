import { and, eq, inArray, isNull } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import { toUserJson, type ChatUser } from '../users/user-json.ts';

export type ConversationRow = typeof schema.conversations.$inferSelect;
export type ParticipantRow = typeof schema.participants.$inferSelect;

export interface ParticipantWithUser {
  readonly participant: ParticipantRow;
  readonly user: ChatUser;
}

export interface ConversationJsonExtras {
  /** Current participants (left ones excluded); users are shown in their public view. */
  readonly participants?: readonly ParticipantWithUser[];
  readonly widgetSlug?: string | null;
}

/** The one conversation shape of every API and realtime payload. */
export function toConversationJson(conversation: ConversationRow, extras: ConversationJsonExtras = {}): Record<string, unknown> {
  return {
    id: conversation.id,
    type: conversation.type,
    widget: extras.widgetSlug ?? null,
    subject: conversation.subject,
    state: conversation.state,
    name: conversation.name,
    status: conversation.status,
    metadata: conversation.metadata,
    last_seq: conversation.lastSeq,
    last_message_at: conversation.lastMessageAt?.toISOString() ?? null,
    closed_at: conversation.closedAt?.toISOString() ?? null,
    created_at: conversation.createdAt.toISOString(),
    updated_at: conversation.updatedAt.toISOString(),
    participants: (extras.participants ?? []).map(({ participant, user }) => ({
      user: toUserJson(user, 'public'),
      role: participant.role,
      last_read_seq: participant.lastReadSeq,
      joined_at: participant.joinedAt.toISOString(),
    })),
  };
}

/** Serialises conversations with their current participants and widget slug in three queries. */
export async function serializeConversations(params: {
  db: Executor;
  workspaceId: string;
  conversations: readonly ConversationRow[];
}): Promise<Record<string, unknown>[]> {
  const { db, workspaceId, conversations } = params;
  if (conversations.length === 0) return [];
  const ids = conversations.map((c) => c.id);
  const widgetIds = [...new Set(conversations.map((c) => c.widgetConfigId).filter((v): v is string => v !== null))];
  const [rows, widgets] = await Promise.all([
    db
      .select({ participant: schema.participants, user: schema.chatUsers })
      .from(schema.participants)
      .innerJoin(schema.chatUsers, eq(schema.chatUsers.id, schema.participants.chatUserId))
      .where(
        and(
          eq(schema.participants.workspaceId, workspaceId),
          inArray(schema.participants.conversationId, ids),
          isNull(schema.participants.leftAt),
        ),
      )
      .orderBy(schema.participants.joinedAt),
    widgetIds.length
      ? db
          .select({ id: schema.widgetConfigs.id, slug: schema.widgetConfigs.slug })
          .from(schema.widgetConfigs)
          .where(and(eq(schema.widgetConfigs.workspaceId, workspaceId), inArray(schema.widgetConfigs.id, widgetIds)))
      : [],
  ]);
  const byConversation = new Map<string, ParticipantWithUser[]>();
  for (const r of rows) {
    const list = byConversation.get(r.participant.conversationId) ?? [];
    list.push(r);
    byConversation.set(r.participant.conversationId, list);
  }
  const slugById = new Map(widgets.map((w) => [w.id, w.slug]));
  return conversations.map((c) =>
    toConversationJson(c, {
      participants: byConversation.get(c.id) ?? [],
      widgetSlug: c.widgetConfigId ? (slugById.get(c.widgetConfigId) ?? null) : null,
    }),
  );
}
