import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listWidgetConversations } from '@reusable-chat/core';
import { widgetOf } from '../../plugins/widget-auth.ts';
import { attachmentSerializer, blockedBy } from '../shared/route-context.ts';
import { conversationJsonSchema, cursorSchema, limitSchema, listResponse, shortTextSchema } from '../shared/widget.schema.ts';

const querySchema = z
  .object({
    limit: limitSchema,
    cursor: cursorSchema.optional(),
    widget: z.string().min(1).max(64).regex(/^[a-z0-9][a-z0-9_-]*$/).optional().describe('Only this widget configuration'),
    subject: shortTextSchema.optional().describe('Only conversations about this subject, e.g. booking:123'),
    status: z.enum(['open', 'closed']).optional(),
  })
  .strict();

export function registerListConversationsRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().get('/conversations', {
    schema: {
      tags: ['widget'],
      summary: 'The session user\'s conversations by recent activity, with unread_count and last_message',
      security: [{ widgetSession: [] }],
      querystring: querySchema,
      response: { 200: listResponse(conversationJsonSchema) },
    },
    handler: async (request) => {
      const auth = widgetOf(request);
      const page = await listWidgetConversations({
        db: app.deps.database.db,
        workspaceId: auth.workspace.id,
        chatUserId: auth.user.id,
        cursorSecret: app.deps.appSecret,
        limit: request.query.limit,
        ...(request.query.cursor ? { cursor: request.query.cursor } : {}),
        ...(request.query.widget ? { widgetSlug: request.query.widget } : {}),
        ...(request.query.subject !== undefined ? { subject: request.query.subject } : {}),
        ...(request.query.status ? { status: request.query.status } : {}),
        blocked: await blockedBy(app, auth),
        serializeAttachment: attachmentSerializer(app),
      });
      return { data: page.data as never[], next_cursor: page.nextCursor };
    },
  });
}
