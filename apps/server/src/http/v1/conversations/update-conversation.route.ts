import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { updateConversation } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { conversationJsonSchema, conversationParamsSchema, noQuerySchema } from '../shared/common.schema.ts';
import { conversationFields } from './conversations.schema.ts';

const bodySchema = z
  .object({
    subject: conversationFields.subject.optional(),
    state: conversationFields.state.optional(),
    name: conversationFields.name.optional(),
    metadata: conversationFields.metadata.optional(),
    status: z.enum(['open', 'closed']).optional(),
  })
  .strict();

export function registerUpdateConversationRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().patch('/conversations/:id', {
    schema: {
      tags: ['conversations'],
      summary: 'Update state (e.g. booked, which lifts contact masking), subject, name, metadata or status',
      security: [{ apiKey: [] }],
      querystring: noQuerySchema,
      params: conversationParamsSchema,
      body: bodySchema,
      response: { 200: conversationJsonSchema },
    },
    handler: async (request) => {
      const b = request.body;
      const { json } = await updateConversation({
        db: app.deps.database.db,
        events: app.deps.events,
        workspaceId: apiKeyOf(request).workspaceId,
        conversationId: request.params.id,
        changes: {
          ...(b.subject !== undefined ? { subject: b.subject } : {}),
          ...(b.state !== undefined ? { state: b.state } : {}),
          ...(b.name !== undefined ? { name: b.name } : {}),
          ...(b.metadata !== undefined ? { metadata: b.metadata as Record<string, never> } : {}),
          ...(b.status !== undefined ? { status: b.status } : {}),
        },
      });
      return json as never;
    },
  });
}
