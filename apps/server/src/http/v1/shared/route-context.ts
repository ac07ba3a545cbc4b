import type { FastifyInstance, FastifyRequest } from 'fastify';
import { and, eq, inArray, isNull } from 'drizzle-orm';
import { AppError, getConversation, type AuditActor, type ChatUser, type ConversationRow } from '@reusable-chat/core';
import { schema } from '@reusable-chat/db';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';

export function actorOf(request: FastifyRequest): AuditActor {
  return { type: 'api_key', id: apiKeyOf(request).keyId };
}

/**
 * The conversation named in the path, scoped to the key's workspace; a `demo` key only ever sees
 * conversations of type `demo` (anything else is 404, like another tenant's id).
 */
export async function conversationForKey(app: FastifyInstance, request: FastifyRequest, conversationId: string): Promise<ConversationRow> {
  const auth = apiKeyOf(request);
  return getConversation({
    db: app.deps.database.db,
    workspaceId: auth.workspaceId,
    conversationId,
    ...(auth.scope === 'demo' ? { type: 'demo' as const } : {}),
  });
}

/** Live users of the workspace by external_id; any unknown id is a 422 naming them all. */
export async function usersByExternalIds(app: FastifyInstance, workspaceId: string, externalIds: readonly string[]): Promise<Map<string, ChatUser>> {
  const wanted = [...new Set(externalIds)];
  if (wanted.length === 0) return new Map();
  const rows = await app.deps.database.db
    .select()
    .from(schema.chatUsers)
    .where(
      and(
        eq(schema.chatUsers.workspaceId, workspaceId),
        inArray(schema.chatUsers.externalId, wanted),
        isNull(schema.chatUsers.erasedAt),
      ),
    );
  const byExternalId = new Map(rows.map((u) => [u.externalId, u]));
  const unknown = wanted.filter((id) => !byExternalId.has(id));
  if (unknown.length > 0) {
    throw new AppError('validation_failed', 'Unknown users; create them with POST /api/v1/users first.', { unknown_external_ids: unknown });
  }
  return byExternalId;
}
