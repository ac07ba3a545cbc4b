import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { createConversation } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { conversationJsonSchema, noQuerySchema, shortTextSchema } from '../shared/common.schema.ts';

export function registerCreateDemoRoomRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().post('/demo/rooms', {
    schema: {
      tags: ['demo'],
      summary: 'Create a demo room (a conversation of type demo); works with a demo-scoped key',
      security: [{ apiKey: [] }],
      querystring: noQuerySchema,
      body: z.object({ name: shortTextSchema.max(100).optional() }).strict().nullish(),
      response: { 201: conversationJsonSchema },
    },
    config: { demoScope: true },
    handler: async (request, reply) => {
      const { json } = await createConversation({
        db: app.deps.database.db,
        events: app.deps.events,
        workspaceId: apiKeyOf(request).workspaceId,
        type: 'demo',
        participants: [],
        name: request.body?.name ?? 'Demo room',
      });
      return reply.code(201).send(json as never);
    },
  });
}
