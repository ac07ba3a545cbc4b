import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  EXPORT_DOWNLOAD_TTL_S,
  EXPORT_JOB_ATTEMPTS,
  exportJobJson,
  getConversation,
  getExportJob,
  JOB_RUN_EXPORT,
  requestExport,
  type RunExportJobPayload,
} from '@reusable-chat/core';
import { apiKeyOf } from '../../plugins/api-key-auth.ts';
import { idParamSchema, noQuerySchema } from '../shared/common.schema.ts';
import { actorOf } from '../shared/route-context.ts';

const exportJobSchema = z.object({
  id: z.string(),
  type: z.enum(['conversations', 'messages']),
  format: z.enum(['jsonl', 'csv']),
  status: z.enum(['pending', 'running', 'ready', 'failed']),
  row_count: z.number().int().nullable(),
  size_bytes: z.number().int().nullable(),
  created_at: z.string(),
  completed_at: z.string().nullable(),
  error: z.string().nullable(),
  download_url: z.string().nullable().describe('Signed, short-lived; present once the status is ready'),
  download_expires_at: z.string().nullable(),
});

/**
 * Background exports for large workspaces (checklist G-01): POST answers 202 at once and a worker job writes the
 * file to storage; GET reports the status and, when ready, a signed download URL valid for a few minutes. The
 * streamed GET /exports/{conversations,messages} stay for small workspaces.
 */
export function registerExportJobRoutes(app: FastifyInstance): void {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.post('/exports', {
    schema: {
      tags: ['exports'],
      summary: 'Start a background export of conversations or messages (JSON Lines or CSV)',
      security: [{ apiKey: [] }],
      querystring: noQuerySchema,
      body: z
        .object({
          type: z.enum(['conversations', 'messages']),
          format: z.enum(['jsonl', 'csv']).default('jsonl'),
          since: z.iso.datetime({ offset: true }).optional(),
          until: z.iso.datetime({ offset: true }).optional(),
          conversation_id: idParamSchema.optional().describe('Messages of one conversation only'),
        })
        .strict(),
      response: { 202: z.object({ id: z.string(), status: z.literal('pending') }) },
    },
    handler: async (request, reply) => {
      const auth = apiKeyOf(request);
      const db = app.deps.database.db;
      const b = request.body;
      // Another tenant's conversation is 404 like everywhere else (T-13), not an empty file.
      if (b.conversation_id) await getConversation({ db, workspaceId: auth.workspaceId, conversationId: b.conversation_id });
      const row = await requestExport({
        db,
        workspaceId: auth.workspaceId,
        type: b.type,
        format: b.format,
        filter: { since: b.since, until: b.until, conversation_id: b.conversation_id },
        actor: actorOf(request),
        ip: request.ip,
      });
      // After commit. If the queue is unreachable the row stays pending and the worker's sweep enqueues it.
      await app.deps.queue
        .enqueue(JOB_RUN_EXPORT, { exportId: row.id, workspaceId: row.workspaceId } satisfies RunExportJobPayload, {
          jobId: `export:${row.id}`,
          attempts: EXPORT_JOB_ATTEMPTS,
        })
        .catch((err: unknown) => request.log.warn({ err, exportId: row.id }, 'export job not enqueued; the worker sweep will'));
      return reply.code(202).send({ id: row.id, status: 'pending' as const });
    },
  });

  r.get('/exports/:id', {
    schema: {
      tags: ['exports'],
      summary: 'Status of a background export; a signed download URL once it is ready',
      security: [{ apiKey: [] }],
      params: z.object({ id: idParamSchema }).strict(),
      querystring: noQuerySchema,
      response: { 200: exportJobSchema },
    },
    handler: async (request, reply) => {
      const { workspaceId } = apiKeyOf(request);
      const row = await getExportJob({ db: app.deps.database.db, workspaceId, exportId: request.params.id });
      const ready = row.status === 'ready' && row.storageKey;
      const expiresAt = new Date(Date.now() + EXPORT_DOWNLOAD_TTL_S * 1000);
      reply.header('cache-control', 'no-store');
      return {
        ...exportJobJson(row),
        download_url: ready
          ? app.deps.blobStore.publicUrl(row.storageKey!, { expiresInS: EXPORT_DOWNLOAD_TTL_S, download: true, filename: `${row.type}-${row.id}.${row.format}` })
          : null,
        download_expires_at: ready ? expiresAt.toISOString() : null,
      };
    },
  });
}
