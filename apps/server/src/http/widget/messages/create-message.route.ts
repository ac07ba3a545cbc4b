import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, assertOwnPendingUploads, jsonTextOf, sendMessage } from '@reusable-chat/core';
import { forgetWidgetAuth, widgetOf } from '../../plugins/widget-auth.ts';
import { attachmentSerializer, policiesOf } from '../shared/route-context.ts';
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
    config: { widgetAuthCache: true },
    handler: async (request, reply) => {
      // The auth hook may have answered from its cache: sendMessage re-checks the session in its one read
      // (revoked, expired, erased, suspended → session_expired; banned → user_banned), together with the
      // participation (T-03, T-05, A-07 → 404), so a send costs one read and one write.
      const auth = widgetOf(request);
      const db = app.deps.database.db;
      const body = request.body;
      const attachmentIds = [...new Set(body.attachment_ids ?? [])];
      const socketId = request.headers['x-socket-id'];
      const result = await sendMessage({
        db,
        events: app.deps.events,
        workspaceId: auth.workspace.id,
        conversationId: request.params.id,
        sender: { type: 'user', chatUserId: auth.user.id },
        widgetSessionId: auth.session.id,
        nonParticipant: 'not_found',
        content: body.content,
        clientId: body.client_id ?? null,
        attachmentIds,
        admit: async ({ conversation, conversationPolicies }) => {
          const policies = policiesOf(conversationPolicies === null || conversationPolicies === undefined ? null : { policies: conversationPolicies });
          // V-30: the configuration's message rate, per session and per workspace (policies.rate_limits).
          for (const [key, limit] of [
            [`widget-msg:s:${auth.session.id}`, policies.rate_limits.per_session_per_minute],
            [`widget-msg:w:${auth.workspace.id}`, policies.rate_limits.per_workspace_per_minute],
          ] as const) {
            const hit = await app.deps.rateLimiter.hit(key, limit, 60);
            if (!hit.allowed) throw new AppError('rate_limited', 'Too many messages; slow down.', undefined, hit.retryAfterS);
          }
          // U-11, T-14: only this user's own unattached uploads to this conversation; anything else is 404.
          await assertOwnPendingUploads({
            db,
            workspaceId: auth.workspace.id,
            conversationId: conversation.id,
            uploaderUserId: auth.user.id,
            attachmentIds,
          });
          return { maxLength: policies.max_length };
        },
        ...(app.deps.messagePolicyHook ? { policyHook: app.deps.messagePolicyHook } : {}),
        ...(typeof socketId === 'string' ? { excludeSocketId: socketId } : {}),
        serializeAttachment: attachmentSerializer(app),
      }).catch((err: unknown) => {
        if (err instanceof AppError && (err.code === 'session_expired' || err.code === 'user_banned')) forgetWidgetAuth(request);
        throw err;
      });
      // The message's JSON text, already made for its realtime frames (toMessageJson writes the schema's key
      // order; the schema still documents the answer).
      return reply
        .code(result.created ? 201 : 200)
        .type('application/json; charset=utf-8')
        .send(jsonTextOf(result.json) as never);
    },
  });
}
