import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { eq } from 'drizzle-orm';
import { schema } from '@reusable-chat/db';
import { eraseUser, erasureModeOf, getUserByExternalId } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { noBodySchema, noQuerySchema, userParamsSchema } from '../shared/common.schema.ts';
import { actorOf } from '../shared/route-context.ts';

export function registerEraseUserRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().post('/users/:external_id/erase', {
    schema: {
      tags: ['users'],
      summary: 'Erase a user (GDPR Art. 17): sessions revoked, PII cleared, messages anonymised or deleted per the workspace setting `erasure`',
      security: [{ apiKey: [] }],
      body: noBodySchema,
      querystring: noQuerySchema,
      params: userParamsSchema,
      response: {
        200: z.object({
          erased: z.literal(true),
          user_id: z.string(),
          mode: z.enum(['anonymize', 'delete']),
          messages: z.number().int(),
          sessions_revoked: z.number().int(),
          attachments: z.number().int(),
        }),
      },
    },
    handler: async (request) => {
      const auth = apiKeyOf(request);
      const { db } = app.deps.database;
      const user = await getUserByExternalId({ db, workspaceId: auth.workspaceId, externalId: request.params.external_id });
      // The settings as stored now: the authenticated workspace row may be a cached lookup up to 1 s old.
      const [workspace] = await db
        .select({ settings: schema.workspaces.settings })
        .from(schema.workspaces)
        .where(eq(schema.workspaces.id, auth.workspaceId))
        .limit(1);
      const result = await eraseUser({
        db,
        events: app.deps.events,
        blobStore: app.deps.blobStore,
        workspaceId: auth.workspaceId,
        user,
        mode: erasureModeOf(workspace?.settings ?? auth.workspace.settings),
        actor: actorOf(request),
        ip: request.ip,
      });
      return {
        erased: true as const,
        user_id: user.id,
        mode: result.mode,
        messages: result.messages,
        sessions_revoked: result.sessionsRevoked,
        attachments: result.attachments,
      };
    },
  });
}
