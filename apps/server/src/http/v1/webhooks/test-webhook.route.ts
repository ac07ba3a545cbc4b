import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { sendWebhookPing } from '@reusable-chat/core';
import { SafeHttpClient } from '@reusable-chat/drivers';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { noQuerySchema, noBodySchema } from '../shared/common.schema.ts';
import { endpointParamsSchema, webhookRouteSecurity, webhookTags } from './webhooks.schema.ts';

/** A ping waits at most this long: the caller is an HTTP request. */
const PING_TIMEOUT_MS = 5_000;

export function registerTestWebhookRoute(app: FastifyInstance): void {
  const http = new SafeHttpClient({ allowPrivate: app.deps.config.webhooksAllowPrivate, defaultTimeoutMs: PING_TIMEOUT_MS });
  app.withTypeProvider<ZodTypeProvider>().post('/webhooks/:id/test', {
    schema: {
      tags: webhookTags,
      summary: 'Send a signed `webhook.test` event now; answers only the status and latency',
      security: webhookRouteSecurity,
      querystring: noQuerySchema,
      body: noBodySchema,
      params: endpointParamsSchema,
      response: {
        // Never the target's response body or headers (checklist O-05: no full-read SSRF through this route).
        200: z.object({
          ok: z.boolean(),
          status: z.number().int().nullable(),
          latency_ms: z.number().int(),
          error: z.string().nullable(),
        }),
      },
    },
    handler: async (request) =>
      sendWebhookPing({
        db: app.deps.database.db,
        http,
        workspaceId: apiKeyOf(request).workspaceId,
        endpointId: request.params.id,
        eventId: `evt_test_${randomUUID().replaceAll('-', '')}`,
        now: app.deps.clock.now(),
        timeoutMs: PING_TIMEOUT_MS,
      }),
  });
}
