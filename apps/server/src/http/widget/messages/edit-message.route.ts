import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { editOwnMessage } from '@reusable-chat/core';
import { attachmentSerializer, participantContext, policiesOf } from '../shared/route-context.ts';
import { contentSchema, messageJsonSchema, messageParams } from '../shared/widget.schema.ts';

const bodySchema = z.object({ content: contentSchema.min(1) }).strict();

export function registerEditMessageRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().patch('/conversations/:id/messages/:messageId', {
    schema: {
      tags: ['widget'],
      summary: 'Edit one\'s own message within the configuration\'s edit window',
      security: [{ widgetSession: [] }],
      params: messageParams,
      body: bodySchema,
      response: { 200: messageJsonSchema },
    },
    handler: async (request) => {
      const { auth, conversation, widgetConfig } = await participantContext(app, request, request.params.id);
      const policies = policiesOf(widgetConfig);
      const json = await editOwnMessage({
        db: app.deps.database.db,
        events: app.deps.events,
        workspaceId: auth.workspace.id,
        conversation,
        messageId: request.params.messageId,
        chatUserId: auth.user.id,
        content: request.body.content,
        windowS: policies.edit_window_s,
        maxLength: policies.max_length,
        ...(app.deps.messagePolicyHook ? { policyHook: app.deps.messagePolicyHook } : {}),
        serializeAttachment: attachmentSerializer(app),
        now: app.deps.clock.now(),
      });
      return json as never;
    },
  });
}
