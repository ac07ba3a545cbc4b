import type { schema } from '@reusable-chat/db';

export type ChatUser = typeof schema.chatUsers.$inferSelect;

/**
 * `full` is what the tenant's own backend and admins see; `public` is what other participants see in
 * conversation and realtime payloads (no email, no metadata). Neither ever carries a secret.
 */
export type UserJsonView = 'full' | 'public';

export function toUserJson(user: ChatUser, view: UserJsonView = 'full'): Record<string, unknown> {
  const pub = {
    id: user.id,
    external_id: user.externalId,
    name: user.name,
    avatar_url: user.avatarUrl,
    role: user.role,
    is_anonymous: user.isAnonymous,
  };
  if (view === 'public') return pub;
  return {
    ...pub,
    email: user.email,
    metadata: user.metadata,
    erased_at: user.erasedAt?.toISOString() ?? null,
    created_at: user.createdAt.toISOString(),
    updated_at: user.updatedAt.toISOString(),
  };
}
