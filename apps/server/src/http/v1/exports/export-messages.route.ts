import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { exportMessages, getConversation, MESSAGE_EXPORT_COLUMNS, recordAudit } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { idParamSchema } from '../shared/common.schema.ts';
import { actorOf } from '../shared/route-context.ts';
import { exportQuerySchema, streamExport } from './stream-export.ts';

export function registerExportMessagesRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().get('/exports/messages', {
    schema: {
      tags: ['exports'],
      summary: "Stream the workspace's messages (optionally one conversation's) as JSON Lines or CSV",
      security: [{ apiKey: [] }],
      querystring: z.object({ ...exportQuerySchema, conversation_id: idParamSchema.optional() }).strict(),
    },
    handler: async (request, reply) => {
      const { workspaceId } = apiKeyOf(request);
      const db = app.deps.database.db;
      const q = request.query;
      // Another tenant's conversation is 404 like everywhere else, not an empty file (T-13).
      if (q.conversation_id) await getConversation({ db, workspaceId, conversationId: q.conversation_id });
      await recordAudit({
        db,
        workspaceId,
        actor: actorOf(request),
        action: 'export.messages',
        ip: request.ip,
        metadata: { format: q.format, conversation_id: q.conversation_id ?? null },
      });
      return streamExport({
        reply,
        name: 'messages',
        format: q.format,
        columns: MESSAGE_EXPORT_COLUMNS,
        rows: exportMessages({
          db,
          workspaceId,
          filter: {
            ...(q.since ? { since: new Date(q.since) } : {}),
            ...(q.until ? { until: new Date(q.until) } : {}),
            ...(q.conversation_id ? { conversationId: q.conversation_id } : {}),
          },
        }),
      });
    },
  });
}
