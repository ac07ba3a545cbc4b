import type { Redis } from 'ioredis';
import type { RateLimiter, RateLimitResult } from '@reusable-chat/core/ports';

/**
 * Fixed-window counter, atomic in Redis: INCRBY and the PEXPIRE that opens the window run in one script,
 * so 200 concurrent hits from any number of nodes count exactly 200 (no lost updates, no window without a
 * TTL). ARGV[2] is the cost: 1 per request, a byte count for byte quotas, 0 to read. The window opens when
 * the key has no TTL yet (a new key, or one that lost its TTL, e.g. a replica promoted mid-write, F-04,
 * which would otherwise block that key forever). Returns {count, pttl}.
 */
const HIT_SCRIPT = `
local count = redis.call('INCRBY', KEYS[1], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
`;

/** A limiter call must never hold up a request: after this the hit is allowed (fail open, F-01). */
const DEFAULT_TIMEOUT_MS = 250;

export interface RedisRateLimiterOptions {
  readonly redis: Redis;
  /** Deployment key prefix (REDIS_PREFIX), so several deployments can share one Redis. */
  readonly prefix: string;
  readonly timeoutMs?: number;
  /** Told about every fail-open decision (rate-limited, so a Redis outage does not flood the log). */
  readonly onError?: (error: Error) => void;
}

type RedisWithHit = Redis & { rcRateLimitHit(key: string, windowMs: number, cost: number): Promise<[number, number]> };

/**
 * Rate limits shared by every serve node (SPEC §1).
 *
 * Failure policy (checklist F-01/F-04; the deployment docs should repeat it): when Redis is unreachable,
 * slow, or fails over, the limiter FAILS OPEN — the hit is allowed and counters may reset. Rate limits
 * protect capacity, not identity: authentication never depends on this limiter, so an outage can
 * weaken throttling for its duration but can never let an unauthenticated request through.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly redis: RedisWithHit;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly onError: ((error: Error) => void) | undefined;
  private lastErrorReportMs = 0;

  constructor(options: RedisRateLimiterOptions) {
    this.redis = options.redis as RedisWithHit;
    this.prefix = `${options.prefix}rl:`;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.onError = options.onError;
    // defineCommand uses EVALSHA with an EVAL fallback, so the script body crosses the wire once.
    if (typeof this.redis.rcRateLimitHit !== 'function') {
      this.redis.defineCommand('rcRateLimitHit', { numberOfKeys: 1, lua: HIT_SCRIPT });
    }
  }

  async hit(key: string, limit: number, windowS: number, cost = 1): Promise<RateLimitResult> {
    const windowMs = Math.max(1, Math.round(windowS * 1000));
    let reply: [number, number];
    try {
      reply = await withTimeout(this.redis.rcRateLimitHit(this.prefix + key, windowMs, Math.max(0, Math.round(cost))), this.timeoutMs);
    } catch (err) {
      this.report(err instanceof Error ? err : new Error(String(err)));
      return { allowed: true, remaining: Math.max(0, limit - cost), retryAfterS: 0 };
    }
    const [count, ttlMs] = reply;
    const allowed = count <= limit;
    const remaining = Math.max(0, limit - count);
    return {
      allowed,
      remaining,
      retryAfterS: allowed && remaining > 0 ? 0 : Math.max(1, Math.ceil(ttlMs / 1000)),
    };
  }

  private report(error: Error): void {
    const now = Date.now();
    if (!this.onError || now - this.lastErrorReportMs < 10_000) return;
    this.lastErrorReportMs = now;
    this.onError(error);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`rate limiter: Redis did not answer within ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
