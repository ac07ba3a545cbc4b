import { createRequire } from 'node:module';
import type * as IORedis from 'ioredis';
import type { Redis } from 'ioredis';

/**
 * Every Redis command from the request path answers or fails within this, so a Redis outage can slow a
 * request by at most this much and never hang it (checklist F-01). Blocking BullMQ worker connections
 * override it (they wait on BZPOPMIN by design).
 */
export const REDIS_COMMAND_TIMEOUT_MS = 1_000;
const REDIS_CONNECT_TIMEOUT_MS = 5_000;
/** Reconnect forever, backing off to at most this; nodes resubscribe/reconnect on their own when Redis is back (F-02). */
const REDIS_MAX_RECONNECT_DELAY_MS = 5_000;

/** host:port only: the URL may carry a password, which never reaches a log line or an error (S-02). */
export function describeRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '6379'}`;
  } catch {
    return 'REDIS_URL';
  }
}

/**
 * A command connection shared by the rate limiter, the BullMQ producer and the readiness probe.
 * - maxRetriesPerRequest 1 and no offline queue: while Redis is down, commands fail at once instead of
 *   piling up in memory (F-01); callers decide (rate limits fail open, enqueue errors reach the outbox).
 * - lazyConnect + connectRedis(): start-up connects explicitly and fails fast with a clear message
 *   (ARCHITECTURE.md convention 3); after that, ioredis reconnects in the background.
 */
export function createRedisConnection(url: string, connectionName: string): Redis {
  // Loaded here, not at import: embedded mode (no REDIS_URL) never needs ioredis.
  const { Redis: RedisClient } = createRequire(import.meta.url)('ioredis') as typeof IORedis;
  return new RedisClient(url, {
    connectionName,
    lazyConnect: true,
    connectTimeout: REDIS_CONNECT_TIMEOUT_MS,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    retryStrategy: (times) => Math.min(times * 200, REDIS_MAX_RECONNECT_DELAY_MS),
  });
}

export async function connectRedis(url: string, connectionName: string): Promise<Redis> {
  const redis = createRedisConnection(url, connectionName);
  // Until start-up succeeded, background errors are reported by connect() below, not as unhandled events.
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`REDIS_URL: cannot reach Redis at ${describeRedisUrl(url)} (${reason})`);
  }
  return redis;
}

/** A warning at most every 10 s per source, so an outage is visible without flooding the log. */
export function throttledWarn(source: string): (error: Error) => void {
  let lastMs = 0;
  return (error) => {
    const now = Date.now();
    if (now - lastMs < 10_000) return;
    lastMs = now;
    console.warn(`[${source}] ${error.message}`);
  };
}
