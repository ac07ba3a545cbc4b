import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { AppError, readAttachmentPolicy, toAttachmentJson, uploadAttachment } from '@reusable-chat/core';
import type { MediaInspector } from '@reusable-chat/core/ports';
import { participantContext } from '../shared/route-context.ts';
import { anyObject, conversationParams } from '../shared/widget.schema.ts';

/** Uploads per user per minute (U-06): a user dropping a batch of photos fits, a script does not. */
const UPLOADS_PER_USER_PER_MINUTE = 60;
/** Uploads per workspace per minute: one noisy tenant cannot fill the disk for all (U-06). */
const UPLOADS_PER_WORKSPACE_PER_MINUTE = 600;
/** Bytes per user per day (U-06); workspace setting `upload_bytes_per_user_per_day` overrides it. */
const DEFAULT_UPLOAD_BYTES_PER_USER_PER_DAY = 500 * 1024 * 1024;
/** Bytes per workspace per day (U-06); workspace setting `upload_bytes_per_workspace_per_day` overrides it. */
const DEFAULT_UPLOAD_BYTES_PER_WORKSPACE_PER_DAY = 20 * 1024 * 1024 * 1024;
const DAY_S = 86_400;

function positiveSetting(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

/**
 * POST /conversations/{id}/attachments — multipart, one `file` part (SPEC §7). Participation and the
 * configuration's attachment policy are checked before a byte of the body is read; the size limit is
 * enforced while streaming (U-05) and the type by magic bytes (U-01). The answer's `id` goes into
 * `attachment_ids` of the next send.
 */
export function registerUploadAttachmentRoute(app: FastifyInstance, media: MediaInspector): void {
  app.withTypeProvider<ZodTypeProvider>().post('/conversations/:id/attachments', {
    schema: {
      tags: ['widget'],
      summary: 'Upload a file (multipart/form-data, field `file`) for a later message',
      security: [{ widgetSession: [] }],
      consumes: ['multipart/form-data'],
      params: conversationParams,
      response: { 201: anyObject },
    },
    handler: async (request, reply) => {
      const { auth, conversation, widgetConfig } = await participantContext(app, request, request.params.id);
      const policy = readAttachmentPolicy(widgetConfig?.policies ?? {}, auth.workspace.settings);
      if (!policy.enabled) throw new AppError('forbidden', 'Uploads are disabled for this conversation.');
      for (const [key, limit] of [
        // Per user, not per session: minting a fresh session does not reset the quota (U-06).
        [`widget-upload:u:${auth.user.id}`, UPLOADS_PER_USER_PER_MINUTE],
        [`widget-upload:w:${auth.workspace.id}`, UPLOADS_PER_WORKSPACE_PER_MINUTE],
      ] as const) {
        const hit = await app.deps.rateLimiter.hit(key, limit, 60);
        if (!hit.allowed) throw new AppError('rate_limited', 'Too many uploads; try again shortly.', undefined, hit.retryAfterS);
      }
      // Daily byte quotas: read now (cost 0), charged with the stored size once the upload succeeded. A
      // quota can be overshot by the uploads already in flight when it runs out, at most one file each.
      const settings = auth.workspace.settings;
      const byteQuotas = [
        [`widget-upload-bytes:u:${auth.user.id}`, positiveSetting(settings.upload_bytes_per_user_per_day, DEFAULT_UPLOAD_BYTES_PER_USER_PER_DAY)],
        [`widget-upload-bytes:w:${auth.workspace.id}`, positiveSetting(settings.upload_bytes_per_workspace_per_day, DEFAULT_UPLOAD_BYTES_PER_WORKSPACE_PER_DAY)],
      ] as const;
      for (const [key, limit] of byteQuotas) {
        const used = await app.deps.rateLimiter.hit(key, limit, DAY_S, 0);
        if (used.remaining <= 0) {
          throw new AppError('rate_limited', 'The daily upload quota is used up; try again later.', undefined, used.retryAfterS);
        }
      }
      if (!request.isMultipart()) throw new AppError('unsupported_media_type', 'Send the file as multipart/form-data.');
      // busboy stops one byte past the limit; our own counter then refuses the upload with 413.
      const part = await request.file({ limits: { fileSize: policy.maxSizeBytes + 1, files: 1, fields: 0, parts: 1 } });
      if (!part) throw new AppError('validation_failed', 'A multipart part named "file" is required.', { field: 'file' });
      if (part.fieldname !== 'file') {
        part.file.resume();
        throw new AppError('validation_failed', 'The file part must be named "file".', { field: 'file' });
      }
      let row;
      try {
        row = await uploadAttachment({
          db: app.deps.database.db,
          blobStore: app.deps.blobStore,
          media,
          workspaceId: auth.workspace.id,
          conversationId: conversation.id,
          uploaderUserId: auth.user.id,
          policy,
          file: part.file,
          filename: part.filename,
          tmpDir: path.join(app.deps.config.dataDir, 'tmp', 'uploads'),
        });
      } catch (err) {
        // The rest of a refused body is not worth reading: answer, then close the connection (U-05).
        reply.header('connection', 'close');
        throw err;
      }
      for (const [key, limit] of byteQuotas) await app.deps.rateLimiter.hit(key, limit, DAY_S, row.sizeBytes);
      return reply.code(201).send(toAttachmentJson(row, app.deps.blobStore));
    },
  });
}
