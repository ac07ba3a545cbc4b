import net from 'node:net';
import type { Browser } from 'playwright-core';
import { launchChromium } from './helpers/chromium.ts';

export { launchChromium, useSharedChromium } from './helpers/chromium.ts';
import { createPolicyHook } from '@reusable-chat/core';
import { startStack, type Backend, type TestStack } from '@reusable-chat/testing';
// @ts-expect-error -- plain ESM build script without type declarations
import { ensureDashboardBuilt } from '../../scripts/build.mjs';
import { seedDemo } from '../../apps/server/src/seed/seed-demo.ts';


export interface DemoWorld {
  readonly stack: TestStack;
  readonly origin: string;
  readonly browser: Browser;
  close(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

/**
 * The whole server as `npm start` runs it — dashboard built, demo tenant seeded — listening on a real port
 * whose origin is APP_URL (the widget API trusts the app's own origin, as in production), plus Chromium.
 */

/**
 * Pass `browser` to share one Chromium between worlds (one per backend); close() then leaves it open.
 */
export async function startDemoWorld(backend: Backend, options: { browser?: Browser } = {}): Promise<DemoWorld> {
  await (ensureDashboardBuilt as (o: { quiet: boolean }) => Promise<void>)({ quiet: true });
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const stack = await startStack({ backend, env: { APP_URL: origin } });
  if (!stack.deps.messagePolicyHook) Object.assign(stack.deps, { messagePolicyHook: createPolicyHook() });
  await seedDemo({ db: stack.db, config: stack.deps.config });
  await stack.app.listen({ host: '127.0.0.1', port });
  const browser = options.browser ?? (await launchChromium());
  return {
    stack,
    origin,
    browser,
    async close() {
      if (!options.browser) await browser.close().catch(() => undefined);
      // Teardown: a keep-alive connection Chromium left open would otherwise hold close() for its timeout.
      const closing = stack.close();
      stack.app.server.closeAllConnections();
      await closing;
    },
  };
}
