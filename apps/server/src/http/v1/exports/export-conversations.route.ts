import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CONVERSATION_EXPORT_COLUMNS, exportConversations, recordAudit } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { actorOf } from '../shared/route-context.ts';
import { exportQuerySchema, streamExport } from './stream-export.ts';

export function registerExportConversationsRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().get('/exports/conversations', {
    schema: {
      tags: ['exports'],
      summary: "Stream the workspace's conversations as JSON Lines or CSV",
      security: [{ apiKey: [] }],
      querystring: z.object(exportQuerySchema).strict(),
    },
    handler: async (request, reply) => {
      const { workspaceId } = apiKeyOf(request);
      const db = app.deps.database.db;
      const q = request.query;
      await recordAudit({ db, workspaceId, actor: actorOf(request), action: 'export.conversations', ip: request.ip, metadata: { format: q.format } });
      return streamExport({
        reply,
        name: 'conversations',
        format: q.format,
        columns: CONVERSATION_EXPORT_COLUMNS,
        rows: exportConversations({
          db,
          workspaceId,
          filter: { ...(q.since ? { since: new Date(q.since) } : {}), ...(q.until ? { until: new Date(q.until) } : {}) },
        }),
      });
    },
  });
}
