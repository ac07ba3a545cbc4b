import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { removeParticipant } from '@reusable-chat/core';
import { participantContext } from '../shared/route-context.ts';
import { conversationParams, okResponse } from '../shared/widget.schema.ts';

export function registerLeaveConversationRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().post('/conversations/:id/leave', {
    schema: {
      tags: ['widget'],
      summary: 'Leave a conversation (no more messages or events from it)',
      security: [{ widgetSession: [] }],
      params: conversationParams,
      response: { 200: okResponse },
    },
    handler: async (request) => {
      const { auth, conversation } = await participantContext(app, request, request.params.id);
      await removeParticipant({
        db: app.deps.database.db,
        events: app.deps.events,
        workspaceId: auth.workspace.id,
        conversationId: conversation.id,
        user: auth.user,
      });
      return { ok: true as const };
    },
  });
}
