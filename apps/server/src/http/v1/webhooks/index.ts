import type { FastifyInstance } from 'fastify';
import { registerCreateWebhookRoute } from './create-webhook.route.ts';
import { registerDeleteWebhookRoute } from './delete-webhook.route.ts';
import { registerGetWebhookRoute } from './get-webhook.route.ts';
import { registerListWebhookDeliveriesRoute } from './list-webhook-deliveries.route.ts';
import { registerListWebhooksRoute } from './list-webhooks.route.ts';
import { registerReplayWebhookDeliveryRoute } from './replay-webhook-delivery.route.ts';
import { registerRotateWebhookSecretRoute } from './rotate-webhook-secret.route.ts';
import { registerTestWebhookRoute } from './test-webhook.route.ts';
import { registerUpdateWebhookRoute } from './update-webhook.route.ts';

/**
 * Webhook endpoints of the consumer API (SPEC §4): `/api/v1/webhooks…`. Called inside the /api/v1 plugin, after
 * its API-key hook: every route here needs a full-scope key (none is marked demoScope, so demo keys get 403 —
 * a demo key must not point the platform's outbound traffic anywhere).
 */
export function registerWebhookRoutes(app: FastifyInstance): void {
  registerCreateWebhookRoute(app);
  registerListWebhooksRoute(app);
  registerGetWebhookRoute(app);
  registerUpdateWebhookRoute(app);
  registerDeleteWebhookRoute(app);
  registerRotateWebhookSecretRoute(app);
  registerListWebhookDeliveriesRoute(app);
  registerReplayWebhookDeliveryRoute(app);
  registerTestWebhookRoute(app);
}
