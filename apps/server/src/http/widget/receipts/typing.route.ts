import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, toUserJson } from '@reusable-chat/core';
import { participantContext, policiesOf } from '../shared/route-context.ts';
import { conversationParams, okResponse } from '../shared/widget.schema.ts';

/** Typing pings per session per minute: the indicator needs one every few seconds at most. */
const TYPING_PER_MINUTE = 60;

export function registerTypingRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().post('/conversations/:id/typing', {
    schema: {
      tags: ['widget'],
      summary: 'Typing indicator → user.typing to the conversation',
      security: [{ widgetSession: [] }],
      params: conversationParams,
      // V-23: the only accepted shape; nothing the client sends is relayed as markup.
      body: z.object({ is_typing: z.boolean().default(true) }).strict().default({ is_typing: true }),
      response: { 200: okResponse },
    },
    handler: async (request) => {
      const { auth, conversation, widgetConfig } = await participantContext(app, request, request.params.id);
      if (!policiesOf(widgetConfig).typing) throw new AppError('forbidden', 'Typing indicators are off for this conversation.');
      const hit = await app.deps.rateLimiter.hit(`widget-typing:${auth.session.id}`, TYPING_PER_MINUTE, 60);
      if (!hit.allowed) throw new AppError('rate_limited', undefined, undefined, hit.retryAfterS);
      await app.deps.events.emit({
        type: 'user.typing',
        workspaceId: auth.workspace.id,
        conversationId: conversation.id,
        user: toUserJson(auth.user, 'public'),
        isTyping: request.body.is_typing,
      });
      return { ok: true as const };
    },
  });
}
