import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';

/** Debian's Chromium (installed by .ci/run); playwright's own browser downloads are not reachable here. */
export const CHROMIUM_PATH = '/usr/bin/chromium';
/** Debian Chromium in a container: no sandbox, no GPU, no background traffic (deterministic, offline). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

/**
 * One Chromium for the whole test file (every backend's world shares it): launched before the file's first test,
 * closed after its last. Read `.browser` inside hooks and tests, not at collection time.
 */
export function useSharedChromium(): { readonly browser: Browser } {
  const shared = {} as { browser: Browser };
  beforeAll(async () => {
    shared.browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await shared.browser?.close();
  });
  return shared;
}
