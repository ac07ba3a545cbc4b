import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backends } from '@reusable-chat/testing';
import { useSharedChromium, startDemoWorld, type DemoWorld } from './demo-world.ts';

/**
 * The demo pages end to end in Chromium (SPEC §8): two browsers join one /demo room by its link and chat in
 * real time; /demo/marketplace masks a phone number until the host confirms the booking. On every backend (the
 * rooms, the session per tab and the booking state live in the database); one Chromium serves the whole file.
 */
const chromium = useSharedChromium();

describe.each(backends)('demo pages in Chromium (%s)', (backendName) => {
  let world: DemoWorld;
  const cspViolations: string[] = [];
  const pageErrors: string[] = [];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    world = await startDemoWorld(backendName, { browser: chromium.browser });
  }, 180_000); // may build the dashboard (Vite) first

  afterAll(async () => {
    for (const context of contexts) await context.close().catch(() => undefined);
    await world?.close();
  });

  async function newPage(): Promise<Page> {
    // Reduced motion: buttons fade their colours over 150 ms, and axe measuring contrast mid-fade (right after the
    // switch to dark mode) saw a blend of both palettes — a flaky 'color-contrast' failure. The pages drop their
    // transitions under prefers-reduced-motion, so axe always sees the final colours.
    const context = await world.browser.newContext({ viewport: { width: 1280, height: 860 }, reducedMotion: 'reduce' });
    contexts.push(context);
    const page = await context.newPage();
    // Each wait fails on its own, naming the locator, well before the test's timeout would (which names nothing).
    page.setDefaultTimeout(15_000);
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    return page;
  }

  /** axe-core, evaluated over CDP (not a page script, so the page's strict CSP stays untouched). */
  async function axeViolations(page: Page): Promise<string[]> {
    const source = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
    await page.evaluate(source);
    return page.evaluate(async () => {
      type Axe = { run: (ctx: unknown, opts: unknown) => Promise<{ violations: { id: string; impact: string | null; nodes: unknown[] }[] }> };
      const axe = (window as unknown as { axe: Axe }).axe;
      const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
      return result.violations.map((v) => `${v.id} (${v.impact}, ${v.nodes.length} nodes)`);
    });
  }

  const composer = (scope: Page | ReturnType<Page['getByTestId']>) => scope.getByRole('textbox', { name: 'Message' });
  const live = (scope: Page | ReturnType<Page['getByTestId']>) => scope.getByText('Live', { exact: true });

  it('lets two browsers join one room by its link and chat in real time', async () => {
    const maria = await newPage();
    const response = await maria.goto(`${world.origin}/demo`);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    await maria.getByLabel('Your name').waitFor();
    expect(await axeViolations(maria)).toEqual([]);
    await maria.getByLabel('Your name').fill('Maria');
    await maria.getByRole('button', { name: 'Create room and join' }).click();
    await maria.waitForURL(/\/demo\/r\/[0-9a-f-]{36}$/);
    await live(maria).waitFor();
    const link = await maria.getByTestId('share-link').inputValue();
    expect(link).toBe(maria.url());

    const jordan = await newPage();
    await jordan.goto(link);
    await jordan.getByLabel('Your name').fill('Jordan');
    await jordan.getByRole('button', { name: 'Join room' }).click();
    await live(jordan).waitFor();

    await composer(maria).fill('Hello from Maria');
    await composer(maria).press('Enter');
    await jordan.getByText('Hello from Maria').waitFor();

    await composer(jordan).fill('Hi Maria, Jordan here');
    await jordan.getByRole('button', { name: 'Send message' }).click();
    await maria.getByText('Hi Maria, Jordan here').waitFor();
    // Each sees the other's name on their messages and both people in the room list.
    await expect.poll(() => maria.locator('.sender', { hasText: 'Jordan' }).count()).toBeGreaterThan(0);
    await maria.getByRole('complementary').getByText('Jordan').waitFor();

    // A reload keeps the same person in the room (session kept per tab) and shows the history.
    await jordan.reload();
    await live(jordan).waitFor();
    await jordan.getByText('Hello from Maria').waitFor();
    await expect(jordan.getByLabel('Your name').count()).resolves.toBe(0);
    // WCAG 2.1 AA rules on the room page with messages from both sides.
    expect(await axeViolations(maria)).toEqual([]);
    expect(cspViolations).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('masks a phone number on /demo/marketplace until the host confirms the booking', async () => {
    const page = await newPage();
    await page.goto(`${world.origin}/demo/marketplace`);
    const guest = page.getByTestId('guest-pane');
    const host = page.getByTestId('host-pane');
    await live(guest).waitFor();
    await live(host).waitFor();
    // Polled, not read once: the pill follows the conversation's state, which may render after the panes (and
    // after the "Booking confirmed" system message) do.
    await expect.poll(() => page.getByTestId('booking-state').textContent()).toContain('Inquiry');
    // The listing card the two are talking about, next to both panes.
    const listing = page.getByRole('article', { name: /\S/ });
    await listing.waitFor();
    expect((await listing.getByRole('heading', { level: 2 }).textContent())?.trim().length).toBeGreaterThan(0);

    await composer(guest).fill('Call me on +1 415 555 0134');
    await composer(guest).press('Enter');
    const first = host.locator('.message', { hasText: 'Call me on' }).first();
    await first.waitFor();
    expect(await first.textContent()).not.toContain('555 0134');
    await guest.getByTestId('masked-notice').waitFor();
    expect(await guest.getByTestId('masked-notice').textContent()).toContain('phone number was hidden');

    await host.getByRole('button', { name: 'Confirm booking' }).click();
    await guest.getByText('Booking confirmed').waitFor();
    await expect.poll(() => page.getByTestId('booking-state').textContent()).toContain('Booked');

    await composer(guest).fill('Now you can call +1 415 555 0134');
    await composer(guest).press('Enter');
    await host.getByText('Now you can call +1 415 555 0134').waitFor();
    expect(await axeViolations(page)).toEqual([]);
    // Dark mode has its own palette: the same rules (contrast included) hold there too.
    await page.emulateMedia({ colorScheme: 'dark' });
    expect(await axeViolations(page)).toEqual([]);
    expect(cspViolations).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
