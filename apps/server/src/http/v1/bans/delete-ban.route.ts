import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { getUserByExternalId, unbanUser } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { noBodySchema, noQuerySchema, userParamsSchema } from '../shared/common.schema.ts';
import { actorOf } from '../shared/route-context.ts';

export function registerDeleteBanRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().delete('/bans/:external_id', {
    schema: {
      tags: ['bans'],
      summary: "Lift a user's active ban (idempotent: `lifted` is 0 when there was none)",
      security: [{ apiKey: [] }],
      body: noBodySchema,
      querystring: noQuerySchema,
      params: userParamsSchema,
      response: { 200: z.object({ lifted: z.number().int() }) },
    },
    handler: async (request) => {
      const { workspaceId } = apiKeyOf(request);
      const db = app.deps.database.db;
      const user = await getUserByExternalId({ db, workspaceId, externalId: request.params.external_id });
      return { lifted: await unbanUser({ db, workspaceId, user, actor: actorOf(request) }) };
    },
  });
}
