import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { replayWebhookDelivery } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { noQuerySchema, noBodySchema } from '../shared/common.schema.ts';
import { deliveryParamsSchema, webhookDeliverySchema, webhookRouteSecurity, webhookTags } from './webhooks.schema.ts';

export function registerReplayWebhookDeliveryRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().post('/webhooks/:id/deliveries/:delivery_id/replay', {
    schema: {
      tags: webhookTags,
      summary: 'Send a delivery again (same webhook-id, fresh timestamp and signature)',
      security: webhookRouteSecurity,
      querystring: noQuerySchema,
      body: noBodySchema,
      params: deliveryParamsSchema,
      response: { 202: webhookDeliverySchema },
    },
    handler: async (request, reply) => {
      const delivery = await replayWebhookDelivery({
        db: app.deps.database.db,
        queue: app.deps.queue,
        workspaceId: apiKeyOf(request).workspaceId,
        endpointId: request.params.id,
        deliveryId: request.params.delivery_id,
        now: app.deps.clock.now(),
      });
      return reply.code(202).send(delivery);
    },
  });
}
