import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound, revokeWidgetSessions } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { idParamSchema, noBodySchema, noQuerySchema } from '../shared/common.schema.ts';

export function registerRevokeSessionRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().delete('/sessions/:id', {
    schema: {
      tags: ['sessions'],
      summary: 'Revoke one session (its sockets are closed at once)',
      security: [{ apiKey: [] }],
      body: noBodySchema,
      querystring: noQuerySchema,
      params: z.object({ id: idParamSchema }).strict(),
      response: { 204: z.null().describe('Revoked') },
    },
    handler: async (request, reply) => {
      const { workspaceId } = apiKeyOf(request);
      const result = await revokeWidgetSessions({ db: app.deps.database.db, workspaceId, sessionId: request.params.id });
      if (result.revoked === 0) throw notFound('Session');
      await app.deps.events.emit({ type: 'session.revoked', workspaceId, chatUserIds: result.chatUserIds });
      return reply.code(204).send(null);
    },
  });
}
