import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { getUserByExternalId, listBans } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { cursorSchema, externalIdSchema, limitSchema, listResponse } from '../shared/common.schema.ts';
import { banJsonSchema } from './create-ban.route.ts';

const querySchema = z
  .object({
    limit: limitSchema,
    cursor: cursorSchema.optional(),
    user: externalIdSchema.optional(),
    include_inactive: z.enum(['true', 'false']).optional().describe('Also lifted and expired bans'),
  })
  .strict();

export function registerListBansRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().get('/bans', {
    schema: {
      tags: ['bans'],
      summary: 'List bans, newest first (active ones unless include_inactive=true)',
      security: [{ apiKey: [] }],
      querystring: querySchema,
      response: { 200: listResponse(banJsonSchema) },
    },
    handler: async (request) => {
      const { workspaceId } = apiKeyOf(request);
      const db = app.deps.database.db;
      const q = request.query;
      const chatUserId = q.user ? (await getUserByExternalId({ db, workspaceId, externalId: q.user })).id : undefined;
      const page = await listBans({
        db,
        workspaceId,
        cursorSecret: app.deps.appSecret,
        limit: q.limit,
        ...(q.cursor ? { cursor: q.cursor } : {}),
        activeOnly: q.include_inactive !== 'true',
        ...(chatUserId ? { chatUserId } : {}),
      });
      return { data: page.data as never[], next_cursor: page.nextCursor };
    },
  });
}
