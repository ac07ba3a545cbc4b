import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { RateLimiter } from '@reusable-chat/core/ports';
import { MemoryRateLimiter, RedisRateLimiter } from '@reusable-chat/drivers';
import { TEST_REDIS_URL } from '@reusable-chat/testing';
import { connectRedis, createRedisConnection } from '../../apps/server/src/redis-connection.ts';

type Driver = 'memory' | 'redis';
const drivers: Driver[] = ['memory', ...(TEST_REDIS_URL ? (['redis'] as const) : [])];
/** Unique per run so parallel runs and leftovers never share counters. */
const PREFIX = `rc-test-${process.pid}-${Date.now().toString(36)}:`;

describe.each(drivers)('rate limiter (%s)', (driver) => {
  let limiter: RateLimiter;
  let redis: Redis | undefined;

  beforeAll(async () => {
    if (driver === 'redis') {
      redis = await connectRedis(TEST_REDIS_URL!, 'rc-test-rate-limit');
      limiter = new RedisRateLimiter({ redis, prefix: PREFIX });
    } else {
      limiter = new MemoryRateLimiter();
    }
  });
  afterAll(async () => {
    if (redis) {
      const keys = await redis.keys(`${PREFIX}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
  });

  it('allows `limit` hits per window, then refuses with a Retry-After within the window', async () => {
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await limiter.hit('ip:1.2.3.4', 3, 60));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, false, false]);
    expect(results.map((r) => r.remaining)).toEqual([2, 1, 0, 0, 0]);
    expect(results[0]!.retryAfterS).toBe(0);
    expect(results[3]!.retryAfterS).toBeGreaterThanOrEqual(1);
    expect(results[3]!.retryAfterS).toBeLessThanOrEqual(60);
  });

  it('counts keys independently', async () => {
    expect((await limiter.hit('user:a', 1, 60)).allowed).toBe(true);
    expect((await limiter.hit('user:a', 1, 60)).allowed).toBe(false);
    expect((await limiter.hit('user:b', 1, 60)).allowed).toBe(true);
  });

  it('frees the key when the window ends', async () => {
    expect((await limiter.hit('short', 1, 1)).allowed).toBe(true);
    const refused = await limiter.hit('short', 1, 1);
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterS).toBe(1);
    await new Promise((r) => setTimeout(r, 1_150));
    expect((await limiter.hit('short', 1, 1)).allowed).toBe(true);
  });

  it('counts a cost per hit (bytes per day) and reads without charging at cost 0', async () => {
    expect(await limiter.hit('bytes', 1000, 86_400, 0)).toMatchObject({ allowed: true, remaining: 1000, retryAfterS: 0 });
    expect(await limiter.hit('bytes', 1000, 86_400, 600)).toMatchObject({ allowed: true, remaining: 400 });
    expect(await limiter.hit('bytes', 1000, 86_400, 0)).toMatchObject({ allowed: true, remaining: 400, retryAfterS: 0 });
    // Used up exactly: still allowed, but nothing remains and the reset time is given for Retry-After.
    const full = await limiter.hit('bytes', 1000, 86_400, 400);
    expect(full).toMatchObject({ allowed: true, remaining: 0 });
    expect(full.retryAfterS).toBeGreaterThan(86_000);
    expect(full.retryAfterS).toBeLessThanOrEqual(86_400);
    expect((await limiter.hit('bytes', 1000, 86_400, 1)).allowed).toBe(false);
  });

  it('counts 200 concurrent hits exactly (atomic increment)', async () => {
    const results = await Promise.all(Array.from({ length: 200 }, () => limiter.hit('burst', 50, 60)));
    expect(results.filter((r) => r.allowed)).toHaveLength(50);
    expect(results.filter((r) => !r.allowed)).toHaveLength(150);
    // Remaining values handed out are exactly 49..0 once each, plus 0 for every refusal.
    const remaining = results.filter((r) => r.allowed).map((r) => r.remaining).sort((a, b) => a - b);
    expect(remaining).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  if (driver === 'redis') {
    it('shares counters between nodes (two connections, one limit)', async () => {
      const other = await connectRedis(TEST_REDIS_URL!, 'rc-test-rate-limit-2');
      try {
        const second = new RedisRateLimiter({ redis: other, prefix: PREFIX });
        const hits = await Promise.all([
          ...Array.from({ length: 10 }, () => limiter.hit('shared', 10, 60)),
          ...Array.from({ length: 10 }, () => second.hit('shared', 10, 60)),
        ]);
        expect(hits.filter((r) => r.allowed)).toHaveLength(10);
      } finally {
        await other.quit();
      }
    });
  }
});

describe('Redis rate limiter failure policy (F-01/F-04: fail open, never hang)', () => {
  it('allows the hit when Redis refuses connections', async () => {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    const redis = createRedisConnection('redis://127.0.0.1:1', 'rc-test-down');
    redis.on('error', () => undefined);
    const errors: Error[] = [];
    const limiter = new RedisRateLimiter({ redis, prefix: PREFIX, onError: (e) => errors.push(e) });
    try {
      const result = await limiter.hit('k', 1, 60);
      expect(result).toEqual({ allowed: true, remaining: 0, retryAfterS: 0 });
      expect(errors).toHaveLength(1);
    } finally {
      redis.disconnect();
    }
  });

  it('allows the hit when Redis accepts the connection but never answers', async () => {
    const sockets = new Set<net.Socket>();
    const blackhole = net.createServer((s) => sockets.add(s));
    await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
    const { port } = blackhole.address() as net.AddressInfo;
    const redis = createRedisConnection(`redis://127.0.0.1:${port}`, 'rc-test-blackhole');
    redis.on('error', () => undefined);
    const limiter = new RedisRateLimiter({ redis, prefix: PREFIX, timeoutMs: 200 });
    try {
      const result = await limiter.hit('k', 5, 60);
      expect(result.allowed).toBe(true);
      expect(result.remaining).toBe(4);
    } finally {
      redis.disconnect();
      for (const s of sockets) s.destroy();
      await new Promise((r) => blackhole.close(r));
    }
  });
});
