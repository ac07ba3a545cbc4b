import { describe, expect, it } from 'vitest';
import { ConfigError, DEV_DEMO_API_KEY, loadConfig } from '@reusable-chat/config';

/** The ConfigError for `env`, so a test can check which variables it names. */
function configErrorFor(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const PROD_SECRET = 'production-secret-0123456789abcdefghijklmnop';

describe('loadConfig (SPEC §2)', () => {
  it('has working defaults with an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      env: 'development',
      isProduction: false,
      port: 3000,
      host: '0.0.0.0',
      appUrl: 'http://localhost:3000',
      dataDir: './.data',
      databaseUrl: undefined,
      redis: undefined,
      demoApiKey: DEV_DEMO_API_KEY,
      logLevel: 'info',
    });
    expect(config.storage.driver).toBe('local');
    expect(config.realtime).toMatchObject({ appId: 'reusable-chat', appKey: 'reusable-chat-key', appSecret: undefined });
  });

  it('derives APP_URL from PORT and strips a trailing slash from an explicit one', () => {
    expect(loadConfig({ PORT: '3999' }).appUrl).toBe('http://localhost:3999');
    expect(loadConfig({ APP_URL: 'https://chat.example.com/' }).appUrl).toBe('https://chat.example.com');
  });

  it('treats empty strings as unset, as .env files write them', () => {
    const config = loadConfig({ PORT: '', DATABASE_URL: '', LOG_LEVEL: '' });
    expect(config.port).toBe(3000);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.logLevel).toBe('info');
  });

  it('names the variable of a malformed value', () => {
    const err = configErrorFor({ PORT: 'abc' });
    expect(err.issues.map((i) => i.variable)).toEqual(['PORT']);
    expect(err.message).toMatch(/^Invalid configuration:\n {2}PORT: /);
  });

  it('names every bad variable at once', () => {
    const err = configErrorFor({ PORT: '70000', LOG_LEVEL: 'loud', DATABASE_URL: 'not a url' });
    expect(err.issues.map((i) => i.variable).sort()).toEqual(['DATABASE_URL', 'LOG_LEVEL', 'PORT']);
  });

  it('requires APP_SECRET in production and no demo key by default there', () => {
    expect(configErrorFor({ NODE_ENV: 'production' }).issues).toEqual([
      { variable: 'APP_SECRET', message: 'is required when NODE_ENV=production' },
    ]);
    const config = loadConfig({ NODE_ENV: 'production', APP_SECRET: PROD_SECRET });
    expect(config.isProduction).toBe(true);
    expect(config.demoApiKey).toBeUndefined();
  });

  it('refuses a short APP_SECRET', () => {
    expect(configErrorFor({ APP_SECRET: 'short' }).issues[0]?.variable).toBe('APP_SECRET');
  });

  it('checks DEMO_API_KEY looks like a demo key', () => {
    expect(configErrorFor({ DEMO_API_KEY: 'sk_live_abcdefghijklmnopqrstuvwxyz' }).issues[0]?.variable).toBe('DEMO_API_KEY');
    expect(loadConfig({ DEMO_API_KEY: 'sk_demo_abcdefghijklmnopqrstuvwxyz' }).demoApiKey).toBe('sk_demo_abcdefghijklmnopqrstuvwxyz');
  });

  it('builds the Redis URL from REDIS_HOST/PORT/PASSWORD, and prefers REDIS_URL', () => {
    expect(loadConfig({ REDIS_HOST: 'cache', REDIS_PORT: '6380', REDIS_PASSWORD: 'p@ss' }).redis?.url).toBe('redis://:p%40ss@cache:6380');
    expect(loadConfig({ REDIS_HOST: 'cache' }).redis?.url).toBe('redis://cache:6379');
    expect(loadConfig({ REDIS_URL: 'redis://r:1', REDIS_HOST: 'cache' }).redis?.url).toBe('redis://r:1');
  });

  it('honours the REVERB_APP_* names and their PUSHER_APP_* aliases', () => {
    expect(loadConfig({ PUSHER_APP_ID: 'p-id', PUSHER_APP_KEY: 'p-key', PUSHER_APP_SECRET: 'p-secret' }).realtime).toMatchObject({
      appId: 'p-id',
      appKey: 'p-key',
      appSecret: 'p-secret',
    });
    expect(loadConfig({ REVERB_APP_KEY: 'r-key', PUSHER_APP_KEY: 'p-key' }).realtime.appKey).toBe('r-key');
  });

  it('names the missing variables of the chosen storage driver', () => {
    expect(configErrorFor({ BUNNY_STORAGE_ENABLED: 'true' }).issues.map((i) => i.variable)).toEqual([
      'BUNNY_STORAGE_API_KEY',
      'BUNNY_STORAGE_ZONE',
      'BUNNY_CDN_URL',
    ]);
    expect(configErrorFor({ STORAGE_DRIVER: 's3', S3_BUCKET: 'b' }).issues.map((i) => i.variable)).toEqual([
      'S3_ACCESS_KEY_ID',
      'S3_SECRET_ACCESS_KEY',
    ]);
    expect(configErrorFor({ STORAGE_DRIVER: 'ftp' }).issues[0]?.variable).toBe('STORAGE_DRIVER');
  });

  it('freezes the result', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.realtime)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });
});
