import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError, INLINE_SAFE_TYPES } from '@reusable-chat/core';
import { LocalBlobStore } from '@reusable-chat/drivers';

/** Extension → type for what may render inline; anything else is an opaque download (U-02, U-03). */
const INLINE_BY_EXT: Readonly<Record<string, string>> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  gif: 'image/gif',
  webp: 'image/webp',
};

/** Loose on purpose: a malformed or missing parameter is a bad link (403), not a validation error. */
const query = z.looseObject({
  expires: z.string().max(20).optional(),
  sig: z.string().max(128).optional(),
  dl: z.string().max(1).optional(),
  name: z.string().max(400).optional(),
});

/** RFC 6266 / RFC 5987: an ASCII fallback plus `filename*` in UTF-8 (U-04). */
export function contentDisposition(type: 'inline' | 'attachment', filename: string | undefined): string {
  if (!filename) return type;
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const encoded = encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `${type}; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/**
 * GET /files/{key}?expires&sig[&dl&name] — local storage's short-lived signed URLs (SPEC §7). The HMAC binds
 * key, expiry and disposition (U-09): a bad signature answers 403, an expired one 403, a missing object 404.
 * Only raster images are inline; everything else is `attachment` + octet-stream. Every answer carries
 * nosniff and a sandboxing CSP, so even a mislabelled file cannot run script on this origin.
 */
export function registerServeFileRoute(app: FastifyInstance): void {
  const store = app.deps.blobStore;
  if (!(store instanceof LocalBlobStore)) return; // CDN drivers serve from their own origin
  app.withTypeProvider<ZodTypeProvider>().get('/files/*', {
    schema: { tags: ['files'], summary: 'Signed download of a stored file (local storage)', querystring: query, hide: true },
    logLevel: 'warn',
    handler: async (request, reply) => {
      const key = (request.params as { '*': string })['*'];
      const q = request.query;
      const expires = Number(q.expires);
      const verdict =
        q.sig && Number.isSafeInteger(expires)
          ? store.verify(key, { expires, sig: q.sig, ...(q.dl ? { dl: q.dl } : {}), ...(q.name ? { name: q.name } : {}) })
          : 'invalid';
      if (verdict === 'invalid') throw new AppError('forbidden', 'The file link is invalid.');
      if (verdict === 'expired') throw new AppError('forbidden', 'The file link has expired.');
      const size = await store.size(key);
      const stream = size === null ? null : await store.get(key);
      if (!stream) throw new AppError('not_found', 'File not found.');
      const ext = key.slice(key.lastIndexOf('.') + 1).toLowerCase();
      const inlineType = INLINE_BY_EXT[ext];
      const inline = inlineType !== undefined && INLINE_SAFE_TYPES.has(inlineType) && !q.dl;
      reply
        .header('content-type', inline ? inlineType : 'application/octet-stream')
        .header('content-disposition', contentDisposition(inline ? 'inline' : 'attachment', q.name))
        .header('content-length', String(size))
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', "default-src 'none'; sandbox")
        .header('cross-origin-resource-policy', 'cross-origin')
        .header('cache-control', `private, max-age=${Math.max(0, expires - Math.floor(Date.now() / 1000))}`);
      return reply.send(stream);
    },
  });
}
