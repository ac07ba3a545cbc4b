import { and, asc, eq } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import { toBanJson } from '../moderation/bans.ts';
import { recordAudit, type AuditActor } from '../moderation/record-audit.ts';
import { toAttachmentSummaryJson, toMessageJson } from '../messages/message-json.ts';
import { toUserJson, type ChatUser } from './user-json.ts';

/**
 * Data portability (GDPR Art. 20): the user's profile, memberships, every message they sent (as stored,
 * including the pre-policy text, which is their own words), their uploads' metadata and bans.
 * An audit row records that an export happened (not what it contained).
 */
export async function exportUser(params: {
  db: Executor;
  workspaceId: string;
  user: ChatUser;
  actor: AuditActor;
  ip?: string | null;
}): Promise<Record<string, unknown>> {
  const { db, workspaceId, user } = params;
  const [memberships, messages, files, bans] = await Promise.all([
    db
      .select({ participant: schema.participants, conversation: schema.conversations })
      .from(schema.participants)
      .innerJoin(schema.conversations, eq(schema.conversations.id, schema.participants.conversationId))
      .where(and(eq(schema.participants.workspaceId, workspaceId), eq(schema.participants.chatUserId, user.id)))
      .orderBy(asc(schema.participants.joinedAt)),
    db
      .select()
      .from(schema.messages)
      .where(and(eq(schema.messages.workspaceId, workspaceId), eq(schema.messages.senderUserId, user.id)))
      .orderBy(asc(schema.messages.createdAt), asc(schema.messages.seq)),
    db
      .select()
      .from(schema.attachments)
      .where(and(eq(schema.attachments.workspaceId, workspaceId), eq(schema.attachments.uploaderUserId, user.id))),
    db
      .select()
      .from(schema.bans)
      .where(and(eq(schema.bans.workspaceId, workspaceId), eq(schema.bans.chatUserId, user.id)))
      .orderBy(asc(schema.bans.createdAt)),
  ]);
  await recordAudit({
    db,
    workspaceId,
    actor: params.actor,
    action: 'user.exported',
    targetType: 'chat_user',
    targetId: user.id,
    ip: params.ip ?? null,
    metadata: { messages: messages.length },
  });
  return {
    exported_at: new Date().toISOString(),
    user: toUserJson(user, 'full'),
    conversations: memberships.map(({ participant, conversation }) => ({
      id: conversation.id,
      type: conversation.type,
      subject: conversation.subject,
      name: conversation.name,
      role: participant.role,
      joined_at: participant.joinedAt.toISOString(),
      left_at: participant.leftAt?.toISOString() ?? null,
    })),
    messages: messages.map((m) => ({
      ...toMessageJson(m, { senderUser: user }),
      original_content: m.originalContent,
    })),
    attachments: files.map(toAttachmentSummaryJson),
    bans: bans.map((b) => toBanJson(b)),
  };
}
