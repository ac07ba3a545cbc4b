import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { exportUser, getUserByExternalId } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { noQuerySchema, userParamsSchema } from '../shared/common.schema.ts';
import { actorOf } from '../shared/route-context.ts';

export function registerExportUserRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().get('/users/:external_id/export', {
    schema: {
      tags: ['users'],
      summary: 'Export everything stored about a user (GDPR Art. 20) as JSON',
      security: [{ apiKey: [] }],
      querystring: noQuerySchema,
      params: userParamsSchema,
      response: {
        200: z.looseObject({
          exported_at: z.string(),
          user: z.record(z.string(), z.unknown()),
          conversations: z.array(z.record(z.string(), z.unknown())),
          messages: z.array(z.record(z.string(), z.unknown())),
          attachments: z.array(z.record(z.string(), z.unknown())),
          bans: z.array(z.record(z.string(), z.unknown())),
        }),
      },
    },
    handler: async (request, reply) => {
      const auth = apiKeyOf(request);
      const { db } = app.deps.database;
      const user = await getUserByExternalId({ db, workspaceId: auth.workspaceId, externalId: request.params.external_id });
      const data = await exportUser({ db, workspaceId: auth.workspaceId, user, actor: actorOf(request), ip: request.ip });
      reply.header('cache-control', 'no-store');
      return data as never;
    },
  });
}
