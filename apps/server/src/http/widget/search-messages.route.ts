import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, searchOwnMessages, SEARCH_QUERY_MAX } from '@reusable-chat/core';
import { widgetOf } from '../plugins/widget-auth.ts';
import { attachmentSerializer, blockedBy, participantContext } from './shared/route-context.ts';
import { cursorSchema, idParamSchema, limitSchema, listResponse, messageJsonSchema, noControlChars } from './shared/widget.schema.ts';

const SEARCHES_PER_SESSION_PER_MINUTE = 30;

const querySchema = z
  .object({
    q: z.string().min(1).max(SEARCH_QUERY_MAX).refine(noControlChars, 'must not contain control characters'),
    conversation_id: idParamSchema.optional(),
    limit: limitSchema,
    cursor: cursorSchema.optional(),
  })
  .strict();

export function registerSearchMessagesRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().get('/search', {
    schema: {
      tags: ['widget'],
      summary: 'Full-text search over the user\'s own conversations, newest first',
      security: [{ widgetSession: [] }],
      querystring: querySchema,
      response: { 200: listResponse(messageJsonSchema) },
    },
    handler: async (request) => {
      const auth = widgetOf(request);
      const hit = await app.deps.rateLimiter.hit(`widget-search:${auth.session.id}`, SEARCHES_PER_SESSION_PER_MINUTE, 60);
      if (!hit.allowed) throw new AppError('rate_limited', undefined, undefined, hit.retryAfterS);
      const q = request.query;
      if (q.conversation_id) await participantContext(app, request, q.conversation_id);
      const page = await searchOwnMessages({
        db: app.deps.database.db,
        workspaceId: auth.workspace.id,
        chatUserId: auth.user.id,
        query: q.q,
        cursorSecret: app.deps.appSecret,
        limit: q.limit,
        ...(q.cursor ? { cursor: q.cursor } : {}),
        ...(q.conversation_id ? { conversationId: q.conversation_id } : {}),
        excludeSenderIds: await blockedBy(app, auth),
        serializeAttachment: attachmentSerializer(app),
      });
      return { data: page.data as never[], next_cursor: page.nextCursor };
    },
  });
}
