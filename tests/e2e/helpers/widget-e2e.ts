import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { launchChromium } from './chromium.ts';

export { launchChromium, useSharedChromium } from './chromium.ts';
import { createPublicKey, type PublicKeyRow } from '@reusable-chat/core';
import { createTenant, startStack, type Backend, type Tenant, type TestStack } from '@reusable-chat/testing';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const widgetDir = path.join(root, 'apps/widget');


function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds apps/widget when its sources (or the SDK's) are newer than dist — what CI and `npm run build` do. */
export function ensureWidgetBuilt(): void {
  const loader = path.join(widgetDir, 'dist/widget.js');
  const built = existsSync(loader) ? statSync(loader).mtimeMs : 0;
  const sources = Math.max(newestMtime(path.join(widgetDir, 'src')), newestMtime(path.join(root, 'packages/sdk/src')), statSync(path.join(widgetDir, 'build.mjs')).mtimeMs);
  if (sources > built) execFileSync(process.execPath, [path.join(widgetDir, 'build.mjs')], { stdio: 'inherit' });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export function userHash(secret: string, externalId: string): string {
  return createHmac('sha256', secret).update(externalId).digest('hex');
}

export interface HostPage {
  html: string;
  csp?: string;
  /** text/html by default; a stylesheet must be served as text/css (strict MIME checking). */
  contentType?: string;
}

/** A tiny web server for host pages on its own origin (another port: a different origin than the API). */
export class HostServer {
  readonly pages = new Map<string, HostPage>();
  private server: http.Server | null = null;
  origin = '';

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const page = this.pages.get((req.url ?? '/').split('?')[0]!);
      if (!page) {
        res.writeHead(404).end('not found');
        return;
      }
      const headers: Record<string, string> = { 'content-type': page.contentType ?? 'text/html; charset=utf-8', 'cache-control': 'no-store' };
      if (page.csp) headers['content-security-policy'] = page.csp;
      res.writeHead(200, headers).end(page.html);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.origin = `http://127.0.0.1:${(this.server.address() as net.AddressInfo).port}`;
    return this.origin;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

export interface WidgetWorld {
  stack: TestStack;
  apiOrigin: string;
  apiPort: number;
  host: HostServer;
  browser: Browser;
  tenant: Tenant;
  publicKey: PublicKeyRow;
  close(): Promise<void>;
}

/**
 * The API (startStack, listening on a known port so attachment URLs are absolute and right), a host page server
 * and Chromium. Pass `browser` to share one Chromium between worlds (one per backend); close() then leaves it open.
 */
export async function startWidgetWorld(backend: Backend, options: { browser?: Browser } = {}): Promise<WidgetWorld> {
  ensureWidgetBuilt();
  const apiPort = await freePort();
  const apiOrigin = `http://127.0.0.1:${apiPort}`;
  const stack = await startStack({ backend, env: { APP_URL: apiOrigin } });
  await stack.app.listen({ host: '127.0.0.1', port: apiPort });
  const host = new HostServer();
  const hostOrigin = await host.start();
  const tenant = await createTenant(stack.db, { kind: 'marketplace', name: 'Seaside Stays' });
  const publicKey = await createPublicKey({ db: stack.db, workspaceId: tenant.workspaceId, allowedOrigins: [hostOrigin] });
  const browser = options.browser ?? (await launchChromium());
  return {
    stack,
    apiOrigin,
    apiPort,
    host,
    browser,
    tenant,
    publicKey,
    async close() {
      if (!options.browser) await browser.close().catch(() => undefined);
      await host.stop();
      // Teardown, not a shutdown test: a keep-alive connection that was busy when close() began would otherwise
      // hold it for the server's keep-alive timeout (observed: up to ~70 s).
      const closing = stack.close();
      stack.app.server.closeAllConnections();
      await closing;
    },
  };
}

/** Strict host CSP: no inline script, no eval; scripts and connections only to the page itself and the API. */
export function strictCsp(apiOrigin: string): string {
  const ws = apiOrigin.replace(/^http/, 'ws');
  return [
    "default-src 'self'",
    `script-src 'self' ${apiOrigin}`,
    "style-src 'self'",
    `connect-src 'self' ${apiOrigin} ${ws}`,
    `img-src 'self' ${apiOrigin} data:`,
    "object-src 'none'",
    "base-uri 'none'",
  ].join('; ');
}

export function hostPageHtml(options: { apiOrigin: string; element?: string; body?: string; lang?: string; dir?: string }): string {
  return `<!doctype html>
<html lang="${options.lang ?? 'en'}"${options.dir ? ` dir="${options.dir}"` : ''}>
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Host page</title></head>
<body>
<main><h1>Seaside Stays</h1><p>Book a room by the sea.</p>${options.body ?? ''}</main>
${options.element ?? ''}
<script src="${options.apiOrigin}/widget.js" async></script>
</body>
</html>`;
}

export interface PageProbe {
  cspViolations: string[];
  errors: string[];
  requests: string[];
}

/** Records CSP violations, page errors and every request URL (S-03: tokens must never appear in URLs). */
export async function probePage(context: BrowserContext, page: Page): Promise<PageProbe> {
  const probe: PageProbe = { cspViolations: [], errors: [], requests: [] };
  await context.exposeFunction('__reportCsp', (v: string) => probe.cspViolations.push(v)).catch(() => undefined);
  await page.addInitScript(() => {
    const events: string[] = [];
    (window as unknown as { __rcEvents: string[] }).__rcEvents = events;
    for (const name of ['rc-ready', 'rc-open', 'rc-close', 'rc-message', 'rc-unread', 'rc-connection']) {
      document.addEventListener(name, () => events.push(name));
    }
    document.addEventListener('securitypolicyviolation', (e) => {
      (window as unknown as { __reportCsp: (v: string) => void }).__reportCsp(`${e.violatedDirective} ${e.blockedURI}`);
    });
  });
  page.on('pageerror', (e) => probe.errors.push(String(e)));
  page.on('request', (r) => probe.requests.push(r.url()));
  page.on('websocket', (ws) => probe.requests.push(ws.url()));
  return probe;
}

/** Locator inside the widget's shadow root (Playwright CSS pierces open shadow roots). */
export function widget(page: Page, selector: string) {
  return page.locator(`reusable-chat ${selector}`);
}

export interface BidiLayout {
  /** The element's computed CSS `direction`. */
  direction: string;
  /** Distance in px from the last "!" of the text to the element's left and right content edges. */
  bangFromLeft: number;
  bangFromRight: number;
}

/**
 * Where the browser actually draws the last "!" of an element's text. "Perfect!" laid out right to left puts the
 * "!" at the left edge ("!Perfect"): the check a screenshot reviewer does by eye, measured with a Range.
 */
export async function bidiLayout(locator: Locator): Promise<BidiLayout> {
  return locator.evaluate((el) => {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    let bang: DOMRect | null = null;
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const i = (n.textContent ?? '').lastIndexOf('!');
      if (i < 0) continue;
      const range = document.createRange();
      range.setStart(n, i);
      range.setEnd(n, i + 1);
      bang = range.getBoundingClientRect();
    }
    if (!bang) throw new Error(`no "!" in ${el.textContent ?? ''}`);
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    const left = box.left + parseFloat(style.paddingLeft) + parseFloat(style.borderLeftWidth);
    const right = box.right - parseFloat(style.paddingRight) - parseFloat(style.borderRightWidth);
    return { direction: style.direction, bangFromLeft: Math.round(bang.left - left), bangFromRight: Math.round(right - bang.right) };
  });
}

export interface AxeFinding {
  id: string;
  impact: string;
  targets: string[];
}

/**
 * axe-core over the whole page, the widget's open shadow root included: the serious and critical violations of
 * the WCAG 2.1 A/AA rules. Injected over CDP (page.evaluate), so a strict page CSP stays as it is.
 */
export async function axeSeriousViolations(page: Page): Promise<AxeFinding[]> {
  if (!(await page.evaluate(() => 'axe' in window))) {
    await page.evaluate(readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8'));
  }
  return page.evaluate(async () => {
    type Result = { violations: { id: string; impact: string; nodes: { target: unknown }[] }[] };
    const axe = (window as unknown as { axe: { run: (ctx: unknown, opts: unknown) => Promise<Result> } }).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.slice(0, 3).map((n) => JSON.stringify(n.target)) }));
  });
}
