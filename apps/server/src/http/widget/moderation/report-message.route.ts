import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, reportMessage, requireMessageInConversation, toReportJson } from '@reusable-chat/core';
import { participantContext } from '../shared/route-context.ts';
import { anyObject, messageParams, shortTextSchema } from '../shared/widget.schema.ts';

const REPORTS_PER_SESSION_PER_HOUR = 30;

export function registerReportMessageRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().post('/conversations/:id/messages/:messageId/report', {
    schema: {
      tags: ['widget'],
      summary: 'Report a message to the workspace\'s moderation queue (201; 200 when already reported)',
      security: [{ widgetSession: [] }],
      params: messageParams,
      body: z.object({ reason: shortTextSchema.optional() }).strict().default({}),
      response: { 200: anyObject, 201: anyObject },
    },
    handler: async (request, reply) => {
      const { auth, conversation } = await participantContext(app, request, request.params.id);
      const hit = await app.deps.rateLimiter.hit(`widget-report:${auth.session.id}`, REPORTS_PER_SESSION_PER_HOUR, 3600);
      if (!hit.allowed) throw new AppError('rate_limited', undefined, undefined, hit.retryAfterS);
      const db = app.deps.database.db;
      const message = await requireMessageInConversation({
        db,
        workspaceId: auth.workspace.id,
        conversationId: conversation.id,
        messageId: request.params.messageId,
      });
      const result = await reportMessage({
        db,
        events: app.deps.events,
        workspaceId: auth.workspace.id,
        conversationId: conversation.id,
        messageId: message.id,
        reporterUserId: auth.user.id,
        reason: request.body.reason ?? null,
      });
      return reply.code(result.created ? 201 : 200).send(toReportJson(result.report));
    },
  });
}
