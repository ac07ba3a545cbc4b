import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { updateWebhookEndpoint } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { noQuerySchema } from '../shared/common.schema.ts';
import { assertWebhookUrlAllowed } from './webhook-url-policy.ts';
import {
  endpointParamsSchema,
  webhookEndpointSchema,
  webhookEventTypeSchema,
  webhookRouteSecurity,
  webhookTags,
  webhookUrlSchema,
} from './webhooks.schema.ts';

export const updateWebhookBodySchema = z
  .object({
    url: webhookUrlSchema.optional(),
    events: z.array(webhookEventTypeSchema).min(1).max(50).optional(),
    enabled: z.boolean().optional().describe('`true` re-enables an endpoint the worker disabled after repeated failures.'),
  })
  .strict();

export function registerUpdateWebhookRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().patch('/webhooks/:id', {
    schema: {
      tags: webhookTags,
      summary: 'Change a webhook endpoint’s URL or events, or enable/disable it',
      security: webhookRouteSecurity,
      querystring: noQuerySchema,
      params: endpointParamsSchema,
      body: updateWebhookBodySchema,
      response: { 200: webhookEndpointSchema },
    },
    handler: async (request) => {
      if (request.body.url !== undefined) assertWebhookUrlAllowed(app, request.body.url);
      return updateWebhookEndpoint({
        db: app.deps.database.db,
        workspaceId: apiKeyOf(request).workspaceId,
        endpointId: request.params.id,
        ...request.body,
      });
    },
  });
}
