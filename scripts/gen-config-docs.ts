/**
 * Generates docs/configuration.md from the zod schema in packages/config (ARCHITECTURE.md convention 5: the env
 * table is generated, so it cannot drift). Types, defaults, allowed values and bounds come from the schema;
 * a `.describe()` on a schema field wins over the descriptions below, which cover what the schema does not say
 * (derived defaults, aliases, when a variable is required).
 *
 *   npm run docs:config            write docs/configuration.md
 *   tests/docs/configuration-documented.test.ts fails when the file is out of date.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { envSchema } from '@reusable-chat/config';

export const CONFIGURATION_DOC_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../docs/configuration.md');

const DESCRIPTIONS: Record<string, string> = {
  NODE_ENV: '`production` requires `APP_SECRET`, drops the dev demo key and the dev admin.',
  PORT: 'Listen port. `0` picks a free port (tests).',
  HOST: 'Listen address.',
  APP_URL: 'Public base URL: links in mail, the widget loader, attachment URLs. Default `http://localhost:$PORT`.',
  APP_SECRET: 'Signs cookies, cursors and signed URLs. Embedded mode generates one into `DATA_DIR/app-secret` on first start; required in production.',
  DATA_DIR: 'Embedded database (`pglite/`), uploads, mail files, generated secrets and the lock file that keeps a second process off the embedded database.',
  DATABASE_URL: 'PostgreSQL connection URL. Absent: the embedded PGlite database in `DATA_DIR` (one process at a time).',
  REDIS_URL: 'Redis for pub/sub fan-out, presence, rate limits and BullMQ jobs across nodes. Absent (and no `REDIS_HOST`): in-process drivers.',
  REDIS_HOST: 'Alternative to `REDIS_URL` (names of the earlier system); combined with `REDIS_PORT` (6379) and `REDIS_PASSWORD`.',
  REDIS_PORT: 'Port for `REDIS_HOST`. Default 6379.',
  REDIS_PASSWORD: 'Password for `REDIS_HOST`.',
  REDIS_PREFIX: 'Prefix of every Redis key and channel, so several deployments can share one Redis.',
  REVERB_APP_ID: 'Pusher-protocol app id (alias `PUSHER_APP_ID`). Default `reusable-chat`.',
  REVERB_APP_KEY: 'Pusher-protocol app key used by clients in `/app/{key}` (alias `PUSHER_APP_KEY`). Default `reusable-chat-key`.',
  REVERB_APP_SECRET: 'Pusher-protocol app secret for the HTTP API signatures (alias `PUSHER_APP_SECRET`). Default: derived from `APP_SECRET`.',
  PUSHER_APP_ID: 'Alias of `REVERB_APP_ID` (the `REVERB_` name wins when both are set).',
  PUSHER_APP_KEY: 'Alias of `REVERB_APP_KEY`.',
  PUSHER_APP_SECRET: 'Alias of `REVERB_APP_SECRET`.',
  REALTIME_ALLOWED_ORIGINS: 'Comma-separated origins allowed to open WebSocket connections; `*` allows any.',
  REALTIME_ACTIVITY_TIMEOUT_S: 'Seconds of silence before the server pings a socket (Pusher `activity_timeout`).',
  REALTIME_MAX_CONNECTIONS: 'Most concurrent WebSocket connections per node; more are refused with a Pusher error.',
  STORAGE_DRIVER: 'Where attachments are stored. Default `local` (`DATA_DIR/uploads`), or `bunny` when `BUNNY_STORAGE_ENABLED=true`.',
  BUNNY_STORAGE_ENABLED: 'Earlier system\'s switch for Bunny storage; same as `STORAGE_DRIVER=bunny`.',
  BUNNY_STORAGE_API_KEY: 'Bunny storage zone password (required for `bunny`).',
  BUNNY_STORAGE_ZONE: 'Bunny storage zone name (required for `bunny`).',
  BUNNY_STORAGE_HOSTNAME: 'Bunny storage API host (region). Default `storage.bunnycdn.com`.',
  BUNNY_CDN_URL: 'Public pull-zone URL that serves the files (required for `bunny`).',
  BUNNY_UPLOAD_PATH: 'Folder inside the zone that every key is stored under.',
  S3_ENDPOINT: 'Endpoint of an S3-compatible store (MinIO, R2, …); absent for AWS.',
  S3_BUCKET: 'Bucket (required for `s3`).',
  S3_REGION: 'Region.',
  S3_ACCESS_KEY_ID: 'Access key (required for `s3`).',
  S3_SECRET_ACCESS_KEY: 'Secret key (required for `s3`).',
  S3_PUBLIC_URL: 'Public base URL (CDN) for stored files; absent: short-lived signed URLs.',
  SMTP_URL: 'Outgoing mail, e.g. `smtp://user:pass@host:587`. Absent: each mail is written to `DATA_DIR/mail`.',
  MAIL_FROM: 'Sender of outgoing mail.',
  DEMO_API_KEY: 'The demo tenant\'s `demo`-scoped key, seeded on an empty database. Default in development `sk_demo_reusable_chat_demo_key_2026`; none in production.',
  WEBHOOKS_ALLOW_PRIVATE: 'Allow webhook deliveries to private and loopback addresses (development only).',
  LOG_LEVEL: 'pino log level.',
  TRUST_PROXY: 'Trust `X-Forwarded-*` from a reverse proxy (client IPs for rate limits and logs).',
  RELOADABLE: 'Run under the reload supervisor: SIGHUP starts a new worker on the same port and stops the old one once the new one is ready (zero-downtime reload, needs `DATABASE_URL`; docs/restarts.md). Same as `serve --reloadable`.',
};

const SECTIONS: { title: string; match: RegExp }[] = [
  { title: 'Server', match: /^(NODE_ENV|PORT|HOST|APP_URL|APP_SECRET|DATA_DIR|LOG_LEVEL|TRUST_PROXY|RELOADABLE)$/ },
  { title: 'Database', match: /^DATABASE_/ },
  { title: 'Redis', match: /^REDIS_/ },
  { title: 'Realtime (Pusher protocol)', match: /^(REVERB_|PUSHER_|REALTIME_)/ },
  { title: 'Storage', match: /^(STORAGE_|BUNNY_|S3_)/ },
  { title: 'Mail', match: /^(SMTP_|MAIL_)/ },
  { title: 'Webhooks', match: /^WEBHOOKS_/ },
  { title: 'Demo', match: /^DEMO_/ },
];

interface JsonSchemaProperty {
  type?: string | string[];
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  format?: string;
  pattern?: string;
  description?: string;
  anyOf?: JsonSchemaProperty[];
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function describeType(p: JsonSchemaProperty): string {
  const variant = p.anyOf?.find((v) => v.enum || v.type) ?? p;
  if (variant.enum?.includes('true') && variant.enum.includes('false')) return 'boolean: `true`/`false`, `1`/`0`, `yes`/`no`';
  if (variant.enum) return variant.enum.map((v) => `\`${String(v)}\``).join(', ');
  const parts: string[] = [];
  if (variant.format === 'uri') parts.push('URL');
  else if (variant.type === 'integer') parts.push('integer');
  else if (variant.type === 'number') parts.push('number');
  else parts.push('string');
  if (variant.minimum !== undefined && variant.maximum !== undefined) parts.push(`${variant.minimum}–${variant.maximum}`);
  else if (variant.minimum !== undefined) parts.push(`≥ ${variant.minimum}`);
  if (variant.minLength !== undefined && variant.minLength > 1) parts.push(`≥ ${variant.minLength} characters`);
  if (variant.pattern) parts.push(`matching \`${variant.pattern}\``);
  return parts.join(', ');
}

/** Defaults behind a transform (the boolean switches) do not show in the JSON Schema; read them from the schema. */
function schemaDefault(name: string): unknown {
  const field = (envSchema.shape as Record<string, z.ZodType>)[name];
  const def = (field as unknown as { _zod?: { def?: { type?: string; defaultValue?: unknown } } })?._zod?.def;
  return def?.type === 'default' ? def.defaultValue : undefined;
}

export function renderConfigurationDoc(): string {
  const json = z.toJSONSchema(envSchema, { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, JsonSchemaProperty> };
  const names = Object.keys(json.properties);
  const lines = [
    '# Configuration',
    '',
    '<!-- Generated by `npm run docs:config` from packages/config (the zod schema). Do not edit by hand. -->',
    '',
    'Reusable Chat reads its configuration from environment variables once, at start-up (`loadConfig` in',
    '`packages/config`). A bad value stops the start with a message naming the variable. Empty values count as unset,',
    'as in `.env` files. Names of the earlier Laravel + Reverb system are honoured, so its deployments move over unchanged.',
    '',
    'With no variables at all, `npm start` runs the embedded mode: PGlite in `DATA_DIR`, in-process pub/sub and',
    'jobs, uploads on local disk, mail written to `DATA_DIR/mail`. For production set `NODE_ENV=production`,',
    '`APP_SECRET`, `DATABASE_URL` and `REDIS_URL`.',
    '',
  ];
  const done = new Set<string>();
  const sections = [...SECTIONS, { title: 'Other', match: /./ }];
  for (const section of sections) {
    const members = names.filter((n) => !done.has(n) && section.match.test(n));
    if (members.length === 0) continue;
    lines.push(`## ${section.title}`, '', '| variable | values | default | meaning |', '|---|---|---|---|');
    for (const name of members) {
      done.add(name);
      const p = json.properties[name]!;
      const def = (p.default ?? schemaDefault(name)) === undefined ? '—' : (p.default ?? schemaDefault(name)) === '' ? '(empty)' : `\`${String(p.default ?? schemaDefault(name))}\``;
      const meaning = p.description ?? DESCRIPTIONS[name] ?? '(not yet described: add `.describe()` to the schema)';
      lines.push(`| \`${name}\` | ${escapeCell(describeType(p))} | ${escapeCell(def)} | ${escapeCell(meaning)} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(CONFIGURATION_DOC_PATH, renderConfigurationDoc());
  process.stdout.write(`Wrote ${path.relative(process.cwd(), CONFIGURATION_DOC_PATH)}\n`);
}
