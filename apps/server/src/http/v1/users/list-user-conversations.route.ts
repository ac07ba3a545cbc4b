import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { getUserByExternalId, listConversations } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { conversationJsonSchema, cursorSchema, limitSchema, listResponse, userParamsSchema } from '../shared/common.schema.ts';

export function registerListUserConversationsRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().get('/users/:external_id/conversations', {
    schema: {
      tags: ['users', 'conversations'],
      summary: "A user's conversations, newest first, each with the user's unread_count",
      security: [{ apiKey: [] }],
      params: userParamsSchema,
      querystring: z.object({ limit: limitSchema, cursor: cursorSchema.optional() }).strict(),
      response: { 200: listResponse(conversationJsonSchema) },
    },
    handler: async (request) => {
      const { workspaceId } = apiKeyOf(request);
      const { db } = app.deps.database;
      const user = await getUserByExternalId({ db, workspaceId, externalId: request.params.external_id });
      const page = await listConversations({
        db,
        workspaceId,
        cursorSecret: app.deps.appSecret,
        limit: request.query.limit,
        ...(request.query.cursor ? { cursor: request.query.cursor } : {}),
        chatUserId: user.id,
      });
      return { data: page.data as never[], next_cursor: page.nextCursor };
    },
  });
}
