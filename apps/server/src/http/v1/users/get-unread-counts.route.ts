import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { getUnreadCounts, getUserByExternalId } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { noQuerySchema, userParamsSchema } from '../shared/common.schema.ts';

export function registerGetUnreadCountsRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().get('/users/:external_id/unread', {
    schema: {
      tags: ['users'],
      summary: "A user's unread message counts, total and per conversation",
      security: [{ apiKey: [] }],
      querystring: noQuerySchema,
      params: userParamsSchema,
      response: {
        200: z.object({
          total: z.number().int(),
          conversations: z.array(z.object({ conversation_id: z.string(), unread_count: z.number().int(), last_read_seq: z.number().int() })),
        }),
      },
    },
    handler: async (request) => {
      const { workspaceId } = apiKeyOf(request);
      const { db } = app.deps.database;
      const user = await getUserByExternalId({ db, workspaceId, externalId: request.params.external_id });
      return getUnreadCounts({ db, workspaceId, chatUserId: user.id });
    },
  });
}
