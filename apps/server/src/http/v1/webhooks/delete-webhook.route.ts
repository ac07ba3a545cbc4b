import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { deleteWebhookEndpoint } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { noQuerySchema, noBodySchema } from '../shared/common.schema.ts';
import { endpointParamsSchema, webhookRouteSecurity, webhookTags } from './webhooks.schema.ts';

export function registerDeleteWebhookRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().delete('/webhooks/:id', {
    schema: {
      tags: webhookTags,
      summary: 'Delete a webhook endpoint and its delivery log',
      security: webhookRouteSecurity,
      querystring: noQuerySchema,
      body: noBodySchema,
      params: endpointParamsSchema,
      response: { 204: z.null() },
    },
    handler: async (request, reply) => {
      await deleteWebhookEndpoint({ db: app.deps.database.db, workspaceId: apiKeyOf(request).workspaceId, endpointId: request.params.id });
      return reply.code(204).send(null);
    },
  });
}
