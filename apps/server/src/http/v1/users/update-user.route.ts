import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { toUserJson, updateUser } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { noQuerySchema, userJsonSchema, userParamsSchema } from '../shared/common.schema.ts';
import { toUserFields, updateUserBodySchema } from './users.schema.ts';

export function registerUpdateUserRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().patch('/users/:external_id', {
    schema: {
      tags: ['users'],
      summary: 'Update a user (fields left out are kept; null clears)',
      security: [{ apiKey: [] }],
      querystring: noQuerySchema,
      params: userParamsSchema,
      body: updateUserBodySchema,
      response: { 200: userJsonSchema },
    },
    handler: async (request) => {
      const user = await updateUser({
        db: app.deps.database.db,
        events: app.deps.events,
        workspaceId: apiKeyOf(request).workspaceId,
        externalId: request.params.external_id,
        fields: toUserFields(request.body),
      });
      return toUserJson(user) as never;
    },
  });
}
