import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listWebhookDeliveries } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { endpointParamsSchema, webhookDeliverySchema, webhookRouteSecurity, webhookTags } from './webhooks.schema.ts';

export const listDeliveriesQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(100).default(50),
    cursor: z.string().max(1024).optional(),
  })
  .strict();

export function registerListWebhookDeliveriesRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().get('/webhooks/:id/deliveries', {
    schema: {
      tags: webhookTags,
      summary: 'Delivery log of an endpoint, newest first (status, attempts, response code, latency)',
      security: webhookRouteSecurity,
      params: endpointParamsSchema,
      querystring: listDeliveriesQuerySchema,
      response: { 200: z.object({ data: z.array(webhookDeliverySchema), next_cursor: z.string().nullable() }) },
    },
    handler: async (request) =>
      listWebhookDeliveries({
        db: app.deps.database.db,
        workspaceId: apiKeyOf(request).workspaceId,
        endpointId: request.params.id,
        limit: request.query.limit,
        cursor: request.query.cursor,
        cursorSecret: app.deps.appSecret,
      }),
  });
}
