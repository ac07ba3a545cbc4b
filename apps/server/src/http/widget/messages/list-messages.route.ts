import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listMessagesJson } from '@reusable-chat/core';
import { widgetOf } from '../../plugins/widget-auth.ts';
import { attachmentSerializer } from '../shared/route-context.ts';
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
    handler: async (request, reply) => {
      const auth = widgetOf(request);
      const q = request.query;
      const cursor = q.before ?? q.cursor;
      // One statement: 404 unless the caller is a current participant (T-03, T-05, A-07); messages of users
      // they blocked are left out (SPEC §6); internal notes never reach a participant.
      const body = await listMessagesJson({
        db: app.deps.database.db,
        workspaceId: auth.workspace.id,
        conversationId: request.params.id,
        cursorSecret: app.deps.appSecret,
        limit: q.limit,
        ...(cursor ? { cursor } : {}),
        ...(q.after_seq !== undefined ? { afterSeq: q.after_seq } : {}),
        viewer: { participantUserId: auth.user.id },
        serializeAttachment: attachmentSerializer(app),
      });
      // The page's JSON text as PostgreSQL wrote it (listMessagesJson): sent as it is, not parsed and re-serialised.
      // The response schema above still documents it (OpenAPI); the text is what JSON.stringify would write.
      return reply.type('application/json; charset=utf-8').send(body as never);
    },
  });
}
