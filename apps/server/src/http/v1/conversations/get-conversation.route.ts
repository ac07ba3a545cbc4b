import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { serializeConversation } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { conversationJsonSchema, conversationParamsSchema, noQuerySchema } from '../shared/common.schema.ts';
import { conversationForKey } from '../shared/route-context.ts';

export function registerGetConversationRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().get('/conversations/:id', {
    schema: {
      tags: ['conversations'],
      summary: 'Get a conversation with its participants',
      security: [{ apiKey: [] }],
      querystring: noQuerySchema,
      params: conversationParamsSchema,
      response: { 200: conversationJsonSchema },
    },
    config: { demoScope: true },
    handler: async (request) => {
      const conversation = await conversationForKey(app, request, request.params.id);
      return (await serializeConversation(app.deps.database.db, apiKeyOf(request).workspaceId, conversation)) as never;
    },
  });
}
