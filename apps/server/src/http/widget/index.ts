import type { FastifyInstance } from 'fastify';
import fastifyMultipart from '@fastify/multipart';
import { MAX_ATTACHMENT_BYTES_CEILING } from '@reusable-chat/core';
import { SharpMediaInspector } from '@reusable-chat/drivers';
import { registerWidgetAuth } from '../plugins/widget-auth.ts';
import { registerGetAttachmentRoute } from './attachments/get-attachment.route.ts';
import { registerUploadAttachmentRoute } from './attachments/upload-attachment.route.ts';
import { registerCreateConversationRoute } from './conversations/create-conversation.route.ts';
import { registerGetConversationRoute } from './conversations/get-conversation.route.ts';
import { registerLeaveConversationRoute } from './conversations/leave-conversation.route.ts';
import { registerListConversationsRoute } from './conversations/list-conversations.route.ts';
import { registerMeRoute } from './me.route.ts';
import { registerCreateMessageRoute } from './messages/create-message.route.ts';
import { registerDeleteMessageRoute } from './messages/delete-message.route.ts';
import { registerEditMessageRoute } from './messages/edit-message.route.ts';
import { registerListMessagesRoute } from './messages/list-messages.route.ts';
import { registerBlockUserRoute } from './moderation/block-user.route.ts';
import { registerListBlocksRoute } from './moderation/list-blocks.route.ts';
import { registerReportMessageRoute } from './moderation/report-message.route.ts';
import { registerUnblockUserRoute } from './moderation/unblock-user.route.ts';
import { registerAddReactionRoute } from './reactions/add-reaction.route.ts';
import { registerRemoveReactionRoute } from './reactions/remove-reaction.route.ts';
import { registerMarkReadRoute } from './receipts/mark-read.route.ts';
import { registerTypingRoute } from './receipts/typing.route.ts';
import { registerSearchMessagesRoute } from './search-messages.route.ts';

/**
 * Widget API (SPEC §4): `Authorization: Bearer <session token>` on every route of this scope; CORS is the
 * root hook of plugins/widget-cors.ts (it also covers the realtime module's /api/widget/broadcasting/*).
 */
export async function registerWidgetRoutes(app: FastifyInstance): Promise<void> {
  // JSON and multipart only: a text/plain body is a wrong content type (415), not a string to validate (V-06).
  app.removeContentTypeParser('text/plain');
  registerWidgetAuth(app);
  const media = new SharpMediaInspector();

  registerMeRoute(app);
  registerListConversationsRoute(app);
  registerCreateConversationRoute(app);
  registerGetConversationRoute(app);
  registerLeaveConversationRoute(app);
  registerListMessagesRoute(app);
  registerCreateMessageRoute(app);
  registerEditMessageRoute(app);
  registerDeleteMessageRoute(app);
  registerAddReactionRoute(app);
  registerRemoveReactionRoute(app);
  registerMarkReadRoute(app);
  registerTypingRoute(app);
  registerReportMessageRoute(app);
  registerBlockUserRoute(app);
  registerUnblockUserRoute(app);
  registerListBlocksRoute(app);
  registerSearchMessagesRoute(app);
  registerGetAttachmentRoute(app);
  // Multipart only for the upload route, in its own scope (after the auth hook, which it inherits): the plugin
  // hooks every request of its scope (a close listener on request, a cleanup on response), and no other route
  // takes a multipart body — a multipart body sent elsewhere is a wrong content type (415). The per-file limit
  // is tightened per request to the conversation's policy; these are the outer bounds (U-05).
  await app.register(async (uploads) => {
    await uploads.register(fastifyMultipart, {
      limits: { fileSize: MAX_ATTACHMENT_BYTES_CEILING, files: 1, fields: 0, parts: 1, headerPairs: 50 },
    });
    registerUploadAttachmentRoute(uploads, media);
  });
}
