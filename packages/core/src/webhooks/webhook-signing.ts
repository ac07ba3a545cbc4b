import { createHmac, randomBytes } from 'node:crypto';

/**
 * Standard Webhooks (https://www.standardwebhooks.com, SPEC §4): the signed content is
 * `${webhook-id}.${webhook-timestamp}.${body}`, HMAC-SHA256 keyed with the base64-decoded part of the
 * `whsec_` secret, sent as `v1,<base64>`; several signatures are space-separated (secret rotation).
 */
export const WEBHOOK_SECRET_PREFIX = 'whsec_';

/** 32 random bytes: inside the 24–64 byte range the specification recommends. */
export function generateWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBytes(32).toString('base64');
}

export function signWebhookPayload(params: { secret: string; id: string; timestampS: number; body: string }): string {
  if (!params.secret.startsWith(WEBHOOK_SECRET_PREFIX)) throw new Error('webhook secret must start with whsec_');
  const key = Buffer.from(params.secret.slice(WEBHOOK_SECRET_PREFIX.length), 'base64');
  const mac = createHmac('sha256', key).update(`${params.id}.${params.timestampS}.${params.body}`, 'utf8').digest('base64');
  return `v1,${mac}`;
}

/** The three Standard Webhooks headers; one signature per active secret (current first). */
export function buildWebhookHeaders(params: {
  secrets: readonly string[];
  id: string;
  timestampS: number;
  body: string;
}): Record<string, string> {
  return {
    'webhook-id': params.id,
    'webhook-timestamp': String(params.timestampS),
    'webhook-signature': params.secrets
      .map((secret) => signWebhookPayload({ secret, id: params.id, timestampS: params.timestampS, body: params.body }))
      .join(' '),
  };
}
