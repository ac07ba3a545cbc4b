import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsumerClient } from '@reusable-chat/sdk/node';
import { createPublicKey } from '@reusable-chat/core';
import { backends, createTenant, startStack, type TestStack } from '@reusable-chat/testing';
import { axeSeriousViolations, bidiLayout, hostPageHtml, useSharedChromium, probePage, startWidgetWorld, strictCsp, userHash, widget, type WidgetWorld } from './helpers/widget-e2e.ts';

/**
 * The page-facing API of the widget (SPEC §8) in Chromium: ReusableChat.init / JS API / DOM events, the inline
 * element with a server-minted token, right-to-left Arabic, and a server restart mid-conversation (the queued
 * send and the messages sent meanwhile arrive exactly once). Every backend: the restart, the catch-up by seq and
 * the JS API's sends go through the database. One Chromium serves the whole file (a world per backend).
 */
const chromium = useSharedChromium();

describe.each(backends)('widget page API and resilience (%s)', (backendName) => {
  let world: WidgetWorld;
  let consumer: ConsumerClient;
  let conversationId: string;
  let restarted: TestStack | null = null;
  const guestId = 'guest-api';
  const hostId = 'host-api';

  beforeAll(async () => {
    world = await startWidgetWorld(backendName, { browser: chromium.browser });
    consumer = new ConsumerClient({ baseUrl: world.apiOrigin, apiKey: world.tenant.apiKey });
    await consumer.upsertUser({ external_id: guestId, name: 'Greta' });
    await consumer.upsertUser({ external_id: hostId, name: 'Hugo' });
    conversationId = (
      await consumer.createConversation({
        widget: 'guest-host',
        participants: [
          { external_id: guestId, role: 'guest' },
          { external_id: hostId, role: 'host' },
        ],
      })
    ).id;
  }, 120_000);

  afterAll(async () => {
    // The restarted server reuses the first one's database; the first stack's close() drops it, so it goes last.
    await restarted?.close();
    await world?.close();
  });

  function rcEvents(page: Page): Promise<string[]> {
    return page.evaluate(() => (window as unknown as { __rcEvents: string[] }).__rcEvents);
  }

  it('ReusableChat.init queued before the loader, the JS API, on(...) and rc-* events, under a strict CSP', async () => {
    // The snippet a site pastes: an external script (no inline script under this CSP) that queues calls.
    const init = {
      publicKey: world.publicKey.key,
      user: { id: guestId, name: 'Greta', hash: userHash(world.tenant.identitySecret, guestId) },
    };
    world.host.pages.set('/snippet.js', {
      html: `window.ReusableChat = window.ReusableChat || { q: [] }; window.ReusableChat.q.push(['init', ${JSON.stringify(init)}]);`,
    });
    world.host.pages.set('/api-page', {
      csp: strictCsp(world.apiOrigin),
      html: hostPageHtml({ apiOrigin: world.apiOrigin, element: '<script src="/snippet.js"></script>' }),
    });
    const context = await world.browser.newContext();
    const page = await context.newPage();
    const probe = await probePage(context, page);
    await page.goto(`${world.host.origin}/api-page`);
    await widget(page, '.launcher').waitFor();

    // An identified user's widget mounts at idle: the unread badge shows a message that arrives while closed.
    await expect.poll(() => rcEvents(page), { timeout: 20_000 }).toContain('rc-ready');
    await page.evaluate(() => {
      const w = window as unknown as { ReusableChat: { on: (e: string, fn: (d: unknown) => void) => void }; __got: unknown[] };
      w.__got = [];
      w.ReusableChat.on('message', (d) => w.__got.push(d));
    });
    await expect.poll(() => page.evaluate(() => document.querySelector('reusable-chat')?.shadowRoot?.querySelector('.rc-root') !== null)).toBe(true);
    await consumer.sendMessage(conversationId, { content: 'Hi Greta, anything I can help with?', sender_external_id: hostId });
    await widget(page, '[data-testid=unread-badge]').filter({ hasText: '1' }).waitFor({ timeout: 10_000 });
    // The badge is decoration; screen readers get the count in the launcher's name.
    expect(await widget(page, '.launcher').getAttribute('aria-label')).toBe('Open chat (1 unread)');
    await expect.poll(() => page.evaluate(() => (window as unknown as { __got: { content: string }[] }).__got.map((m) => m.content))).toEqual([
      'Hi Greta, anything I can help with?',
    ]);
    expect(await rcEvents(page)).toContain('rc-unread');

    // JS API: open the conversation, send, close.
    await page.evaluate((id) => (window as unknown as { ReusableChat: { openConversation: (id: string) => Promise<void> } }).ReusableChat.openConversation(id), conversationId);
    await widget(page, '.panel [data-testid=bubble]').filter({ hasText: 'anything I can help' }).waitFor();
    await page.evaluate(() => (window as unknown as { ReusableChat: { sendMessage: (t: string) => Promise<string> } }).ReusableChat.sendMessage('Sent through the JS API'));
    await widget(page, '.row.mine[data-state=sent]').filter({ hasText: 'Sent through the JS API' }).waitFor({ timeout: 10_000 });
    await page.evaluate(() => (window as unknown as { ReusableChat: { close: () => Promise<void> } }).ReusableChat.close());
    await widget(page, '.panel').waitFor({ state: 'detached' });
    expect(await rcEvents(page)).toEqual(expect.arrayContaining(['rc-ready', 'rc-open', 'rc-close', 'rc-message', 'rc-unread', 'rc-connection']));
    // Keyboard: the launcher is focusable, Enter opens, Escape closes.
    await widget(page, '.launcher').focus();
    await page.keyboard.press('Enter');
    await widget(page, '.panel').waitFor();
    // Focus moved into the panel with the render that showed it (the open thread's composer), so the very
    // next key press is handled there: no wait in between.
    const focused = () => page.evaluate(() => document.querySelector('reusable-chat')!.shadowRoot!.activeElement?.tagName ?? null);
    expect(await focused()).toBe('TEXTAREA');
    await page.keyboard.press('Escape');
    await widget(page, '.panel').waitFor({ state: 'detached' });
    expect(await focused()).toBe('BUTTON');

    const stored = await consumer.listMessages(conversationId, { limit: 50 });
    expect(stored.data.filter((m) => m.content === 'Sent through the JS API')).toHaveLength(1);
    expect(probe.cspViolations).toEqual([]);
    expect(probe.errors).toEqual([]);
    await context.close();
  }, 60_000);

  it('inline thread with a server-minted session token, in Arabic (right to left)', async () => {
    const { token } = await consumer.createSession({ external_id: hostId });
    // Received messages in both directions: each bubble takes its own text's direction, not the widget's.
    await consumer.sendMessage(conversationId, { content: 'Perfect, see you in June!', sender_external_id: guestId });
    await consumer.sendMessage(conversationId, { content: 'شكرا جزيلا!', sender_external_id: guestId });
    world.host.pages.set('/inline', {
      csp: strictCsp(world.apiOrigin),
      html: hostPageHtml({
        apiOrigin: world.apiOrigin,
        lang: 'ar',
        dir: 'rtl',
        body: `<div id="box"><reusable-chat-inline conversation-id="${conversationId}" session-token="${token}" lang="ar"></reusable-chat-inline></div>`,
      }),
    });
    const context = await world.browser.newContext();
    const page = await context.newPage();
    const probe = await probePage(context, page);
    await page.goto(`${world.host.origin}/inline`);
    const inline = (sel: string) => page.locator(`reusable-chat-inline ${sel}`);
    await inline('[data-testid=bubble]').filter({ hasText: 'Sent through the JS API' }).waitFor({ timeout: 20_000 });
    expect(await inline('.rc-root > div').getAttribute('dir')).toBe('rtl');
    expect(await inline('textarea').getAttribute('placeholder')).toBe('اكتب رسالة…');
    // The "!" of an English sentence stays at its end (the right), not before "Perfect" as RTL layout would put it.
    const english = await bidiLayout(inline('[data-testid=bubble]').filter({ hasText: 'Perfect, see you in June!' }));
    expect(english.direction).toBe('ltr');
    expect(english.bangFromRight).toBeLessThan(english.bangFromLeft);
    const arabic = await bidiLayout(inline('[data-testid=bubble]').filter({ hasText: 'شكرا جزيلا!' }));
    expect(arabic.direction).toBe('rtl');
    expect(arabic.bangFromLeft).toBeLessThan(arabic.bangFromRight);
    await inline('textarea').fill('مرحبا! الغرفة متاحة.');
    await inline('textarea').press('Enter');
    await inline('.row.mine[data-state=sent]').filter({ hasText: 'مرحبا' }).waitFor({ timeout: 10_000 });
    // Right to left is as accessible as left to right (WCAG 2.1 AA, serious and critical).
    expect(await axeSeriousViolations(page)).toEqual([]);
    expect(probe.cspViolations).toEqual([]);

    // The floating widget's conversation list in Arabic: an English last message previews as "See you soon!".
    await consumer.sendMessage(conversationId, { content: 'See you soon!', sender_external_id: hostId });
    world.host.pages.set('/guest-ar', {
      csp: strictCsp(world.apiOrigin),
      html: hostPageHtml({
        apiOrigin: world.apiOrigin,
        lang: 'ar',
        dir: 'rtl',
        element: `<reusable-chat public-key="${world.publicKey.key}" user-id="${guestId}" user-hash="${userHash(world.tenant.identitySecret, guestId)}" lang="ar"></reusable-chat>`,
      }),
    });
    const guestPage = await context.newPage();
    await guestPage.goto(`${world.host.origin}/guest-ar`);
    await widget(guestPage, '.launcher').click();
    const preview = widget(guestPage, `.conv[data-conversation-id="${conversationId}"] .conv-preview span`).first();
    await preview.filter({ hasText: 'See you soon!' }).waitFor({ timeout: 10_000 });
    const previewLayout = await bidiLayout(preview);
    expect(previewLayout.direction).toBe('ltr');
    expect(previewLayout.bangFromRight).toBeLessThan(previewLayout.bangFromLeft);
    await context.close();
  }, 60_000);

  it('an anonymous visitor of a single-app workspace starts a support conversation from the launcher', async () => {
    const shop = await createTenant(world.stack.db, { kind: 'single_app', name: 'Corner Shop' });
    const key = await createPublicKey({ db: world.stack.db, workspaceId: shop.workspaceId, allowedOrigins: [world.host.origin] });
    world.host.pages.set('/anonymous', {
      csp: strictCsp(world.apiOrigin),
      html: hostPageHtml({ apiOrigin: world.apiOrigin, element: `<reusable-chat public-key="${key.key}" lang="fr"></reusable-chat>` }),
    });
    const context = await world.browser.newContext();
    const page = await context.newPage();
    const probe = await probePage(context, page);
    await page.goto(`${world.host.origin}/anonymous`);
    // The loader alone draws the launcher; the app chunk waits for the first interaction (SPEC §8).
    await widget(page, '.launcher').waitFor();
    const appChunk = (u: string) => /\/widget-app-[0-9a-f]+\.js$/.test(u);
    expect(probe.requests.filter(appChunk)).toEqual([]);
    await widget(page, '.launcher').click();
    await widget(page, '.new-conv').filter({ hasText: 'Nouvelle conversation' }).click();
    expect(probe.requests.filter(appChunk)).toHaveLength(1);
    await widget(page, 'textarea').fill('Bonjour, vous livrez le dimanche ?');
    await widget(page, 'textarea').press('Enter');
    await widget(page, '.row.mine[data-state=sent]').waitFor({ timeout: 10_000 });
    const shopApi = new ConsumerClient({ baseUrl: world.apiOrigin, apiKey: shop.apiKey });
    const conversations = await shopApi.listConversations();
    expect(conversations.data).toHaveLength(1);
    const messages = await shopApi.listMessages(conversations.data[0]!.id);
    expect(messages.data.map((m) => m.content)).toEqual(['Bonjour, vous livrez le dimanche ?']);
    expect(probe.cspViolations).toEqual([]);
    await context.close();
  }, 60_000);

  it('survives a server restart mid-conversation: the queued send and the missed messages arrive exactly once', async () => {
    world.host.pages.set('/restart', {
      csp: strictCsp(world.apiOrigin),
      html: hostPageHtml({
        apiOrigin: world.apiOrigin,
        element: `<reusable-chat public-key="${world.publicKey.key}" user-id="${guestId}" user-hash="${userHash(world.tenant.identitySecret, guestId)}"></reusable-chat>`,
      }),
    });
    const context = await world.browser.newContext();
    const page = await context.newPage();
    const probe = await probePage(context, page);
    await page.goto(`${world.host.origin}/restart`);
    await expect.poll(() => rcEvents(page), { timeout: 20_000 }).toContain('rc-ready');
    await page.evaluate((id) => (window as unknown as { ReusableChat: { openConversation: (id: string) => Promise<void> } }).ReusableChat.openConversation(id), conversationId);
    await widget(page, 'textarea').waitFor();

    // The old process goes away and every connection with it (as on a crash or a deploy past its shutdown
    // deadline). A graceful close alone may wait out connections Chromium opened speculatively.
    const closing = world.stack.app.close();
    world.stack.app.server.closeAllConnections();
    await closing;
    await widget(page, '[data-testid=reconnecting]').waitFor({ timeout: 10_000 });
    // Typed while the server is down: queued, not lost.
    await widget(page, 'textarea').fill('Written while the server was down');
    await widget(page, 'textarea').press('Enter');
    const pending = widget(page, '.row.mine').filter({ hasText: 'Written while the server was down' });
    await pending.waitFor();
    // Shown at once with its delivery state (a clock, and words for screen readers): not sent yet, not lost.
    expect(['queued', 'sending']).toContain(await pending.getAttribute('data-state'));
    expect(['Waiting for connection', 'Sending']).toContain(await pending.locator('[data-testid=delivery] .sr-only').textContent());

    restarted = await startStack({ backend: backendName, testDb: world.stack.testDb, env: { APP_URL: world.apiOrigin } });
    await restarted.app.listen({ host: '127.0.0.1', port: world.apiPort });
    // Sent before the widget is back: it must come through the after_seq catch-up (or live), once.
    await consumer.sendMessage(conversationId, { content: 'Sent during your reconnect', sender_external_id: hostId });

    await widget(page, '[data-testid=bubble]').filter({ hasText: 'Sent during your reconnect' }).waitFor({ timeout: 20_000 });
    await widget(page, '.row.mine[data-state=sent], .row.mine[data-state=read]').filter({ hasText: 'Written while the server was down' }).waitFor({ timeout: 20_000 });
    await widget(page, '[data-testid=reconnecting]').waitFor({ state: 'detached', timeout: 20_000 });
    const after = await consumer.sendMessage(conversationId, { content: 'And live again', sender_external_id: hostId });
    await widget(page, '[data-testid=bubble]').filter({ hasText: 'And live again' }).waitFor({ timeout: 10_000 });

    const texts = await widget(page, '[data-testid=bubble]').allTextContents();
    for (const t of ['Written while the server was down', 'Sent during your reconnect', 'And live again']) {
      expect(texts.filter((x) => x === t)).toHaveLength(1);
    }
    const stored = await consumer.listMessages(conversationId, { limit: 100 });
    expect(stored.data.filter((m) => m.content === 'Written while the server was down')).toHaveLength(1);
    const seqs = stored.data.map((m) => m.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(seqs.at(-1)).toBe(after.seq);
    expect(probe.errors).toEqual([]);
    await context.close();
  }, 90_000);
});
