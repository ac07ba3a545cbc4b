import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listMessages } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { conversationParamsSchema, cursorSchema, limitSchema, listResponse, messageJsonSchema } from '../shared/common.schema.ts';
import { conversationForKey } from '../shared/route-context.ts';

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
    handler: async (request) => {
      const q = request.query;
      const cursor = q.before ?? q.cursor;
      // The page query is scoped by workspace and conversation itself, so it runs alongside the access check
      // (one round trip of latency instead of two); nothing of it is answered unless the check passes.
      const [access, listing] = await Promise.allSettled([
        conversationForKey(app, request, request.params.id),
        listMessages({
          db: app.deps.database.db,
          workspaceId: apiKeyOf(request).workspaceId,
          conversationId: request.params.id,
          cursorSecret: app.deps.appSecret,
          limit: q.limit,
          ...(cursor ? { cursor } : {}),
          ...(q.after_seq !== undefined ? { afterSeq: q.after_seq } : {}),
        }),
      ]);
      if (access.status === 'rejected') throw access.reason;
      if (listing.status === 'rejected') throw listing.reason;
      return { data: listing.value.data as never[], next_cursor: listing.value.nextCursor };
    },
  });
}
