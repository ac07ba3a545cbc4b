import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, escapeHtml, unsubscribeFromEmails, verifyUnsubscribeToken } from '@reusable-chat/core';

const querySchema = z.object({ token: z.string().min(1).max(512) }).strict();

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${escapeHtml(title)}</title></head><body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

/**
 * The unsubscribe link of notification emails. GET only shows a confirmation form — mail scanners prefetch
 * links, so a GET must not change anything; POST unsubscribes (the form, and RFC 8058 one-click from the
 * List-Unsubscribe-Post header). The token is MACed (core/notifications/unsubscribe.ts) and redacted from logs.
 */
export function registerUnsubscribeRoutes(app: FastifyInstance): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const headers = { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'none'; form-action 'self'", 'cache-control': 'no-store' };

  r.get('/api/notifications/unsubscribe', {
    schema: { tags: ['notifications'], summary: 'Confirmation page of an email unsubscribe link', querystring: querySchema, hide: true },
    handler: async (request, reply) => {
      if (!verifyUnsubscribeToken({ secret: app.deps.appSecret, token: request.query.token })) throw new AppError('not_found');
      const action = `/api/notifications/unsubscribe?token=${encodeURIComponent(request.query.token)}`;
      return reply
        .headers(headers)
        .send(page('Unsubscribe', `<p>Stop emails about messages you missed?</p><form method="post" action="${escapeHtml(action)}"><button type="submit">Unsubscribe</button></form>`));
    },
  });

  r.post('/api/notifications/unsubscribe', {
    schema: { tags: ['notifications'], summary: 'Unsubscribe from notification emails (RFC 8058 one-click)', querystring: querySchema, hide: true },
    handler: async (request, reply) => {
      const ok = await unsubscribeFromEmails({ db: app.deps.database.db, secret: app.deps.appSecret, token: request.query.token, now: app.deps.clock.now() });
      if (!ok) throw new AppError('not_found');
      return reply.headers(headers).send(page('Unsubscribed', '<p>You will not get these emails any more.</p>'));
    },
  });
}
