import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@reusable-chat/config';
import { BullmqJobQueue, MemoryJobQueue, MemoryRateLimiter, RedisRateLimiter } from '@reusable-chat/drivers';
import { createTestDatabase, TEST_REDIS_URL, type TestDatabase } from '@reusable-chat/testing';
import { composeDeps } from '../../apps/server/src/compose.ts';
import { connectRedis } from '../../apps/server/src/redis-connection.ts';

type Mode = 'embedded' | 'redis';
const modes: Mode[] = ['embedded', ...(TEST_REDIS_URL ? (['redis'] as const) : [])];

describe.each(modes)('driver wiring from configuration (%s)', (mode) => {
  let testDb: TestDatabase;
  let dataDir: string;
  const prefix = `rc-test-compose-${process.pid}-${Date.now().toString(36)}:`;

  const env = (extra: Record<string, string> = {}) =>
    loadConfig({
      NODE_ENV: 'test',
      DATA_DIR: dataDir,
      APP_SECRET: 'test-app-secret-0123456789abcdefghijklmnopqrstuvwxyz',
      ...(mode === 'redis' ? { REDIS_URL: TEST_REDIS_URL!, REDIS_PREFIX: prefix } : {}),
      ...extra,
    });

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'rc-compose-'));
    testDb = await createTestDatabase('pglite');
  });
  afterAll(async () => {
    if (mode === 'redis') {
      const redis = await connectRedis(TEST_REDIS_URL!, 'rc-test-compose-cleanup');
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
    await testDb?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('picks the drivers the configuration asks for and probes them for /ready', async () => {
    const deps = await composeDeps({ config: env(), database: testDb.handle });
    try {
      if (mode === 'redis') {
        expect(deps.queue).toBeInstanceOf(BullmqJobQueue);
        expect(deps.rateLimiter).toBeInstanceOf(RedisRateLimiter);
        expect(Object.keys(deps.readinessChecks ?? {})).toContain('redis');
        await deps.readinessChecks!.redis!();
        // Jobs round-trip through the configured Redis with the deployment prefix.
        let got: unknown;
        deps.queue.process('compose-check', async (payload) => {
          got = payload;
        });
        await deps.queue.enqueue('compose-check', { ok: 1 });
        const deadline = Date.now() + 10_000;
        while (got === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        expect(got).toEqual({ ok: 1 });
        expect((await deps.rateLimiter.hit('compose', 1, 60)).allowed).toBe(true);
        expect((await deps.rateLimiter.hit('compose', 1, 60)).allowed).toBe(false);
      } else {
        expect(deps.queue).toBeInstanceOf(MemoryJobQueue);
        expect(deps.rateLimiter).toBeInstanceOf(MemoryRateLimiter);
        expect(deps.readinessChecks?.redis).toBeUndefined();
      }
    } finally {
      await deps.dispose();
    }
  });
});

describe('Redis configured but unreachable', () => {
  it('stops start-up with a message naming REDIS_URL and never the password', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'rc-compose-'));
    try {
      const config = loadConfig({
        NODE_ENV: 'test',
        DATA_DIR: dataDir,
        APP_SECRET: 'test-app-secret-0123456789abcdefghijklmnopqrstuvwxyz',
        DATABASE_URL: undefined,
        REDIS_URL: 'redis://:hunter2-secret@127.0.0.1:1',
      });
      // Redis is checked before anything touches the database, so a dummy in-memory handle is never opened.
      const database = { kind: 'pglite', db: undefined as never, ping: async () => undefined, migrate: async () => undefined, close: async () => undefined } as const;
      const error = await composeDeps({ config, database }).then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(error).toBeInstanceOf(Error);
      expect(error!.message).toContain('REDIS_URL');
      expect(error!.message).toContain('127.0.0.1:1');
      expect(error!.message).not.toContain('hunter2');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
