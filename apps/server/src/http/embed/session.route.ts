import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { AppError, createEmbedSession, toUserJson } from '@reusable-chat/core';
import { sessionBody, sessionResponse } from './embed.schema.ts';
import { resolveKeyForRequest } from './init.route.ts';

/** Session mints per client IP per minute: enough for real pages, a wall for scripted farming (V-30). */
const SESSIONS_PER_IP_PER_MINUTE = 30;

export function registerSessionRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().post('/session', {
    schema: {
      tags: ['embed'],
      summary: 'Mint a widget session: anonymous visitor, or identified user with user_hash',
      body: sessionBody,
      response: { 201: sessionResponse },
    },
    handler: async (request, reply) => {
      const limit = await app.deps.rateLimiter.hit(`embed-session:${request.ip}`, SESSIONS_PER_IP_PER_MINUTE, 60);
      if (!limit.allowed) throw new AppError('rate_limited', undefined, undefined, limit.retryAfterS);
      const { publicKey, workspace, origin } = await resolveKeyForRequest(app, request.body.public_key, request);
      const body = request.body;
      const identity = body.user
        ? {
            externalId: body.user.external_id,
            ...(body.user.user_hash !== undefined ? { userHash: body.user.user_hash } : {}),
            ...(body.user.name !== undefined ? { name: body.user.name } : {}),
            ...(body.user.email !== undefined ? { email: body.user.email } : {}),
            ...(body.user.avatar_url !== undefined ? { avatarUrl: body.user.avatar_url } : {}),
          }
        : body.name !== undefined
          ? { name: body.name }
          : undefined;
      const result = await createEmbedSession({
        db: app.deps.database.db,
        publicKey,
        workspace,
        origin,
        ...(identity ? { identity } : {}),
        ...(body.previous_token ? { previousToken: body.previous_token } : {}),
        ...(body.expires_in !== undefined ? { expiresInS: body.expires_in } : {}),
      });
      if (result.revokedUserIds.length > 0) {
        // the previous identity's sockets close (realtime listens for session.revoked).
        await app.deps.events.emit({ type: 'session.revoked', workspaceId: workspace.id, chatUserIds: result.revokedUserIds });
      }
      if (result.isNewUser) {
        await app.deps.events.emit({ type: 'user.created', workspaceId: workspace.id, user: toUserJson(result.user) });
      }
      return reply.code(201).send({
        token: result.token,
        expires_at: result.session.expiresAt.toISOString(),
        user: toUserJson(result.user),
      });
    },
  });
}
