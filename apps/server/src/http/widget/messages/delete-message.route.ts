import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { deleteOwnMessage } from '@reusable-chat/core';
import { participantContext, policiesOf } from '../shared/route-context.ts';
import { messageJsonSchema, messageParams } from '../shared/widget.schema.ts';

export function registerDeleteMessageRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().delete('/conversations/:id/messages/:messageId', {
    schema: {
      tags: ['widget'],
      summary: 'Delete one\'s own message within the configuration\'s edit window (seq is kept)',
      security: [{ widgetSession: [] }],
      params: messageParams,
      response: { 200: messageJsonSchema },
    },
    handler: async (request) => {
      const { auth, conversation, widgetConfig } = await participantContext(app, request, request.params.id);
      const json = await deleteOwnMessage({
        db: app.deps.database.db,
        events: app.deps.events,
        workspaceId: auth.workspace.id,
        conversationId: conversation.id,
        messageId: request.params.messageId,
        chatUserId: auth.user.id,
        windowS: policiesOf(widgetConfig).delete_window_s,
        now: app.deps.clock.now(),
      });
      return json as never;
    },
  });
}
