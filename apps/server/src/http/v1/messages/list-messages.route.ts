import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listMessagesJson } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { conversationParamsSchema, cursorSchema, limitSchema, listResponse, messageJsonSchema } from '../shared/common.schema.ts';

const querySchema = z
  .object({
    limit: limitSchema,
    before: cursorSchema.optional().describe('`next_cursor` of the previous page (pages back in time)'),
    cursor: cursorSchema.optional().describe('Any `next_cursor` (same as `before`; also continues an after_seq page)'),
    after_seq: z.coerce.number().int().min(0).max(2_147_483_647).optional().describe('Catch-up: only messages with a higher seq, oldest first'),
  })
  .strict()
  .refine((q) => !(q.before && q.cursor), { message: 'Use before or cursor, not both.', path: ['cursor'] });

export function registerListMessagesRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().get('/conversations/:id/messages', {
    schema: {
      tags: ['messages'],
      summary: 'List messages in ascending seq: the newest page by default, older with `before`, catch-up with `after_seq`',
      security: [{ apiKey: [] }],
      params: conversationParamsSchema,
      querystring: querySchema,
      response: { 200: listResponse(messageJsonSchema) },
    },
    config: { demoScope: true },
    handler: async (request, reply) => {
      const q = request.query;
      const cursor = q.before ?? q.cursor;
      const key = apiKeyOf(request);
      // One statement checks the conversation (in the key's workspace; a demo key sees demo rooms only, 404
      // otherwise) and reads the page.
      const body = await listMessagesJson({
        db: app.deps.database.db,
        workspaceId: key.workspaceId,
        conversationId: request.params.id,
        cursorSecret: app.deps.appSecret,
        limit: q.limit,
        ...(cursor ? { cursor } : {}),
        ...(q.after_seq !== undefined ? { afterSeq: q.after_seq } : {}),
        ...(key.scope === 'demo' ? { viewer: { conversationType: 'demo' as const } } : {}),
      });
      // The page's JSON text as PostgreSQL wrote it (listMessagesJson): sent as it is, not parsed and re-serialised.
      // The response schema above still documents it (OpenAPI); the text is what JSON.stringify would write.
      return reply.type('application/json; charset=utf-8').send(body as never);
    },
  });
}
