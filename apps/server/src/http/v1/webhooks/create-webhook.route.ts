import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { createWebhookEndpoint } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { noQuerySchema } from '../shared/common.schema.ts';
import { assertWebhookUrlAllowed } from './webhook-url-policy.ts';
import { webhookEndpointWithSecretSchema, webhookEventTypeSchema, webhookRouteSecurity, webhookTags, webhookUrlSchema } from './webhooks.schema.ts';

export const createWebhookBodySchema = z
  .object({
    url: webhookUrlSchema,
    events: z.array(webhookEventTypeSchema).min(1).max(50),
  })
  .strict();

export function registerCreateWebhookRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().post('/webhooks', {
    schema: {
      tags: webhookTags,
      summary: 'Create a webhook endpoint; answers its signing secret once',
      security: webhookRouteSecurity,
      querystring: noQuerySchema,
      body: createWebhookBodySchema,
      response: { 201: webhookEndpointWithSecretSchema },
    },
    handler: async (request, reply) => {
      const workspaceId = apiKeyOf(request).workspaceId;
      assertWebhookUrlAllowed(app, request.body.url);
      const { endpoint, secret } = await createWebhookEndpoint({
        db: app.deps.database.db,
        workspaceId,
        url: request.body.url,
        events: request.body.events,
      });
      reply.header('cache-control', 'no-store');
      return reply.code(201).send({ ...endpoint, secret });
    },
  });
}
