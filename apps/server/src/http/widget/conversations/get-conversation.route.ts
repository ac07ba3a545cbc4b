import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { getWidgetConversation } from '@reusable-chat/core';
import { attachmentSerializer, blockedBy, participantContext } from '../shared/route-context.ts';
import { conversationJsonSchema, conversationParams } from '../shared/widget.schema.ts';

export function registerGetConversationRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().get('/conversations/:id', {
    schema: {
      tags: ['widget'],
      summary: 'One of the user\'s conversations',
      security: [{ widgetSession: [] }],
      params: conversationParams,
      response: { 200: conversationJsonSchema },
    },
    handler: async (request) => {
      const { auth, conversation } = await participantContext(app, request, request.params.id);
      const json = await getWidgetConversation({
        db: app.deps.database.db,
        workspaceId: auth.workspace.id,
        chatUserId: auth.user.id,
        conversation,
        blocked: await blockedBy(app, auth),
        serializeAttachment: attachmentSerializer(app),
      });
      return json as never;
    },
  });
}
