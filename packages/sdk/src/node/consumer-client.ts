import { ApiError, networkError, toApiError } from '../api-error.ts';
import type { ConversationJson, ListPage, MessageJson, UserJson } from '../types.ts';

export interface ConsumerClientOptions {
  /** Origin of the Reusable Chat server. */
  readonly baseUrl: string;
  /** `rc_live_…`/`rc_test_…` secret API key: server-side only, never shipped to a browser (S-01). */
  readonly apiKey: string;
  readonly fetch?: typeof fetch;
}

/** Any JSON value: what the server's metadata schema accepts (no functions, dates or undefined inside). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = Record<string, JsonValue>;

/** POST /users. Checked against the server's request schema in tests/sdk/consumer-contract.test.ts. */
export interface UpsertUserInput {
  external_id: string;
  /** Required by the server (an empty string is allowed). */
  name: string;
  email?: string | null;
  avatar_url?: string | null;
  metadata?: JsonObject;
  role?: string | null;
}

/** PATCH /users/{external_id}: only the fields given change; `null` clears an optional one. */
export type UpdateUserInput = Partial<Omit<UpsertUserInput, 'external_id'>>;

/** POST /users/{external_id}/erase: the mode comes from the workspace's `erasure` setting. */
export interface EraseUserResult {
  erased: true;
  user_id: string;
  mode: 'anonymize' | 'delete';
  messages: number;
  sessions_revoked: number;
  attachments: number;
  [key: string]: unknown;
}

export interface CreateConversationInput {
  type?: 'direct' | 'group' | 'support' | 'demo';
  widget?: string;
  participants: { external_id: string; role?: string }[];
  subject?: string | null;
  state?: string | null;
  name?: string | null;
  metadata?: JsonObject;
}

export interface SessionTokenJson {
  id: string;
  token: string;
  expires_at: string;
  user: UserJson;
}

export interface RequestOptions {
  /** Makes a POST/PATCH/DELETE safe to retry (the server replays the first answer). */
  idempotencyKey?: string;
}

/**
 * Typed client for the consumer API (`/api/v1`, `X-API-Key`) — the tenant's backend talks to it to sync users,
 * mint widget session tokens, open conversations and post messages.
 */
export class ConsumerClient {
  private readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly doFetch: typeof fetch;

  constructor(options: ConsumerClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.apiKey = options.apiKey;
    this.doFetch = options.fetch ?? ((i, init) => globalThis.fetch(i, init));
  }

  private async call<T>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { 'x-api-key': this.apiKey, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    let res: Response;
    try {
      res = await this.doFetch(`${this.baseUrl}/api/v1${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    } catch (err) {
      throw networkError(err);
    }
    if (!res.ok) throw await toApiError(res);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  // users
  upsertUser(input: UpsertUserInput, options?: RequestOptions): Promise<UserJson> {
    return this.call('POST', '/users', input, options);
  }
  getUser(externalId: string): Promise<UserJson> {
    return this.call('GET', `/users/${encodeURIComponent(externalId)}`);
  }
  updateUser(externalId: string, fields: UpdateUserInput, options?: RequestOptions): Promise<UserJson> {
    return this.call('PATCH', `/users/${encodeURIComponent(externalId)}`, fields, options);
  }
  getUnreadCounts(externalId: string): Promise<Record<string, unknown>> {
    return this.call('GET', `/users/${encodeURIComponent(externalId)}/unread`);
  }
  listUserConversations(externalId: string, query: { limit?: number; cursor?: string } = {}): Promise<ListPage<ConversationJson>> {
    return this.call('GET', `/users/${encodeURIComponent(externalId)}/conversations${qs(query)}`);
  }
  eraseUser(externalId: string): Promise<EraseUserResult> {
    return this.call('POST', `/users/${encodeURIComponent(externalId)}/erase`);
  }
  revokeUserSessions(externalId: string): Promise<unknown> {
    return this.call('DELETE', `/users/${encodeURIComponent(externalId)}/sessions`);
  }

  // sessions
  /** A widget session token for `<reusable-chat session-token="…">` (give exactly one of external_id or user). */
  createSession(body: { external_id: string; expires_in?: number } | { user: UpsertUserInput; expires_in?: number }): Promise<SessionTokenJson> {
    return this.call('POST', '/sessions', body);
  }
  revokeSession(id: string): Promise<unknown> {
    return this.call('DELETE', `/sessions/${encodeURIComponent(id)}`);
  }

  // conversations
  createConversation(input: CreateConversationInput, options?: RequestOptions): Promise<ConversationJson> {
    return this.call('POST', '/conversations', input, options);
  }
  getConversation(id: string): Promise<ConversationJson> {
    return this.call('GET', `/conversations/${encodeURIComponent(id)}`);
  }
  listConversations(query: Record<string, string | number | undefined> = {}): Promise<ListPage<ConversationJson>> {
    return this.call('GET', `/conversations${qs(query)}`);
  }
  updateConversation(
    id: string,
    fields: { subject?: string | null; state?: string | null; name?: string | null; status?: 'open' | 'closed'; metadata?: JsonObject },
    options?: RequestOptions,
  ): Promise<ConversationJson> {
    return this.call('PATCH', `/conversations/${encodeURIComponent(id)}`, fields, options);
  }
  addParticipants(id: string, participants: { external_id: string; role?: string }[]): Promise<ConversationJson> {
    return this.call('POST', `/conversations/${encodeURIComponent(id)}/participants`, { participants });
  }
  removeParticipant(id: string, externalId: string): Promise<unknown> {
    return this.call('DELETE', `/conversations/${encodeURIComponent(id)}/participants/${encodeURIComponent(externalId)}`);
  }

  // messages
  sendMessage(
    conversationId: string,
    body: { content: string; sender_external_id?: string; system?: true; client_id?: string; metadata?: JsonObject },
    options?: RequestOptions,
  ): Promise<MessageJson> {
    return this.call('POST', `/conversations/${encodeURIComponent(conversationId)}/messages`, body, options);
  }
  listMessages(conversationId: string, query: { limit?: number; cursor?: string; after_seq?: number } = {}): Promise<ListPage<MessageJson>> {
    return this.call('GET', `/conversations/${encodeURIComponent(conversationId)}/messages${qs(query)}`);
  }

  // moderation
  createBan(body: { external_id: string; reason?: string; expires_at?: string }): Promise<unknown> {
    return this.call('POST', '/bans', body);
  }
  deleteBan(externalId: string): Promise<unknown> {
    return this.call('DELETE', `/bans/${encodeURIComponent(externalId)}`);
  }
}

function qs(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export { ApiError };
