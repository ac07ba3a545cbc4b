import { ApiError, ChatClient, EmbedApi, type EmbedInitJson } from '@reusable-chat/sdk';
import type { WidgetConfig } from '../shared/contract.ts';

interface StoredSession {
  token: string;
  expires_at: string;
}

/** Renew a stored session this long before it expires, so a page left open does not hit the expiry. */
const SESSION_RENEW_MARGIN_MS = 10 * 60_000;

function storageKey(config: WidgetConfig): string {
  return `rc-session:${config.publicKey}:${config.userId ?? 'anonymous'}`;
}

function readStored(key: string): StoredSession | null {
  try {
    const raw = localStorage.getItem(key);
    if (!raw) return null;
    const s = JSON.parse(raw) as StoredSession;
    return typeof s.token === 'string' && Date.parse(s.expires_at) - SESSION_RENEW_MARGIN_MS > Date.now() ? s : null;
  } catch {
    return null; // storage blocked (privacy mode, sandbox): a fresh session per page load
  }
}

function writeStored(key: string, value: StoredSession | null): void {
  try {
    if (value) localStorage.setItem(key, JSON.stringify(value));
    else localStorage.removeItem(key);
  } catch {
    // storage blocked: nothing to keep
  }
}

export function forgetSession(config: WidgetConfig): void {
  if (config.publicKey) writeStored(storageKey(config), null);
}

/**
 * A started client for the page's configuration: a server-minted `session-token`, or a session minted here
 * with the public key (+ user_hash for identified users; S-01: no secret in the page). The token travels only
 * in `Authorization` headers (S-03).
 */
export async function connectClient(config: WidgetConfig): Promise<{ client: ChatClient; init: EmbedInitJson | null }> {
  const init = config.publicKey
    ? await EmbedApi.init(config.baseUrl, { public_key: config.publicKey, ...(config.widget ? { widget: config.widget } : {}) }).catch(() => null)
    : null;
  const base = { baseUrl: config.baseUrl, appKey: config.realtimeKey };
  if (config.sessionToken) {
    const client = new ChatClient({ ...base, token: config.sessionToken });
    await client.start();
    return { client, init };
  }
  if (!config.publicKey) throw new Error('reusable-chat: set public-key or session-token');
  const key = storageKey(config);
  const stored = readStored(key);
  if (stored) {
    const client = new ChatClient({ ...base, token: stored.token });
    try {
      await client.start();
      return { client, init };
    } catch (err) {
      client.stop();
      if (!(err instanceof ApiError) || err.status !== 401) throw err;
      writeStored(key, null);
    }
  }
  const session = await EmbedApi.createSession(config.baseUrl, {
    public_key: config.publicKey,
    ...(config.userId
      ? {
          user: {
            external_id: config.userId,
            ...(config.userHash ? { user_hash: config.userHash } : {}),
            ...(config.userName ? { name: config.userName } : {}),
            ...(config.userEmail ? { email: config.userEmail } : {}),
          },
        }
      : config.userName
        ? { name: config.userName }
        : {}),
  });
  writeStored(key, { token: session.token, expires_at: session.expires_at });
  const client = new ChatClient({ ...base, token: session.token });
  await client.start();
  return { client, init };
}
