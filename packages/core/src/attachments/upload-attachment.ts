import { createReadStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { and, eq, inArray, isNull, lt } from 'drizzle-orm';
import { uuidv7 } from 'uuidv7';
import { schema, type Executor, type JsonObject } from '@reusable-chat/db';
import type { BlobStore, MediaInspector, ProcessedImage } from '../ports/index.ts';
import { AppError } from '../errors/registry.ts';
import { INLINE_SAFE_TYPES, PROCESSABLE_IMAGE_TYPES, type AttachmentPolicy } from './attachment-policy.ts';

export type AttachmentRow = typeof schema.attachments.$inferSelect;

/** Signed URLs live this long (U-09: ≤ 15 min). */
export const ATTACHMENT_URL_TTL_S = 900;
const MAX_DISPLAY_NAME = 200;

/**
 * The client's filename is display metadata only (U-04): path parts, control characters and BiDi
 * overrides (V-03, "invoice‮gpj.exe") are removed, and the length is bounded. Storage keys never use it.
 */
export function sanitizeFilename(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const cleaned = base.replace(/[\u0000-\u001f\u007f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '').trim();
  const bounded = Array.from(cleaned).slice(0, MAX_DISPLAY_NAME).join('');
  return bounded === '.' || bounded === '..' ? '' : bounded;
}

export function attachmentKey(workspaceId: string, id: string, ext: string): string {
  return `workspaces/${workspaceId}/attachments/${id}.${ext}`;
}

/** Counts bytes as they pass and fails the stream the moment the limit is crossed (U-05): no full buffering. */
function byteLimit(maxBytes: number): Transform & { bytes: number } {
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      t.bytes += chunk.length;
      if (t.bytes > maxBytes) {
        done(new AppError('payload_too_large', `The file is larger than ${maxBytes} bytes.`, { max_size_bytes: maxBytes }));
        return;
      }
      done(null, chunk);
    },
  }) as Transform & { bytes: number };
  t.bytes = 0;
  return t;
}

/**
 * Stores an upload for a conversation (SPEC §7). The caller has checked that the uploader may post there.
 * Order matters (U-12): content is checked, the object is written, and only then the row; if the row fails,
 * the object is deleted, so no row ever points at a missing object.
 */
export async function uploadAttachment(params: {
  db: Executor;
  blobStore: BlobStore;
  media: MediaInspector;
  workspaceId: string;
  conversationId: string;
  uploaderUserId?: string | null;
  uploaderAdminId?: string | null;
  policy: AttachmentPolicy;
  file: Readable;
  filename: string;
  tmpDir: string;
}): Promise<AttachmentRow> {
  const { policy } = params;
  if (!policy.enabled) {
    params.file.resume();
    throw new AppError('forbidden', 'Uploads are disabled for this conversation.');
  }
  await mkdir(params.tmpDir, { recursive: true });
  const tmpFile = path.join(params.tmpDir, `upload-${uuidv7()}`);
  // Created before the stream starts: a write stream opens its file lazily, so a stream cut off at once (an
  // over-size upload) could create the file after the cleanup below had already run, and leave it behind.
  const tmpHandle = await open(tmpFile, 'wx', 0o600);
  const stored: string[] = [];
  try {
    const limiter = byteLimit(policy.maxSizeBytes);
    try {
      await pipeline(params.file, limiter, tmpHandle.createWriteStream());
    } catch (err) {
      params.file.resume(); // drain what is left so the connection can answer
      if (err instanceof AppError) throw err;
      const code = (err as { code?: string }).code;
      if (code === 'FST_REQ_FILE_TOO_LARGE') throw new AppError('payload_too_large');
      throw err;
    }
    if (limiter.bytes === 0) throw new AppError('validation_failed', 'The file is empty.');

    // Type by content only (U-01): the declared type and the name are never consulted.
    const sniffed = await params.media.sniffFile(tmpFile);
    if (!sniffed || !policy.allowedTypes.includes(sniffed.mime)) {
      throw new AppError('unsupported_media_type', 'This file type is not allowed.', {
        detected: sniffed?.mime ?? null,
        allowed_types: [...policy.allowedTypes],
      });
    }

    let image: ProcessedImage | null = null;
    if (PROCESSABLE_IMAGE_TYPES.has(sniffed.mime)) {
      try {
        image = await params.media.processImage(tmpFile, sniffed.mime);
      } catch {
        throw new AppError('validation_failed', 'The image could not be processed (corrupt, too many pixels or too slow).');
      }
    }

    const id = uuidv7();
    const key = attachmentKey(params.workspaceId, id, sniffed.ext);
    const thumbnailKey = image ? attachmentKey(params.workspaceId, `${id}_thumb`, image.thumbnailExt) : null;
    const disposition = INLINE_SAFE_TYPES.has(sniffed.mime) ? 'inline' : 'attachment';
    let sizeBytes = limiter.bytes;
    try {
      if (image) {
        await params.blobStore.put(key, image.cleaned, { contentType: sniffed.mime, sizeBytes: image.cleaned.length, disposition });
        stored.push(key);
        sizeBytes = image.cleaned.length;
        await params.blobStore.put(thumbnailKey!, image.thumbnail, {
          contentType: image.thumbnailMime,
          sizeBytes: image.thumbnail.length,
          disposition: 'inline',
        });
        stored.push(thumbnailKey!);
      } else {
        await params.blobStore.put(key, createReadStream(tmpFile), { contentType: sniffed.mime, sizeBytes, disposition });
        stored.push(key);
      }
    } catch {
      throw new AppError('service_unavailable', 'The file could not be stored; retry shortly.', undefined, 5);
    }

    const [row] = await params.db
      .insert(schema.attachments)
      .values({
        id,
        workspaceId: params.workspaceId,
        conversationId: params.conversationId,
        uploaderUserId: params.uploaderUserId ?? null,
        uploaderAdminId: params.uploaderAdminId ?? null,
        storageKey: key,
        thumbnailKey,
        contentType: sniffed.mime,
        extension: sniffed.ext,
        sizeBytes,
        originalName: sanitizeFilename(params.filename),
        width: image?.width ?? null,
        height: image?.height ?? null,
      })
      .returning();
    if (!row) throw new Error('attachment insert returned no row');
    stored.length = 0; // the row owns the objects now
    return row;
  } finally {
    await rm(tmpFile, { force: true });
    for (const key of stored) await params.blobStore.delete(key).catch(() => undefined);
  }
}

export function toAttachmentJson(row: AttachmentRow, blobStore: BlobStore): JsonObject {
  const inline = INLINE_SAFE_TYPES.has(row.contentType);
  return {
    id: row.id,
    conversation_id: row.conversationId,
    message_id: row.messageId,
    content_type: row.contentType,
    extension: row.extension,
    size_bytes: row.sizeBytes,
    name: row.originalName,
    width: row.width,
    height: row.height,
    url: blobStore.publicUrl(row.storageKey, {
      expiresInS: ATTACHMENT_URL_TTL_S,
      download: !inline,
      ...(row.originalName ? { filename: row.originalName } : {}),
    }),
    thumbnail_url: row.thumbnailKey ? blobStore.publicUrl(row.thumbnailKey, { expiresInS: ATTACHMENT_URL_TTL_S }) : null,
    created_at: row.createdAt.toISOString(),
  };
}

/**
 * Binds uploads to a message (inside the message's transaction). Every id must be this uploader's, in this
 * workspace and conversation, and not yet attached; otherwise nothing is attached and the answer is 404 (U-11).
 */
export async function claimAttachments(params: {
  db: Executor;
  workspaceId: string;
  conversationId: string;
  uploaderUserId: string;
  messageId: string;
  attachmentIds: readonly string[];
}): Promise<AttachmentRow[]> {
  const ids = [...new Set(params.attachmentIds)];
  if (ids.length === 0) return [];
  const rows = await params.db
    .update(schema.attachments)
    .set({ messageId: params.messageId })
    .where(
      and(
        eq(schema.attachments.workspaceId, params.workspaceId),
        eq(schema.attachments.conversationId, params.conversationId),
        eq(schema.attachments.uploaderUserId, params.uploaderUserId),
        isNull(schema.attachments.messageId),
        inArray(schema.attachments.id, ids),
      ),
    )
    .returning();
  if (rows.length !== ids.length) throw new AppError('not_found', 'Attachment not found.');
  return rows;
}

export async function listMessageAttachments(params: {
  db: Executor;
  workspaceId: string;
  messageIds: readonly string[];
}): Promise<AttachmentRow[]> {
  if (params.messageIds.length === 0) return [];
  return params.db
    .select()
    .from(schema.attachments)
    .where(and(eq(schema.attachments.workspaceId, params.workspaceId), inArray(schema.attachments.messageId, [...params.messageIds])))
    .orderBy(schema.attachments.id);
}

/**
 * Garbage-collects uploads never attached to a message (U-11): the row goes first, then its objects, so a
 * failed object delete leaves at worst an unreferenced object, never a dangling row.
 */
export async function deleteOrphanAttachments(params: {
  db: Executor;
  blobStore: BlobStore;
  olderThan: Date;
  limit?: number;
}): Promise<number> {
  const orphans = await params.db
    .select()
    .from(schema.attachments)
    .where(and(isNull(schema.attachments.messageId), lt(schema.attachments.createdAt, params.olderThan)))
    .limit(params.limit ?? 500);
  let deleted = 0;
  for (const row of orphans) {
    const gone = await params.db
      .delete(schema.attachments)
      .where(and(eq(schema.attachments.id, row.id), isNull(schema.attachments.messageId)))
      .returning({ id: schema.attachments.id });
    if (gone.length === 0) continue; // attached meanwhile
    deleted += 1;
    for (const key of [row.storageKey, row.thumbnailKey]) {
      if (key) await params.blobStore.delete(key).catch(() => undefined);
    }
  }
  return deleted;
}

/**
 * Before a send: every id must be this user's own, unattached upload to this conversation (U-11, T-14).
 * Anything else — another workspace's, another user's, another conversation's, already used — is 404.
 */
export async function assertOwnPendingUploads(params: {
  db: Executor;
  workspaceId: string;
  conversationId: string;
  uploaderUserId: string;
  attachmentIds: readonly string[];
}): Promise<void> {
  const ids = [...new Set(params.attachmentIds)];
  if (ids.length === 0) return;
  const owned = await params.db
    .select({ id: schema.attachments.id })
    .from(schema.attachments)
    .where(
      and(
        eq(schema.attachments.workspaceId, params.workspaceId),
        eq(schema.attachments.conversationId, params.conversationId),
        eq(schema.attachments.uploaderUserId, params.uploaderUserId),
        isNull(schema.attachments.messageId),
        inArray(schema.attachments.id, ids),
      ),
    );
  if (owned.length !== ids.length) throw new AppError('not_found', 'Attachment not found.');
}

/** An attachment of a conversation the caller takes part in, else 404 (U-09, T-14). */
export async function getParticipantAttachment(params: {
  db: Executor;
  workspaceId: string;
  attachmentId: string;
  chatUserId: string;
}): Promise<AttachmentRow> {
  const rows = await params.db
    .select({ attachment: schema.attachments })
    .from(schema.attachments)
    .innerJoin(
      schema.participants,
      and(
        eq(schema.participants.conversationId, schema.attachments.conversationId),
        eq(schema.participants.chatUserId, params.chatUserId),
        isNull(schema.participants.leftAt),
      ),
    )
    .where(and(eq(schema.attachments.workspaceId, params.workspaceId), eq(schema.attachments.id, params.attachmentId)))
    .limit(1);
  const row = rows[0]?.attachment;
  // An upload not yet sent is visible only to its uploader.
  if (!row || (row.messageId === null && row.uploaderUserId !== params.chatUserId)) throw new AppError('not_found', 'Attachment not found.');
  return row;
}
