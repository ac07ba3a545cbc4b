import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { joinDemoRoom, notFound, toUserJson } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { conversationJsonSchema, conversationParamsSchema, displayNameSchema, noQuerySchema, userJsonSchema } from '../shared/common.schema.ts';
import { conversationForKey } from '../shared/route-context.ts';

/** Demo visitors are throwaway users: a short session is enough for a demo and limits what a leak can do. */

export function registerJoinDemoRoomRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().post('/demo/rooms/:id/join', {
    schema: {
      tags: ['demo'],
      summary: 'Join a demo room with a display name: creates a throwaway user, adds them, returns a session token',
      security: [{ apiKey: [] }],
      querystring: noQuerySchema,
      params: conversationParamsSchema,
      body: z.object({ name: displayNameSchema.pipe(z.string().min(1)) }).strict(),
      response: {
        201: z.object({ token: z.string(), expires_at: z.string(), user: userJsonSchema, conversation: conversationJsonSchema }),
      },
    },
    config: { demoScope: true },
    handler: async (request, reply) => {
      const { workspaceId } = apiKeyOf(request);
      // Demo rooms only, whatever the key's scope: this route never joins anyone to a real conversation.
      const conversation = await conversationForKey(app, request, request.params.id);
      if (conversation.type !== 'demo') throw notFound('Conversation');
      const { user, conversation: json, token, session } = await joinDemoRoom({
        db: app.deps.database.db,
        events: app.deps.events,
        workspaceId,
        conversationId: conversation.id,
        name: request.body.name,
      });
      reply.header('cache-control', 'no-store');
      return reply.code(201).send({ token, expires_at: session.expiresAt.toISOString(), user: toUserJson(user) as never, conversation: json as never });
    },
  });
}
