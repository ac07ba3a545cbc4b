import { ApiError, networkError, toApiError } from '../api-error.ts';
import type {
  AttachmentJson,
  ConversationJson,
  EmbedInitJson,
  ListPage,
  MeJson,
  MessageJson,
  ReactionSummary,
  SessionJson,
} from '../types.ts';

export interface WidgetApiOptions {
  /** Origin of the Reusable Chat server, e.g. `https://chat.example.com`. */
  readonly baseUrl: string;
  /** Widget session token; sent only in `Authorization` (S-03: never in a URL). */
  readonly token: string;
  readonly fetch?: typeof fetch;
}

export interface ListMessagesQuery {
  limit?: number;
  /** `next_cursor` of the previous page: older messages. */
  before?: string;
  /** Continue a catch-up page. */
  cursor?: string;
  /** Catch-up after reconnect: exactly the messages with a higher seq. */
  after_seq?: number;
}

export interface SendMessageBody {
  content: string;
  client_id?: string;
  attachment_ids?: string[];
}

function trimBase(url: string): string {
  return url.replace(/\/+$/, '');
}

function queryString(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

async function requestJson<T>(doFetch: typeof fetch, url: string, init: RequestInit): Promise<T> {
  let res: Response;
  try {
    // Bearer tokens, never cookies: no ambient credentials for other sites to ride on (C-05).
    res = await doFetch(url, { ...init, credentials: 'omit', referrerPolicy: 'strict-origin-when-cross-origin' });
  } catch (err) {
    throw networkError(err);
  }
  if (!res.ok) throw await toApiError(res);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** Embed API (public key + allowed origin): configuration and session minting, before any token exists. */
export const EmbedApi = {
  init(baseUrl: string, body: { public_key: string; widget?: string }, doFetch: typeof fetch = fetch): Promise<EmbedInitJson> {
    return requestJson(doFetch, `${trimBase(baseUrl)}/api/embed/init`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  },
  createSession(
    baseUrl: string,
    body: {
      public_key: string;
      user?: { external_id: string; user_hash?: string; name?: string; email?: string; avatar_url?: string };
      name?: string;
      previous_token?: string;
    },
    doFetch: typeof fetch = fetch,
  ): Promise<SessionJson> {
    return requestJson(doFetch, `${trimBase(baseUrl)}/api/embed/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  },
};

/** The widget API (`/api/widget/*`) for one session. */
export class WidgetApi {
  readonly baseUrl: string;
  private token: string;
  private readonly doFetch: typeof fetch;

  constructor(options: WidgetApiOptions) {
    this.baseUrl = trimBase(options.baseUrl);
    this.token = options.token;
    // Bound: a detached window.fetch throws "Illegal invocation" in browsers.
    const f = options.fetch ?? globalThis.fetch;
    this.doFetch = (input, init) => f.call(globalThis, input, init);
  }

  setToken(token: string): void {
    this.token = token;
  }

  /** The Authorization header for calls made outside this class (realtime channel auth). */
  authHeaders(): Record<string, string> {
    return { authorization: `Bearer ${this.token}` };
  }

  private call<T>(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<T> {
    const headers: Record<string, string> = { ...this.authHeaders(), ...extraHeaders };
    const init: RequestInit = { method, headers };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return requestJson<T>(this.doFetch, `${this.baseUrl}/api/widget${path}`, init);
  }

  me(): Promise<MeJson> {
    return this.call('GET', '/me');
  }

  listConversations(query: { limit?: number; cursor?: string } = {}): Promise<ListPage<ConversationJson>> {
    return this.call('GET', `/conversations${queryString(query)}`);
  }

  getConversation(id: string): Promise<ConversationJson> {
    return this.call('GET', `/conversations/${encodeURIComponent(id)}`);
  }

  startConversation(body: { widget?: string; with_user_id?: string; subject?: string; name?: string } = {}): Promise<ConversationJson> {
    return this.call('POST', '/conversations', body);
  }

  leaveConversation(id: string): Promise<unknown> {
    return this.call('POST', `/conversations/${encodeURIComponent(id)}/leave`, {});
  }

  listMessages(conversationId: string, query: ListMessagesQuery = {}): Promise<ListPage<MessageJson>> {
    return this.call('GET', `/conversations/${encodeURIComponent(conversationId)}/messages${queryString({ ...query })}`);
  }

  /** `socketId` excludes this client's own socket from the realtime echo (Pusher `socket_id`). */
  sendMessage(conversationId: string, body: SendMessageBody, socketId?: string | null): Promise<MessageJson> {
    return this.call('POST', `/conversations/${encodeURIComponent(conversationId)}/messages`, body, socketId ? { 'x-socket-id': socketId } : {});
  }

  editMessage(conversationId: string, messageId: string, content: string): Promise<MessageJson> {
    return this.call('PATCH', `/conversations/${encodeURIComponent(conversationId)}/messages/${encodeURIComponent(messageId)}`, { content });
  }

  deleteMessage(conversationId: string, messageId: string): Promise<unknown> {
    return this.call('DELETE', `/conversations/${encodeURIComponent(conversationId)}/messages/${encodeURIComponent(messageId)}`);
  }

  addReaction(conversationId: string, messageId: string, emoji: string): Promise<ReactionSummary> {
    return this.call('POST', `/conversations/${encodeURIComponent(conversationId)}/messages/${encodeURIComponent(messageId)}/reactions`, { emoji });
  }

  removeReaction(conversationId: string, messageId: string, emoji: string): Promise<unknown> {
    return this.call(
      'DELETE',
      `/conversations/${encodeURIComponent(conversationId)}/messages/${encodeURIComponent(messageId)}/reactions/${encodeURIComponent(emoji)}`,
    );
  }

  markRead(conversationId: string, seq: number): Promise<{ conversation_id: string; last_read_seq: number; unread_count: number; total_unread: number }> {
    return this.call('POST', `/conversations/${encodeURIComponent(conversationId)}/read`, { seq });
  }

  typing(conversationId: string, isTyping: boolean): Promise<unknown> {
    return this.call('POST', `/conversations/${encodeURIComponent(conversationId)}/typing`, { is_typing: isTyping });
  }

  async uploadAttachment(conversationId: string, file: Blob, filename: string): Promise<AttachmentJson> {
    const form = new FormData();
    form.append('file', file, filename);
    let res: Response;
    try {
      res = await this.doFetch(`${this.baseUrl}/api/widget/conversations/${encodeURIComponent(conversationId)}/attachments`, {
        method: 'POST',
        headers: this.authHeaders(),
        body: form,
        credentials: 'omit',
      });
    } catch (err) {
      throw networkError(err);
    }
    if (!res.ok) throw await toApiError(res);
    return (await res.json()) as AttachmentJson;
  }

  reportMessage(conversationId: string, messageId: string, reason: string): Promise<unknown> {
    return this.call('POST', `/conversations/${encodeURIComponent(conversationId)}/messages/${encodeURIComponent(messageId)}/report`, { reason });
  }

  blockUser(userId: string): Promise<unknown> {
    return this.call('POST', '/blocks', { user_id: userId });
  }

  unblockUser(userId: string): Promise<unknown> {
    return this.call('DELETE', `/blocks/${encodeURIComponent(userId)}`);
  }

  search(q: string, query: { conversation_id?: string; limit?: number } = {}): Promise<ListPage<MessageJson>> {
    return this.call('GET', `/search${queryString({ q, ...query })}`);
  }

  /** Pusher channel authorization for a socket (POST /api/widget/broadcasting/auth). */
  authorizeChannel(socketId: string, channelName: string): Promise<{ auth: string; channel_data?: string }> {
    return this.call('POST', '/broadcasting/auth', { socket_id: socketId, channel_name: channelName });
  }

  /** Pusher user sign-in (POST /api/widget/broadcasting/user-auth). */
  authenticateUser(socketId: string): Promise<{ auth: string; user_data: string }> {
    return this.call('POST', '/broadcasting/user-auth', { socket_id: socketId });
  }
}

export { ApiError };
