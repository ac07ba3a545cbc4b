import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { countUnreadForViewer, toUserJson } from '@reusable-chat/core';
import { widgetOf } from '../plugins/widget-auth.ts';
import { blockedBy } from './shared/route-context.ts';
import { anyObject } from './shared/widget.schema.ts';

export function registerMeRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().get('/me', {
    schema: {
      tags: ['widget'],
      summary: 'The session\'s own user, workspace and unread total',
      security: [{ widgetSession: [] }],
      response: {
        200: z.object({
          user: anyObject,
          workspace: z.object({ id: z.string(), name: z.string(), kind: z.string() }),
          session: z.object({ id: z.string(), expires_at: z.string() }),
          unread_total: z.number().int(),
        }),
      },
    },
    handler: async (request) => {
      const auth = widgetOf(request);
      const unread = await countUnreadForViewer({
        db: app.deps.database.db,
        workspaceId: auth.workspace.id,
        chatUserId: auth.user.id,
        blocked: await blockedBy(app, auth),
      });
      return {
        user: toUserJson(auth.user, 'full'),
        workspace: { id: auth.workspace.id, name: auth.workspace.name, kind: auth.workspace.kind },
        session: { id: auth.session.id, expires_at: auth.session.expiresAt.toISOString() },
        unread_total: unread.total,
      };
    },
  });
}
