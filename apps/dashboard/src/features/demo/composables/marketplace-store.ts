import type { MarketplaceDemo } from '../api.ts';

const KEY = 'rc-demo-marketplace';

/** The tab's marketplace demo survives reloads (sessionStorage); "Start over" makes a fresh one. */
export function loadMarketplace(): MarketplaceDemo | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const value = JSON.parse(raw) as MarketplaceDemo;
    const expiresAt = Math.min(Date.parse(value.guest.expires_at), Date.parse(value.host.expires_at));
    return expiresAt > Date.now() ? value : null;
  } catch {
    return null;
  }
}

export function saveMarketplace(value: MarketplaceDemo): void {
  try {
    sessionStorage.setItem(KEY, JSON.stringify(value));
  } catch {
    // Storage disabled: the demo lasts as long as the page.
  }
}

export function forgetMarketplace(): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // Nothing stored.
  }
}
