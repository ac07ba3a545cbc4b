import { z } from 'zod';

/**
 * The one place that reads process.env (ARCHITECTURE.md convention 5).
 * Names of the earlier Laravel + Reverb system are honoured (SPEC §2) so its deployments move over unchanged.
 */

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const port = z.coerce.number().int().min(0).max(65535);
const optionalUrl = z.url().optional();
const optionalString = z.string().min(1).optional();

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: port.default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  APP_URL: optionalUrl,
  APP_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  DATA_DIR: z.string().min(1).default('./.data'),
  DATABASE_URL: optionalUrl,
  DATABASE_PREPARED_STATEMENTS: bool
    .default(false)
    .describe(
      'Prepare every parameterised statement on PostgreSQL (one round trip per query). The hot statements (sending a message, the history page) are prepared whatever this says, so a pooler in transaction mode must support prepared statements (pgbouncer ≥ 1.21 with `max_prepared_statements`); see BENCHMARKS.md',
    ),
  REDIS_URL: optionalUrl,
  REDIS_HOST: optionalString,
  REDIS_PORT: port.optional(),
  REDIS_PASSWORD: optionalString,
  REDIS_PREFIX: z.string().default('rc:'),
  REVERB_APP_ID: optionalString,
  REVERB_APP_KEY: optionalString,
  REVERB_APP_SECRET: optionalString,
  PUSHER_APP_ID: optionalString,
  PUSHER_APP_KEY: optionalString,
  PUSHER_APP_SECRET: optionalString,
  REALTIME_ALLOWED_ORIGINS: z.string().default('*'),
  REALTIME_ACTIVITY_TIMEOUT_S: z.coerce.number().int().min(5).max(3600).default(120),
  REALTIME_MAX_CONNECTIONS: z.coerce.number().int().min(1).default(100_000),
  REALTIME_MAX_CONNECTIONS_PER_IP: z.coerce
    .number()
    .int()
    .min(1)
    .default(1_000)
    .describe('Open WebSockets per client address on each node (the forwarded address behind TRUST_PROXY); the next gets 4004 (checklist W-21). Per node even with Redis: checked before the upgrade with no round trip, as the DoS guard of each process'),
  REALTIME_MAX_CONNECTIONS_PER_USER: z.coerce
    .number()
    .int()
    .min(1)
    .default(10)
    .describe('Signed-in WebSockets (tabs) per user, across the cluster with REDIS_URL (per process without); the next sign-in gets 4004 (checklist W-21)'),
  REALTIME_MAX_CONNECTIONS_PER_WORKSPACE: z.coerce
    .number()
    .int()
    .min(1)
    .default(10_000)
    .describe('Signed-in WebSockets per workspace, across the cluster with REDIS_URL (per process without); the next sign-in gets 4004 (checklist W-21)'),
  STORAGE_DRIVER: z.enum(['local', 'bunny', 's3']).optional(),
  BUNNY_STORAGE_ENABLED: bool.default(false),
  BUNNY_STORAGE_API_KEY: optionalString,
  BUNNY_STORAGE_ZONE: optionalString,
  BUNNY_STORAGE_HOSTNAME: optionalString,
  BUNNY_CDN_URL: optionalUrl,
  BUNNY_UPLOAD_PATH: z.string().default(''),
  S3_ENDPOINT: optionalUrl,
  S3_BUCKET: optionalString,
  S3_REGION: z.string().default('us-east-1'),
  S3_ACCESS_KEY_ID: optionalString,
  S3_SECRET_ACCESS_KEY: optionalString,
  S3_PUBLIC_URL: optionalUrl,
  SMTP_URL: optionalUrl,
  MAIL_FROM: z.string().default('Reusable Chat <no-reply@localhost>'),
  DEMO_API_KEY: z
    .string()
    .regex(/^sk_demo_[A-Za-z0-9_]{16,}$/, 'must look like sk_demo_<at least 16 characters>')
    .optional(),
  WEBHOOKS_ALLOW_PRIVATE: bool.default(false),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TRUST_PROXY: bool.default(false),
  RELOADABLE: bool.default(false),
});

export type Env = z.infer<typeof envSchema>;

export type StorageDriverName = 'local' | 'bunny' | 's3';

export interface Config {
  readonly env: Env['NODE_ENV'];
  readonly isProduction: boolean;
  readonly port: number;
  readonly host: string;
  readonly appUrl: string;
  /** Undefined until resolved from DATA_DIR in embedded mode (see resolveAppSecret in the server). */
  readonly appSecret: string | undefined;
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  readonly databasePreparedStatements: boolean;
  readonly redis: { readonly url: string; readonly prefix: string } | undefined;
  readonly realtime: {
    readonly appId: string;
    readonly appKey: string;
    readonly appSecret: string | undefined;
    readonly allowedOrigins: readonly string[];
    readonly activityTimeoutS: number;
    readonly maxConnections: number;
    readonly maxConnectionsPerIp: number;
    readonly maxConnectionsPerUser: number;
    readonly maxConnectionsPerWorkspace: number;
  };
  readonly storage: {
    readonly driver: StorageDriverName;
    readonly bunny: {
      readonly apiKey: string | undefined;
      readonly zone: string | undefined;
      readonly hostname: string;
      readonly cdnUrl: string | undefined;
      readonly uploadPath: string;
    };
    readonly s3: {
      readonly endpoint: string | undefined;
      readonly bucket: string | undefined;
      readonly region: string;
      readonly accessKeyId: string | undefined;
      readonly secretAccessKey: string | undefined;
      readonly publicUrl: string | undefined;
    };
  };
  readonly mail: { readonly smtpUrl: string | undefined; readonly from: string };
  readonly demoApiKey: string | undefined;
  readonly webhooksAllowPrivate: boolean;
  readonly logLevel: Env['LOG_LEVEL'];
  readonly trustProxy: boolean;
  /** Run under the reload supervisor (docs/restarts.md): SIGHUP reloads without closing the port. */
  readonly reloadable: boolean;
}

export class ConfigError extends Error {
  constructor(readonly issues: readonly { variable: string; message: string }[]) {
    super(
      'Invalid configuration:\n' + issues.map((i) => `  ${i.variable}: ${i.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/** The dev default from SPEC §2; never used when NODE_ENV=production. */
export const DEV_DEMO_API_KEY = 'sk_demo_reusable_chat_demo_key_2026';

/** Parse once, validate, freeze. Empty strings count as unset, as in .env files. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const value = source[key];
    if (value !== undefined && value !== '') cleaned[key] = value;
  }
  const parsed = envSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? '?'), message: i.message })),
    );
  }
  const e = parsed.data;
  const problems: { variable: string; message: string }[] = [];
  const isProduction = e.NODE_ENV === 'production';

  if (isProduction && !e.APP_SECRET) {
    problems.push({ variable: 'APP_SECRET', message: 'is required when NODE_ENV=production' });
  }

  let redis: Config['redis'];
  if (e.REDIS_URL) {
    redis = { url: e.REDIS_URL, prefix: e.REDIS_PREFIX };
  } else if (e.REDIS_HOST) {
    const auth = e.REDIS_PASSWORD ? `:${encodeURIComponent(e.REDIS_PASSWORD)}@` : '';
    redis = { url: `redis://${auth}${e.REDIS_HOST}:${e.REDIS_PORT ?? 6379}`, prefix: e.REDIS_PREFIX };
  }

  const storageDriver: StorageDriverName = e.STORAGE_DRIVER ?? (e.BUNNY_STORAGE_ENABLED ? 'bunny' : 'local');
  if (storageDriver === 'bunny') {
    for (const v of ['BUNNY_STORAGE_API_KEY', 'BUNNY_STORAGE_ZONE', 'BUNNY_CDN_URL'] as const) {
      if (!e[v]) problems.push({ variable: v, message: 'is required when the storage driver is bunny' });
    }
  }
  if (storageDriver === 's3') {
    for (const v of ['S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'] as const) {
      if (!e[v]) problems.push({ variable: v, message: 'is required when the storage driver is s3' });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const appUrl = (e.APP_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, '');
  const config: Config = {
    env: e.NODE_ENV,
    isProduction,
    port: e.PORT,
    host: e.HOST,
    appUrl,
    appSecret: e.APP_SECRET,
    dataDir: e.DATA_DIR,
    databaseUrl: e.DATABASE_URL,
    databasePreparedStatements: e.DATABASE_PREPARED_STATEMENTS,
    redis,
    realtime: {
      appId: e.REVERB_APP_ID ?? e.PUSHER_APP_ID ?? 'reusable-chat',
      appKey: e.REVERB_APP_KEY ?? e.PUSHER_APP_KEY ?? 'reusable-chat-key',
      appSecret: e.REVERB_APP_SECRET ?? e.PUSHER_APP_SECRET,
      allowedOrigins: e.REALTIME_ALLOWED_ORIGINS.split(',').map((s) => s.trim()).filter(Boolean),
      activityTimeoutS: e.REALTIME_ACTIVITY_TIMEOUT_S,
      maxConnections: e.REALTIME_MAX_CONNECTIONS,
      maxConnectionsPerIp: e.REALTIME_MAX_CONNECTIONS_PER_IP,
      maxConnectionsPerUser: e.REALTIME_MAX_CONNECTIONS_PER_USER,
      maxConnectionsPerWorkspace: e.REALTIME_MAX_CONNECTIONS_PER_WORKSPACE,
    },
    storage: {
      driver: storageDriver,
      bunny: {
        apiKey: e.BUNNY_STORAGE_API_KEY,
        zone: e.BUNNY_STORAGE_ZONE,
        hostname: e.BUNNY_STORAGE_HOSTNAME ?? 'storage.bunnycdn.com',
        cdnUrl: e.BUNNY_CDN_URL,
        uploadPath: e.BUNNY_UPLOAD_PATH,
      },
      s3: {
        endpoint: e.S3_ENDPOINT,
        bucket: e.S3_BUCKET,
        region: e.S3_REGION,
        accessKeyId: e.S3_ACCESS_KEY_ID,
        secretAccessKey: e.S3_SECRET_ACCESS_KEY,
        publicUrl: e.S3_PUBLIC_URL,
      },
    },
    mail: { smtpUrl: e.SMTP_URL, from: e.MAIL_FROM },
    demoApiKey: e.DEMO_API_KEY ?? (isProduction ? undefined : DEV_DEMO_API_KEY),
    webhooksAllowPrivate: e.WEBHOOKS_ALLOW_PRIVATE,
    logLevel: e.LOG_LEVEL,
    trustProxy: e.TRUST_PROXY,
    reloadable: e.RELOADABLE,
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
