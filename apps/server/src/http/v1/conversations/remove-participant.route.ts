import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { getConversation, getUserByExternalId, removeParticipant } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { externalIdSchema, idParamSchema, noBodySchema, noQuerySchema } from '../shared/common.schema.ts';

export function registerRemoveParticipantRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().delete('/conversations/:id/participants/:external_id', {
    schema: {
      tags: ['conversations'],
      summary: 'Remove a participant (history stays; they stop receiving the conversation)',
      security: [{ apiKey: [] }],
      body: noBodySchema,
      querystring: noQuerySchema,
      params: z.object({ id: idParamSchema, external_id: externalIdSchema }).strict(),
      response: { 204: z.null().describe('Removed') },
    },
    handler: async (request, reply) => {
      const { workspaceId } = apiKeyOf(request);
      const db = app.deps.database.db;
      await getConversation({ db, workspaceId, conversationId: request.params.id });
      const user = await getUserByExternalId({ db, workspaceId, externalId: request.params.external_id });
      await removeParticipant({ db, events: app.deps.events, workspaceId, conversationId: request.params.id, user });
      return reply.code(204).send(null);
    },
  });
}
