import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/**
 * HMAC helpers of pusher-protocol.md §1.2–1.5. Signatures are HMAC-SHA256, lowercase hex, keyed with the
 * app secret; every verification is constant-time and a length mismatch is simply false (never a throw).
 */
export interface AppCredentials {
  readonly key: string;
  readonly secret: string;
}

export function hmacHex(secret: string, value: string): string {
  return createHmac('sha256', secret).update(value, 'utf8').digest('hex');
}

export function md5Hex(body: string | Uint8Array): string {
  return createHash('md5').update(body).digest('hex');
}

/** Constant-time compare; `timingSafeEqual` throws on unequal lengths, so those are false first. */
export function constantTimeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  if (ba.length !== bb.length) return false;
  return timingSafeEqual(ba, bb);
}

export function channelStringToSign(socketId: string, channel: string, channelData?: string): string {
  return channelData === undefined ? `${socketId}:${channel}` : `${socketId}:${channel}:${channelData}`;
}

export function userStringToSign(socketId: string, userData: string): string {
  return `${socketId}::user::${userData}`;
}

/** `auth` for a private, encrypted or presence subscription: `<key>:<hex>`. */
export function signChannelAuth(app: AppCredentials, socketId: string, channel: string, channelData?: string): string {
  return `${app.key}:${hmacHex(app.secret, channelStringToSign(socketId, channel, channelData))}`;
}

/** `auth` for `pusher:signin` (auth-signatures.md uses `<key>:<hex>`, as soketi does; §1.4). */
export function signUserAuth(app: AppCredentials, socketId: string, userData: string): string {
  return `${app.key}:${hmacHex(app.secret, userStringToSign(socketId, userData))}`;
}

/**
 * Verifies `<key>:<hex>` against the expected string. The key must be exactly ours and the signature the
 * exact lowercase hex: `KEY:`, uppercase hex, or a signature for another socket or channel all fail (W-04).
 */
export function verifyAuth(app: AppCredentials, auth: unknown, stringToSign: string): boolean {
  if (typeof auth !== 'string') return false;
  const expected = `${app.key}:${hmacHex(app.secret, stringToSign)}`;
  return constantTimeEqual(auth, expected);
}

export function verifyChannelAuth(app: AppCredentials, auth: unknown, socketId: string, channel: string, channelData?: string): boolean {
  return verifyAuth(app, auth, channelStringToSign(socketId, channel, channelData));
}

export function verifyUserAuth(app: AppCredentials, auth: unknown, socketId: string, userData: string): boolean {
  return verifyAuth(app, auth, userStringToSign(socketId, userData));
}

// ───────────── HTTP API (rest-api.md §Authentication; pusher-protocol.md §1.5) ─────────────

/** The server accepts `auth_timestamp` within this many seconds of its clock, either way (rest-api.md:267). */
export const API_TIMESTAMP_WINDOW_S = 600;

/**
 * `METHOD\npath\nquery` where query is every parameter except `auth_signature`, keys lowercased, sorted by
 * key, joined `k=v` with `&` and not URL-escaped.
 */
export function apiStringToSign(method: string, path: string, params: Readonly<Record<string, string>>): string {
  const pairs = Object.entries(params)
    .filter(([k]) => k.toLowerCase() !== 'auth_signature')
    .map(([k, v]) => [k.toLowerCase(), v] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `${method.toUpperCase()}\n${path}\n${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`;
}

/** Signs a request the way the `pusher` SDK does; returns every query parameter including auth_signature. */
export function signApiRequest(
  app: AppCredentials,
  request: { method: string; path: string; params?: Readonly<Record<string, string>>; body?: string; timestampS?: number },
): Record<string, string> {
  const params: Record<string, string> = {
    ...request.params,
    auth_key: app.key,
    auth_timestamp: String(request.timestampS ?? Math.floor(Date.now() / 1000)),
    auth_version: '1.0',
  };
  if (request.body) params.body_md5 = md5Hex(request.body);
  params.auth_signature = hmacHex(app.secret, apiStringToSign(request.method, request.path, params));
  return params;
}

export type ApiSignatureFailure =
  | 'missing_parameter'
  | 'wrong_key'
  | 'bad_version'
  | 'timestamp_out_of_window'
  | 'body_md5_mismatch'
  | 'bad_signature';

/**
 * Verifies an HTTP API request. `params` are the decoded query parameters exactly as received; `rawBody` the
 * bytes of the body. Every failure is a 401 for the caller (W-24); the reason is for logs only.
 */
export function verifyApiRequest(
  app: AppCredentials,
  request: { method: string; path: string; params: Readonly<Record<string, string>>; rawBody?: Uint8Array | string; nowS?: number },
): { ok: true } | { ok: false; reason: ApiSignatureFailure } {
  const { params } = request;
  const givenSignatureHex = params.auth_signature;
  const key = params.auth_key;
  const timestamp = params.auth_timestamp;
  const version = params.auth_version;
  if (givenSignatureHex === undefined || key === undefined || timestamp === undefined || version === undefined) {
    return { ok: false, reason: 'missing_parameter' };
  }
  if (!constantTimeEqual(key, app.key)) return { ok: false, reason: 'wrong_key' };
  if (version !== '1.0') return { ok: false, reason: 'bad_version' };
  const nowS = request.nowS ?? Date.now() / 1000;
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(nowS - Number(timestamp)) > API_TIMESTAMP_WINDOW_S) {
    return { ok: false, reason: 'timestamp_out_of_window' };
  }
  const body = request.rawBody;
  const hasBody = body !== undefined && body.length > 0;
  if (hasBody || params.body_md5 !== undefined) {
    if (params.body_md5 === undefined || !constantTimeEqual(params.body_md5, md5Hex(body ?? ''))) {
      return { ok: false, reason: 'body_md5_mismatch' };
    }
  }
  const expected = hmacHex(app.secret, apiStringToSign(request.method, request.path, params));
  if (!constantTimeEqual(givenSignatureHex, expected)) return { ok: false, reason: 'bad_signature' };
  return { ok: true };
}

/** Webhook signature (server_api/webhooks.md): HMAC-SHA256 hex of the raw body, header X-Pusher-Signature. */
export function signWebhookBody(secret: string, body: string): string {
  return hmacHex(secret, body);
}
