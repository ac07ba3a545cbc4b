import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, assertOwnPendingUploads, sendMessage } from '@reusable-chat/core';
import { attachmentSerializer, participantContext, policiesOf } from '../shared/route-context.ts';
import { clientIdSchema, contentSchema, conversationParams, idParamSchema, messageJsonSchema } from '../shared/widget.schema.ts';

const bodySchema = z
  .object({
    content: contentSchema.default(''),
    client_id: clientIdSchema.optional().describe('Idempotency: a retried send with the same client_id returns the first message'),
    attachment_ids: z.array(idParamSchema).max(10).optional(),
  })
  .strict();

const socketIdHeader = z.looseObject({
  'x-socket-id': z.string().regex(/^\d+\.\d+$/).max(64).optional().describe('Pusher socket_id to exclude from the echo'),
});

export function registerCreateMessageRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().post('/conversations/:id/messages', {
    schema: {
      tags: ['widget'],
      summary: 'Send a message (201; 200 when client_id repeats an earlier send)',
      security: [{ widgetSession: [] }],
      params: conversationParams,
      headers: socketIdHeader,
      body: bodySchema,
      response: { 200: messageJsonSchema, 201: messageJsonSchema },
    },
    handler: async (request, reply) => {
      const { auth, conversation, widgetConfig } = await participantContext(app, request, request.params.id);
      const policies = policiesOf(widgetConfig);
      // V-30: the configuration's message rate, per session and per workspace (policies.rate_limits).
      for (const [key, limit] of [
        [`widget-msg:s:${auth.session.id}`, policies.rate_limits.per_session_per_minute],
        [`widget-msg:w:${auth.workspace.id}`, policies.rate_limits.per_workspace_per_minute],
      ] as const) {
        const hit = await app.deps.rateLimiter.hit(key, limit, 60);
        if (!hit.allowed) throw new AppError('rate_limited', 'Too many messages; slow down.', undefined, hit.retryAfterS);
      }
      const db = app.deps.database.db;
      const body = request.body;
      const attachmentIds = [...new Set(body.attachment_ids ?? [])];
      // U-11, T-14: only this user's own unattached uploads to this conversation; anything else is 404.
      await assertOwnPendingUploads({
        db,
        workspaceId: auth.workspace.id,
        conversationId: conversation.id,
        uploaderUserId: auth.user.id,
        attachmentIds,
      });
      const socketId = request.headers['x-socket-id'];
      const result = await sendMessage({
        db,
        events: app.deps.events,
        workspaceId: auth.workspace.id,
        conversationId: conversation.id,
        conversation,
        sender: { type: 'user', chatUserId: auth.user.id },
        content: body.content,
        clientId: body.client_id ?? null,
        attachmentIds,
        maxLength: policies.max_length,
        ...(app.deps.messagePolicyHook ? { policyHook: app.deps.messagePolicyHook } : {}),
        ...(typeof socketId === 'string' ? { excludeSocketId: socketId } : {}),
        serializeAttachment: attachmentSerializer(app),
      });
      return reply.code(result.created ? 201 : 200).send(result.json as never);
    },
  });
}
