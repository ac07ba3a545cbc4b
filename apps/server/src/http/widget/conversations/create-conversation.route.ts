import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, getWidgetConversation, parsePolicies, resolveWidgetConfig, startWidgetConversation } from '@reusable-chat/core';
import { widgetOf } from '../../plugins/widget-auth.ts';
import { attachmentSerializer, blockedBy } from '../shared/route-context.ts';
import { conversationJsonSchema, idParamSchema, shortTextSchema } from '../shared/widget.schema.ts';

/**
 * New conversations per client IP (V-30; Chatwoot's widget allows 6 per 12 h per IP): generous, because many
 * visitors can share one NAT address; the per-session limit is the configuration's.
 */
const PER_IP_PER_12H = 200;
const TWELVE_HOURS_S = 12 * 3600;

const bodySchema = z
  .object({
    widget: z.string().min(1).max(64).regex(/^[a-z0-9][a-z0-9_-]*$/).optional().describe('Widget configuration slug'),
    with_user_id: idParamSchema.optional().describe('Counterpart chat user (e.g. the host of a listing)'),
    subject: shortTextSchema.optional(),
    name: shortTextSchema.optional(),
  })
  .strict();

export function registerCreateConversationRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().post('/conversations', {
    schema: {
      tags: ['widget'],
      summary: 'Start a conversation where the widget configuration allows the user to',
      security: [{ widgetSession: [] }],
      body: bodySchema,
      response: { 201: conversationJsonSchema },
    },
    handler: async (request, reply) => {
      const auth = widgetOf(request);
      const db = app.deps.database.db;
      const body = request.body;
      const widgetConfig = await resolveWidgetConfig({ db, workspaceId: auth.workspace.id, ...(body.widget ? { slug: body.widget } : {}) });
      const perSession = parsePolicies(widgetConfig.policies).rate_limits.new_conversations_per_session_per_12h;
      for (const [key, limit] of [
        [`widget-conv:s:${auth.session.id}`, perSession],
        [`widget-conv:ip:${request.ip}`, PER_IP_PER_12H],
      ] as const) {
        const hit = await app.deps.rateLimiter.hit(key, limit, TWELVE_HOURS_S);
        if (!hit.allowed) throw new AppError('rate_limited', 'Too many new conversations; try again later.', undefined, hit.retryAfterS);
      }
      const { conversation } = await startWidgetConversation({
        db,
        events: app.deps.events,
        workspaceId: auth.workspace.id,
        user: auth.user,
        widgetConfig,
        ...(body.with_user_id ? { counterpartUserId: body.with_user_id } : {}),
        subject: body.subject ?? null,
        name: body.name ?? null,
      });
      const json = await getWidgetConversation({
        db,
        workspaceId: auth.workspace.id,
        chatUserId: auth.user.id,
        conversation,
        blocked: await blockedBy(app, auth),
        serializeAttachment: attachmentSerializer(app),
      });
      return reply.code(201).send(json as never);
    },
  });
}
