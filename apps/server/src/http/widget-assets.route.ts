import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { AppError } from '@reusable-chat/core';

/**
 * The embeddable widget's files (SPEC §8): `/widget.js` (the loader every host page includes) and the
 * content-hashed app chunk it imports. Any site may load them, so CORS is `*` and CORP `cross-origin`; they
 * carry no credentials and no secret (S-01) — only the public Pusher app key, substituted into the loader.
 */

/** The loader's URL never changes, so a short cache lets a deploy reach every page within minutes. */
const LOADER_MAX_AGE_S = 300;
/** Hashed chunks never change under their name: cache for a year. */
const CHUNK_MAX_AGE_S = 31_536_000;
const REALTIME_KEY_PLACEHOLDER = '"__RC_REALTIME_KEY__"';

const here = path.dirname(fileURLToPath(import.meta.url));
/** apps/widget/dist seen from the source tree (src/http) and from the bundled server (apps/server/dist). */
const DIST_CANDIDATES = [path.resolve(here, '../../../widget/dist'), path.resolve(here, '../../widget/dist'), path.resolve(process.cwd(), 'apps/widget/dist')];

function distDir(): string | null {
  return DIST_CANDIDATES.find((d) => existsSync(path.join(d, 'widget.js'))) ?? null;
}

interface Cached {
  mtimeMs: number;
  body: Buffer;
}

export function registerWidgetAssetRoutes(app: FastifyInstance): void {
  const cache = new Map<string, Cached>();
  const appKey = app.deps.config.realtime.appKey;

  function read(file: string, transform?: (text: string) => string): Buffer {
    const dir = distDir();
    if (!dir) throw new AppError('not_found', 'The widget is not built (npm run build:widget).');
    const full = path.join(dir, file);
    let mtimeMs: number;
    try {
      mtimeMs = statSync(full).mtimeMs;
    } catch {
      throw new AppError('not_found', 'Widget file not found.');
    }
    const hit = cache.get(full);
    if (hit && hit.mtimeMs === mtimeMs) return hit.body;
    const raw = readFileSync(full);
    const body = transform ? Buffer.from(transform(raw.toString('utf8')), 'utf8') : raw;
    cache.set(full, { mtimeMs, body });
    return body;
  }

  function send(reply: FastifyReply, body: Buffer, maxAgeS: number, immutable: boolean) {
    return reply
      .header('content-type', 'text/javascript; charset=utf-8')
      .header('cache-control', `public, max-age=${maxAgeS}${immutable ? ', immutable' : ''}`)
      .header('access-control-allow-origin', '*')
      .header('cross-origin-resource-policy', 'cross-origin')
      .send(body);
  }

  app.get('/widget.js', { schema: { tags: ['widget'], summary: 'The widget loader (embed with <script async>)' } }, async (_request, reply) => {
    const body = read('widget.js', (text) => text.split(REALTIME_KEY_PLACEHOLDER).join(JSON.stringify(appKey)));
    return send(reply, body, LOADER_MAX_AGE_S, false);
  });

  app.get(
    '/widget-app-:hash',
    {
      schema: {
        tags: ['widget'],
        summary: 'A content-hashed widget chunk (immutable)',
        params: z.object({ hash: z.string().regex(/^[0-9a-f]{6,64}\.js$/) }),
      },
    },
    async (request, reply) => {
      const { hash } = request.params as { hash: string };
      return send(reply, read(`widget-app-${hash}`), CHUNK_MAX_AGE_S, true);
    },
  );
}
