import { and, eq, getTableColumns, isNull, sql } from 'drizzle-orm';
import { schema, type Executor, type JsonObject } from '@reusable-chat/db';
import type { DomainEventBus } from '../events/domain-events.ts';
import { notFound } from '../errors/registry.ts';
import { toUserJson, type ChatUser } from './user-json.ts';

export interface UserFields {
  name?: string;
  email?: string | null;
  avatarUrl?: string | null;
  metadata?: JsonObject;
  role?: string | null;
}

/**
 * Create-or-update by the tenant's own id (SPEC §4 "upsert by external_id"). One statement, so two
 * concurrent upserts of the same external_id never create two users. Fields left out are kept.
 */
export async function upsertUser(params: {
  db: Executor;
  events?: DomainEventBus;
  workspaceId: string;
  externalId: string;
  fields: UserFields;
}): Promise<{ user: ChatUser; created: boolean }> {
  const { db, workspaceId, externalId, fields } = params;
  const set: Partial<typeof schema.chatUsers.$inferInsert> = { updatedAt: new Date() };
  if (fields.name !== undefined) set.name = fields.name;
  if (fields.email !== undefined) set.email = fields.email;
  if (fields.avatarUrl !== undefined) set.avatarUrl = fields.avatarUrl;
  if (fields.metadata !== undefined) set.metadata = fields.metadata;
  if (fields.role !== undefined) set.role = fields.role;
  const [row] = await db
    .insert(schema.chatUsers)
    .values({
      workspaceId,
      externalId,
      name: fields.name ?? '',
      email: fields.email ?? null,
      avatarUrl: fields.avatarUrl ?? null,
      metadata: fields.metadata ?? {},
      role: fields.role ?? null,
    })
    .onConflictDoUpdate({ target: [schema.chatUsers.workspaceId, schema.chatUsers.externalId], set })
    // xmax is 0 only for a freshly inserted tuple: tells created from updated in the same round trip.
    .returning({ ...getTableColumns(schema.chatUsers), inserted: sql<boolean>`(xmax = 0)` });
  if (!row) throw new Error('user upsert returned no row');
  const { inserted, ...user } = row;
  await params.events?.emit({ type: inserted ? 'user.created' : 'user.updated', workspaceId, user: toUserJson(user) });
  return { user, created: inserted };
}

/** Looks a live (not erased) user up by external_id inside the workspace; 404 otherwise. */
export async function getUserByExternalId(params: { db: Executor; workspaceId: string; externalId: string }): Promise<ChatUser> {
  const [user] = await params.db
    .select()
    .from(schema.chatUsers)
    .where(
      and(
        eq(schema.chatUsers.workspaceId, params.workspaceId),
        eq(schema.chatUsers.externalId, params.externalId),
        isNull(schema.chatUsers.erasedAt),
      ),
    )
    .limit(1);
  if (!user) throw notFound('User');
  return user;
}

export async function updateUser(params: {
  db: Executor;
  events?: DomainEventBus;
  workspaceId: string;
  externalId: string;
  fields: UserFields;
}): Promise<ChatUser> {
  const { fields } = params;
  const set: Partial<typeof schema.chatUsers.$inferInsert> = { updatedAt: new Date() };
  if (fields.name !== undefined) set.name = fields.name;
  if (fields.email !== undefined) set.email = fields.email;
  if (fields.avatarUrl !== undefined) set.avatarUrl = fields.avatarUrl;
  if (fields.metadata !== undefined) set.metadata = fields.metadata;
  if (fields.role !== undefined) set.role = fields.role;
  const [user] = await params.db
    .update(schema.chatUsers)
    .set(set)
    .where(
      and(
        eq(schema.chatUsers.workspaceId, params.workspaceId),
        eq(schema.chatUsers.externalId, params.externalId),
        isNull(schema.chatUsers.erasedAt),
      ),
    )
    .returning();
  if (!user) throw notFound('User');
  await params.events?.emit({ type: 'user.updated', workspaceId: params.workspaceId, user: toUserJson(user) });
  return user;
}
