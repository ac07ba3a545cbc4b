import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { notFound, unblockUser } from '@reusable-chat/core';
import { widgetOf } from '../../plugins/widget-auth.ts';
import { idParamSchema, okResponse } from '../shared/widget.schema.ts';

export function registerUnblockUserRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().delete('/blocks/:userId', {
    schema: {
      tags: ['widget'],
      summary: 'Unblock a user',
      security: [{ widgetSession: [] }],
      params: z.object({ userId: idParamSchema }).strict(),
      response: { 200: okResponse },
    },
    handler: async (request) => {
      const auth = widgetOf(request);
      const removed = await unblockUser({
        db: app.deps.database.db,
        workspaceId: auth.workspace.id,
        blockerUserId: auth.user.id,
        blockedUserId: request.params.userId,
      });
      if (!removed) throw notFound('Block');
      return { ok: true as const };
    },
  });
}
