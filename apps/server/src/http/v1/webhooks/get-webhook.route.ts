import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { getWebhookEndpoint } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { noQuerySchema } from '../shared/common.schema.ts';
import { endpointParamsSchema, webhookEndpointSchema, webhookRouteSecurity, webhookTags } from './webhooks.schema.ts';

export function registerGetWebhookRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().get('/webhooks/:id', {
    schema: {
      tags: webhookTags,
      summary: 'Get a webhook endpoint',
      security: webhookRouteSecurity,
      querystring: noQuerySchema,
      params: endpointParamsSchema,
      response: { 200: webhookEndpointSchema },
    },
    handler: async (request) =>
      getWebhookEndpoint({ db: app.deps.database.db, workspaceId: apiKeyOf(request).workspaceId, endpointId: request.params.id }),
  });
}
