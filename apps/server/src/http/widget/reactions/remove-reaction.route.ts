import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { removeReaction, requireMessageInConversation } from '@reusable-chat/core';
import { participantContext } from '../shared/route-context.ts';
import { emojiSchema, idParamSchema, okResponse } from '../shared/widget.schema.ts';

const params = z.object({ id: idParamSchema, messageId: idParamSchema, emoji: emojiSchema }).strict();

export function registerRemoveReactionRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().delete('/conversations/:id/messages/:messageId/reactions/:emoji', {
    schema: {
      tags: ['widget'],
      summary: 'Remove one\'s own reaction (emoji URL-encoded in the path)',
      security: [{ widgetSession: [] }],
      params,
      response: { 200: okResponse },
    },
    handler: async (request) => {
      const { auth, conversation } = await participantContext(app, request, request.params.id);
      const db = app.deps.database.db;
      await requireMessageInConversation({ db, workspaceId: auth.workspace.id, conversationId: conversation.id, messageId: request.params.messageId });
      await removeReaction({
        db,
        events: app.deps.events,
        workspaceId: auth.workspace.id,
        conversationId: conversation.id,
        messageId: request.params.messageId,
        chatUserId: auth.user.id,
        emoji: request.params.emoji,
      });
      return { ok: true as const };
    },
  });
}
