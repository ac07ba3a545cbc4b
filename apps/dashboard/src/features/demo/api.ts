import { ApiError } from '@reusable-chat/sdk';

/** Calls to the server's /api/demo routes; the demo key stays on the server, these need no credential. */

export interface DemoRoom {
  id: string;
  name: string;
  participant_count: number;
  created_at: string;
}

export interface DemoSession {
  token: string;
  expires_at: string;
  user: { id: string; name: string | null };
}

export interface RealtimeInfo {
  app_key: string;
}

export interface JoinedRoom {
  room: DemoRoom;
  session: DemoSession;
  realtime: RealtimeInfo;
}

export interface Listing {
  title: string;
  location: string;
  price_per_night: number;
  currency: string;
  check_in: string;
  check_out: string;
  guests: number;
}

export interface MarketplaceDemo {
  conversation_id: string;
  state: string | null;
  listing: Listing;
  guest: DemoSession;
  host: DemoSession;
  realtime: RealtimeInfo;
}

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown, token?: string): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers['authorization'] = `Bearer ${token}`;
  let response: Response;
  try {
    response = await fetch(`/api/demo${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch (err) {
    throw new ApiError(0, 'network_error', err instanceof Error ? err.message : 'Network error');
  }
  const text = await response.text();
  const json: unknown = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = (json as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error;
    const retry = Number(response.headers.get('retry-after'));
    throw new ApiError(response.status, error?.code ?? 'http_error', error?.message ?? response.statusText, error?.details, Number.isFinite(retry) && retry > 0 ? retry : null);
  }
  return json as T;
}

export const demoApi = {
  createRoom: (name?: string) => call<DemoRoom>('POST', '/rooms', name ? { name } : {}),
  getRoom: (roomId: string) => call<DemoRoom>('GET', `/rooms/${encodeURIComponent(roomId)}`),
  joinRoom: (roomId: string, name: string) => call<JoinedRoom>('POST', `/rooms/${encodeURIComponent(roomId)}/join`, { name }),
  startMarketplace: () => call<MarketplaceDemo>('POST', '/marketplace', {}),
  confirmBooking: (conversationId: string, hostToken: string) =>
    call<{ conversation_id: string; state: string | null }>('POST', `/marketplace/${encodeURIComponent(conversationId)}/booking`, {}, hostToken),
};

/** A sentence a visitor can act on, from any error of these calls or the SDK. */
export function describeError(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.code === 'rate_limited') return `Too many attempts from this network. Try again in ${err.retryAfterS ?? 60} seconds.`;
    if (err.code === 'network_error') return 'Cannot reach the server. Check your connection and try again.';
    if (err.status === 404) return 'This room does not exist or the demo is not enabled on this server.';
    if (err.code === 'validation_failed') return 'Please check what you typed and try again.';
    return err.message;
  }
  return 'Something went wrong. Please try again.';
}
