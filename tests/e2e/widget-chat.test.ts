import sharp from 'sharp';
import { and, eq } from 'drizzle-orm';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPolicyHook } from '@reusable-chat/core';
import { schema } from '@reusable-chat/db';
import { ConsumerClient } from '@reusable-chat/sdk/node';
import { backends, type Backend } from '@reusable-chat/testing';
import {
  axeSeriousViolations,
  hostPageHtml,
  useSharedChromium,
  probePage,
  startWidgetWorld,
  strictCsp,
  userHash,
  widget,
  type PageProbe,
  type WidgetWorld,
} from './helpers/widget-e2e.ts';

/**
 * The widget end to end in Chromium (SPEC §8): a host page on its own origin loads /widget.js from the API
 * origin under a strict CSP; a guest (public key + user_hash) and a host (server-minted session token) chat in
 * real time. The chat and presence run on every backend (messages, receipts, masking and presence go through
 * the database and the realtime layer); rendering checks that do not depend on the database (XSS corpus, axe,
 * lightbox, phone viewport) run once, on the last backend's world. One Chromium serves the whole file.
 */
const renderingBackend = backends.at(-1)!;

/** V-20/V-21 corpus: each payload would set window.__xss if it ever ran. */
const XSS_CORPUS = [
  '<script>window.__xss=1</script>',
  '<img src=x onerror="window.__xss=1">',
  '<svg onload="window.__xss=1"></svg>',
  '<a href="javascript:window.__xss=1">click</a>',
  '[x](javascript:window.__xss=1)',
  '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
  '<div style="background:url(javascript:window.__xss=1);width:expression(window.__xss=1)">css</div>',
  '<a href="data:text/html,<script>window.__xss=1</script>">data</a>',
  'javascript:window.__xss=1',
];

const chromium = useSharedChromium();

const guestId = 'guest-gina';
const hostId = 'host-hannah';

interface ChatWorld {
  world: WidgetWorld;
  consumer: ConsumerClient;
  conversationId: string;
  hostToken: string;
}

/** One world per backend, started on first use and shared by the describe blocks below; closed at the end. */
const worlds = new Map<Backend, Promise<ChatWorld>>();
function chatWorld(backendName: Backend): Promise<ChatWorld> {
  let started = worlds.get(backendName);
  if (!started) {
    started = startChatWorld(backendName);
    worlds.set(backendName, started);
  }
  return started;
}

async function startChatWorld(backendName: Backend): Promise<ChatWorld> {
  const world = await startWidgetWorld(backendName, { browser: chromium.browser });
  // The marketplace masking policy (guest-host configuration) runs in the message pipeline.
  if (!world.stack.deps.messagePolicyHook) Object.assign(world.stack.deps, { messagePolicyHook: createPolicyHook() });
  const consumer = new ConsumerClient({ baseUrl: world.apiOrigin, apiKey: world.tenant.apiKey });
  await consumer.upsertUser({ external_id: guestId, name: 'Gina Guest' });
  await consumer.upsertUser({ external_id: hostId, name: 'Hannah Host' });
  const conversation = await consumer.createConversation({
    widget: 'guest-host',
    subject: 'listing:42',
    participants: [
      { external_id: guestId, role: 'guest' },
      { external_id: hostId, role: 'host' },
    ],
  });
  const hostToken = (await consumer.createSession({ external_id: hostId })).token;
  const apiOrigin = world.apiOrigin;
  const pk = world.publicKey.key;
  const hash = userHash(world.tenant.identitySecret, guestId);
  world.host.pages.set('/guest', {
    csp: strictCsp(apiOrigin),
    html: hostPageHtml({ apiOrigin, element: `<reusable-chat public-key="${pk}" user-id="${guestId}" user-name="Gina Guest" user-hash="${hash}"></reusable-chat>` }),
  });
  world.host.pages.set('/host', {
    csp: strictCsp(apiOrigin),
    html: hostPageHtml({ apiOrigin, element: `<reusable-chat session-token="${hostToken}" title="Guests"></reusable-chat>` }),
  });
  return { world, consumer, conversationId: conversation.id, hostToken };
}

afterAll(async () => {
  for (const started of worlds.values()) await (await started.catch(() => null))?.world.close();
});

/** Page helpers bound to one backend's world. */
function pages(get: () => ChatWorld) {
  async function openPage(path: string, viewport = { width: 1280, height: 800 }): Promise<{ context: BrowserContext; page: Page; probe: PageProbe }> {
    const context = await chromium.browser.newContext({ viewport });
    const page = await context.newPage();
    const probe = await probePage(context, page);
    await page.goto(`${get().world.host.origin}${path}`);
    await widget(page, '.launcher').click();
    await widget(page, '.panel').waitFor();
    // The DOM events of SPEC §8 reached the host page.
    await expect.poll(() => rcEvents(page)).toEqual(expect.arrayContaining(['rc-ready', 'rc-open']));
    return { context, page, probe };
  }

  async function openThread(page: Page): Promise<void> {
    await widget(page, `.conv[data-conversation-id="${get().conversationId}"]`).click();
    await widget(page, 'textarea').waitFor();
  }

  return { openPage, openThread };
}

function rcEvents(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __rcEvents: string[] }).__rcEvents);
}

function side(url: string | undefined): string {
  if (!url) throw new Error('the widget app chunk was not requested');
  return url;
}

describe.each(backends)('widget chat in Chromium (%s)', (backendName) => {
  let cw: ChatWorld;
  let world: WidgetWorld;
  let conversationId: string;
  let hostToken: string;
  const { openPage, openThread } = pages(() => cw);

  beforeAll(async () => {
    cw = await chatWorld(backendName);
    ({ world, conversationId, hostToken } = cw);
  }, 120_000);

  it('two people chat in real time under a strict CSP: typing, read ticks, masking notice, no secrets in URLs', async () => {
    const guest = await openPage('/guest');
    const host = await openPage('/host');
    await openThread(guest.page);
    await openThread(host.page);

    // Typing on one side shows the indicator on the other.
    await widget(guest.page, 'textarea').pressSequentially('Hello');
    await expect.poll(() => widget(host.page, '[data-testid=typing]').textContent(), { timeout: 10_000 }).toContain('Gina Guest');
    await widget(guest.page, 'textarea').press('Enter');
    const hostBubble = widget(host.page, '[data-testid=bubble]').filter({ hasText: 'Hello' });
    await hostBubble.waitFor({ timeout: 10_000 });
    // Screen readers hear it arrive: the thread is a polite live log, and each bubble starts with who and when.
    expect(await widget(host.page, '.thread').getAttribute('role')).toBe('log');
    expect(await widget(host.page, '.thread').getAttribute('aria-live')).toBe('polite');
    expect(await widget(host.page, '.row').filter({ hasText: 'Hello' }).locator('.sr-only').first().textContent()).toMatch(/^Gina Guest, .+: $/);

    // The host has the thread open, so the guest's message is read: the tick turns into "read".
    await widget(guest.page, '.row.mine[data-state=read]').first().waitFor({ timeout: 10_000 });

    // Host replies; guest sees it live.
    await widget(host.page, 'textarea').fill('Welcome! The room is free that weekend.');
    await widget(host.page, 'textarea').press('Enter');
    await widget(guest.page, '[data-testid=bubble]').filter({ hasText: 'The room is free' }).waitFor({ timeout: 10_000 });

    // Contact details are masked before booking; the sender is told what was hidden.
    await widget(guest.page, 'textarea').fill('Call me on +1 415 555 0199 or write to gina@example.com');
    await widget(guest.page, 'textarea').press('Enter');
    const notice = widget(guest.page, '[data-testid=masked-notice]');
    await notice.waitFor({ timeout: 10_000 });
    expect(await notice.textContent()).toMatch(/phone number|email address/);
    const seen = widget(host.page, '[data-testid=bubble]').filter({ hasText: 'Call me on' });
    await seen.waitFor({ timeout: 10_000 });
    expect(await seen.textContent()).not.toContain('555 0199');
    expect(await seen.textContent()).not.toContain('gina@example.com');
    expect(await widget(host.page, '[data-testid=masked-notice]').count()).toBe(0);

    for (const side of [guest, host]) {
      expect(side.probe.cspViolations).toEqual([]);
      expect(side.probe.errors).toEqual([]);
      // S-03: the session token never appears in a URL (HTTP or WebSocket); S-01: no API key either.
      for (const url of side.probe.requests) {
        expect(url).not.toContain(hostToken);
        expect(url).not.toContain(world.tenant.apiKey);
        expect(url).not.toMatch(/token=|session=/i);
      }
    }
    // S-01: the served bundle contains no secret (app secret, identity secret, API key).
    for (const file of ['widget.js']) {
      const res = await fetch(`${world.apiOrigin}/${file}`);
      const text = await res.text();
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(res.headers.get('cross-origin-resource-policy')).toBe('cross-origin');
      expect(text).not.toContain(world.tenant.identitySecret);
      expect(text).not.toContain(world.tenant.apiKey);
      expect(text).not.toContain(world.stack.deps.appSecret);
    }
    // The app chunk the loader imports: content-hashed, cached for a year, loadable from any origin.
    const chunk = side(guest.probe.requests.find((u) => /\/widget-app-[0-9a-f]+\.js$/.test(u)));
    const chunkRes = await fetch(chunk);
    expect(chunkRes.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(chunkRes.headers.get('access-control-allow-origin')).toBe('*');
    // No window messaging at all (no iframe): nothing for another frame to post into, so no origin/source checks
    // to get wrong. Should that change, this fails and the handler must check event.origin and event.source.
    const loaderText = await (await fetch(`${world.apiOrigin}/widget.js`)).text();
    for (const code of [loaderText, await chunkRes.text()]) {
      expect(code).not.toMatch(/postMessage|addEventListener\(\s*["'`]message["'`]/);
    }
    expect((await fetch(`${world.apiOrigin}/widget-app-0000000000.js`)).status).toBe(404);

    // Reactions, edit and delete from the guest's widget reach the host live.
    const hostMessage = widget(guest.page, '.row').filter({ hasText: 'The room is free' });
    await hostMessage.hover();
    await hostMessage.getByRole('button', { name: 'Add reaction' }).click();
    await widget(guest.page, '.reaction-pop').getByRole('button', { name: '👍' }).click();
    await widget(host.page, '.row').filter({ hasText: 'The room is free' }).locator('.chip').filter({ hasText: '👍 1' }).waitFor({ timeout: 10_000 });
    const mine = widget(guest.page, '.row.mine').filter({ hasText: 'Hello' });
    await mine.hover();
    await mine.getByRole('button', { name: 'Message actions' }).click();
    await widget(guest.page, '.menu').getByRole('menuitem', { name: 'Edit' }).click();
    await widget(guest.page, 'textarea').fill('Hello again (edited)');
    await widget(guest.page, 'textarea').press('Enter');
    await widget(host.page, '[data-testid=bubble]').filter({ hasText: 'Hello again (edited)' }).waitFor({ timeout: 10_000 });
    const edited = widget(guest.page, '.row.mine').filter({ hasText: 'Hello again' });
    await edited.hover();
    await edited.getByRole('button', { name: 'Message actions' }).click();
    await widget(guest.page, '.menu').getByRole('menuitem', { name: 'Delete' }).click();
    await widget(host.page, '.bubble.deleted').waitFor({ timeout: 10_000 });
    expect(await widget(host.page, '[data-testid=bubble]').filter({ hasText: 'Hello again' }).count()).toBe(0);
    // The emoji picker inserts into the composer.
    await widget(guest.page, '.composer').getByRole('button', { name: 'Insert emoji' }).click();
    await widget(guest.page, '.emoji-pop').getByRole('button', { name: '🎉' }).click();
    await expect.poll(() => widget(guest.page, 'textarea').inputValue()).toBe('🎉');

    await guest.context.close();
    await host.context.close();
  }, 90_000);

  it('uploads an image: a thumbnail in both widgets, the lightbox opens and closes by keyboard', async () => {
    const guest = await openPage('/guest');
    const host = await openPage('/host');
    await openThread(guest.page);
    await openThread(host.page);
    const png = await sharp({ create: { width: 320, height: 200, channels: 3, background: { r: 40, g: 120, b: 200 } } }).png().toBuffer();
    await widget(guest.page, '[data-testid=file-input]').setInputFiles({ name: 'view.png', mimeType: 'image/png', buffer: png });
    await widget(guest.page, '[data-testid=upload-preview][data-state=done]').waitFor({ timeout: 15_000 });
    await widget(guest.page, 'textarea').fill('The view from the balcony');
    await widget(guest.page, 'textarea').press('Enter');
    for (const side of [guest, host]) {
      const thumb = widget(side.page, '.row').filter({ hasText: 'The view from the balcony' }).locator('[data-testid=attachment-thumb]');
      await thumb.waitFor({ timeout: 10_000 });
      await expect.poll(() => thumb.evaluate((img) => (img as HTMLImageElement).naturalWidth), { timeout: 10_000 }).toBeGreaterThan(0);
    }
    // Lightbox opens on click and closes with Escape.
    await widget(host.page, '.row').filter({ hasText: 'The view from the balcony' }).locator('[data-testid=attachment-thumb]').click();
    await widget(host.page, '.lightbox img').waitFor();
    await expect.poll(() => widget(host.page, '.lightbox img').evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBe(320);
    // Focus is already on the lightbox's close button, so Escape closes the lightbox and not the panel behind it.
    expect(await host.page.evaluate(() => document.querySelector('reusable-chat')!.shadowRoot!.activeElement?.getAttribute('aria-label'))).toBe('Close image');
    await host.page.keyboard.press('Escape');
    await widget(host.page, '.lightbox').waitFor({ state: 'detached' });
    expect(await widget(host.page, '.panel').count()).toBe(1);
    for (const side of [guest, host]) {
      expect(side.probe.cspViolations).toEqual([]);
      expect(side.probe.errors).toEqual([]);
    }
    await guest.context.close();
    await host.context.close();
  }, 60_000);

  it('shows in the header whether the other person is online, and offline once their page closes', async () => {
    const host = await openPage('/host');
    await openThread(host.page);
    const status = widget(host.page, '[data-testid=presence]');
    // Nobody else has the widget open: the host's widget knows it and says so in words, not only a colour.
    await expect.poll(() => status.textContent(), { timeout: 10_000 }).toBe('Offline');
    expect(await status.getAttribute('data-online')).toBe('false');

    // The guest's widget joins the conversation's presence channel as soon as it runs (panel open or not).
    const guest = await openPage('/guest');
    await expect.poll(() => status.textContent(), { timeout: 10_000 }).toBe('Online');
    expect(await status.getAttribute('data-online')).toBe('true');
    // The guest sees the host online too: on the conversation list row (for screen readers as text) …
    const row = widget(guest.page, `.conv[data-conversation-id="${conversationId}"]`);
    await expect.poll(() => row.locator('.avatar').getAttribute('class'), { timeout: 10_000 }).toContain('online');
    expect(await row.locator('.conv-name .sr-only').textContent()).toBe(', Online');
    // … and in the thread's header.
    await openThread(guest.page);
    await expect.poll(() => widget(guest.page, '[data-testid=presence]').textContent(), { timeout: 10_000 }).toBe('Online');

    await guest.context.close();
    await expect.poll(() => status.textContent(), { timeout: 15_000 }).toBe('Offline');
    expect(await status.getAttribute('data-online')).toBe('false');
    expect(host.probe.errors).toEqual([]);
    await host.context.close();
  }, 60_000);

  it('shares nobody’s presence when the configuration switches it off (SPEC §6)', async () => {
    const setPresence = async (presence: boolean) => {
      const where = and(eq(schema.widgetConfigs.workspaceId, world.tenant.workspaceId), eq(schema.widgetConfigs.slug, 'guest-host'));
      const [config] = await world.stack.db.select({ policies: schema.widgetConfigs.policies }).from(schema.widgetConfigs).where(where);
      await world.stack.db.update(schema.widgetConfigs).set({ policies: { ...config!.policies, presence } }).where(where);
    };
    await setPresence(false);
    try {
      // The guest's page knows its configuration from the embed init: it does not even ask for the channel.
      const guestContext = await chromium.browser.newContext();
      const guestPage = await guestContext.newPage();
      const presenceAuth: string[] = [];
      guestPage.on('request', (r) => {
        if (r.url().endsWith('/broadcasting/auth') && r.postData()?.includes('presence-conversation')) presenceAuth.push(r.url());
      });
      await guestPage.goto(`${world.host.origin}/guest`);
      await widget(guestPage, '.launcher').click();
      await openThread(guestPage);
      // Rendered after the widget's presence effects ran: had it asked for the channel, the request was sent.
      await widget(guestPage, '[data-testid=bubble]').first().waitFor();
      // The host's page (a server-minted token, no embed init) asks, and the server refuses.
      const context = await chromium.browser.newContext();
      const page = await context.newPage();
      const refused = page.waitForResponse((r) => r.url().endsWith('/broadcasting/auth') && r.request().postData()?.includes('presence-conversation') === true);
      await page.goto(`${world.host.origin}/host`);
      await widget(page, '.launcher').click();
      expect((await refused).status()).toBe(403);
      await openThread(page);
      await widget(page, '[data-testid=bubble]').first().waitFor();
      expect(await widget(page, '[data-testid=presence]').count()).toBe(0);
      expect(await widget(guestPage, '[data-testid=presence]').count()).toBe(0);
      expect(presenceAuth).toEqual([]);
      await context.close();
      await guestContext.close();
    } finally {
      await setPresence(true);
    }
  }, 60_000);
});

describe(`widget rendering in Chromium (${renderingBackend})`, () => {
  let cw: ChatWorld;
  let world: WidgetWorld;
  let consumer: ConsumerClient;
  let conversationId: string;
  const { openPage, openThread } = pages(() => cw);

  beforeAll(async () => {
    cw = await chatWorld(renderingBackend);
    ({ world, consumer, conversationId } = cw);
  }, 120_000);

  it('renders the XSS corpus as inert text (V-20, V-21) on a page without any CSP safety net', async () => {
    const apiOrigin = world.apiOrigin;
    world.host.pages.set('/guest-nocsp', {
      html: hostPageHtml({
        apiOrigin,
        element: `<reusable-chat public-key="${world.publicKey.key}" user-id="${guestId}" user-hash="${userHash(world.tenant.identitySecret, guestId)}"></reusable-chat>`,
      }),
    });
    for (const payload of XSS_CORPUS) {
      await consumer.sendMessage(conversationId, { content: payload, sender_external_id: hostId });
    }
    await consumer.sendMessage(conversationId, { content: 'End of corpus', sender_external_id: hostId });
    const guest = await openPage('/guest-nocsp');
    await guest.page.evaluate(() => {
      (window as unknown as { __xss?: number }).__xss = undefined;
    });
    await openThread(guest.page);
    await widget(guest.page, '[data-testid=bubble]').filter({ hasText: 'End of corpus' }).waitFor({ timeout: 10_000 });
    const texts = await widget(guest.page, '[data-testid=bubble]').allTextContents();
    for (const payload of XSS_CORPUS) {
      // The markup is shown as the characters that were sent, not interpreted.
      expect(texts).toContain(payload);
    }
    const unsafe = await guest.page.evaluate(() => {
      const root = document.querySelector('reusable-chat')!.shadowRoot!;
      return {
        scripts: root.querySelectorAll('.thread script, .thread iframe, .thread svg:not([aria-hidden]), .thread img[onerror]').length,
        badLinks: [...root.querySelectorAll('.thread a')].map((a) => a.getAttribute('href') ?? '').filter((h) => !/^https?:/.test(h)).length,
        xss: (window as unknown as { __xss?: number }).__xss,
      };
    });
    expect(unsafe).toEqual({ scripts: 0, badLinks: 0, xss: undefined });
    await guest.context.close();
  }, 60_000);

  it('passes axe-core (list and thread, light and dark, phone), and goes full-screen on a phone', async () => {
    // axe-core in the open widget: no serious or critical violations (WCAG 2.1 AA rules).
    const guest = await openPage('/guest');
    await widget(guest.page, `.conv[data-conversation-id="${conversationId}"]`).waitFor();
    expect(await axeSeriousViolations(guest.page)).toEqual([]);
    await openThread(guest.page);
    await widget(guest.page, '[data-testid=bubble]').first().waitFor();
    expect(await axeSeriousViolations(guest.page)).toEqual([]);
    await guest.page.evaluate(() => document.querySelector('reusable-chat')!.setAttribute('theme', 'dark'));
    await expect.poll(() => widget(guest.page, '.panel').evaluate((el) => getComputedStyle(el).backgroundColor)).toBe('rgb(17, 24, 39)');
    expect(await axeSeriousViolations(guest.page)).toEqual([]);
    expect(guest.probe.cspViolations).toEqual([]);
    await guest.context.close();

    // A phone-size viewport: the open panel covers the whole screen.
    const phone = await openPage('/guest', { width: 375, height: 667 });
    const box = await widget(phone.page, '.panel').boundingBox();
    expect(box).toEqual({ x: 0, y: 0, width: 375, height: 667 });
    await openThread(phone.page);
    await widget(phone.page, '[data-testid=bubble]').first().waitFor();
    expect(await axeSeriousViolations(phone.page)).toEqual([]);
    await phone.context.close();
  }, 90_000);

  it('takes its look from the page under a strict CSP: preset, accent, position, CSS custom properties, ::part, no "Powered by"', async () => {
    const apiOrigin = world.apiOrigin;
    // The page's own stylesheet (style-src 'self': no inline style needed for any of this).
    world.host.pages.set('/theme.css', {
      contentType: 'text/css',
      html: [
        'reusable-chat { --rc-font: Georgia, serif; --rc-radius: 3px; }',
        'reusable-chat::part(header) { background: rgb(10, 20, 30); }',
        'reusable-chat::part(launcher) { border: 4px solid rgb(1, 2, 3); }',
      ].join('\n'),
    });
    world.host.pages.set('/themed', {
      csp: strictCsp(apiOrigin),
      html: hostPageHtml({
        apiOrigin,
        body: '<link rel="stylesheet" href="/theme.css">',
        element: `<reusable-chat public-key="${world.publicKey.key}" user-id="${guestId}" user-hash="${userHash(world.tenant.identitySecret, guestId)}" preset="forest" position="left" powered-by="false"></reusable-chat>`,
      }),
    });
    const themed = await openPage('/themed');
    const css = (selector: string, property: string) => widget(themed.page, selector).evaluate((el, p) => getComputedStyle(el).getPropertyValue(p), property);
    // The "forest" preset's accent; the page's border on ::part(launcher) and background on ::part(header).
    expect(await css('.launcher', 'background-color')).toBe('rgb(21, 128, 61)');
    expect(await css('.launcher', 'border-top')).toBe('4px solid rgb(1, 2, 3)');
    expect(await css('.header', 'background-color')).toBe('rgb(10, 20, 30)');
    // The page's custom properties win over the preset's (--rc-radius is 12px in "forest").
    expect(await css('.panel', 'border-top-left-radius')).toBe('3px');
    expect(await css('.panel', 'font-family')).toContain('Georgia');
    // position="left": launcher and panel sit at the left edge.
    expect((await widget(themed.page, '.launcher').boundingBox())!.x).toBeLessThan(100);
    expect((await widget(themed.page, '.panel').boundingBox())!.x).toBeLessThan(100);
    expect(await widget(themed.page, '.powered').count()).toBe(0);

    // An accent attribute beats the preset and the page's CSS, live.
    await themed.page.evaluate(() => document.querySelector('reusable-chat')!.setAttribute('accent', '#b91c1c'));
    await expect.poll(() => css('.launcher', 'background-color')).toBe('rgb(185, 28, 28)');
    // Without it, the page's --rc-accent (added through the CSSOM: no inline style) beats the preset.
    await themed.page.evaluate(() => {
      document.styleSheets[0]!.insertRule('reusable-chat { --rc-accent: rgb(120, 0, 90); }', 0);
      document.querySelector('reusable-chat')!.removeAttribute('accent');
    });
    await expect.poll(() => css('.launcher', 'background-color')).toBe('rgb(120, 0, 90)');
    expect(themed.probe.cspViolations).toEqual([]);
    expect(themed.probe.errors).toEqual([]);
    await themed.context.close();
  }, 60_000);

  it('works from the keyboard alone: Tab to the launcher, Enter opens a conversation, Enter sends, Escape closes', async () => {
    const context = await chromium.browser.newContext();
    const page = await context.newPage();
    const probe = await probePage(context, page);
    await page.goto(`${world.host.origin}/guest`);
    const active = () =>
      page.evaluate(() => {
        const el = document.querySelector('reusable-chat')!.shadowRoot!.activeElement;
        return el ? `${el.tagName.toLowerCase()}.${el.className}` : null;
      });
    // Tab as soon as the loader's launcher is there: the app mounting (at idle) must keep the focus on it.
    await widget(page, '.launcher').waitFor();
    await page.keyboard.press('Tab');
    await expect.poll(() => rcEvents(page), { timeout: 20_000 }).toContain('rc-ready');
    expect(await active()).toBe('button.launcher');
    // "Powered by" is on by default, and the floating launcher sits at the right.
    expect((await widget(page, '.launcher').boundingBox())!.x).toBeGreaterThan(1000);
    await page.keyboard.press('Enter');
    await widget(page, '.panel').waitFor();
    expect(await widget(page, '.powered a').textContent()).toBe('Powered by Reusable Chat');
    // Focus moved to the first conversation in the list; Enter opens it and focus lands in the composer.
    expect(await active()).toBe('button.conv');
    await page.keyboard.press('Enter');
    await widget(page, 'textarea').waitFor();
    expect(await active()).toBe('textarea.');
    await page.keyboard.type('Typed with the keyboard only');
    await page.keyboard.press('Enter');
    await widget(page, '.row.mine[data-state=sent], .row.mine[data-state=read]').filter({ hasText: 'Typed with the keyboard only' }).waitFor({ timeout: 10_000 });
    // Shift+Enter is a new line, not a send.
    await page.keyboard.type('line one');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('line two');
    expect(await widget(page, 'textarea').inputValue()).toBe('line one\nline two');
    await page.keyboard.press('Escape');
    await widget(page, '.panel').waitFor({ state: 'detached' });
    expect(await active()).toBe('button.launcher');
    expect(probe.errors).toEqual([]);
    await context.close();
  }, 60_000);

  it('attaches by paste and by drag-and-drop, separates days, groups a sender’s bubbles, and retries a refused send once', async () => {
    const c = await consumer.createConversation({
      widget: 'guest-host',
      subject: 'listing:77',
      participants: [
        { external_id: guestId, role: 'guest' },
        { external_id: hostId, role: 'host' },
      ],
    });
    const old = await consumer.sendMessage(c.id, { content: 'Three days ago', sender_external_id: hostId });
    await consumer.sendMessage(c.id, { content: 'Today, first', sender_external_id: hostId });
    await consumer.sendMessage(c.id, { content: 'Today, second', sender_external_id: hostId });
    await consumer.sendMessage(c.id, { content: 'Today, from Gina', sender_external_id: guestId });
    await world.stack.db
      .update(schema.messages)
      .set({ createdAt: new Date(Date.now() - 3 * 86_400_000) })
      .where(eq(schema.messages.id, old.id));

    const guest = await openPage('/guest');
    await widget(guest.page, `.conv[data-conversation-id="${c.id}"]`).click();
    await widget(guest.page, '[data-testid=bubble]').filter({ hasText: 'Today, from Gina' }).waitFor();
    const days = await widget(guest.page, '.thread .day').allTextContents();
    expect(days).toHaveLength(2);
    expect(days[0]).not.toMatch(/^(Today|Yesterday)$/);
    expect(days[1]).toBe('Today');
    // One name and avatar per run of bubbles from the same sender.
    const row = (text: string) => widget(guest.page, '.row').filter({ hasText: text });
    expect(await row('Today, first').getAttribute('class')).toContain('first');
    expect(await row('Today, first').locator('.sender').textContent()).toBe('Hannah Host');
    expect(await row('Today, second').getAttribute('class')).not.toContain('first');
    expect(await row('Today, second').locator('.sender').count()).toBe(0);
    expect(await row('Today, from Gina').getAttribute('class')).toContain('first');

    // A pasted image and a dropped one (the events a browser fires for a paste and a drop of files).
    const png = [...(await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 200, g: 60, b: 60 } } }).png().toBuffer())];
    await widget(guest.page, 'textarea').evaluate((el, bytes) => {
      const data = new DataTransfer();
      data.items.add(new File([new Uint8Array(bytes)], 'pasted.png', { type: 'image/png' }));
      el.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    }, png);
    await widget(guest.page, '.composer').evaluate((el, bytes) => {
      const data = new DataTransfer();
      data.items.add(new File([new Uint8Array(bytes)], 'dropped.png', { type: 'image/png' }));
      el.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }));
      el.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
    }, png);
    await expect.poll(() => widget(guest.page, '[data-testid=upload-preview][data-state=done]').count(), { timeout: 15_000 }).toBe(2);
    expect(await widget(guest.page, '[data-testid=upload-preview] .name').allTextContents()).toEqual(['pasted.png', 'dropped.png']);
    await widget(guest.page, 'textarea').fill('Two pictures');
    await widget(guest.page, 'textarea').press('Enter');
    const thumbs = row('Two pictures').locator('[data-testid=attachment-thumb]');
    await expect.poll(() => thumbs.count(), { timeout: 10_000 }).toBe(2);
    expect(await thumbs.evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).alt))).toEqual(['pasted.png', 'dropped.png']);

    // The server refuses one send (not retryable): the bubble says so and offers Retry; Retry sends it once.
    let refused = 0;
    await guest.page.route(
      (url) => url.href.startsWith(world.apiOrigin) && url.pathname.endsWith(`/conversations/${c.id}/messages`),
      async (route) => {
        if (route.request().method() !== 'POST' || refused > 0) return route.fallback();
        refused += 1;
        await route.fulfill({
          status: 422,
          contentType: 'application/json',
          headers: { 'access-control-allow-origin': world.host.origin },
          body: JSON.stringify({ error: { code: 'validation_failed', message: 'Refused by the test' } }),
        });
      },
    );
    await widget(guest.page, 'textarea').fill('Refused once, then sent');
    await widget(guest.page, 'textarea').press('Enter');
    const failed = widget(guest.page, '.row.mine[data-state=failed]').filter({ hasText: 'Refused once, then sent' });
    await failed.waitFor({ timeout: 10_000 });
    expect(await failed.locator('.failed').textContent()).toBe('Not sent');
    await failed.getByRole('button', { name: 'Retry' }).click();
    await widget(guest.page, '.row.mine[data-state=sent], .row.mine[data-state=read]').filter({ hasText: 'Refused once, then sent' }).waitFor({ timeout: 10_000 });
    expect(refused).toBe(1);
    const stored = await consumer.listMessages(c.id, { limit: 50 });
    expect(stored.data.filter((m) => m.content === 'Refused once, then sent')).toHaveLength(1);
    expect(await widget(guest.page, '[data-testid=bubble]').filter({ hasText: 'Refused once, then sent' }).count()).toBe(1);
    expect(guest.probe.errors).toEqual([]);
    await guest.context.close();
  }, 90_000);
});
