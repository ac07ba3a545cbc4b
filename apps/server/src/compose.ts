import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '@reusable-chat/config';
import { DomainEventBus, createPolicyHook, hmacSha256Hex, randomToken } from '@reusable-chat/core';
import { createDatabase, type DatabaseHandle } from '@reusable-chat/db';
import {
  createBlobStore,
  createJobQueue,
  createRateLimiter,
  MemoryChannelState,
  MemoryPubSub,
  NodemailerMailer,
  RedisChannelState,
  RedisPubSub,
} from '@reusable-chat/drivers';
import type { AppDeps, ServerRole } from './deps.ts';
import { connectRedis, throttledWarn } from './redis-connection.ts';

/**
 * APP_SECRET: from the environment, or generated once into DATA_DIR in embedded mode (SPEC §2), so restarts
 * keep cookies, cursors and signed URLs valid.
 */
export function resolveAppSecret(config: Config): string {
  if (config.appSecret) return config.appSecret;
  if (config.isProduction) throw new Error('APP_SECRET is required in production');
  mkdirSync(config.dataDir, { recursive: true });
  const file = path.join(config.dataDir, 'app-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomToken(48);
  writeFileSync(file, secret, { mode: 0o600 });
  return secret;
}

export async function openDatabase(config: Config): Promise<DatabaseHandle> {
  return config.databaseUrl
    ? createDatabase({ kind: 'postgres', url: config.databaseUrl, preparedStatements: config.databasePreparedStatements })
    : createDatabase({ kind: 'pglite', dataDir: path.join(config.dataDir, 'pglite') });
}

export interface ComposeOptions {
  readonly config: Config;
  readonly roles?: readonly ServerRole[];
  /** An already-open database (tests, CLI); otherwise opened from config. */
  readonly database?: DatabaseHandle;
}

/**
 * Builds the driver set from configuration. Unknown or unavailable drivers fail here, at start-up,
 * never later (ARCHITECTURE.md convention 3).
 */
export async function composeDeps(options: ComposeOptions): Promise<AppDeps & { dispose(): Promise<void> }> {
  const { config } = options;
  const appSecret = resolveAppSecret(config);
  const database = options.database ?? (await openDatabase(config));
  const realtimeAppSecret = config.realtime.appSecret ?? hmacSha256Hex(appSecret, 'pusher-app-secret');

  // Production (SPEC §1): rate limits and jobs shared by every node through Redis; embedded: in process.
  const redis = config.redis ? await connectRedis(config.redis.url, 'reusable-chat') : undefined;
  if (redis) redis.on('error', throttledWarn('redis'));
  const redisPrefix = config.redis?.prefix ?? '';
  const queue = redis
    ? createJobQueue({ driver: 'bullmq', connection: redis, prefix: redisPrefix, onError: throttledWarn('queue') })
    : createJobQueue({ driver: 'memory' });
  const rateLimiter = redis
    ? createRateLimiter({ driver: 'redis', redis, prefix: redisPrefix, onError: throttledWarn('rate-limit') })
    : createRateLimiter({ driver: 'memory' });
  // Realtime scale-out: cross-node fan-out and shared channel counts/presence through Redis; in process otherwise.
  const pubsub = redis ? new RedisPubSub({ redis, prefix: redisPrefix, onError: throttledWarn('pubsub') }) : new MemoryPubSub();
  const channelState = redis
    ? new RedisChannelState({ redis, prefix: redisPrefix, onError: throttledWarn('channel-state') })
    : new MemoryChannelState();
  const readinessChecks: Record<string, () => Promise<void>> = {};
  if (redis) {
    readinessChecks.redis = async () => {
      await redis.ping();
    };
  }
  // STORAGE_DRIVER local | bunny | s3; a missing setting throws here, at start-up.
  const blobStore = createBlobStore({ ...config.storage, dataDir: config.dataDir, appUrl: config.appUrl, appSecret });
  const mailer = new NodemailerMailer({
    from: config.mail.from,
    smtpUrl: config.mail.smtpUrl,
    mailDir: path.join(config.dataDir, 'mail'),
  });

  return {
    config,
    appSecret,
    realtimeAppSecret,
    database,
    pubsub,
    channelState,
    queue,
    blobStore,
    mailer,
    rateLimiter,
    clock: { now: () => new Date() },
    events: new DomainEventBus(),
    // Widget-configuration policies (SPEC §6) on every send path: widget, consumer API, dashboard.
    messagePolicyHook: createPolicyHook(),
    roles: options.roles ?? ['api', 'realtime', 'worker'],
    readinessChecks,
    async dispose() {
      await queue.close();
      await pubsub.close();
      await channelState.close();
      await mailer.close();
      // After the queue: BullMQ's producer shares this connection until its close() resolves.
      if (redis) await redis.quit().catch(() => redis.disconnect());
      if (!options.database) await database.close();
    },
  };
}
