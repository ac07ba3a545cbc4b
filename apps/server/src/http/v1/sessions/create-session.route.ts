import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  AppError,
  createWidgetSession,
  findActiveBan,
  getUserByExternalId,
  MAX_SESSION_TTL_S,
  toUserJson,
  upsertUser,
} from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { externalIdSchema, noQuerySchema, userJsonSchema } from '../shared/common.schema.ts';
import { toUserFields, upsertUserBodySchema } from '../users/users.schema.ts';

const bodySchema = z
  .object({
    external_id: externalIdSchema.optional(),
    user: upsertUserBodySchema.optional(),
    expires_in: z.number().int().min(60).max(MAX_SESSION_TTL_S).optional().describe('Seconds; default 86400, at most 30 days.'),
  })
  .strict()
  .refine((b) => (b.external_id === undefined) !== (b.user === undefined), {
    message: 'Give exactly one of external_id or user.',
    path: ['external_id'],
  });

export function registerCreateSessionRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().post('/sessions', {
    schema: {
      tags: ['sessions'],
      summary: 'Create a widget session token for a user (`user` upserts the user first)',
      description: 'The token is shown once; only its SHA-256 is stored. Banned users get 403 user_banned.',
      security: [{ apiKey: [] }],
      querystring: noQuerySchema,
      body: bodySchema,
      response: {
        201: z.object({ id: z.string(), token: z.string(), expires_at: z.string(), user: userJsonSchema }),
      },
    },
    handler: async (request, reply) => {
      const { workspaceId } = apiKeyOf(request);
      const { db } = app.deps.database;
      const body = request.body;
      let user;
      if (body.user) {
        const { external_id, ...fields } = body.user;
        user = (await upsertUser({ db, events: app.deps.events, workspaceId, externalId: external_id, fields: toUserFields(fields) })).user;
      } else {
        user = await getUserByExternalId({ db, workspaceId, externalId: body.external_id! });
      }
      if (await findActiveBan({ db, workspaceId, chatUserId: user.id })) throw new AppError('user_banned');
      const { token, session } = await createWidgetSession({
        db,
        workspaceId,
        chatUserId: user.id,
        ...(body.expires_in !== undefined ? { expiresInS: body.expires_in } : {}),
      });
      reply.header('cache-control', 'no-store');
      return reply.code(201).send({
        id: session.id,
        token,
        expires_at: session.expiresAt.toISOString(),
        user: toUserJson(user) as never,
      });
    },
  });
}
