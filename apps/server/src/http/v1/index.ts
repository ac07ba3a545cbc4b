import type { FastifyInstance } from 'fastify';
import { registerApiKeyAuth } from '../plugins/api-key-auth.ts';
import { registerCreateBanRoute } from './bans/create-ban.route.ts';
import { registerDeleteBanRoute } from './bans/delete-ban.route.ts';
import { registerListBansRoute } from './bans/list-bans.route.ts';
import { registerAddParticipantsRoute } from './conversations/add-participants.route.ts';
import { registerCreateConversationRoute } from './conversations/create-conversation.route.ts';
import { registerGetConversationRoute } from './conversations/get-conversation.route.ts';
import { registerListConversationsRoute } from './conversations/list-conversations.route.ts';
import { registerRemoveParticipantRoute } from './conversations/remove-participant.route.ts';
import { registerUpdateConversationRoute } from './conversations/update-conversation.route.ts';
import { registerCreateDemoRoomRoute } from './demo/create-demo-room.route.ts';
import { registerJoinDemoRoomRoute } from './demo/join-demo-room.route.ts';
import { registerExportConversationsRoute } from './exports/export-conversations.route.ts';
import { registerExportJobRoutes } from './exports/export-jobs.route.ts';
import { registerExportMessagesRoute } from './exports/export-messages.route.ts';
import { registerCreateMessageRoute } from './messages/create-message.route.ts';
import { registerListMessagesRoute } from './messages/list-messages.route.ts';
import { registerCreateSessionRoute } from './sessions/create-session.route.ts';
import { registerRevokeSessionRoute } from './sessions/revoke-session.route.ts';
import { registerIdempotency } from './shared/idempotency.ts';
import { registerEraseUserRoute } from './users/erase-user.route.ts';
import { registerExportUserRoute } from './users/export-user.route.ts';
import { registerGetUnreadCountsRoute } from './users/get-unread-counts.route.ts';
import { registerGetUserRoute } from './users/get-user.route.ts';
import { registerListUserConversationsRoute } from './users/list-user-conversations.route.ts';
import { registerRevokeUserSessionsRoute } from './users/revoke-user-sessions.route.ts';
import { registerUpdateUserRoute } from './users/update-user.route.ts';
import { registerUpsertUserRoute } from './users/upsert-user.route.ts';
import { registerWebhookRoutes } from './webhooks/index.ts';

/**
 * Consumer API (SPEC §4): server-to-server, `X-API-Key`, no browser CORS. Authentication, scope, rate
 * limit and Idempotency-Key are hooks of this encapsulated plugin, so they cover every route below and
 * nothing outside /api/v1. Webhook endpoint routes are registered by their own module.
 *
 * Demo scope: a `demo` key may call only routes with `config.demoScope` — POST /demo/rooms,
 * POST /demo/rooms/{id}/join, GET /conversations/{id}, GET and POST /conversations/{id}/messages — and
 * those resolve only conversations of type `demo` (others are 404). Everything else is 403 forbidden.
 */
export async function registerV1Routes(app: FastifyInstance): Promise<void> {
  registerApiKeyAuth(app);
  registerIdempotency(app);

  registerUpsertUserRoute(app);
  registerGetUserRoute(app);
  registerUpdateUserRoute(app);
  registerEraseUserRoute(app);
  registerExportUserRoute(app);
  registerGetUnreadCountsRoute(app);
  registerListUserConversationsRoute(app);
  registerRevokeUserSessionsRoute(app);

  registerCreateSessionRoute(app);
  registerRevokeSessionRoute(app);

  registerCreateConversationRoute(app);
  registerListConversationsRoute(app);
  registerGetConversationRoute(app);
  registerUpdateConversationRoute(app);
  registerAddParticipantsRoute(app);
  registerRemoveParticipantRoute(app);

  registerCreateMessageRoute(app);
  registerListMessagesRoute(app);

  registerCreateBanRoute(app);
  registerDeleteBanRoute(app);
  registerListBansRoute(app);

  registerCreateDemoRoomRoute(app);
  registerJoinDemoRoomRoute(app);

  registerExportConversationsRoute(app);
  registerExportMessagesRoute(app);
  registerExportJobRoutes(app);

  registerWebhookRoutes(app);
}
