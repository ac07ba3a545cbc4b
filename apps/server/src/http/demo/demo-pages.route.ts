import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * The demo pages (SPEC §8) are the dashboard app's build (apps/dashboard/dist, Vite, base `/demo/`): hashed
 * assets under /demo/assets/, and index.html for every other /demo path so the client router can take over
 * (/demo, /demo/r/{room}, /demo/marketplace).
 *
 * Strict CSP (security checklist, SPEC §8 "works under a strict CSP"): scripts and styles only from files of
 * this origin — no inline code, no eval; connections only to this origin (HTTP API and the realtime socket).
 */
export const DEMO_PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers every demo response carries besides the app-wide nosniff and referrer policy. */
function securityHeaders(reply: FastifyReply): void {
  reply.header('content-security-policy', DEMO_PAGE_CSP);
  reply.header('x-frame-options', 'DENY');
  reply.header('cross-origin-opener-policy', 'same-origin');
  reply.header('cross-origin-resource-policy', 'same-origin');
  reply.header('permissions-policy', 'camera=(), microphone=(), geolocation=(), payment=(), usb=()');
}

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};
/** Vite's output names: letters, digits, dot, dash, underscore — never a slash or `..` (path traversal). */
const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}$/;

/** apps/dashboard/dist, found from this file in the source tree (src/http/demo) and in the bundle (dist/main.js). */
export function dashboardDistDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i += 1) {
    const candidate = path.join(dir, 'apps', 'dashboard');
    if (existsSync(path.join(candidate, 'package.json'))) return path.join(candidate, 'dist');
    dir = path.dirname(dir);
  }
  return path.resolve(process.cwd(), 'apps/dashboard/dist');
}

const NOT_BUILT = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Reusable Chat demo</title></head>
<body>
<h1>Reusable Chat demo</h1>
<p>The demo app is not built. <code>npm start</code> builds it; or run <code>npm run build -w @reusable-chat/dashboard</code>.</p>
<p><a href="/">Back</a></p>
</body>
</html>
`;

export function registerDemoPages(app: FastifyInstance): void {
  const distDir = dashboardDistDir();
  const assetsDir = path.join(distDir, 'assets');
  // index.html is re-read when the build changes (a rebuild never needs a restart); it is a few hundred bytes.
  let cached: { mtimeMs: number; html: string } | null = null;
  const indexHtml = (): string | null => {
    const file = path.join(distDir, 'index.html');
    if (!existsSync(file)) return null;
    const { mtimeMs } = statSync(file);
    if (!cached || cached.mtimeMs !== mtimeMs) cached = { mtimeMs, html: readFileSync(file, 'utf8') };
    return cached.html;
  };

  const sendPage = async (_request: unknown, reply: FastifyReply) => {
    securityHeaders(reply);
    reply.header('cache-control', 'no-cache');
    reply.type('text/html; charset=utf-8');
    const html = indexHtml();
    if (html === null) return reply.code(503).send(NOT_BUILT);
    return reply.send(html);
  };

  app.get('/demo/assets/:file', { schema: { hide: true }, logLevel: 'warn' }, async (request, reply) => {
    const { file } = request.params as { file: string };
    const type = CONTENT_TYPES[path.extname(file)];
    const full = path.join(assetsDir, file);
    if (!ASSET_NAME.test(file) || file.includes('..') || !type || !existsSync(full)) {
      securityHeaders(reply);
      return reply.code(404).type('text/plain; charset=utf-8').send('Not found');
    }
    securityHeaders(reply);
    // Names carry a content hash: a changed file is a new URL, so the old one may be cached for good.
    reply.header('cache-control', 'public, max-age=31536000, immutable');
    reply.type(type);
    return reply.send(readFileSync(full));
  });
  app.get('/demo', { schema: { hide: true }, logLevel: 'warn' }, sendPage);
  app.get('/demo/*', { schema: { hide: true }, logLevel: 'warn' }, sendPage);
}
