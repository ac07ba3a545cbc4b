import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isOriginKnown, normalizeOrigin } from '@reusable-chat/core';
import { appOrigin } from './widget-auth.ts';

const WIDGET_PREFIX = '/api/widget/';
const EMBED_PREFIX = '/api/embed/';
const ALLOW_METHODS = 'GET, POST, PUT, PATCH, DELETE';
const ALLOW_HEADERS = 'Authorization, Content-Type, Idempotency-Key, X-Socket-Id';
const PREFLIGHT_MAX_AGE_S = 600;
/** Preflights carry no credentials, so they are answered from "does any active key list this origin". */
const KNOWN_ORIGIN_CACHE_MS = 30_000;
const KNOWN_ORIGIN_CACHE_MAX = 10_000;

declare module 'fastify' {
  interface FastifyInstance {
    /** Every route under /api/widget and /api/embed, as registered (tests walk it: tenant isolation per route). */
    browserApiRoutes: { method: string; url: string }[];
  }
}

function isBrowserApi(url: string): boolean {
  return url.startsWith(WIDGET_PREFIX) || url.startsWith(EMBED_PREFIX);
}

/**
 * CORS for the browser-facing APIs (/api/widget/* including the realtime module's broadcasting routes, and
 * /api/embed/*), as one root hook so routes added later are covered too (C-05):
 * - `Access-Control-Allow-Origin` is the request's own origin, only when allowed; never `*`, and never with
 *   credentials (bearer tokens, no cookies); `Vary: Origin` always, so caches keep answers apart.
 * - Actual requests: the session's workspace decides (widget-auth.ts) and a foreign origin gets 403 without
 *   CORS headers. Embed calls are decided by the public key's own origins in the route.
 * - Preflights: answered 204 for an origin some active public key lists (or the app's own origin); others
 *   get no CORS headers, so the browser never sends the request.
 */
export function registerWidgetCors(app: FastifyInstance): void {
  const knownOrigins = new Map<string, { known: boolean; at: number }>();
  async function originKnown(origin: string): Promise<boolean> {
    if (origin === appOrigin(app)) return true;
    const now = Date.now();
    const cached = knownOrigins.get(origin);
    if (cached && now - cached.at < KNOWN_ORIGIN_CACHE_MS) return cached.known;
    const known = await isOriginKnown({ db: app.deps.database.db, origin });
    if (knownOrigins.size >= KNOWN_ORIGIN_CACHE_MAX) knownOrigins.clear();
    knownOrigins.set(origin, { known, at: now });
    return known;
  }

  const routes: { method: string; url: string }[] = [];
  app.decorate('browserApiRoutes', routes);
  app.addHook('onRoute', (route) => {
    if (!isBrowserApi(route.url)) return;
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD' && method !== 'OPTIONS') routes.push({ method, url: route.url });
    }
  });

  app.decorateRequest('widget', null);
  app.decorateRequest('corsOriginAllowed', null);

  app.options('/api/widget/*', { schema: { hide: true } }, (request, reply) => answerPreflight(request, reply));
  app.options('/api/embed/*', { schema: { hide: true } }, (request, reply) => answerPreflight(request, reply));

  async function answerPreflight(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    reply.header('vary', 'Origin');
    const origin = normalizeOrigin(request.headers.origin ?? '');
    if (origin && (await originKnown(origin))) {
      reply
        .header('access-control-allow-origin', origin)
        .header('access-control-allow-methods', ALLOW_METHODS)
        .header('access-control-allow-headers', ALLOW_HEADERS)
        .header('access-control-max-age', String(PREFLIGHT_MAX_AGE_S));
    }
    await reply.code(204).send();
  }

  app.addHook('onSend', async (request, reply, payload) => {
    if (!isBrowserApi(request.url) || request.method === 'OPTIONS') return payload;
    reply.header('vary', 'Origin');
    const raw = request.headers.origin;
    if (raw === undefined) return payload;
    const origin = normalizeOrigin(raw);
    if (!origin || request.corsOriginAllowed === false) return payload;
    // Undecided (e.g. a 401 before the session was known): an origin some key lists may read the error,
    // so the widget can tell an expired session from a network failure.
    if (request.corsOriginAllowed === true || (await originKnown(origin))) {
      reply.header('access-control-allow-origin', origin);
      reply.header('access-control-expose-headers', 'Retry-After');
    }
    return payload;
  });
}
