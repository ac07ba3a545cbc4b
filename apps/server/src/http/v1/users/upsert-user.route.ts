import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { toUserJson, upsertUser } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { noQuerySchema, userJsonSchema } from '../shared/common.schema.ts';
import { toUserFields, upsertUserBodySchema } from './users.schema.ts';

export function registerUpsertUserRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().post('/users', {
    schema: {
      tags: ['users'],
      summary: 'Create or update a user by external_id (201 created, 200 updated)',
      security: [{ apiKey: [] }],
      querystring: noQuerySchema,
      body: upsertUserBodySchema,
      response: { 200: userJsonSchema, 201: userJsonSchema },
    },
    handler: async (request, reply) => {
      const { workspaceId } = apiKeyOf(request);
      const { external_id, ...fields } = request.body;
      const { user, created } = await upsertUser({
        db: app.deps.database.db,
        events: app.deps.events,
        workspaceId,
        externalId: external_id,
        fields: toUserFields(fields),
      });
      return reply.code(created ? 201 : 200).send(toUserJson(user) as never);
    },
  });
}
