import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks verification (https://www.standardwebhooks.com, SPEC §4) for the tenant's backend:
 * signed content `${webhook-id}.${webhook-timestamp}.${raw body}`, HMAC-SHA256 keyed with the base64 part of
 * the `whsec_` secret, header `webhook-signature: v1,<base64> [v1,<base64> …]` (several during rotation).
 */

export const WEBHOOK_SECRET_PREFIX = 'whsec_';
/** Replay window: a captured request is useless after 5 minutes (the specification's recommendation). */
export const DEFAULT_WEBHOOK_TOLERANCE_S = 300;

export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

export type HeaderBag = Record<string, string | string[] | undefined> | Headers;

function header(headers: HeaderBag, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const bag = headers as Record<string, string | string[] | undefined>;
  const v = bag[name] ?? bag[Object.keys(bag).find((k) => k.toLowerCase() === name) ?? ''];
  return Array.isArray(v) ? v[0] : v;
}

function secretKey(secret: string): Buffer {
  const raw = secret.startsWith(WEBHOOK_SECRET_PREFIX) ? secret.slice(WEBHOOK_SECRET_PREFIX.length) : secret;
  const key = Buffer.from(raw, 'base64');
  if (key.length === 0) throw new WebhookVerificationError('The webhook secret is empty or not base64.');
  return key;
}

/** Computes `v1,<base64>` for a payload (tests and local tooling). */
export function signWebhook(params: { secret: string; id: string; timestampS: number; body: string | Buffer }): string {
  const mac = createHmac('sha256', secretKey(params.secret))
    .update(`${params.id}.${params.timestampS}.`, 'utf8')
    .update(params.body)
    .digest('base64');
  return `v1,${mac}`;
}

/**
 * Verifies a delivery and returns the parsed JSON body. Pass the body exactly as received (string or Buffer,
 * before any JSON parsing). Accepts any of several secrets (rotation). Throws WebhookVerificationError.
 */
export function verifyWebhook<T = unknown>(params: {
  secret: string | readonly string[];
  headers: HeaderBag;
  body: string | Buffer;
  toleranceS?: number;
  /** Seconds since the epoch (tests). */
  nowS?: number;
}): T {
  const id = header(params.headers, 'webhook-id');
  const timestamp = header(params.headers, 'webhook-timestamp');
  const signatures = header(params.headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError('Missing webhook-id, webhook-timestamp or webhook-signature.');
  if (!/^\d{1,12}$/.test(timestamp)) throw new WebhookVerificationError('Invalid webhook-timestamp.');
  const ts = Number(timestamp);
  const now = params.nowS ?? Math.floor(Date.now() / 1000);
  const tolerance = params.toleranceS ?? DEFAULT_WEBHOOK_TOLERANCE_S;
  if (Math.abs(now - ts) > tolerance) throw new WebhookVerificationError('The webhook timestamp is outside the tolerance window.');

  const secrets = typeof params.secret === 'string' ? [params.secret] : params.secret;
  const candidates = signatures
    .split(' ')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('v1,'))
    .map((s) => Buffer.from(s.slice(3), 'base64'));
  for (const secret of secrets) {
    const expected = Buffer.from(signWebhook({ secret, id, timestampS: ts, body: params.body }).slice(3), 'base64');
    // Constant-time compare; a length mismatch is a plain "no".
    if (candidates.some((c) => c.length === expected.length && timingSafeEqual(c, expected))) {
      const text = typeof params.body === 'string' ? params.body : params.body.toString('utf8');
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new WebhookVerificationError('The webhook body is not JSON.');
      }
    }
  }
  throw new WebhookVerificationError('No matching webhook signature.');
}
