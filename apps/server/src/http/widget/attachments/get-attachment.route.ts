import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { getParticipantAttachment, toAttachmentJson } from '@reusable-chat/core';
import { widgetOf } from '../../plugins/widget-auth.ts';
import { anyObject, idParamSchema } from '../shared/widget.schema.ts';

export function registerGetAttachmentRoute(app: FastifyInstance): void {
  app.withTypeProvider<ZodTypeProvider>().get('/attachments/:id', {
    schema: {
      tags: ['widget'],
      summary: 'An attachment of one of the user\'s conversations, with a fresh short-lived URL',
      security: [{ widgetSession: [] }],
      params: z.object({ id: idParamSchema }).strict(),
      response: { 200: anyObject },
    },
    handler: async (request) => {
      const auth = widgetOf(request);
      const row = await getParticipantAttachment({
        db: app.deps.database.db,
        workspaceId: auth.workspace.id,
        attachmentId: request.params.id,
        chatUserId: auth.user.id,
      });
      return toAttachmentJson(row, app.deps.blobStore);
    },
  });
}
