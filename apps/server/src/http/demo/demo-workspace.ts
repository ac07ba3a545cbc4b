import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, authenticateApiKey } from '@reusable-chat/core';

/** A throwaway demo visitor's session: long enough for a demo, short enough that a leaked token soon dies. */
export { DEMO_SESSION_TTL_S } from '@reusable-chat/core';

/**
 * The seeded demo workspace, found through the configured demo key (SPEC §8: "create a room with the demo
 * key"). The key stays on the server: the page talks to /api/demo/*, which acts with it, so it never ships to
 * a browser. A server without DEMO_API_KEY (production default) or whose key was revoked has no demo: 404.
 */
export async function demoWorkspaceId(app: FastifyInstance): Promise<string> {
  const apiKey = app.deps.config.demoApiKey;
  const found = apiKey ? await authenticateApiKey({ db: app.deps.database.db, apiKey }) : null;
  if (!found || found.key.scope !== 'demo' || !found.workspace.isDemo) {
    throw new AppError('not_found', 'The demo is not enabled on this server.');
  }
  if (found.workspace.status !== 'active') throw new AppError('workspace_suspended');
  return found.workspace.id;
}

/**
 * Per-IP budget for everything that creates rows (rooms, users, sessions): anonymous endpoints that mint
 * sessions are what scripted farming goes for (checklist V-30), so each action has its own small window.
 */
export async function limitDemoCalls(app: FastifyInstance, request: FastifyRequest, action: string, perMinute: number): Promise<void> {
  const result = await app.deps.rateLimiter.hit(`demo-${action}:${request.ip}`, perMinute, 60);
  if (!result.allowed) throw new AppError('rate_limited', undefined, undefined, result.retryAfterS);
}

/** What the page needs to open the realtime socket (public values: the Pusher app key is not a secret). */
export function realtimeInfo(app: FastifyInstance): { app_key: string } {
  return { app_key: app.deps.config.realtime.appKey };
}
