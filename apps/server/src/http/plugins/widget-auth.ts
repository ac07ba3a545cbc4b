import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, authenticateWidgetBearer, isOriginAllowed, type AuthenticatedWidgetSession } from '@reusable-chat/core';

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
  const auth = await authenticateWidgetBearer({
    db: app.deps.database.db,
    authorization: request.headers.authorization,
    now: app.deps.clock.now(),
  });
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
