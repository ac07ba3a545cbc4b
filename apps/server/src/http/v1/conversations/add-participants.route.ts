import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { addParticipants, getConversation } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { conversationJsonSchema, conversationParamsSchema, noQuerySchema } from '../shared/common.schema.ts';
import { usersByExternalIds } from '../shared/route-context.ts';
import { participantsSchema } from './conversations.schema.ts';

export function registerAddParticipantsRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().post('/conversations/:id/participants', {
    schema: {
      tags: ['conversations'],
      summary: 'Add participants (or change the role of present ones)',
      security: [{ apiKey: [] }],
      querystring: noQuerySchema,
      params: conversationParamsSchema,
      body: z.object({ participants: participantsSchema.min(1) }).strict(),
      response: { 200: conversationJsonSchema },
    },
    handler: async (request) => {
      const { workspaceId } = apiKeyOf(request);
      const db = app.deps.database.db;
      // The conversation is checked before the users, so another tenant's id is 404 whatever the body says.
      await getConversation({ db, workspaceId, conversationId: request.params.id });
      const users = await usersByExternalIds(app, workspaceId, request.body.participants.map((p) => p.external_id));
      const { json } = await addParticipants({
        db,
        events: app.deps.events,
        workspaceId,
        conversationId: request.params.id,
        participants: request.body.participants.map((p) => ({ user: users.get(p.external_id)!, ...(p.role ? { role: p.role } : {}) })),
      });
      return json as never;
    },
  });
}
