import { and, eq, isNull } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';

/**
 * Subquery of the conversations a chat user currently takes part in (not left), within one workspace.
 * Every "my conversations" read uses it, so the membership rule lives in one place.
 */
export function activeConversationIdsOf(db: Executor, workspaceId: string, chatUserId: string) {
  return db
    .select({ id: schema.participants.conversationId })
    .from(schema.participants)
    .where(
      and(
        eq(schema.participants.workspaceId, workspaceId),
        eq(schema.participants.chatUserId, chatUserId),
        isNull(schema.participants.leftAt),
      ),
    );
}
