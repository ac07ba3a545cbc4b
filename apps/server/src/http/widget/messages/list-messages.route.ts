import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listMessages } from '@reusable-chat/core';
import { attachmentSerializer, blockedBy, participantContext } from '../shared/route-context.ts';
import { conversationParams, cursorSchema, limitSchema, listResponse, messageJsonSchema } from '../shared/widget.schema.ts';

const querySchema = z
  .object({
    limit: limitSchema,
    before: cursorSchema.optional().describe('`next_cursor` of the previous page (older messages)'),
    cursor: cursorSchema.optional().describe('Any `next_cursor` (also continues an after_seq catch-up)'),
    after_seq: z.coerce.number().int().min(0).max(2_147_483_647).optional().describe('Catch-up after reconnect: exactly the messages with a higher seq'),
  })
  .strict()
  .refine((q) => !(q.before && q.cursor), { message: 'Use before or cursor, not both.', path: ['cursor'] });

export function registerListMessagesRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().get('/conversations/:id/messages', {
    schema: {
      tags: ['widget'],
      summary: 'Messages in ascending seq: newest page, older with `before`, catch-up with `after_seq`',
      security: [{ widgetSession: [] }],
      params: conversationParams,
      querystring: querySchema,
      response: { 200: listResponse(messageJsonSchema) },
    },
    handler: async (request) => {
      const { auth, conversation } = await participantContext(app, request, request.params.id);
      const q = request.query;
      const cursor = q.before ?? q.cursor;
      const page = await listMessages({
        db: app.deps.database.db,
        workspaceId: auth.workspace.id,
        conversationId: conversation.id,
        cursorSecret: app.deps.appSecret,
        limit: q.limit,
        ...(cursor ? { cursor } : {}),
        ...(q.after_seq !== undefined ? { afterSeq: q.after_seq } : {}),
        serializeAttachment: attachmentSerializer(app),
      });
      // Messages of users this user blocked are not delivered to them (SPEC §6); cursors stay seq-based.
      const blocked = await blockedBy(app, auth);
      const data = blocked.size === 0 ? page.data : page.data.filter((m) => !(m.sender.type === 'user' && m.sender.id && blocked.has(m.sender.id)));
      return { data: data as never[], next_cursor: page.nextCursor };
    },
  });
}
