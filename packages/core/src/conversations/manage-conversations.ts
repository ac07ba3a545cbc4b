import { and, desc, eq, inArray, isNull, lt, sql, type SQL } from 'drizzle-orm';
import { schema, type Database, type Executor, type JsonObject } from '@reusable-chat/db';
import type { DomainEventBus } from '../events/domain-events.ts';
import { AppError, notFound } from '../errors/registry.ts';
import { cursorString, decodeCursor, encodeCursor, type CursorScope } from '../shared/cursor.ts';
import { toUserJson, type ChatUser } from '../users/user-json.ts';
import { serializeConversations, type ConversationRow } from './conversation-json.ts';
import { getUnreadCounts } from './unread-counts.ts';
import { activeConversationIdsOf } from './active-memberships.ts';

export type ConversationType = ConversationRow['type'];

export interface NewParticipant {
  readonly user: ChatUser;
  readonly role?: string;
}

export const DEFAULT_PARTICIPANT_ROLE = 'member';

/** A conversation of the workspace, or 404 — also for another tenant's id (SPEC §3). */
export async function getConversation(params: {
  db: Executor;
  workspaceId: string;
  conversationId: string;
  type?: ConversationType;
}): Promise<ConversationRow> {
  const conditions = [eq(schema.conversations.workspaceId, params.workspaceId), eq(schema.conversations.id, params.conversationId)];
  if (params.type) conditions.push(eq(schema.conversations.type, params.type));
  const [row] = await params.db.select().from(schema.conversations).where(and(...conditions)).limit(1);
  if (!row) throw notFound('Conversation');
  return row;
}

export async function serializeConversation(db: Executor, workspaceId: string, conversation: ConversationRow): Promise<Record<string, unknown>> {
  const [json] = await serializeConversations({ db, workspaceId, conversations: [conversation] });
  return json!;
}

/** Participant ids of a conversation (current ones), for user-channel events. */
async function participantUserIds(db: Executor, workspaceId: string, conversationId: string): Promise<string[]> {
  const rows = await db
    .select({ id: schema.participants.chatUserId })
    .from(schema.participants)
    .where(
      and(
        eq(schema.participants.workspaceId, workspaceId),
        eq(schema.participants.conversationId, conversationId),
        isNull(schema.participants.leftAt),
      ),
    );
  return rows.map((r) => r.id);
}

/** Resolves a widget configuration slug; roles, when the configuration lists them, must be among them. */
async function resolveWidget(db: Executor, workspaceId: string, slug: string | undefined) {
  if (!slug) return null;
  const [widget] = await db
    .select()
    .from(schema.widgetConfigs)
    .where(and(eq(schema.widgetConfigs.workspaceId, workspaceId), eq(schema.widgetConfigs.slug, slug)))
    .limit(1);
  if (!widget) throw new AppError('validation_failed', `Unknown widget configuration "${slug}".`, { field: 'widget' });
  return widget;
}

function checkRoles(widget: { roles: JsonObject } | null, participants: readonly NewParticipant[]): void {
  const allowed = widget?.roles['participant_roles'];
  if (!Array.isArray(allowed) || allowed.length === 0) return;
  for (const p of participants) {
    const role = p.role ?? DEFAULT_PARTICIPANT_ROLE;
    if (!allowed.includes(role)) {
      throw new AppError('validation_failed', `Role "${role}" is not one of this widget's roles.`, {
        field: 'participants',
        allowed_roles: allowed as string[],
      });
    }
  }
}

export async function createConversation(params: {
  db: Database;
  events?: DomainEventBus;
  workspaceId: string;
  type?: ConversationType;
  widgetSlug?: string;
  participants: readonly NewParticipant[];
  subject?: string | null;
  state?: string | null;
  name?: string | null;
  metadata?: JsonObject;
}): Promise<{ conversation: ConversationRow; json: Record<string, unknown> }> {
  const { db, workspaceId } = params;
  const widget = await resolveWidget(db, workspaceId, params.widgetSlug);
  checkRoles(widget, params.participants);
  const unique = new Map(params.participants.map((p) => [p.user.id, p]));
  const conversation = await db.transaction(async (tx) => {
    const [row] = await tx
      .insert(schema.conversations)
      .values({
        workspaceId,
        type: params.type ?? 'direct',
        widgetConfigId: widget?.id ?? null,
        subject: params.subject ?? null,
        state: params.state ?? null,
        name: params.name ?? null,
        metadata: params.metadata ?? {},
      })
      .returning();
    if (!row) throw new Error('conversation insert returned no row');
    if (unique.size > 0) {
      await tx.insert(schema.participants).values(
        [...unique.values()].map((p) => ({
          conversationId: row.id,
          workspaceId,
          chatUserId: p.user.id,
          role: p.role ?? DEFAULT_PARTICIPANT_ROLE,
        })),
      );
    }
    return row;
  });
  const json = await serializeConversation(db, workspaceId, conversation);
  await params.events?.emit({ type: 'conversation.created', workspaceId, conversation: json, participantUserIds: [...unique.keys()] });
  return { conversation, json };
}

export async function updateConversation(params: {
  db: Executor;
  events?: DomainEventBus;
  workspaceId: string;
  conversationId: string;
  changes: { state?: string | null; subject?: string | null; name?: string | null; metadata?: JsonObject; status?: 'open' | 'closed' };
}): Promise<{ conversation: ConversationRow; json: Record<string, unknown> }> {
  const { db, workspaceId, changes } = params;
  const now = new Date();
  const set: Partial<typeof schema.conversations.$inferInsert> = { updatedAt: now };
  if (changes.state !== undefined) set.state = changes.state;
  if (changes.subject !== undefined) set.subject = changes.subject;
  if (changes.name !== undefined) set.name = changes.name;
  if (changes.metadata !== undefined) set.metadata = changes.metadata;
  if (changes.status !== undefined) {
    set.status = changes.status;
    set.closedAt = changes.status === 'closed' ? now : null;
  }
  const [conversation] = await db
    .update(schema.conversations)
    .set(set)
    .where(and(eq(schema.conversations.workspaceId, workspaceId), eq(schema.conversations.id, params.conversationId)))
    .returning();
  if (!conversation) throw notFound('Conversation');
  const json = await serializeConversation(db, workspaceId, conversation);
  await params.events?.emit({
    type: 'conversation.updated',
    workspaceId,
    conversation: json,
    participantUserIds: await participantUserIds(db, workspaceId, conversation.id),
  });
  return { conversation, json };
}

/** Adds users (or re-adds ones who left, with the new role); already present users only change role. */
export async function addParticipants(params: {
  db: Database;
  events?: DomainEventBus;
  workspaceId: string;
  conversationId: string;
  participants: readonly NewParticipant[];
}): Promise<{ conversation: ConversationRow; json: Record<string, unknown> }> {
  const { db, workspaceId } = params;
  const conversation = await getConversation({ db, workspaceId, conversationId: params.conversationId });
  const widget = conversation.widgetConfigId
    ? ((await db.select().from(schema.widgetConfigs).where(eq(schema.widgetConfigs.id, conversation.widgetConfigId)).limit(1))[0] ?? null)
    : null;
  checkRoles(widget, params.participants);
  const unique = [...new Map(params.participants.map((p) => [p.user.id, p])).values()];
  const before = new Set(await participantUserIds(db, workspaceId, conversation.id));
  if (unique.length > 0) {
    await db
      .insert(schema.participants)
      .values(unique.map((p) => ({ conversationId: conversation.id, workspaceId, chatUserId: p.user.id, role: p.role ?? DEFAULT_PARTICIPANT_ROLE })))
      .onConflictDoUpdate({
        target: [schema.participants.conversationId, schema.participants.chatUserId],
        set: { role: sql`excluded.role`, leftAt: null },
      });
  }
  for (const p of unique) {
    if (before.has(p.user.id)) continue;
    await params.events?.emit({
      type: 'participant.joined',
      workspaceId,
      conversationId: conversation.id,
      participant: { user: toUserJson(p.user, 'public'), role: p.role ?? DEFAULT_PARTICIPANT_ROLE },
    });
  }
  return { conversation, json: await serializeConversation(db, workspaceId, conversation) };
}

export async function removeParticipant(params: {
  db: Executor;
  events?: DomainEventBus;
  workspaceId: string;
  conversationId: string;
  user: ChatUser;
}): Promise<void> {
  const { db, workspaceId } = params;
  await getConversation({ db, workspaceId, conversationId: params.conversationId });
  const rows = await db
    .update(schema.participants)
    .set({ leftAt: new Date() })
    .where(
      and(
        eq(schema.participants.workspaceId, workspaceId),
        eq(schema.participants.conversationId, params.conversationId),
        eq(schema.participants.chatUserId, params.user.id),
        isNull(schema.participants.leftAt),
      ),
    )
    .returning({ role: schema.participants.role });
  if (rows.length === 0) throw notFound('Participant');
  await params.events?.emit({
    type: 'participant.left',
    workspaceId,
    conversationId: params.conversationId,
    participant: { user: toUserJson(params.user, 'public'), role: rows[0]!.role },
  });
}

/**
 * Conversations of the workspace, newest first (UUIDv7 ids are time-ordered, so the id is the keyset).
 * With a user: only conversations they currently take part in, each with that user's unread_count.
 */
export async function listConversations(params: {
  db: Executor;
  workspaceId: string;
  cursorSecret: string;
  limit: number;
  cursor?: string;
  chatUserId?: string;
  type?: ConversationType;
  subject?: string;
  state?: string;
  status?: 'open' | 'closed';
}): Promise<{ data: Record<string, unknown>[]; nextCursor: string | null }> {
  const { db, workspaceId } = params;
  const scope: CursorScope = {
    secret: params.cursorSecret,
    workspaceId,
    list: `conversations:${params.chatUserId ?? '*'}`,
  };
  const conditions: SQL[] = [eq(schema.conversations.workspaceId, workspaceId)];
  if (params.type) conditions.push(eq(schema.conversations.type, params.type));
  if (params.subject !== undefined) conditions.push(eq(schema.conversations.subject, params.subject));
  if (params.state !== undefined) conditions.push(eq(schema.conversations.state, params.state));
  if (params.status) conditions.push(eq(schema.conversations.status, params.status));
  if (params.cursor) conditions.push(lt(schema.conversations.id, cursorString(decodeCursor(scope, params.cursor), 'id')));
  if (params.chatUserId) {
    const mine = activeConversationIdsOf(db, workspaceId, params.chatUserId);
    conditions.push(inArray(schema.conversations.id, mine));
  }
  const rows = await db
    .select()
    .from(schema.conversations)
    .where(and(...conditions))
    .orderBy(desc(schema.conversations.id))
    .limit(params.limit + 1);
  const page = rows.slice(0, params.limit);
  const data = await serializeConversations({ db, workspaceId, conversations: page });
  if (params.chatUserId && page.length > 0) {
    const unread = await getUnreadCounts({ db, workspaceId, chatUserId: params.chatUserId, conversationIds: page.map((c) => c.id) });
    const byId = new Map(unread.conversations.map((u) => [u.conversation_id, u.unread_count]));
    for (const c of data) c['unread_count'] = byId.get(c['id'] as string) ?? 0;
  }
  const last = page.at(-1);
  return { data, nextCursor: rows.length > params.limit && last ? encodeCursor(scope, { id: last.id }) : null };
}
