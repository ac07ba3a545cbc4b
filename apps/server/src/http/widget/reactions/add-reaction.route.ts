import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { addReaction, requireMessageInConversation } from '@reusable-chat/core';
import { participantContext } from '../shared/route-context.ts';
import { anyObject, emojiSchema, messageParams } from '../shared/widget.schema.ts';

export function registerAddReactionRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().post('/conversations/:id/messages/:messageId/reactions', {
    schema: {
      tags: ['widget'],
      summary: 'React to a message (201; 200 when the same reaction already exists)',
      security: [{ widgetSession: [] }],
      params: messageParams,
      body: z.object({ emoji: emojiSchema }).strict(),
      response: { 200: anyObject, 201: anyObject },
    },
    handler: async (request, reply) => {
      const { auth, conversation } = await participantContext(app, request, request.params.id);
      const db = app.deps.database.db;
      const message = await requireMessageInConversation({
        db,
        workspaceId: auth.workspace.id,
        conversationId: conversation.id,
        messageId: request.params.messageId,
      });
      const result = await addReaction({
        db,
        events: app.deps.events,
        workspaceId: auth.workspace.id,
        conversationId: conversation.id,
        message,
        chatUserId: auth.user.id,
        emoji: request.body.emoji,
      });
      return reply.code(result.created ? 201 : 200).send(result.reaction);
    },
  });
}
