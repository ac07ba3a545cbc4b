import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { blockUser } from '@reusable-chat/core';
import { widgetOf } from '../../plugins/widget-auth.ts';
import { idParamSchema, okResponse } from '../shared/widget.schema.ts';

export function registerBlockUserRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().post('/blocks', {
    schema: {
      tags: ['widget'],
      summary: 'Block a user: their messages are no longer delivered to you',
      security: [{ widgetSession: [] }],
      body: z.object({ user_id: idParamSchema }).strict(),
      response: { 200: okResponse, 201: okResponse },
    },
    handler: async (request, reply) => {
      const auth = widgetOf(request);
      const result = await blockUser({
        db: app.deps.database.db,
        events: app.deps.events,
        workspaceId: auth.workspace.id,
        blockerUserId: auth.user.id,
        blockedUserId: request.body.user_id,
      });
      return reply.code(result.created ? 201 : 200).send({ ok: true as const });
    },
  });
}
