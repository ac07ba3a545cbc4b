import type { Database } from '@reusable-chat/db';
import type { DomainEventBus } from '../events/domain-events.ts';
import { createWidgetSession } from '../identity/widget-sessions.ts';
import { randomToken } from '../shared/crypto.ts';
import { upsertUser } from '../users/upsert-user.ts';
import { addParticipants } from './manage-conversations.ts';

/** Demo visitors are throwaway users; half a day is enough for a demo and short enough to expire unused. */
export const DEMO_SESSION_TTL_S = 12 * 3600;

/**
 * The earlier system's demo flow (SPEC §8): a visitor joins a demo room under a name, as a new throwaway user
 * with a widget session. The caller has already checked that the conversation is a demo room of this workspace.
 */
export async function joinDemoRoom(params: {
  db: Database;
  events?: DomainEventBus;
  workspaceId: string;
  conversationId: string;
  name: string;
}) {
  const { db, workspaceId } = params;
  const { user } = await upsertUser({
    db,
    ...(params.events ? { events: params.events } : {}),
    workspaceId,
    externalId: `demo:${randomToken(12)}`,
    fields: { name: params.name },
  });
  const { json: conversation } = await addParticipants({
    db,
    ...(params.events ? { events: params.events } : {}),
    workspaceId,
    conversationId: params.conversationId,
    participants: [{ user }],
  });
  const { token, session } = await createWidgetSession({ db, workspaceId, chatUserId: user.id, expiresInS: DEMO_SESSION_TTL_S });
  return { user, conversation, token, session };
}
