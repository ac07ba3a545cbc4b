import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DEFAULT_SECRET_OVERLAP_S, rotateWebhookSecret } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { noQuerySchema } from '../shared/common.schema.ts';
import { endpointParamsSchema, webhookEndpointWithSecretSchema, webhookRouteSecurity, webhookTags } from './webhooks.schema.ts';

export const rotateWebhookSecretBodySchema = z
  .object({
    overlap_seconds: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 3600)
      .optional()
      .describe(`How long the previous secret keeps signing too (default ${DEFAULT_SECRET_OVERLAP_S}); 0 retires it at once.`),
  })
  .strict();

export function registerRotateWebhookSecretRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().post('/webhooks/:id/rotate-secret', {
    schema: {
      tags: webhookTags,
      summary: 'Rotate the signing secret; both signatures are sent during the overlap window',
      security: webhookRouteSecurity,
      querystring: noQuerySchema,
      params: endpointParamsSchema,
      body: rotateWebhookSecretBodySchema.optional(),
      response: { 200: webhookEndpointWithSecretSchema },
    },
    handler: async (request, reply) => {
      const { endpoint, secret } = await rotateWebhookSecret({
        db: app.deps.database.db,
        workspaceId: apiKeyOf(request).workspaceId,
        endpointId: request.params.id,
        overlapS: request.body?.overlap_seconds,
        now: app.deps.clock.now(),
      });
      reply.header('cache-control', 'no-store');
      return { ...endpoint, secret };
    },
  });
}
