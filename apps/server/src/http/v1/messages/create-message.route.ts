import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, sendMessage, type SendMessageSender } from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { conversationParamsSchema, externalIdSchema, messageJsonSchema, metadataSchema, noQuerySchema } from '../shared/common.schema.ts';
import { conversationForKey } from '../shared/route-context.ts';

/**
 * The schema caps content at 4× the default limit only to bound the request; the real limit (10 000
 * code points by default, or the widget policy's) is enforced by the message pipeline with a clear 422.
 */
const bodySchema = z
  .object({
    sender_external_id: externalIdSchema.optional(),
    system: z.literal(true).optional(),
    content: z.string().max(40_000),
    client_id: z.string().min(1).max(128).regex(/^[\x21-\x7e]+$/, 'printable ASCII').optional(),
    metadata: metadataSchema.optional(),
  })
  .strict()
  .refine((b) => (b.sender_external_id === undefined) !== (b.system === undefined), {
    message: 'Give exactly one of sender_external_id or system: true.',
    path: ['sender_external_id'],
  });

export function registerCreateMessageRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().post('/conversations/:id/messages', {
    schema: {
      tags: ['messages'],
      summary: 'Post a message as a participant or as the system (201; 200 when client_id repeats an earlier message)',
      security: [{ apiKey: [] }],
      querystring: noQuerySchema,
      params: conversationParamsSchema,
      body: bodySchema,
      response: { 200: messageJsonSchema, 201: messageJsonSchema },
    },
    config: { demoScope: true },
    handler: async (request, reply) => {
      const auth = apiKeyOf(request);
      const db = app.deps.database.db;
      const body = request.body;
      if (body.system && auth.scope === 'demo') {
        // The conversation's 404 still comes first for a demo key (another tenant's id, or not a demo room).
        await conversationForKey(app, request, request.params.id);
        throw new AppError('forbidden', 'A demo key may not post system messages.');
      }
      // A participant's post resolves the conversation and the sender (by external_id) in sendMessage's one
      // read: a post is one read and one write.
      const sender: SendMessageSender = body.system ? { type: 'system' } : { type: 'user', externalId: body.sender_external_id! };
      const result = await sendMessage({
        db,
        events: app.deps.events,
        workspaceId: auth.workspaceId,
        conversationId: request.params.id,
        ...(body.system ? { conversation: await conversationForKey(app, request, request.params.id) } : {}),
        ...(auth.scope === 'demo' ? { conversationType: 'demo' as const } : {}),
        sender,
        content: body.content,
        clientId: body.client_id ?? null,
        ...(body.metadata ? { metadata: body.metadata as Record<string, never> } : {}),
        ...(app.deps.messagePolicyHook ? { policyHook: app.deps.messagePolicyHook } : {}),
      });
      return reply.code(result.created ? 201 : 200).send(result.json as never);
    },
  });
}
