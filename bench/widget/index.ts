/**
 * Widget benchmarks (SPEC §8/§9; issue 5), called by bench/run.ts:
 *   - gzip sizes of the loader (widget.js, target ≤ 10 KB) and of the full widget with its realtime client
 *     (loader + app chunk, target ≤ 60 KB);
 *   - in Chromium: page load → widget ready (identified user: the app mounts at idle, session minted, list
 *     loaded, realtime connecting), and launcher click → panel open, medians of fresh page loads.
 * The host page is on its own origin, the API on another, as on a real site.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { ConsumerClient } from '@reusable-chat/sdk/node';
import { prepareTemplates } from '@reusable-chat/testing';
import { ensureWidgetBuilt, hostPageHtml, startWidgetWorld, userHash, widget } from '../../tests/e2e/helpers/widget-e2e.ts';

export interface WidgetBenchRow {
  scenario: 'widget';
  metric: string;
  value: number | null;
  unit: string;
  baseline?: { label: string; value: number | null; unit: string };
  ratio?: number | null;
  note?: string;
}

/** Targets of issue 5: what a host page pays before and after the first interaction. */
const LOADER_TARGET_KB = 10;
const FULL_TARGET_KB = 60;
/** Fresh page loads per timing; the median is reported (first load excluded as a warm-up). */
const PAGE_LOADS = 7;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function kb(bytes: number): number {
  return Math.round((bytes / 1024) * 10) / 10;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function runWidgetBench(options: { postgresUrl?: string } = {}): Promise<WidgetBenchRow[]> {
  void options; // the widget bench needs no PostgreSQL: the browser path is the same on both backends
  ensureWidgetBuilt();
  const dist = path.join(root, 'apps/widget/dist');
  const manifest = JSON.parse(readFileSync(path.join(dist, 'manifest.json'), 'utf8')) as { loader: string; app: string };
  const loaderGz = gzipSync(readFileSync(path.join(dist, manifest.loader)), { level: 9 }).length;
  const appGz = gzipSync(readFileSync(path.join(dist, manifest.app)), { level: 9 }).length;
  const rows: WidgetBenchRow[] = [
    {
      scenario: 'widget',
      metric: 'loader widget.js (gzip)',
      value: kb(loaderGz),
      unit: 'KB',
      baseline: { label: 'target', value: LOADER_TARGET_KB, unit: 'KB' },
      ratio: Math.round((kb(loaderGz) / LOADER_TARGET_KB) * 100) / 100,
    },
    {
      scenario: 'widget',
      metric: 'full widget incl. realtime client (gzip)',
      value: kb(loaderGz + appGz),
      unit: 'KB',
      baseline: { label: 'target', value: FULL_TARGET_KB, unit: 'KB' },
      ratio: Math.round((kb(loaderGz + appGz) / FULL_TARGET_KB) * 100) / 100,
    },
  ];

  await prepareTemplates();
  const world = await startWidgetWorld('pglite');
  try {
    const api = new ConsumerClient({ baseUrl: world.apiOrigin, apiKey: world.tenant.apiKey });
    await api.upsertUser({ external_id: 'bench-guest', name: 'Bench Guest' });
    await api.upsertUser({ external_id: 'bench-host', name: 'Bench Host' });
    const conv = await api.createConversation({
      widget: 'guest-host',
      participants: [
        { external_id: 'bench-guest', role: 'guest' },
        { external_id: 'bench-host', role: 'host' },
      ],
    });
    for (let i = 0; i < 20; i++) await api.sendMessage(conv.id, { content: `Message ${i}`, sender_external_id: i % 2 ? 'bench-guest' : 'bench-host' });
    world.host.pages.set('/bench', {
      html: hostPageHtml({
        apiOrigin: world.apiOrigin,
        element: `<reusable-chat public-key="${world.publicKey.key}" user-id="bench-guest" user-hash="${userHash(world.tenant.identitySecret, 'bench-guest')}"></reusable-chat>`,
      }),
    });
    const ready: number[] = [];
    const open: number[] = [];
    for (let i = 0; i < PAGE_LOADS; i++) {
      const context = await world.browser.newContext();
      const page = await context.newPage();
      await page.addInitScript(() => {
        const w = window as unknown as { __rcReadyAt?: number; __rcOpenAt?: number };
        document.addEventListener('rc-ready', () => (w.__rcReadyAt = performance.now()));
        document.addEventListener('rc-open', () => (w.__rcOpenAt = performance.now()));
      });
      await page.goto(`${world.host.origin}/bench`);
      await widget(page, '.rc-root .launcher').waitFor();
      const readyAt = await page.evaluate(() => (window as unknown as { __rcReadyAt: number }).__rcReadyAt);
      const clickAt = await page.evaluate(() => performance.now());
      await widget(page, '.launcher').click();
      await widget(page, '.panel .conv').first().waitFor();
      const openAt = await page.evaluate(() => (window as unknown as { __rcOpenAt: number }).__rcOpenAt);
      if (i > 0) {
        ready.push(readyAt);
        open.push(openAt - clickAt);
      }
      await context.close();
    }
    rows.push(
      {
        scenario: 'widget',
        metric: 'page load → widget ready (Chromium, median)',
        value: Math.round(median(ready)),
        unit: 'ms',
        note: `${ready.length} fresh loads; identified user, 20 messages; loopback`,
      },
      {
        scenario: 'widget',
        metric: 'launcher click → panel open (median)',
        value: Math.round(median(open) * 10) / 10,
        unit: 'ms',
        note: 'app already loaded at idle',
      },
    );
  } finally {
    await world.close();
  }
  return rows;
}

// `npx tsx bench/widget/index.ts` runs it alone.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runWidgetBench().then(
    (rows) => console.table(rows.map((r) => ({ metric: r.metric, value: r.value, unit: r.unit, target: r.baseline?.value ?? '', ratio: r.ratio ?? '' }))),
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
