import { and, desc, eq, inArray, isNull, ne, notInArray, or, sql, type SQL } from 'drizzle-orm';
import { schema, type Database, type Executor } from '@reusable-chat/db';
import type { DomainEventBus } from '../events/domain-events.ts';
import { AppError, notFound } from '../errors/registry.ts';
import { createConversation, DEFAULT_PARTICIPANT_ROLE, serializeConversation } from '../conversations/manage-conversations.ts';
import { canStartConversation } from '../policies/conversation-rules.ts';
import { parsePolicies } from '../policies/policy.schema.ts';
import { serializeConversations, type ConversationRow } from '../conversations/conversation-json.ts';
import { cursorString, decodeCursor, encodeCursor, type CursorScope } from '../shared/cursor.ts';
import { resolveWidgetConfig, type WidgetConfigRow } from '../embed/init-embed.ts';
import { serializeMessages, type AttachmentSerializer } from '../messages/load-message-extras.ts';
import type { ChatUser } from '../users/user-json.ts';
import { isBlockedBy } from './blocks.ts';
import { activeConversationIdsOf } from '../conversations/active-memberships.ts';

/**
 * Per conversation: the newest message this user may see and how many they have not read, leaving out
 * internal notes, deleted messages and senders the user blocked (SPEC §6: not delivered to the blocker).
 */
async function viewerExtras(params: {
  db: Executor;
  workspaceId: string;
  chatUserId: string;
  conversationIds: readonly string[];
  blocked: ReadonlySet<string>;
  serializeAttachment?: AttachmentSerializer;
}): Promise<Map<string, { lastMessage: Record<string, unknown> | null; unread: number }>> {
  const { db, workspaceId, chatUserId } = params;
  const out = new Map<string, { lastMessage: Record<string, unknown> | null; unread: number }>();
  if (params.conversationIds.length === 0) return out;
  const m = schema.messages;
  const blocked = [...params.blocked];
  const visible: SQL[] = [eq(m.workspaceId, workspaceId), inArray(m.conversationId, [...params.conversationIds]), eq(m.isInternal, false)];
  if (blocked.length > 0) visible.push(or(isNull(m.senderUserId), notInArray(m.senderUserId, blocked))!);

  // Newest visible message per conversation: DISTINCT ON rides the (conversation_id, seq) unique index.
  const lastRows = await db
    .selectDistinctOn([m.conversationId])
    .from(m)
    .where(and(...visible))
    .orderBy(m.conversationId, desc(m.seq));
  const lastJson = await serializeMessages({
    db,
    workspaceId,
    messages: lastRows,
    ...(params.serializeAttachment ? { serializeAttachment: params.serializeAttachment } : {}),
  });
  const unread = await countUnreadForViewer({ db, workspaceId, chatUserId, blocked: params.blocked, conversationIds: params.conversationIds });
  for (const id of params.conversationIds) out.set(id, { lastMessage: null, unread: 0 });
  lastJson.forEach((json) => {
    out.get(json.conversation_id)!.lastMessage = json as unknown as Record<string, unknown>;
  });
  for (const [id, n] of unread.byConversation) if (out.has(id)) out.get(id)!.unread = n;
  return out;
}

/**
 * Unread messages per conversation as this viewer sees them: after their read marker, sent by someone else,
 * not deleted or internal, and not from a user they blocked — so a badge never counts what the list hides.
 */
export async function countUnreadForViewer(params: {
  db: Executor;
  workspaceId: string;
  chatUserId: string;
  blocked: ReadonlySet<string>;
  conversationIds?: readonly string[];
}): Promise<{ total: number; byConversation: Map<string, number>; lastReadSeq: Map<string, number> }> {
  const { db, workspaceId, chatUserId } = params;
  const m = schema.messages;
  const p = schema.participants;
  if (params.conversationIds && params.conversationIds.length === 0) return { total: 0, byConversation: new Map(), lastReadSeq: new Map() };
  const blocked = [...params.blocked];
  const messageConditions: SQL[] = [
    eq(m.conversationId, p.conversationId),
    sql`${m.seq} > ${p.lastReadSeq}`,
    eq(m.workspaceId, workspaceId),
    eq(m.isInternal, false),
    isNull(m.deletedAt),
    or(isNull(m.senderUserId), ne(m.senderUserId, chatUserId))!,
  ];
  if (blocked.length > 0) messageConditions.push(or(isNull(m.senderUserId), notInArray(m.senderUserId, blocked))!);
  const participantConditions: SQL[] = [eq(p.workspaceId, workspaceId), eq(p.chatUserId, chatUserId), isNull(p.leftAt)];
  if (params.conversationIds) participantConditions.push(inArray(p.conversationId, [...params.conversationIds]));
  const rows = await db
    .select({ conversationId: p.conversationId, lastReadSeq: p.lastReadSeq, unread: sql<number>`count(${m.id})::int` })
    .from(p)
    .leftJoin(m, and(...messageConditions))
    .where(and(...participantConditions))
    .groupBy(p.conversationId, p.lastReadSeq);
  const byConversation = new Map(rows.map((r) => [r.conversationId, Number(r.unread)]));
  return {
    total: rows.reduce((n, r) => n + Number(r.unread), 0),
    byConversation,
    lastReadSeq: new Map(rows.map((r) => [r.conversationId, r.lastReadSeq])),
  };
}

/**
 * The viewer's conversations by recent activity (last message, else creation), the way a chat list is read;
 * keyset on (activity, id) so pages stay stable while messages arrive. Optional filters by widget slug and
 * subject let a page open "the conversation about listing 42".
 */
export async function listWidgetConversations(params: {
  db: Executor;
  workspaceId: string;
  chatUserId: string;
  cursorSecret: string;
  limit: number;
  cursor?: string;
  widgetSlug?: string;
  subject?: string;
  status?: 'open' | 'closed';
  blocked: ReadonlySet<string>;
  serializeAttachment?: AttachmentSerializer;
}): Promise<{ data: Record<string, unknown>[]; nextCursor: string | null }> {
  const { db, workspaceId } = params;
  const c = schema.conversations;
  const scope: CursorScope = {
    secret: params.cursorSecret,
    workspaceId,
    list: `widget-conversations:${params.chatUserId}:${params.widgetSlug ?? ''}:${params.subject ?? ''}:${params.status ?? ''}`,
  };
  const activity = sql`coalesce(${c.lastMessageAt}, ${c.createdAt})`;
  const mine = activeConversationIdsOf(db, workspaceId, params.chatUserId);
  const conditions: SQL[] = [eq(c.workspaceId, workspaceId), inArray(c.id, mine)];
  if (params.subject !== undefined) conditions.push(eq(c.subject, params.subject));
  if (params.status) conditions.push(eq(c.status, params.status));
  if (params.widgetSlug) {
    const widget = db
      .select({ id: schema.widgetConfigs.id })
      .from(schema.widgetConfigs)
      .where(and(eq(schema.widgetConfigs.workspaceId, workspaceId), eq(schema.widgetConfigs.slug, params.widgetSlug)));
    conditions.push(inArray(c.widgetConfigId, widget));
  }
  if (params.cursor) {
    const position = decodeCursor(scope, params.cursor);
    const at = cursorString(position, 't');
    const id = cursorString(position, 'id');
    conditions.push(sql`(${activity}, ${c.id}) < (${at}::timestamptz, ${id}::uuid)`);
  }
  // The cursor keeps PostgreSQL's own text of the timestamp: microseconds survive (a JS Date would cut them).
  const selected = await db
    .select({ row: c, activityText: sql<string>`${activity}::text` })
    .from(c)
    .where(and(...conditions))
    .orderBy(desc(activity), desc(c.id))
    .limit(params.limit + 1);
  const rows = selected.map((r) => r.row);
  const page = rows.slice(0, params.limit);
  const data = await serializeConversations({ db, workspaceId, conversations: page });
  const extras = await viewerExtras({ ...params, conversationIds: page.map((row) => row.id) });
  for (const json of data) {
    const e = extras.get(json['id'] as string);
    json['unread_count'] = e?.unread ?? 0;
    json['last_message'] = e?.lastMessage ?? null;
  }
  const last = selected[page.length - 1];
  const nextCursor = rows.length > params.limit && last ? encodeCursor(scope, { t: last.activityText, id: last.row.id }) : null;
  return { data, nextCursor };
}

export async function getWidgetConversation(params: {
  db: Executor;
  workspaceId: string;
  chatUserId: string;
  conversation: ConversationRow;
  blocked: ReadonlySet<string>;
  serializeAttachment?: AttachmentSerializer;
}): Promise<Record<string, unknown>> {
  const json = await serializeConversation(params.db, params.workspaceId, params.conversation);
  const extras = await viewerExtras({ ...params, conversationIds: [params.conversation.id] });
  const e = extras.get(params.conversation.id);
  json['unread_count'] = e?.unread ?? 0;
  json['last_message'] = e?.lastMessage ?? null;
  return json;
}

/**
 * A visitor starts a conversation where the widget configuration allows it (SPEC §6 "who may start"):
 * the starter takes the first `can_start` role (or their own role when it is one of them); an optional
 * counterpart of the same workspace gets the configuration's other role. Without `can_start` nobody may.
 */
export async function startWidgetConversation(params: {
  db: Database;
  events?: DomainEventBus;
  workspaceId: string;
  user: ChatUser;
  widgetSlug?: string;
  /** Already resolved by the caller (e.g. to read its rate limits first). */
  widgetConfig?: WidgetConfigRow;
  counterpartUserId?: string;
  subject?: string | null;
  name?: string | null;
}): Promise<{ conversation: ConversationRow; json: Record<string, unknown> }> {
  const { db, workspaceId, user } = params;
  const config = params.widgetConfig ?? (await resolveWidgetConfig({ db, workspaceId, ...(params.widgetSlug ? { slug: params.widgetSlug } : {}) }));
  const policies = parsePolicies(config.policies);
  const roles = Array.isArray(config.roles.participant_roles)
    ? config.roles.participant_roles.filter((r): r is string => typeof r === 'string')
    : [];
  // Who may start: the policy engine decides (policies.can_start, else roles.can_start; `*` = anyone).
  const startRoles = (policies.can_start ?? (Array.isArray(config.roles.can_start) ? config.roles.can_start : [])).filter(
    (r): r is string => typeof r === 'string' && r !== '*',
  );
  const starterRole = user.role ?? startRoles[0] ?? roles[0] ?? DEFAULT_PARTICIPANT_ROLE;
  if (!canStartConversation({ policies, roles: config.roles, role: starterRole })) {
    throw new AppError('forbidden', 'Visitors may not start conversations in this widget.');
  }
  const participants: { user: ChatUser; role: string }[] = [{ user, role: starterRole }];
  if (params.counterpartUserId) {
    if (params.counterpartUserId === user.id) throw new AppError('validation_failed', 'The counterpart must be another user.');
    const [counterpart] = await db
      .select()
      .from(schema.chatUsers)
      .where(
        and(
          eq(schema.chatUsers.workspaceId, workspaceId),
          eq(schema.chatUsers.id, params.counterpartUserId),
          isNull(schema.chatUsers.erasedAt),
        ),
      )
      .limit(1);
    if (!counterpart) throw notFound('User');
    if (await isBlockedBy({ db, workspaceId, blockerUserId: counterpart.id, blockedUserId: user.id })) {
      throw new AppError('user_blocked');
    }
    const otherRole = roles.find((r) => r !== starterRole) ?? starterRole;
    participants.push({ user: counterpart, role: otherRole });
  }
  return createConversation({
    db,
    ...(params.events ? { events: params.events } : {}),
    workspaceId,
    type: params.counterpartUserId ? 'direct' : 'support',
    widgetSlug: config.slug,
    participants,
    subject: params.subject ?? null,
    name: params.name ?? null,
  });
}
