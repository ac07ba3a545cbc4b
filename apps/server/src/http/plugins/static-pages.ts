import type { FastifyInstance } from 'fastify';

/**
 * The pages `npm start` points a new user at (SPEC §1): `/` links to what exists, `/demo` is the demo app (http/demo).
 * Plain HTML with no script or style, under a CSP that allows neither. The dashboard and demo apps replace
 * these routes when they land (a duplicate route fails at start-up, so the swap cannot be forgotten).
 */
const CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title></head>
<body>
<h1>${title}</h1>
${body}
</body>
</html>
`;
}

const HOME = page(
  'Reusable Chat',
  `<p>The server is running.</p>
<ul>
<li><a href="/api/docs">API reference</a> (OpenAPI 3.1: <a href="/api/openapi.json">/api/openapi.json</a>)</li>
<li><a href="/health">/health</a> and <a href="/ready">/ready</a></li>
<li><a href="/demo">Demo</a></li>
</ul>
<p>The consumer API lives under <code>/api/v1</code> (header <code>X-API-Key</code>); see the README for a walk-through.</p>`,
);

export function registerStaticPages(app: FastifyInstance): void {
  // /demo and /demo/* are the demo app (http/demo/demo-pages.route.ts).
  for (const [url, html] of [['/', HOME]] as const) {
    app.get(url, { schema: { hide: true }, logLevel: 'warn' }, async (_request, reply) => {
      reply.header('content-security-policy', CSP);
      reply.type('text/html; charset=utf-8');
      return html;
    });
  }
}
