import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { getUserByExternalId, listConversations } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { conversationJsonSchema, cursorSchema, externalIdSchema, limitSchema, listResponse } from '../shared/common.schema.ts';
import { conversationFields, conversationTypeSchema } from './conversations.schema.ts';

/** Filters are an allowlist of exact matches (V-09, V-12): anything else is 422, values are bound parameters. */
const querySchema = z
  .object({
    limit: limitSchema,
    cursor: cursorSchema.optional(),
    user: externalIdSchema.optional().describe('Only conversations this user (external_id) takes part in'),
    type: conversationTypeSchema.optional(),
    subject: conversationFields.subject.unwrap().optional(),
    state: conversationFields.state.unwrap().optional(),
    status: z.enum(['open', 'closed']).optional(),
  })
  .strict();

export function registerListConversationsRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().get('/conversations', {
    schema: {
      tags: ['conversations'],
      summary: 'List conversations, newest first; filter by user, type, subject, state, status',
      security: [{ apiKey: [] }],
      querystring: querySchema,
      response: { 200: listResponse(conversationJsonSchema) },
    },
    handler: async (request) => {
      const { workspaceId } = apiKeyOf(request);
      const { db } = app.deps.database;
      const q = request.query;
      const chatUserId = q.user ? (await getUserByExternalId({ db, workspaceId, externalId: q.user })).id : undefined;
      const page = await listConversations({
        db,
        workspaceId,
        cursorSecret: app.deps.appSecret,
        limit: q.limit,
        ...(q.cursor ? { cursor: q.cursor } : {}),
        ...(chatUserId ? { chatUserId } : {}),
        ...(q.type ? { type: q.type } : {}),
        ...(q.subject !== undefined ? { subject: q.subject } : {}),
        ...(q.state !== undefined ? { state: q.state } : {}),
        ...(q.status ? { status: q.status } : {}),
      });
      return { data: page.data as never[], next_cursor: page.nextCursor };
    },
  });
}
