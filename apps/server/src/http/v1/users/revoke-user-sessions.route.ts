import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { getUserByExternalId, revokeWidgetSessions } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { noBodySchema, noQuerySchema, userParamsSchema } from '../shared/common.schema.ts';

export function registerRevokeUserSessionsRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().delete('/users/:external_id/sessions', {
    schema: {
      tags: ['sessions'],
      summary: "Revoke every session of a user (their open sockets are closed)",
      security: [{ apiKey: [] }],
      body: noBodySchema,
      querystring: noQuerySchema,
      params: userParamsSchema,
      response: { 200: z.object({ revoked: z.number().int() }) },
    },
    handler: async (request) => {
      const { workspaceId } = apiKeyOf(request);
      const { db } = app.deps.database;
      const user = await getUserByExternalId({ db, workspaceId, externalId: request.params.external_id });
      const result = await revokeWidgetSessions({ db, workspaceId, chatUserId: user.id });
      if (result.revoked > 0) await app.deps.events.emit({ type: 'session.revoked', workspaceId, chatUserIds: [user.id] });
      return { revoked: result.revoked };
    },
  });
}
