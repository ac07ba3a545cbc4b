import { and, eq, inArray, isNull, or, sql } from 'drizzle-orm';
import { schema, type Database, type Executor, type JsonObject, type MaskedInfo } from '@reusable-chat/db';
import type { DomainEventBus } from '../events/domain-events.ts';
import { AppError, notFound } from '../errors/registry.ts';
import { recordDomainEventInOutbox } from '../outbox/domain-event-outbox.ts';
import type { ConversationRow } from '../conversations/conversation-json.ts';
import { activeBanCondition } from '../moderation/bans.ts';
import type { ChatUser } from '../users/user-json.ts';
import { serializeMessages, type AttachmentSerializer } from './load-message-extras.ts';
import { toMessageJson, type MessageJson, type MessageRow } from './message-json.ts';
import {
  codePointLength,
  DEFAULT_MAX_MESSAGE_LENGTH,
  type MessagePolicyHook,
  type MessagePolicyResult,
  type MessageSender,
} from './message-policy-hook.ts';

export interface SendMessageResult {
  readonly message: MessageRow;
  readonly json: MessageJson;
  /** False when the client_id matched an earlier message: nothing new was stored (F-14). */
  readonly created: boolean;
}

/** Thrown inside the transaction to roll back the seq bump when the client_id already exists. */
class DuplicateClientId extends Error {
  constructor(readonly existing: MessageRow) {
    super('duplicate client_id');
  }
}

const noPolicy: MessagePolicyHook = async (ctx) => ({ content: ctx.content });

/**
 * The message pipeline every API family uses (ARCHITECTURE.md "a message's path"):
 * validate → policy hook → insert with the next seq in one transaction → `message.created` after commit.
 *
 * seq is gapless and strictly increasing per conversation (F-20): `UPDATE conversations SET last_seq =
 * last_seq + 1 … RETURNING` row-locks the conversation, so concurrent senders queue on that row and each
 * gets the next number; a failed insert rolls the bump back with it. The same lock makes client_id
 * dedupe exact: a retry re-checks after acquiring it, when the first send has committed.
 */
export async function sendMessage(params: {
  db: Database;
  events?: DomainEventBus;
  workspaceId: string;
  conversationId: string;
  /** The conversation row when the caller already read it (scoped to workspaceId): saves the re-read. */
  conversation?: ConversationRow;
  sender: MessageSender;
  content: string;
  clientId?: string | null;
  attachmentIds?: readonly string[];
  metadata?: JsonObject;
  type?: 'text' | 'system' | 'attachment';
  /** Internal notes (dashboard) are stored like messages but never shown to participants. */
  isInternal?: boolean;
  policyHook?: MessagePolicyHook;
  maxLength?: number;
  /** Sender's Pusher socket, excluded from the fan-out of its own message. */
  excludeSocketId?: string;
  serializeAttachment?: AttachmentSerializer;
  now?: Date;
}): Promise<SendMessageResult> {
  const { db, workspaceId, conversationId, sender } = params;
  const now = params.now ?? new Date();
  const clientId = params.clientId ?? null;
  const attachmentIds = [...new Set(params.attachmentIds ?? [])];

  const preloaded = params.conversation;
  const conversation =
    preloaded && preloaded.id === conversationId && preloaded.workspaceId === workspaceId
      ? preloaded
      : (
          await db
            .select()
            .from(schema.conversations)
            .where(and(eq(schema.conversations.workspaceId, workspaceId), eq(schema.conversations.id, conversationId)))
            .limit(1)
        )[0];
  if (!conversation) throw notFound('Conversation');

  let senderUser: ChatUser | null = null;
  let sending: SendingUser | null = null;
  if (sender.type === 'user') {
    sending = await loadSendingUser({
      db,
      workspaceId,
      conversation,
      chatUserId: sender.chatUserId,
      now,
      withPolicies: params.policyHook !== undefined,
    });
    senderUser = sending.user;
  }

  // A retry of an already stored message answers with that message, before any policy runs again.
  if (clientId !== null) {
    const existing = await findByClientId(db, conversationId, sender, clientId);
    if (existing) return { message: existing, json: await serializeOne(db, workspaceId, existing, params.serializeAttachment), created: false };
  }

  if (conversation.status === 'closed' && sender.type === 'user') throw new AppError('conversation_closed');
  if (params.content.length === 0 && attachmentIds.length === 0) {
    throw new AppError('validation_failed', 'A message needs content or attachments.', { field: 'content' });
  }
  const maxLength = params.maxLength ?? DEFAULT_MAX_MESSAGE_LENGTH;
  const length = codePointLength(params.content);
  if (length > maxLength) {
    throw new AppError('validation_failed', `Message content exceeds ${maxLength} characters.`, {
      field: 'content',
      max_length: maxLength,
      length,
    });
  }

  const policy: MessagePolicyResult = await (params.policyHook ?? noPolicy)({
    db,
    workspaceId,
    conversation,
    sender,
    senderUser,
    content: params.content,
    attachmentIds,
    now,
    ...(sending ? { participantRole: sending.participantRole } : {}),
    ...(sending && sending.widgetPolicies !== undefined ? { widgetPolicies: sending.widgetPolicies } : {}),
  });
  if (policy.rejected) {
    throw new AppError('policy_rejected', policy.rejected.message, { rule: policy.rejected.rule });
  }
  const masked: MaskedInfo | null = policy.masked ?? null;
  const flagged = policy.flagged ? policy.flagged : null;

  let stored: { message: MessageRow; reportId: string | null; json: MessageJson | null };
  try {
    stored = await db.transaction(async (tx) => {
      const [bumped] = await tx
        .update(schema.conversations)
        .set({ lastSeq: sql`${schema.conversations.lastSeq} + 1`, lastMessageAt: now, updatedAt: now })
        .where(and(eq(schema.conversations.workspaceId, workspaceId), eq(schema.conversations.id, conversationId)))
        .returning({ lastSeq: schema.conversations.lastSeq });
      if (!bumped) throw notFound('Conversation');
      if (clientId !== null) {
        const existing = await findByClientId(tx, conversationId, sender, clientId);
        if (existing) throw new DuplicateClientId(existing);
      }
      const [message] = await tx
        .insert(schema.messages)
        .values({
          workspaceId,
          conversationId,
          seq: bumped.lastSeq,
          senderType: sender.type,
          senderUserId: sender.type === 'user' ? sender.chatUserId : null,
          senderAdminId: sender.type === 'agent' ? sender.adminId : null,
          type: params.type ?? (sender.type === 'system' ? 'system' : params.content.length === 0 ? 'attachment' : 'text'),
          content: policy.content,
          originalContent: policy.content !== params.content ? params.content : null,
          masked,
          clientId,
          metadata: params.metadata ?? {},
          isInternal: params.isInternal ?? false,
          isFlagged: flagged !== null,
          createdAt: now,
        })
        .returning();
      if (!message) throw new Error('message insert returned no row');
      if (attachmentIds.length > 0) await attachFiles(tx, { workspaceId, conversationId, sender, message, attachmentIds });
      let reportId: string | null = null;
      if (flagged) {
        const [report] = await tx
          .insert(schema.reports)
          .values({ workspaceId, messageId: message.id, source: 'flag', reason: flagged.reason })
          .returning({ id: schema.reports.id });
        reportId = report?.id ?? null;
      }
      // The webhook side effect is written in this same transaction (transactional outbox): a committed
      // message never loses its webhooks, even if the process dies right after the commit (issue 6, F-01).
      let json: MessageJson | null = null;
      if (!message.isInternal) {
        json =
          sender.type === 'agent' || attachmentIds.length > 0
            ? await serializeOne(tx, workspaceId, message, params.serializeAttachment)
            : toMessageJson(message, { senderUser, attachments: [], reactions: [] });
        await recordDomainEventInOutbox(
          tx,
          { type: 'message.created', workspaceId, conversationId, message: json as unknown as Record<string, unknown> },
          now,
        );
      }
      if (sender.type === 'user') {
        // Sending implies having read up to one's own message (unread counts exclude it).
        await tx
          .update(schema.participants)
          .set({ lastReadSeq: sql`greatest(${schema.participants.lastReadSeq}, ${message.seq})` })
          .where(and(eq(schema.participants.conversationId, conversationId), eq(schema.participants.chatUserId, sender.chatUserId)));
      }
      return { message, reportId, json };
    });
  } catch (err) {
    if (err instanceof DuplicateClientId) {
      return { message: err.existing, json: await serializeOne(db, workspaceId, err.existing, params.serializeAttachment), created: false };
    }
    if (clientId !== null && isUniqueViolation(err)) {
      // Only reachable if a writer bypassed the seq lock; the unique index is the last line (F-14).
      const existing = await findByClientId(db, conversationId, sender, clientId);
      if (existing) return { message: existing, json: await serializeOne(db, workspaceId, existing, params.serializeAttachment), created: false };
    }
    throw err;
  }

  const json = stored.json ?? (await serializeOne(db, workspaceId, stored.message, params.serializeAttachment));
  // Users who blocked the sender get the message neither in listings (filtered there) nor on open sockets.
  // Read with the sender (one round trip less per send).
  const blockerIds = sending && !stored.message.isInternal ? sending.blockerIds : [];
  if (!stored.message.isInternal) {
    await params.events?.emit({
      type: 'message.created',
      workspaceId,
      conversationId,
      message: json as unknown as Record<string, unknown>,
      recordedInOutbox: true,
      ...(blockerIds.length > 0 ? { hiddenFromUserIds: blockerIds } : {}),
      ...(params.excludeSocketId ? { excludeSocketId: params.excludeSocketId } : {}),
    });
  }
  if (stored.reportId) {
    await params.events?.emit({
      type: 'report.created',
      workspaceId,
      report: { id: stored.reportId, message_id: stored.message.id, conversation_id: conversationId, source: 'flag', reason: flagged ? flagged.reason : null },
    });
  }
  return { message: stored.message, json, created: true };
}

interface SendingUser {
  readonly user: ChatUser;
  readonly participantRole: string;
  /** Raw `policies` of the conversation's effective widget configuration (null: none); undefined: not read. */
  readonly widgetPolicies?: unknown;
  /** Users who blocked the sender. */
  readonly blockerIds: string[];
}

/**
 * The sender, their participation, an active ban, who blocked them and (for the policy hook) the
 * conversation's widget policies — one round trip, since every send pays for it.
 */
async function loadSendingUser(params: {
  db: Executor;
  workspaceId: string;
  conversation: ConversationRow;
  chatUserId: string;
  now: Date;
  withPolicies: boolean;
}): Promise<SendingUser> {
  const { db, workspaceId, conversation, chatUserId } = params;
  const wc = schema.widgetConfigs;
  // Same choice as policies/create-policy-hook.ts loadConversationPolicies: the conversation's configuration,
  // or the workspace's first one (created_at, then UUIDv7 id) when it has none.
  const policies = conversation.widgetConfigId
    ? sql<unknown>`(select ${wc.policies} from ${wc} where ${wc.workspaceId} = ${workspaceId} and ${wc.id} = ${conversation.widgetConfigId} limit 1)`
    : sql<unknown>`(select ${wc.policies} from ${wc} where ${wc.workspaceId} = ${workspaceId} order by ${wc.createdAt} asc, ${wc.id} asc limit 1)`;
  const blockers = sql<unknown>`(select coalesce(json_agg(${schema.blocks.blockerUserId}), '[]'::json) from ${schema.blocks} where ${schema.blocks.workspaceId} = ${workspaceId} and ${schema.blocks.blockedUserId} = ${schema.chatUsers.id})`;
  const [row] = await db
    .select({
      user: schema.chatUsers,
      participantRole: schema.participants.role,
      banId: schema.bans.id,
      blockers,
      ...(params.withPolicies ? { policies } : {}),
    })
    .from(schema.chatUsers)
    .leftJoin(
      schema.participants,
      and(
        eq(schema.participants.chatUserId, schema.chatUsers.id),
        eq(schema.participants.conversationId, conversation.id),
        isNull(schema.participants.leftAt),
      ),
    )
    .leftJoin(
      schema.bans,
      and(eq(schema.bans.workspaceId, workspaceId), eq(schema.bans.chatUserId, schema.chatUsers.id), activeBanCondition(params.now)),
    )
    .where(and(eq(schema.chatUsers.workspaceId, workspaceId), eq(schema.chatUsers.id, chatUserId), isNull(schema.chatUsers.erasedAt)))
    .limit(1);
  if (!row) throw notFound('User');
  if (row.participantRole === null) throw new AppError('forbidden', 'The user is not a participant of this conversation.');
  if (row.banId) throw new AppError('user_banned');
  return {
    user: row.user,
    participantRole: row.participantRole,
    blockerIds: parseJsonArray(row.blockers),
    ...(params.withPolicies ? { widgetPolicies: parseJson((row as { policies?: unknown }).policies ?? null) } : {}),
  };
}

/** json/jsonb from a raw subquery: the drivers hand back parsed values, but tolerate text too. */
function parseJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

function parseJsonArray(value: unknown): string[] {
  const parsed = parseJson(value);
  return Array.isArray(parsed) ? parsed.filter((v): v is string => typeof v === 'string') : [];
}

async function findByClientId(db: Executor, conversationId: string, sender: MessageSender, clientId: string): Promise<MessageRow | null> {
  const conditions = [
    eq(schema.messages.conversationId, conversationId),
    eq(schema.messages.senderType, sender.type),
    eq(schema.messages.clientId, clientId),
  ];
  if (sender.type === 'user') conditions.push(eq(schema.messages.senderUserId, sender.chatUserId));
  if (sender.type === 'agent') conditions.push(eq(schema.messages.senderAdminId, sender.adminId));
  const [row] = await db.select().from(schema.messages).where(and(...conditions)).limit(1);
  return row ?? null;
}

/** Links uploaded, not yet attached files of this sender to the message; any other id is refused (T-14). */
async function attachFiles(
  tx: Executor,
  p: { workspaceId: string; conversationId: string; sender: MessageSender; message: MessageRow; attachmentIds: string[] },
): Promise<void> {
  const conditions = [
    eq(schema.attachments.workspaceId, p.workspaceId),
    inArray(schema.attachments.id, p.attachmentIds),
    isNull(schema.attachments.messageId),
    or(isNull(schema.attachments.conversationId), eq(schema.attachments.conversationId, p.conversationId))!,
  ];
  if (p.sender.type === 'user') conditions.push(eq(schema.attachments.uploaderUserId, p.sender.chatUserId));
  if (p.sender.type === 'agent') conditions.push(eq(schema.attachments.uploaderAdminId, p.sender.adminId));
  const linked = await tx
    .update(schema.attachments)
    .set({ messageId: p.message.id, conversationId: p.conversationId })
    .where(and(...conditions))
    .returning({ id: schema.attachments.id });
  if (linked.length !== p.attachmentIds.length) {
    throw new AppError('validation_failed', 'One or more attachments do not exist or are already attached.', {
      field: 'attachment_ids',
    });
  }
}

async function serializeOne(
  db: Executor,
  workspaceId: string,
  message: MessageRow,
  serializeAttachment?: AttachmentSerializer,
): Promise<MessageJson> {
  const [json] = await serializeMessages({ db, workspaceId, messages: [message], ...(serializeAttachment ? { serializeAttachment } : {}) });
  return json!;
}

function isUniqueViolation(err: unknown): boolean {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === '23505') return true;
  }
  return false;
}
