import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listBlocks } from '@reusable-chat/core';
import { widgetOf } from '../../plugins/widget-auth.ts';
import { anyObject } from '../shared/widget.schema.ts';

export function registerListBlocksRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().get('/blocks', {
    schema: {
      tags: ['widget'],
      summary: 'Users the session user has blocked',
      security: [{ widgetSession: [] }],
      response: { 200: z.object({ data: z.array(anyObject), next_cursor: z.null() }) },
    },
    handler: async (request) => {
      const auth = widgetOf(request);
      const data = await listBlocks({ db: app.deps.database.db, workspaceId: auth.workspace.id, blockerUserId: auth.user.id });
      return { data, next_cursor: null };
    },
  });
}
