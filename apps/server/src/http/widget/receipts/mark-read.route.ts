import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { markConversationRead } from '@reusable-chat/core';
import { blockedBy, participantContext, policiesOf } from '../shared/route-context.ts';
import { conversationParams } from '../shared/widget.schema.ts';

export function registerMarkReadRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().post('/conversations/:id/read', {
    schema: {
      tags: ['widget'],
      summary: 'Read receipt: everything up to seq is read (messages.read to the conversation, unread.updated to the reader)',
      security: [{ widgetSession: [] }],
      params: conversationParams,
      body: z.object({ seq: z.number().int().min(0).max(2_147_483_647) }).strict(),
      response: {
        200: z.object({ conversation_id: z.string(), last_read_seq: z.number().int(), unread_count: z.number().int(), total_unread: z.number().int() }),
      },
    },
    handler: async (request) => {
      const { auth, conversation, widgetConfig } = await participantContext(app, request, request.params.id);
      const result = await markConversationRead({
        db: app.deps.database.db,
        events: app.deps.events,
        workspaceId: auth.workspace.id,
        conversationId: conversation.id,
        chatUserId: auth.user.id,
        seq: request.body.seq,
        broadcastReceipt: policiesOf(widgetConfig).read_receipts,
        blocked: await blockedBy(app, auth),
      });
      return {
        conversation_id: conversation.id,
        last_read_seq: result.lastReadSeq,
        unread_count: result.unreadCount,
        total_unread: result.totalUnread,
      };
    },
  });
}
