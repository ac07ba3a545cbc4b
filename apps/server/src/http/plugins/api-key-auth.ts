import type { FastifyInstance, FastifyRequest } from 'fastify';
import { eq, and, or, isNull, lt } from 'drizzle-orm';
import { AppError, authenticateApiKey, type ApiKeyScope, type WorkspaceRow } from '@reusable-chat/core';
import { schema } from '@reusable-chat/db';

/** Deployment default when a key has no rate_limit_per_minute of its own. */
export const DEFAULT_API_KEY_RATE_LIMIT_PER_MINUTE = 1200;
/** last_used_at is informational: one write per key per minute at most, not one per request. */
const LAST_USED_WRITE_INTERVAL_MS = 60_000;
/** Failed authentications per client IP and minute before 429: slows key guessing without hurting real clients. */
const FAILED_AUTH_LIMIT_PER_MINUTE = 100;
/** Longer than any real key (`sk_live_` + ≤128); anything longer is refused before hashing. */
const MAX_KEY_HEADER_LENGTH = 160;

export interface ApiKeyContext {
  readonly keyId: string;
  readonly workspaceId: string;
  readonly workspace: WorkspaceRow;
  readonly scope: ApiKeyScope;
  /** Owner of Idempotency-Keys and audit rows: keys never share idempotency state (F-14). */
  readonly principal: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    apiKey?: ApiKeyContext;
  }
  interface FastifyContextConfig {
    /**
     * The route is open to `demo`-scoped keys (SPEC §3: demo keys reach only demo rooms). Routes that take a
     * conversation id must then also restrict the lookup to conversations of type `demo` (see demoOnly()).
     */
    demoScope?: boolean;
  }
}

/** The authenticated key of a /api/v1 request (set by the onRequest hook below). */
export function apiKeyOf(request: FastifyRequest): ApiKeyContext {
  if (!request.apiKey) throw new AppError('unauthenticated');
  return request.apiKey;
}

/**
 * `X-API-Key: sk_…` authentication for the consumer API (SPEC §4, checklist A-01…A-05):
 * - looked up by SHA-256, the result reused for at most 1 s (API_KEY_CACHE_TTL_MS; a key revoked in this process
 *   fails on its next request, on other nodes within the second — A-03);
 * - any malformed header (missing, repeated, empty, 10 KB, non-ASCII, wrong shape) is a plain 401, and more than
 *   FAILED_AUTH_LIMIT_PER_MINUTE failures from one IP turn into 429 (key guessing);
 * - `demo` keys reach only routes marked `demoScope` (403 otherwise); suspended workspaces get 403;
 * - per-key fixed-window rate limit → 429 with Retry-After;
 * - last_used_at refreshed at most once a minute per key (guarded in SQL too, so many nodes agree).
 * Registered inside the /api/v1 plugin only: other API families never accept these keys.
 */
export function registerApiKeyAuth(app: FastifyInstance): void {
  const lastWriteMs = new Map<string, number>();

  app.decorateRequest('apiKey', undefined);
  const refuse = async (ip: string): Promise<never> => {
    const verdict = await app.deps.rateLimiter.hit(`api-key-failed:${ip}`, FAILED_AUTH_LIMIT_PER_MINUTE, 60);
    if (!verdict.allowed) throw new AppError('rate_limited', undefined, undefined, verdict.retryAfterS);
    throw new AppError('unauthenticated');
  };

  app.addHook('onRequest', async (request, reply) => {
    const header = request.headers['x-api-key'];
    if (typeof header !== 'string' || header.length === 0 || header.length > MAX_KEY_HEADER_LENGTH) {
      return refuse(request.ip);
    }
    const { db } = app.deps.database;
    const found = await authenticateApiKey({ db, apiKey: header.trim() });
    if (!found) return refuse(request.ip);
    const { key, workspace } = found;
    if (workspace.status !== 'active') throw new AppError('workspace_suspended');
    if (key.scope === 'demo' && request.routeOptions.config?.demoScope !== true) {
      throw new AppError('forbidden', 'A demo key may only create and use demo rooms.');
    }

    const limit = key.rateLimitPerMinute ?? DEFAULT_API_KEY_RATE_LIMIT_PER_MINUTE;
    const verdict = await app.deps.rateLimiter.hit(`api-key:${key.id}`, limit, 60);
    reply.header('x-ratelimit-limit', String(limit));
    reply.header('x-ratelimit-remaining', String(verdict.remaining));
    if (!verdict.allowed) throw new AppError('rate_limited', undefined, undefined, verdict.retryAfterS);

    request.apiKey = {
      keyId: key.id,
      workspaceId: workspace.id,
      workspace,
      scope: key.scope,
      principal: `api_key:${key.id}`,
    };

    const nowMs = Date.now();
    if (nowMs - (lastWriteMs.get(key.id) ?? 0) >= LAST_USED_WRITE_INTERVAL_MS) {
      lastWriteMs.set(key.id, nowMs);
      if (lastWriteMs.size > 10_000) lastWriteMs.clear();
      const now = new Date(nowMs);
      // Not awaited: bookkeeping must never slow or fail the request it describes.
      db.update(schema.apiKeys)
        .set({ lastUsedAt: now })
        .where(
          and(
            eq(schema.apiKeys.id, key.id),
            or(isNull(schema.apiKeys.lastUsedAt), lt(schema.apiKeys.lastUsedAt, new Date(nowMs - LAST_USED_WRITE_INTERVAL_MS))),
          ),
        )
        .then(
          () => undefined,
          (err: unknown) => request.log.warn({ err }, 'could not update api key last_used_at'),
        );
    }
  });
}
