// Screenshots of the demo pages for docs/screenshots (run: npx tsx scripts/screenshots-demo.ts).
// Drives the real app: a room with two people chatting, and the marketplace before/after booking.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDemoWorld } from '../tests/e2e/demo-world.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'docs/screenshots');
mkdirSync(outDir, { recursive: true });

const world = await startDemoWorld('pglite');
try {
  const viewport = { width: 1280, height: 860 };
  const a = await world.browser.newContext({ viewport, colorScheme: 'light' });
  const b = await world.browser.newContext({ viewport, colorScheme: 'light' });
  const pageA = await a.newPage();
  await pageA.goto(`${world.origin}/demo`);
  await pageA.screenshot({ path: path.join(outDir, 'demo-home.png') });
  await pageA.getByLabel('Your name').fill('Maria');
  await pageA.getByLabel('Room name (optional)').fill('Weekend trip planning');
  await pageA.getByRole('button', { name: 'Create room and join' }).click();
  await pageA.waitForURL(/\/demo\/r\//);
  const link = await pageA.getByTestId('share-link').inputValue();
  const pageB = await b.newPage();
  await pageB.goto(link);
  await pageB.getByLabel('Your name').fill('Jordan');
  await pageB.getByRole('button', { name: 'Join room' }).click();
  await pageB.getByText('Live', { exact: true }).waitFor();
  await pageA.getByText('Live', { exact: true }).waitFor();
  const say = async (page: typeof pageA, text: string) => {
    await page.getByRole('textbox', { name: 'Message' }).fill(text);
    await page.getByRole('textbox', { name: 'Message' }).press('Enter');
    await page.getByText(text).first().waitFor();
  };
  await say(pageA, 'Hi Jordan! Did you see the cabin by the lake?');
  await say(pageB, 'Yes — it looks great. Friday to Sunday works for me.');
  await say(pageA, 'Perfect, I will book it tonight.');
  await pageB.getByText('Perfect, I will book it tonight').waitFor();
  await pageA.waitForTimeout(400);
  await pageA.screenshot({ path: path.join(outDir, 'demo.png') });
  await pageB.screenshot({ path: path.join(outDir, 'demo-second-browser.png') });

  const m = await world.browser.newContext({ viewport: { width: 1280, height: 1040 }, colorScheme: 'light' });
  const market = await m.newPage();
  await market.goto(`${world.origin}/demo/marketplace`);
  const guest = market.getByTestId('guest-pane');
  const host = market.getByTestId('host-pane');
  await guest.getByText('Live', { exact: true }).waitFor();
  await host.getByText('Live', { exact: true }).waitFor();
  await guest.getByRole('textbox', { name: 'Message' }).fill('Hi! Is early check-in possible? Call me on +1 415 555 0134');
  await guest.getByRole('textbox', { name: 'Message' }).press('Enter');
  await guest.getByTestId('masked-notice').waitFor();
  await host.getByText('Hi! Is early check-in possible?').waitFor();
  await host.getByRole('textbox', { name: 'Message' }).fill('Sure, from 1 pm. Happy to confirm the booking.');
  await host.getByRole('textbox', { name: 'Message' }).press('Enter');
  await guest.getByText('Happy to confirm the booking').waitFor();
  await market.waitForTimeout(400);
  await market.screenshot({ path: path.join(outDir, 'demo-marketplace.png'), fullPage: true });
  await host.getByRole('button', { name: 'Confirm booking' }).click();
  await guest.getByText('Booking confirmed').waitFor();
  await guest.getByRole('textbox', { name: 'Message' }).fill('Great! My number is +1 415 555 0134');
  await guest.getByRole('textbox', { name: 'Message' }).press('Enter');
  await host.getByText('+1 415 555 0134').waitFor();
  await market.waitForTimeout(400);
  await market.screenshot({ path: path.join(outDir, 'demo-marketplace-booked.png'), fullPage: true });

  const mobile = await world.browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme: 'dark' });
  const phone = await mobile.newPage();
  await phone.goto(link);
  await phone.getByLabel('Your name').fill('Sam');
  await phone.getByRole('button', { name: 'Join room' }).click();
  await phone.getByText('Live', { exact: true }).waitFor();
  await phone.waitForTimeout(400);
  await phone.screenshot({ path: path.join(outDir, 'demo-mobile-dark.png') });
  const phoneMarket = await mobile.newPage();
  await phoneMarket.goto(`${world.origin}/demo/marketplace`);
  await phoneMarket.getByTestId('host-pane').getByText('Live', { exact: true }).waitFor();
  await phoneMarket.waitForTimeout(300);
  await phoneMarket.screenshot({ path: path.join(outDir, 'demo-marketplace-mobile-dark.png'), fullPage: true });
  console.log('screenshots written to docs/screenshots');
} finally {
  await world.close();
}
