import type { FastifyInstance } from 'fastify';
import { AppError } from '@reusable-chat/core';
import { checkOutboundUrl } from '@reusable-chat/drivers';

/**
 * Early 422 for targets the worker would refuse anyway (checklist O-01, O-04): non-http(s), credentials in the
 * URL, and literal private/loopback/link-local addresses unless WEBHOOKS_ALLOW_PRIVATE=true. Hostnames are
 * checked again at connect time by the worker's HTTP client; this is feedback, not the boundary.
 */
export function assertWebhookUrlAllowed(app: FastifyInstance, url: string): void {
  const problem = checkOutboundUrl(url, { allowPrivate: app.deps.config.webhooksAllowPrivate });
  if (problem) {
    throw new AppError('validation_failed', 'This webhook URL is not allowed.', { field: 'url', reason: problem });
  }
}
