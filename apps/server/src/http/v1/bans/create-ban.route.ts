import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, banUser, getUserByExternalId, toBanJson } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { externalIdSchema, noQuerySchema, shortTextSchema } from '../shared/common.schema.ts';
import { actorOf } from '../shared/route-context.ts';

export const banJsonSchema = z.looseObject({
  id: z.string(),
  user_id: z.string(),
  reason: z.string().nullable(),
  expires_at: z.string().nullable(),
  lifted_at: z.string().nullable(),
  created_at: z.string(),
});

const bodySchema = z
  .object({
    external_id: externalIdSchema,
    reason: shortTextSchema.max(500).optional(),
    expires_at: z.iso.datetime({ offset: true }).optional().describe('When the ban ends; omit for a permanent ban'),
    duration_s: z.number().int().min(1).max(10 * 365 * 86400).optional().describe('Alternative to expires_at'),
  })
  .strict()
  .refine((b) => !(b.expires_at && b.duration_s), { message: 'Give expires_at or duration_s, not both.', path: ['expires_at'] });

export function registerCreateBanRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().post('/bans', {
    schema: {
      tags: ['bans'],
      summary: 'Ban a user from the workspace (optionally until a time); takes effect at once on HTTP and sockets',
      security: [{ apiKey: [] }],
      querystring: noQuerySchema,
      body: bodySchema,
      response: { 201: banJsonSchema },
    },
    handler: async (request, reply) => {
      const { workspaceId } = apiKeyOf(request);
      const db = app.deps.database.db;
      const b = request.body;
      const user = await getUserByExternalId({ db, workspaceId, externalId: b.external_id });
      const expiresAt = b.expires_at ? new Date(b.expires_at) : b.duration_s ? new Date(Date.now() + b.duration_s * 1000) : null;
      if (expiresAt && expiresAt.getTime() <= Date.now()) {
        throw new AppError('validation_failed', 'expires_at must be in the future.', { field: 'expires_at' });
      }
      const ban = await banUser({
        db,
        events: app.deps.events,
        workspaceId,
        user,
        reason: b.reason ?? null,
        expiresAt,
        actor: actorOf(request),
      });
      return reply.code(201).send(toBanJson(ban, user) as never);
    },
  });
}
