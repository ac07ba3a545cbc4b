import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listWebhookEndpoints } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { noQuerySchema } from '../shared/common.schema.ts';
import { webhookEndpointSchema, webhookRouteSecurity, webhookTags } from './webhooks.schema.ts';

export function registerListWebhooksRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().get('/webhooks', {
    schema: {
      tags: webhookTags,
      summary: 'List webhook endpoints (never their secrets)',
      security: webhookRouteSecurity,
      querystring: noQuerySchema,
      // At most MAX_WEBHOOK_ENDPOINTS_PER_WORKSPACE rows: one page, next_cursor is always null.
      response: { 200: z.object({ data: z.array(webhookEndpointSchema), next_cursor: z.null() }) },
    },
    handler: async (request) => {
      const data = await listWebhookEndpoints({ db: app.deps.database.db, workspaceId: apiKeyOf(request).workspaceId });
      return { data, next_cursor: null };
    },
  });
}
