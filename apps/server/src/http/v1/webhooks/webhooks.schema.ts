import { z } from 'zod';
import { WEBHOOK_EVENT_TYPES } from '@reusable-chat/core';

export const webhookEventTypeSchema = z.enum(WEBHOOK_EVENT_TYPES);

/** Target URL: http(s) only, bounded; private addresses are checked by the route against WEBHOOKS_ALLOW_PRIVATE. */
export const webhookUrlSchema = z.url({ protocol: /^https?$/ }).max(2048);

export const webhookEndpointSchema = z.object({
  id: z.uuid(),
  url: z.string(),
  events: z.array(z.string()),
  enabled: z.boolean(),
  disabled_at: z.string().nullable(),
  consecutive_failures: z.number().int(),
  previous_secret_expires_at: z.string().nullable().describe('While set, deliveries carry a second signature made with the previous secret.'),
  created_at: z.string(),
});

/** The endpoint plus its signing secret: answered only on create and on rotation. */
export const webhookEndpointWithSecretSchema = webhookEndpointSchema.extend({
  secret: z.string().describe('`whsec_…` signing secret (Standard Webhooks). Shown once; store it now.'),
});

export const webhookDeliverySchema = z.object({
  id: z.uuid(),
  endpoint_id: z.uuid(),
  event_id: z.string().describe('The `webhook-id` header: the same on every attempt and replay.'),
  event_type: z.string(),
  status: z.enum(['pending', 'succeeded', 'failed', 'dead']),
  attempts: z.number().int(),
  response_status: z.number().int().nullable(),
  latency_ms: z.number().int().nullable(),
  last_error: z.string().nullable(),
  next_attempt_at: z.string().nullable(),
  delivered_at: z.string().nullable(),
  created_at: z.string(),
});

export const endpointParamsSchema = z.object({ id: z.uuid() });
export const deliveryParamsSchema = z.object({ id: z.uuid(), delivery_id: z.uuid() });

export const webhookRouteSecurity = [{ apiKey: [] }];
export const webhookTags = ['webhooks'];
