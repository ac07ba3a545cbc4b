import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { createConversation } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { conversationJsonSchema, noQuerySchema } from '../shared/common.schema.ts';
import { usersByExternalIds } from '../shared/route-context.ts';
import { conversationFields, conversationTypeSchema, participantsSchema } from './conversations.schema.ts';

const bodySchema = z
  .object({
    type: conversationTypeSchema.optional(),
    widget: z.string().min(1).max(64).regex(/^[a-z0-9-]+$/).optional().describe('Widget configuration slug, e.g. guest-host'),
    participants: participantsSchema,
    subject: conversationFields.subject.optional(),
    state: conversationFields.state.optional(),
    name: conversationFields.name.optional(),
    metadata: conversationFields.metadata.optional(),
  })
  .strict();

export function registerCreateConversationRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().post('/conversations', {
    schema: {
      tags: ['conversations'],
      summary: 'Create a conversation with participants (users must exist)',
      security: [{ apiKey: [] }],
      querystring: noQuerySchema,
      body: bodySchema,
      response: { 201: conversationJsonSchema },
    },
    handler: async (request, reply) => {
      const { workspaceId } = apiKeyOf(request);
      const body = request.body;
      const users = await usersByExternalIds(app, workspaceId, body.participants.map((p) => p.external_id));
      const { json } = await createConversation({
        db: app.deps.database.db,
        events: app.deps.events,
        workspaceId,
        ...(body.type ? { type: body.type } : {}),
        ...(body.widget ? { widgetSlug: body.widget } : {}),
        participants: body.participants.map((p) => ({ user: users.get(p.external_id)!, ...(p.role ? { role: p.role } : {}) })),
        subject: body.subject ?? null,
        state: body.state ?? null,
        name: body.name ?? null,
        ...(body.metadata ? { metadata: body.metadata as Record<string, never> } : {}),
      });
      return reply.code(201).send(json as never);
    },
  });
}
