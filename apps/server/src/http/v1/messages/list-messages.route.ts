import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listMessages } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { conversationParamsSchema, cursorSchema, limitSchema, listResponse, messageJsonSchema } from '../shared/common.schema.ts';

/**
 * The page is built by listMessages from typed columns only (no row object is passed through), so its JSON
 * is written with JSON.stringify directly: re-validating 50 messages with zod on every page cost more than
 * the database query. The zod schema above still documents the response (OpenAPI).
 */
const stringifyPage = () => (page: unknown) => JSON.stringify(page);

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
    serializerCompiler: stringifyPage,
    config: { demoScope: true },
    handler: async (request) => {
      const q = request.query;
      const cursor = q.before ?? q.cursor;
      const key = apiKeyOf(request);
      // One statement checks the conversation (in the key's workspace; a demo key sees demo rooms only, 404
      // otherwise) and reads the page.
      const page = await listMessages({
        db: app.deps.database.db,
        workspaceId: key.workspaceId,
        conversationId: request.params.id,
        cursorSecret: app.deps.appSecret,
        limit: q.limit,
        ...(cursor ? { cursor } : {}),
        ...(q.after_seq !== undefined ? { afterSeq: q.after_seq } : {}),
        ...(key.scope === 'demo' ? { viewer: { conversationType: 'demo' as const } } : {}),
      });
      return { data: page.data as never[], next_cursor: page.nextCursor };
    },
  });
}
