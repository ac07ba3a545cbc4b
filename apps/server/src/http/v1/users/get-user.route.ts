import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { getUserByExternalId, toUserJson } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { noQuerySchema, userJsonSchema, userParamsSchema } from '../shared/common.schema.ts';

export function registerGetUserRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().get('/users/:external_id', {
    schema: {
      tags: ['users'],
      summary: 'Get a user by external_id',
      security: [{ apiKey: [] }],
      querystring: noQuerySchema,
      params: userParamsSchema,
      response: { 200: userJsonSchema },
    },
    handler: async (request) => {
      const user = await getUserByExternalId({
        db: app.deps.database.db,
        workspaceId: apiKeyOf(request).workspaceId,
        externalId: request.params.external_id,
      });
      return toUserJson(user) as never;
    },
  });
}
