/**
 * Screenshots of the widget for the docs (docs/screenshots/widget-{light,dark,rtl,mobile}.png):
 * `npx tsx scripts/screenshots-widget.ts`. Runs the whole server in-process on PGlite, seeds a marketplace
 * conversation through the consumer API, and photographs the real widget on a host page in Chromium.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import type { Page } from 'playwright-core';
import { createPolicyHook } from '@reusable-chat/core';
import { ConsumerClient } from '@reusable-chat/sdk/node';
import { prepareTemplates } from '@reusable-chat/testing';
import { startWidgetWorld, userHash, widget } from '../tests/e2e/helpers/widget-e2e.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'docs/screenshots');

const HOST_STYLE = `
body{margin:0;font-family:Georgia,"Times New Roman",serif;background:#f7f4ef;color:#1f2937}
header{padding:22px 48px;display:flex;justify-content:space-between;align-items:center;background:#fff;border-bottom:1px solid #e7e1d8}
header b{font-size:22px;letter-spacing:.5px}
nav a{margin-inline-start:24px;color:#374151;text-decoration:none;font-family:system-ui,sans-serif;font-size:15px}
.hero{margin:40px 48px;display:grid;grid-template-columns:1.2fr 1fr;gap:40px;align-items:center}
.photo{height:340px;border-radius:18px;background:linear-gradient(135deg,#60a5fa,#2563eb 40%,#0f766e)}
h1{font-size:40px;margin:0 0 12px}
p{font-family:system-ui,sans-serif;line-height:1.6;color:#4b5563;font-size:17px}
.price{font-family:system-ui,sans-serif;font-weight:700;font-size:20px;color:#111827}
@media (max-width:600px){.hero{grid-template-columns:1fr;margin:20px}.photo{height:200px}h1{font-size:28px}header{padding:16px 20px}nav{display:none}}
`;

function page(apiOrigin: string, element: string, lang = 'en'): string {
  const rtl = lang === 'ar';
  return `<!doctype html><html lang="${lang}"${rtl ? ' dir="rtl"' : ''}><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Seaside Stays</title><style>${HOST_STYLE}</style></head>
<body><header><b>Seaside Stays</b><nav><a href="#">Stays</a><a href="#">Experiences</a><a href="#">Help</a></nav></header>
<section class="hero"><div><h1>${rtl ? 'شقة مطلة على البحر' : 'Sea-view loft in Porto'}</h1>
<p>${rtl ? 'شقة مشرقة بشرفة واسعة على بعد خطوات من الشاطئ.' : 'A bright loft with a wide balcony, five minutes from the beach. Ask the host anything before you book.'}</p>
<p class="price">€ 128 / night</p></div><div class="photo"></div></section>
${element}<script src="${apiOrigin}/widget.js" async></script></body></html>`;
}

async function shoot(p: Page, file: string): Promise<void> {
  // Let fonts, images and the scroll position settle after the last render; no hover effects in the picture.
  await p.mouse.move(5, 5);
  // Hover controls fade out over 100 ms; a screenshot script (not a test) may simply wait for it.
  await p.waitForTimeout(300);
  await p.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await p.screenshot({ path: path.join(outDir, file) });
  process.stdout.write(`wrote docs/screenshots/${file}\n`);
}

async function main(): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  await prepareTemplates();
  const world = await startWidgetWorld('pglite');
  try {
    if (!world.stack.deps.messagePolicyHook) Object.assign(world.stack.deps, { messagePolicyHook: createPolicyHook() });
    const api = new ConsumerClient({ baseUrl: world.apiOrigin, apiKey: world.tenant.apiKey });
    await api.upsertUser({ external_id: 'guest', name: 'Gina Alvarez' });
    await api.upsertUser({ external_id: 'host', name: 'Rui Costa' });
    await api.upsertUser({ external_id: 'host2', name: 'Amira Haddad' });
    const conv = await api.createConversation({
      widget: 'guest-host',
      subject: 'Sea-view loft in Porto',
      participants: [
        { external_id: 'guest', role: 'guest' },
        { external_id: 'host', role: 'host' },
      ],
    });
    const other = await api.createConversation({
      widget: 'guest-host',
      participants: [
        { external_id: 'guest', role: 'guest' },
        { external_id: 'host2', role: 'host' },
      ],
    });
    await api.sendMessage(other.id, { content: 'Your check-in code will arrive the day before.', sender_external_id: 'host2' });
    const script: [string, string][] = [
      ['guest', 'Hi Rui! Is the loft free from 14 to 18 June?'],
      ['host', 'Hello Gina, yes it is 🙂'],
      ['host', 'The balcony gets the evening sun, and there is a bakery right downstairs.'],
      ['guest', 'Lovely. Is parking included? We are coming by car.'],
      ['host', 'There is a public garage two streets away — details here: https://example.com/porto-parking'],
    ];
    for (const [who, content] of script) await api.sendMessage(conv.id, { content, sender_external_id: who });

    const hash = userHash(world.tenant.identitySecret, 'guest');
    const el = (attrs = '') =>
      `<reusable-chat public-key="${world.publicKey.key}" user-id="guest" user-name="Gina Alvarez" user-hash="${hash}" title="Seaside Stays" ${attrs}></reusable-chat>`;
    world.host.pages.set('/light', { html: page(world.apiOrigin, el()) });
    world.host.pages.set('/dark', { html: page(world.apiOrigin, el('theme="dark" preset="ocean"')) });
    world.host.pages.set('/rtl', { html: page(world.apiOrigin, el('lang="ar" position="left"'), 'ar') });
    // Rui has the widget open on his own site, so the guest's header shows him online.
    const hostToken = (await api.createSession({ external_id: 'host' })).token;
    world.host.pages.set('/host', { html: page(world.apiOrigin, `<reusable-chat session-token="${hostToken}" title="Guests"></reusable-chat>`) });
    const hostContext = await world.browser.newContext({ viewport: { width: 1280, height: 820 } });
    const hostPage = await hostContext.newPage();
    await hostPage.goto(`${world.host.origin}/host`);
    await widget(hostPage, '.launcher').click();
    await widget(hostPage, `.conv[data-conversation-id="${conv.id}"]`).waitFor();

    const open = async (route: string, viewport: { width: number; height: number }, setup?: (p: Page) => Promise<void>) => {
      const context = await world.browser.newContext({ viewport, deviceScaleFactor: 1 });
      const p = await context.newPage();
      await p.goto(`${world.host.origin}${route}`);
      await widget(p, '.launcher').click();
      await widget(p, `.conv[data-conversation-id="${conv.id}"]`).click();
      await widget(p, '[data-testid=bubble]').filter({ hasText: 'garage' }).waitFor();
      await widget(p, '[data-testid=presence][data-online=true]').waitFor();
      if (setup) await setup(p);
      return { context, p };
    };

    // Light: a photo upload, a reaction and a masked message, so the screenshot shows the features.
    const light = await open('/light', { width: 1280, height: 820 }, async (p) => {
      const png = await sharp({
        create: { width: 480, height: 320, channels: 3, background: { r: 70, g: 140, b: 200 } },
      })
        .composite([{ input: Buffer.from('<svg width="480" height="320"><rect y="200" width="480" height="120" fill="#e9d8a6"/><circle cx="380" cy="80" r="40" fill="#ffd166"/></svg>') }])
        .png()
        .toBuffer();
      await widget(p, '[data-testid=file-input]').setInputFiles({ name: 'car.png', mimeType: 'image/png', buffer: png });
      await widget(p, '[data-testid=upload-preview][data-state=done]').waitFor();
      await widget(p, 'textarea').fill('Great! This is our car, just so you know the size.');
      await widget(p, 'textarea').press('Enter');
      await widget(p, '[data-testid=attachment-thumb]').last().waitFor();
      await widget(p, 'textarea').fill('You can call me on +351 912 345 678 if easier');
      await widget(p, 'textarea').press('Enter');
      await widget(p, '[data-testid=masked-notice]').waitFor();
      await api.sendMessage(conv.id, { content: 'Perfect, see you in June!', sender_external_id: 'host' });
      await widget(p, '[data-testid=bubble]').filter({ hasText: 'see you in June' }).waitFor();
    });
    await shoot(light.p, 'widget-light.png');
    await light.context.close();

    const dark = await open('/dark', { width: 1280, height: 820 });
    await shoot(dark.p, 'widget-dark.png');
    await dark.context.close();

    const mobile = await open('/light', { width: 390, height: 800 });
    await shoot(mobile.p, 'widget-mobile.png');
    await mobile.context.close();

    // Last, so the other pictures stay English: an Arabic reply next to the English bubbles, each laid out in its
    // own direction inside the right-to-left widget.
    await api.sendMessage(conv.id, { content: 'أهلاً بكِ! سأترك المفتاح عند الجار.', sender_external_id: 'host' });
    const rtl = await open('/rtl', { width: 1280, height: 820 });
    await widget(rtl.p, '[data-testid=bubble]').filter({ hasText: 'المفتاح' }).waitFor();
    await shoot(rtl.p, 'widget-rtl.png');
    await rtl.context.close();
    await hostContext.close();
  } finally {
    await world.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
