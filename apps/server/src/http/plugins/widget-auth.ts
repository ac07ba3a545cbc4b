import { hash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  AppError,
  authenticateWidgetBearer,
  isOriginAllowed,
  type AuthenticatedWidgetSession,
  type WidgetBearerAuth,
} from '@reusable-chat/core';
import type { AppDeps } from '../../deps.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the widget auth hook on every /api/widget route (SPEC §4 Widget API). */
    widget: AuthenticatedWidgetSession | null;
    /**
     * The CORS decision for this request's Origin: true once the session's workspace allows it, false when
     * it was refused; null when not decided (see widget-cors.ts).
     */
    corsOriginAllowed: boolean | null;
  }
  interface FastifyContextConfig {
    /**
     * The route may authenticate from the short-lived bearer cache (widgetAuthCacheOf) because its handler
     * re-checks the session in the same database read it needs anyway (message send: sendMessage's
     * `widgetSessionId`). Every other widget route checks the session in the database on every request.
     */
    widgetAuthCache?: boolean;
  }
}

/**
 * Bearer token → a successful authentication, for at most WIDGET_AUTH_CACHE_TTL_MS. Only routes marked
 * `config.widgetAuthCache` read it, and they re-validate the session, user, workspace and bans in their own
 * query, so a revoked session or a ban is refused on its very next send on every node. What the cache can
 * serve stale is the workspace's origin allowlist (CORS), for at most the TTL. Entries of a user are also
 * dropped at once on `session.revoked` and `user.banned` from this process.
 */
export const WIDGET_AUTH_CACHE_TTL_MS = 5_000;
const WIDGET_AUTH_CACHE_MAX_ENTRIES = 20_000;

interface CachedWidgetAuth {
  readonly auth: WidgetBearerAuth;
  readonly until: number;
}

class WidgetAuthCache {
  private readonly entries = new Map<string, CachedWidgetAuth>();

  get(key: string, nowMs: number): WidgetBearerAuth | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.until <= nowMs || hit.auth.session.expiresAt.getTime() <= nowMs) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.auth;
  }

  set(key: string, auth: WidgetBearerAuth, nowMs: number): void {
    // Bounded: a flood of distinct tokens starts the cache over instead of growing it (Maps keep insertion order).
    if (this.entries.size >= WIDGET_AUTH_CACHE_MAX_ENTRIES) this.entries.clear();
    this.entries.set(key, { auth, until: nowMs + WIDGET_AUTH_CACHE_TTL_MS });
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  forgetUsers(workspaceId: string, chatUserIds: readonly string[]): void {
    const users = new Set(chatUserIds);
    for (const [key, { auth }] of this.entries) {
      if (auth.workspace.id === workspaceId && users.has(auth.user.id)) this.entries.delete(key);
    }
  }
}

/** One cache per server (its deps), subscribed to the revocation events of that server's bus. */
const caches = new WeakMap<AppDeps, WidgetAuthCache>();

function widgetAuthCacheOf(app: FastifyInstance): WidgetAuthCache {
  const existing = caches.get(app.deps);
  if (existing) return existing;
  const cache = new WidgetAuthCache();
  app.deps.events.subscribe((event) => {
    if (event.type === 'session.revoked') cache.forgetUsers(event.workspaceId, event.chatUserIds);
    else if (event.type === 'user.banned') cache.forgetUsers(event.workspaceId, [event.chatUserId]);
  });
  caches.set(app.deps, cache);
  return cache;
}

function cacheKey(authorization: string): string {
  // One-shot hash: no Hash object per request (a third of createHash's cost on the send path).
  return hash('sha256', authorization, 'base64url');
}

/** A cached route found the session no longer usable: the next request of this token checks the database. */
export function forgetWidgetAuth(request: FastifyRequest): void {
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string') widgetAuthCacheOf(request.server).delete(cacheKey(authorization));
}

/** The app's own origin: the widget iframe runs there (V-21), so it is always allowed. */
export function appOrigin(app: FastifyInstance): string {
  return new URL(app.deps.config.appUrl).origin;
}

/**
 * Authenticates a widget request: bearer session (401 unauthenticated / session_expired, 403 user_banned),
 * then the browser Origin against the session's workspace allowlist (C-05: B's site with A's session → 403).
 * Requests without Origin are fine — a bearer token is not ambient authority, so there is no CSRF to stop.
 * Exported for the realtime module's /api/widget/broadcasting/* routes.
 */
export async function authenticateWidgetRequest(request: FastifyRequest): Promise<AuthenticatedWidgetSession> {
  if (request.widget) return request.widget;
  const app = request.server;
  const now = app.deps.clock.now();
  const authorization = request.headers.authorization;
  const cacheable = request.routeOptions.config?.widgetAuthCache === true && typeof authorization === 'string';
  const cache = cacheable ? widgetAuthCacheOf(app) : undefined;
  const key = cacheable ? cacheKey(authorization) : '';
  let auth = cache?.get(key, now.getTime());
  if (!auth) {
    auth = await authenticateWidgetBearer({ db: app.deps.database.db, authorization, now });
    cache?.set(key, auth, now.getTime());
  }
  const origin = request.headers.origin;
  if (origin !== undefined) {
    if (!isOriginAllowed({ allowedOrigins: auth.allowedOrigins, origin, appOrigin: appOrigin(app) })) {
      request.corsOriginAllowed = false;
      throw new AppError('origin_not_allowed');
    }
    request.corsOriginAllowed = true;
  }
  request.widget = auth;
  return auth;
}

/** The authenticated session of a route inside the widget scope (the scope's hook has run). */
export function widgetOf(request: FastifyRequest): AuthenticatedWidgetSession {
  if (!request.widget) throw new AppError('unauthenticated');
  return request.widget;
}

/**
 * Adds the auth hook to a scope: every route in it needs a valid widget session. It runs on request, before
 * the body is read or validated, so an unauthenticated caller learns nothing and uploads nothing (A-06).
 */
export function registerWidgetAuth(scope: FastifyInstance): void {
  scope.addHook('onRequest', async (request) => {
    await authenticateWidgetRequest(request);
  });
}
