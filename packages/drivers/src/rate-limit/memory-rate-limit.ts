import type { RateLimiter, RateLimitResult } from '@reusable-chat/core/ports';

/**
 * Fixed-window counter per key, in process. Windows are swept lazily so memory stays bounded by the
 * number of keys active in the current window.
 */
export class MemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { count: number; resetAtMs: number }>();
  private lastSweepMs = 0;

  constructor(private readonly nowMs: () => number = Date.now) {}

  async hit(key: string, limit: number, windowS: number, cost = 1): Promise<RateLimitResult> {
    const now = this.nowMs();
    this.sweep(now);
    let w = this.windows.get(key);
    if (!w || w.resetAtMs <= now) {
      w = { count: 0, resetAtMs: now + windowS * 1000 };
      this.windows.set(key, w);
    }
    w.count += cost;
    const allowed = w.count <= limit;
    const remaining = Math.max(0, limit - w.count);
    return {
      allowed,
      remaining,
      retryAfterS: allowed && remaining > 0 ? 0 : Math.max(1, Math.ceil((w.resetAtMs - now) / 1000)),
    };
  }

  private sweep(now: number): void {
    if (now - this.lastSweepMs < 10_000) return;
    this.lastSweepMs = now;
    for (const [key, w] of this.windows) if (w.resetAtMs <= now) this.windows.delete(key);
  }
}
