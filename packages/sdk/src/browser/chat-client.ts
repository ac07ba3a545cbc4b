import { ProductChannel } from '@reusable-chat/protocol';
import { ApiError } from '../api-error.ts';
import type {
  AttachmentJson,
  ConversationJson,
  MeJson,
  MessageJson,
  ReadReceiptEvent,
  TypingEvent,
  UserJson,
} from '../types.ts';
import { Emitter } from './emitter.ts';
import { RealtimeConnection, type ConnectionState } from './realtime-connection.ts';
import { EmbedApi, WidgetApi } from './widget-api.ts';

/** First retry of a failed send; doubles per attempt (a brief outage heals before the user notices). */
export const SEND_RETRY_BASE_DELAY_MS = 1_000;
/** Ceiling between send retries while the server stays unreachable; reconnect and `online` retry sooner. */
export const SEND_RETRY_MAX_DELAY_MS = 30_000;
/** One typing ping per this interval at most: the server allows 60/min and the indicator lasts longer. */
export const TYPING_SEND_INTERVAL_MS = 3_000;
/** A typing indicator without a refresh disappears after this (a closed tab never sends "stopped"). */
export const TYPING_DISPLAY_MS = 6_000;
/** Conversations followed in realtime at once; a widget user rarely has more, and each costs a channel. */
export const MAX_LIVE_CONVERSATIONS = 25;
/** Page size of history loads: one screen and a half of bubbles. */
export const MESSAGE_PAGE_SIZE = 30;
/**
 * After a (re)connect the summaries (list, unread counts) are read again once every channel of this client has
 * answered its subscription; should one never answer, they are read after this long anyway.
 */
export const RESUBSCRIBE_SETTLE_TIMEOUT_MS = 10_000;

export type DeliveryState = 'queued' | 'sending' | 'sent' | 'read' | 'failed';

/** A message as the UI shows it: confirmed by the server, or still local (pending/failed). */
export interface ChatMessage {
  /** Server id, or `local:<client_id>` while pending. */
  readonly key: string;
  readonly message: MessageJson;
  readonly mine: boolean;
  readonly state: DeliveryState;
  readonly error: ApiError | null;
  readonly clientId: string | null;
}

interface PendingSend {
  clientId: string;
  conversationId: string;
  content: string;
  attachments: AttachmentJson[];
  state: 'queued' | 'sending' | 'failed';
  error: ApiError | null;
  attempts: number;
  createdAt: string;
}

interface ConversationState {
  conversation: ConversationJson;
  messages: MessageJson[];
  loaded: boolean;
  olderCursor: string | null;
  hasOlder: boolean;
  /**
   * The catch-up point (`?after_seq=`): the highest seq received from history pages or live events. Answers to
   * this client's own sends do not move it — a message from someone else may sit below them, unseen.
   */
  lastSeq: number;
  readSeqs: Map<string, number>;
  typing: Map<string, { user: UserJson; until: number }>;
}

export type ChatClientEvents = {
  /** Something visible changed (conversation id, or null for the list/global state). */
  change: [conversationId: string | null];
  /** A new message from someone else. */
  message: [message: MessageJson];
  unread: [total: number];
  connection: [state: ConnectionState];
  /** The session ended (expired, revoked, banned): the page must mint a new one. */
  session_ended: [error: ApiError];
};

export interface ChatClientOptions {
  /** Origin of the Reusable Chat server. */
  readonly baseUrl: string;
  readonly token: string;
  /** Pusher app key of the server's realtime layer. */
  readonly appKey: string;
  /** Defaults to baseUrl with ws(s)://. */
  readonly wsUrl?: string;
  readonly WebSocket?: new (url: string) => WebSocket;
  readonly fetch?: typeof fetch;
}

function randomId(): string {
  const c = globalThis.crypto;
  if (c?.randomUUID) return c.randomUUID();
  const bytes = new Uint8Array(16);
  c.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

function byTimeDesc(a: ConversationJson, b: ConversationJson): number {
  const ta = a.last_message_at ?? a.created_at;
  const tb = b.last_message_at ?? b.created_at;
  return ta < tb ? 1 : ta > tb ? -1 : 0;
}

/**
 * The browser chat client: one widget session, its conversations and messages, realtime with catch-up
 * (SPEC §5: on every reconnect each followed conversation is fetched `?after_seq=` its last seq), and an
 * offline send queue — sends keep their `client_id` across retries, so the server stores each once (F-14)
 * and the realtime echo replaces the local bubble instead of adding a second one.
 */
export class ChatClient extends Emitter<ChatClientEvents> {
  readonly api: WidgetApi;
  readonly realtime: RealtimeConnection;
  private meJson: MeJson | null = null;
  private readonly states = new Map<string, ConversationState>();
  private readonly pending: PendingSend[] = [];
  private flushing = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly lastTypingSent = new Map<string, number>();
  private unreadTotalValue = 0;
  private activeId: string | null = null;
  private stopped = false;
  private readonly onOnline = () => this.flushQueue();
  /** The user channel and the conversation channels this client subscribed (not the widget's presence ones). */
  private readonly ownChannels = new Set<string>();
  /** Own channels whose subscription has not answered since the last connect; the summaries wait for them. */
  private unsettled = new Set<string>();
  private refreshDue = false;
  private settleTimer: ReturnType<typeof setTimeout> | null = null;

  /** Mints a session with the public key (and user_hash for identified users), then builds the client. */
  static async connectWithPublicKey(options: Omit<ChatClientOptions, 'token'> & {
    publicKey: string;
    user?: { external_id: string; user_hash?: string; name?: string; email?: string; avatar_url?: string };
    name?: string;
    previousToken?: string;
  }): Promise<ChatClient> {
    const session = await EmbedApi.createSession(
      options.baseUrl,
      {
        public_key: options.publicKey,
        ...(options.user ? { user: options.user } : {}),
        ...(options.name ? { name: options.name } : {}),
        ...(options.previousToken ? { previous_token: options.previousToken } : {}),
      },
      options.fetch ?? ((i, init) => globalThis.fetch(i, init)),
    );
    return new ChatClient({ ...options, token: session.token });
  }

  constructor(options: ChatClientOptions) {
    super();
    this.api = new WidgetApi({ baseUrl: options.baseUrl, token: options.token, ...(options.fetch ? { fetch: options.fetch } : {}) });
    const wsUrl = options.wsUrl ?? options.baseUrl.replace(/^http/, 'ws');
    this.realtime = new RealtimeConnection({
      wsUrl,
      appKey: options.appKey,
      authorizeChannel: (socketId, channel) => this.api.authorizeChannel(socketId, channel),
      signIn: (socketId) => this.api.authenticateUser(socketId),
      ...(options.WebSocket ? { WebSocket: options.WebSocket } : {}),
    });
    this.realtime.on('state', (state) => this.emit('connection', state));
    this.realtime.on('connected', () => {
      this.flushQueue();
      // The first connection too: start() read the counts before the socket was up, so an event published in
      // between reached nobody. The summaries are read again once every own channel is live: a message
      // published to a conversation whose channel was still subscribing (its unread count, the list's last
      // message) is then in what is read, and anything later arrives live.
      this.unsettled = new Set(this.ownChannels);
      this.refreshDue = true;
      if (this.settleTimer) clearTimeout(this.settleTimer);
      this.settleTimer = setTimeout(() => this.settle(null), RESUBSCRIBE_SETTLE_TIMEOUT_MS);
      if (this.unsettled.size === 0) this.settle(null);
    });
    // Catch up only once the channel is live again: a message committed between the fetch and the subscription
    // would otherwise fall between the two. Duplicates from the overlap are merged by id.
    this.realtime.on('subscribed', (channel) => {
      if (channel.startsWith('private-conversation.')) void this.catchUp(channel.slice('private-conversation.'.length));
      this.settle(channel);
    });
    this.realtime.on('subscription_error', (channel) => this.settle(channel));
    this.realtime.on('event', (channel, event, data) => this.onRealtimeEvent(channel, event, data));
  }

  // ---- lifecycle -------------------------------------------------------------------------------------

  async start(): Promise<void> {
    this.meJson = await this.guard(this.api.me());
    this.unreadTotalValue = this.meJson.unread_total;
    this.follow(ProductChannel.user(this.meJson.user.id));
    await this.refreshConversations();
    if (typeof addEventListener === 'function') addEventListener('online', this.onOnline);
    this.realtime.connect();
    this.emit('unread', this.unreadTotalValue);
    this.emit('change', null);
  }

  stop(): void {
    this.stopped = true;
    if (typeof removeEventListener === 'function') removeEventListener('online', this.onOnline);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.realtime.disconnect();
  }

  private follow(channel: string): void {
    this.ownChannels.add(channel);
    // Subscribed while the summaries still wait: they wait for this one too.
    if (this.refreshDue) this.unsettled.add(channel);
    this.realtime.subscribe(channel);
  }

  /** One own channel answered (`null`: the wait timed out or there was nothing to wait for). */
  private settle(channel: string | null): void {
    if (channel !== null) this.unsettled.delete(channel);
    if (!this.refreshDue || (channel !== null && this.unsettled.size > 0)) return;
    this.refreshDue = false;
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.settleTimer = null;
    void this.refreshAfterReconnect();
  }

  get me(): UserJson | null {
    return this.meJson?.user ?? null;
  }

  get workspace(): MeJson['workspace'] | null {
    return this.meJson?.workspace ?? null;
  }

  get connectionState(): ConnectionState {
    return this.realtime.state;
  }

  get unreadTotal(): number {
    return this.unreadTotalValue;
  }

  /** The conversation the user is looking at: its new messages are marked read as they arrive. */
  setActiveConversation(id: string | null): void {
    this.activeId = id;
    if (id) void this.markRead(id);
  }

  // ---- conversations ---------------------------------------------------------------------------------

  conversations(): ConversationJson[] {
    return [...this.states.values()].map((s) => s.conversation).sort(byTimeDesc);
  }

  conversation(id: string): ConversationJson | null {
    return this.states.get(id)?.conversation ?? null;
  }

  /** `announce`: a newer last message from someone else in a conversation without loaded history is a `message`. */
  async refreshConversations(announce = false): Promise<void> {
    const page = await this.guard(this.api.listConversations({ limit: MAX_LIVE_CONVERSATIONS }));
    for (const c of page.data) {
      const known = this.states.get(c.id);
      const knownSeq = known ? (known.conversation.last_seq ?? 0) : null;
      this.upsertConversation(c);
      if (announce) this.announceMissed(c, known?.loaded === true, knownSeq);
    }
    this.emit('change', null);
  }

  /**
   * A message published while the conversation's channel was not live yet reached nobody. A conversation whose
   * history is loaded gets it through its catch-up (which emits `message` per message); for the others the list
   * shows it as the last message, so it is announced from there — once: a copy that did arrive live already
   * moved the known last seq.
   */
  private announceMissed(c: ConversationJson, loaded: boolean, knownSeq: number | null): void {
    const last = c.last_message;
    if (loaded || !last || last.deleted_at !== null || (knownSeq !== null && last.seq <= knownSeq)) return;
    if (last.sender.type === 'user' && last.sender.id === this.meJson?.user.id) return;
    this.emit('message', last);
  }

  async openConversation(id: string): Promise<ConversationJson> {
    let state = this.states.get(id);
    if (!state) {
      this.upsertConversation(await this.guard(this.api.getConversation(id)));
      state = this.states.get(id)!;
    }
    if (!state.loaded) await this.loadLatest(id);
    return state.conversation;
  }

  async startConversation(body: { widget?: string; with_user_id?: string; subject?: string; name?: string } = {}): Promise<ConversationJson> {
    const conversation = await this.guard(this.api.startConversation(body));
    this.upsertConversation(conversation);
    const state = this.states.get(conversation.id)!;
    state.loaded = true; // a new conversation has no history to load
    this.emit('change', null);
    return conversation;
  }

  private upsertConversation(c: ConversationJson): void {
    const existing = this.states.get(c.id);
    if (existing) {
      existing.conversation = { ...existing.conversation, ...c };
      for (const p of c.participants ?? []) existing.readSeqs.set(p.user.id, Math.max(existing.readSeqs.get(p.user.id) ?? 0, p.last_read_seq));
      return;
    }
    const readSeqs = new Map<string, number>();
    for (const p of c.participants ?? []) readSeqs.set(p.user.id, p.last_read_seq);
    this.states.set(c.id, {
      conversation: c,
      messages: [],
      loaded: false,
      olderCursor: null,
      hasOlder: true,
      lastSeq: 0,
      readSeqs,
      typing: new Map(),
    });
    if (this.states.size <= MAX_LIVE_CONVERSATIONS) this.follow(ProductChannel.conversation(c.id));
  }

  // ---- messages --------------------------------------------------------------------------------------

  /** Confirmed messages in seq order, then this client's pending and failed sends in send order. */
  messages(conversationId: string): ChatMessage[] {
    const state = this.states.get(conversationId);
    if (!state) return [];
    const myId = this.meJson?.user.id;
    const otherReadSeq = Math.max(0, ...[...state.readSeqs].filter(([uid]) => uid !== myId).map(([, seq]) => seq));
    const out: ChatMessage[] = state.messages.map((m) => {
      const mine = m.sender.type === 'user' && m.sender.id === myId;
      return {
        key: m.id,
        message: m,
        mine,
        state: mine && otherReadSeq >= m.seq ? 'read' : 'sent',
        error: null,
        clientId: m.client_id,
      };
    });
    for (const p of this.pending) {
      if (p.conversationId !== conversationId) continue;
      out.push({
        key: `local:${p.clientId}`,
        message: {
          id: `local:${p.clientId}`,
          conversation_id: conversationId,
          seq: Number.MAX_SAFE_INTEGER,
          sender: { type: 'user', id: myId ?? null, ...(this.meJson?.user.name ? { name: this.meJson.user.name } : {}) },
          type: p.attachments.length > 0 && !p.content ? 'attachment' : 'text',
          content: p.content,
          attachments: p.attachments,
          reactions: [],
          client_id: p.clientId,
          masked: null,
          created_at: p.createdAt,
          edited_at: null,
          deleted_at: null,
          metadata: {},
        },
        mine: true,
        state: p.state,
        error: p.error,
        clientId: p.clientId,
      });
    }
    return out;
  }

  hasOlderMessages(conversationId: string): boolean {
    return this.states.get(conversationId)?.hasOlder ?? false;
  }

  private async loadLatest(conversationId: string): Promise<void> {
    const state = this.states.get(conversationId)!;
    const page = await this.guard(this.api.listMessages(conversationId, { limit: MESSAGE_PAGE_SIZE }));
    for (const m of page.data) this.upsertMessage(m, 'history');
    state.loaded = true;
    state.olderCursor = page.next_cursor;
    state.hasOlder = page.next_cursor !== null;
    this.emit('change', conversationId);
  }

  async loadOlder(conversationId: string): Promise<void> {
    const state = this.states.get(conversationId);
    if (!state?.olderCursor) return;
    const page = await this.guard(this.api.listMessages(conversationId, { limit: MESSAGE_PAGE_SIZE, before: state.olderCursor }));
    for (const m of page.data) this.upsertMessage(m, 'history');
    state.olderCursor = page.next_cursor;
    state.hasOlder = page.next_cursor !== null;
    this.emit('change', conversationId);
  }

  /**
   * Catch-up of one conversation after its channel (re)subscribed: exactly the gap (`?after_seq=` then its
   * cursor) — nothing lost, nothing twice (merged by id and client_id). Read receipts and participants are
   * refreshed too, since their events may have been missed.
   */
  async catchUp(conversationId: string): Promise<void> {
    const state = this.states.get(conversationId);
    if (!state?.loaded) return;
    try {
      let page = await this.api.listMessages(conversationId, { after_seq: state.lastSeq, limit: 100 });
      for (;;) {
        for (const m of page.data) this.upsertMessage(m, 'live');
        if (!page.next_cursor) break;
        page = await this.api.listMessages(conversationId, { cursor: page.next_cursor, limit: 100 });
      }
      this.upsertConversation(await this.api.getConversation(conversationId));
      this.emit('change', conversationId);
    } catch (err) {
      if (err instanceof ApiError) this.checkSession(err);
    }
  }

  /** After a reconnect: conversations created and unread counts changed while we were away. */
  private async refreshAfterReconnect(): Promise<void> {
    try {
      await this.refreshConversations(true);
      const me = await this.api.me();
      this.setUnreadTotal(me.unread_total);
    } catch (err) {
      if (err instanceof ApiError) this.checkSession(err);
    }
  }

  /** Queues a send and returns its client_id; the message shows as `sending` at once. */
  sendMessage(conversationId: string, content: string, attachments: AttachmentJson[] = []): string {
    const clientId = `rc_${randomId()}`;
    this.pending.push({
      clientId,
      conversationId,
      content,
      attachments,
      state: 'queued',
      error: null,
      attempts: 0,
      createdAt: new Date().toISOString(),
    });
    this.emit('change', conversationId);
    this.flushQueue();
    return clientId;
  }

  /** Retries a failed send with the same client_id (the server answers the stored message if it got it). */
  retrySend(clientId: string): void {
    const p = this.pending.find((x) => x.clientId === clientId);
    if (!p) return;
    p.state = 'queued';
    p.error = null;
    p.attempts = 0;
    this.emit('change', p.conversationId);
    this.flushQueue();
  }

  discardSend(clientId: string): void {
    const i = this.pending.findIndex((x) => x.clientId === clientId);
    if (i < 0) return;
    const [p] = this.pending.splice(i, 1);
    this.emit('change', p!.conversationId);
  }

  /** Sends queued messages in order; a retryable failure pauses the queue (order is kept). */
  flushQueue(): void {
    if (this.flushing || this.stopped) return;
    this.flushing = true;
    void this.runQueue().finally(() => {
      this.flushing = false;
    });
  }

  private async runQueue(): Promise<void> {
    for (;;) {
      const next = this.pending.find((p) => p.state === 'queued');
      if (!next) return;
      if (typeof navigator !== 'undefined' && navigator.onLine === false) return; // `online` resumes
      next.state = 'sending';
      this.emit('change', next.conversationId);
      try {
        const message = await this.api.sendMessage(
          next.conversationId,
          {
            content: next.content,
            client_id: next.clientId,
            ...(next.attachments.length > 0 ? { attachment_ids: next.attachments.map((a) => a.id) } : {}),
          },
          this.realtime.socketId,
        );
        this.upsertMessage(message, 'own');
      } catch (err) {
        const error = err instanceof ApiError ? err : new ApiError(0, 'network_error', String(err));
        this.checkSession(error);
        next.error = error;
        if (error.retryable) {
          next.state = 'queued';
          next.attempts += 1;
          this.emit('change', next.conversationId);
          const delay = Math.max(
            (error.retryAfterS ?? 0) * 1000,
            Math.min(SEND_RETRY_MAX_DELAY_MS, SEND_RETRY_BASE_DELAY_MS * 2 ** (next.attempts - 1)),
          );
          if (this.retryTimer) clearTimeout(this.retryTimer);
          this.retryTimer = setTimeout(() => this.flushQueue(), delay);
          return;
        }
        next.state = 'failed';
        this.emit('change', next.conversationId);
      }
    }
  }

  /**
   * The single entry for server messages (HTTP answers, realtime, catch-up): replaces by id, settles the
   * pending send with the same client_id, keeps seq order and the catch-up point.
   */
  private upsertMessage(m: MessageJson, source: 'history' | 'live' | 'own'): void {
    const live = source === 'live';
    const state = this.states.get(m.conversation_id);
    if (!state) return;
    if (m.client_id) {
      const i = this.pending.findIndex((p) => p.clientId === m.client_id && p.conversationId === m.conversation_id);
      if (i >= 0) this.pending.splice(i, 1);
    }
    const list = state.messages;
    const existing = list.findIndex((x) => x.id === m.id);
    if (existing >= 0) {
      list[existing] = m;
    } else {
      let at = list.length;
      while (at > 0 && list[at - 1]!.seq > m.seq) at -= 1;
      list.splice(at, 0, m);
      const isMine = m.sender.type === 'user' && m.sender.id === this.meJson?.user.id;
      if (live && !isMine) {
        if (m.sender.id) state.typing.delete(m.sender.id);
        this.emit('message', m);
      }
    }
    if (source !== 'own' && m.seq > state.lastSeq) state.lastSeq = m.seq;
    // The list's preview and order follow the newest message, whoever sent it.
    if (m.seq >= (state.conversation.last_seq ?? 0) && (!state.conversation.last_message_at || m.created_at >= state.conversation.last_message_at)) {
      state.conversation = { ...state.conversation, last_message_at: m.created_at, last_message: m, last_seq: m.seq };
    }
    this.emit('change', m.conversation_id);
  }

  async editMessage(conversationId: string, messageId: string, content: string): Promise<void> {
    this.upsertMessage(await this.guard(this.api.editMessage(conversationId, messageId, content)), 'own');
  }

  async deleteMessage(conversationId: string, messageId: string): Promise<void> {
    await this.guard(this.api.deleteMessage(conversationId, messageId));
    const state = this.states.get(conversationId);
    const m = state?.messages.find((x) => x.id === messageId);
    if (m) this.upsertMessage({ ...m, content: '', attachments: [], reactions: [], deleted_at: new Date().toISOString() }, 'own');
  }

  /** Adds the reaction, or removes it when this user already reacted with it. */
  async toggleReaction(conversationId: string, messageId: string, emoji: string): Promise<void> {
    const myId = this.meJson?.user.id ?? '';
    const m = this.states.get(conversationId)?.messages.find((x) => x.id === messageId);
    const mine = m?.reactions.find((r) => r.emoji === emoji)?.user_ids.includes(myId) ?? false;
    if (mine) {
      await this.guard(this.api.removeReaction(conversationId, messageId, emoji));
      this.applyReaction({ message_id: messageId, conversation_id: conversationId, user_id: myId, emoji }, false);
    } else {
      await this.guard(this.api.addReaction(conversationId, messageId, emoji));
      this.applyReaction({ message_id: messageId, conversation_id: conversationId, user_id: myId, emoji }, true);
    }
  }

  private applyReaction(r: { message_id: string; conversation_id: string; user_id: string; emoji: string }, added: boolean): void {
    const state = this.states.get(r.conversation_id);
    const i = state?.messages.findIndex((x) => x.id === r.message_id) ?? -1;
    if (!state || i < 0) return;
    const m = state.messages[i]!;
    const reactions = m.reactions.map((x) => ({ ...x, user_ids: [...x.user_ids] }));
    let entry = reactions.find((x) => x.emoji === r.emoji);
    if (added) {
      if (!entry) reactions.push((entry = { emoji: r.emoji, count: 0, user_ids: [] }));
      if (entry.user_ids.includes(r.user_id)) return;
      entry.user_ids.push(r.user_id);
      entry.count += 1;
    } else {
      if (!entry || !entry.user_ids.includes(r.user_id)) return;
      entry.user_ids = entry.user_ids.filter((u) => u !== r.user_id);
      entry.count -= 1;
    }
    state.messages[i] = { ...m, reactions: reactions.filter((x) => x.count > 0) };
    this.emit('change', r.conversation_id);
  }

  async uploadAttachment(conversationId: string, file: Blob, filename: string): Promise<AttachmentJson> {
    return this.guard(this.api.uploadAttachment(conversationId, file, filename));
  }

  // ---- receipts and typing ---------------------------------------------------------------------------

  async markRead(conversationId: string): Promise<void> {
    const state = this.states.get(conversationId);
    const myId = this.meJson?.user.id;
    const seq = state?.messages.at(-1)?.seq ?? 0;
    if (!state || !myId || seq === 0) return;
    if ((state.readSeqs.get(myId) ?? 0) >= seq && (state.conversation.unread_count ?? 0) === 0) return;
    state.readSeqs.set(myId, seq);
    try {
      const r = await this.api.markRead(conversationId, seq);
      state.conversation = { ...state.conversation, unread_count: r.unread_count };
      this.setUnreadTotal(r.total_unread);
      this.emit('change', conversationId);
    } catch (err) {
      if (err instanceof ApiError) this.checkSession(err);
    }
  }

  /** Call on every keystroke; pings the server at most every TYPING_SEND_INTERVAL_MS. */
  notifyTyping(conversationId: string): void {
    const now = Date.now();
    if (now - (this.lastTypingSent.get(conversationId) ?? 0) < TYPING_SEND_INTERVAL_MS) return;
    this.lastTypingSent.set(conversationId, now);
    this.api.typing(conversationId, true).catch(() => undefined);
  }

  /** Users typing in a conversation now (never this user). */
  typingUsers(conversationId: string): UserJson[] {
    const state = this.states.get(conversationId);
    if (!state) return [];
    const now = Date.now();
    return [...state.typing.values()].filter((t) => t.until > now).map((t) => t.user);
  }

  private setUnreadTotal(total: number): void {
    if (total === this.unreadTotalValue) return;
    this.unreadTotalValue = total;
    this.emit('unread', total);
  }

  // ---- realtime --------------------------------------------------------------------------------------

  private onRealtimeEvent(channel: string, event: string, data: unknown): void {
    if (!data || typeof data !== 'object') return;
    const d = data as Record<string, unknown>;
    if (channel.startsWith('private-conversation.')) {
      const conversationId = channel.slice('private-conversation.'.length);
      const state = this.states.get(conversationId);
      if (!state) return;
      switch (event) {
        case 'message.created':
        case 'message.updated':
        case 'message.deleted': {
          const m = d as unknown as MessageJson;
          if (typeof m.id !== 'string' || typeof m.seq !== 'number') return;
          const isNew = !state.messages.some((x) => x.id === m.id);
          const fromOther = !(m.sender.type === 'user' && m.sender.id === this.meJson?.user.id);
          this.upsertMessage(m, 'live');
          if (event === 'message.created' && isNew && fromOther) {
            if (this.activeId === conversationId) void this.markRead(conversationId);
            else {
              state.conversation = { ...state.conversation, unread_count: (state.conversation.unread_count ?? 0) + 1 };
              this.setUnreadTotal(this.unreadTotalValue + 1);
            }
          }
          return;
        }
        case 'reaction.added':
        case 'reaction.removed': {
          const r = d as { message_id?: string; user_id?: string; emoji?: string };
          if (typeof r.message_id !== 'string' || typeof r.user_id !== 'string' || typeof r.emoji !== 'string') return;
          this.applyReaction({ message_id: r.message_id, conversation_id: conversationId, user_id: r.user_id, emoji: r.emoji }, event === 'reaction.added');
          return;
        }
        case 'messages.read': {
          const r = d as unknown as ReadReceiptEvent;
          if (typeof r.user_id !== 'string' || typeof r.seq !== 'number') return;
          state.readSeqs.set(r.user_id, Math.max(state.readSeqs.get(r.user_id) ?? 0, r.seq));
          this.emit('change', conversationId);
          return;
        }
        case 'user.typing': {
          // V-23: only the allowlisted shape is used; the user object is rendered as text by the UI.
          const t = d as unknown as TypingEvent;
          if (!t.user || typeof t.user.id !== 'string' || t.user.id === this.meJson?.user.id) return;
          if (t.is_typing === false) state.typing.delete(t.user.id);
          else {
            state.typing.set(t.user.id, { user: t.user, until: Date.now() + TYPING_DISPLAY_MS });
            setTimeout(() => this.emit('change', conversationId), TYPING_DISPLAY_MS + 50);
          }
          this.emit('change', conversationId);
          return;
        }
        case 'conversation.updated':
          if (d.id === conversationId) {
            this.upsertConversation(d as unknown as ConversationJson);
            this.emit('change', conversationId);
          }
          return;
        case 'participant.joined':
        case 'participant.left':
          this.api.getConversation(conversationId).then(
            (c) => {
              this.upsertConversation(c);
              this.emit('change', conversationId);
            },
            () => undefined,
          );
          return;
      }
      return;
    }
    if (channel === ProductChannel.user(this.meJson?.user.id ?? '')) {
      if (event === 'conversation.created' && typeof d.id === 'string') {
        this.upsertConversation(d as unknown as ConversationJson);
        this.emit('change', null);
      } else if (event === 'unread.updated' && typeof d.total_unread === 'number') {
        const state = typeof d.conversation_id === 'string' ? this.states.get(d.conversation_id) : undefined;
        if (state && typeof d.unread_count === 'number') state.conversation = { ...state.conversation, unread_count: d.unread_count };
        this.setUnreadTotal(d.total_unread);
        this.emit('change', null);
      }
    }
  }

  // ---- errors ----------------------------------------------------------------------------------------

  private async guard<T>(promise: Promise<T>): Promise<T> {
    try {
      return await promise;
    } catch (err) {
      if (err instanceof ApiError) this.checkSession(err);
      throw err;
    }
  }

  private checkSession(err: ApiError): void {
    if (err.status === 401 || err.code === 'user_banned') {
      this.emit('session_ended', err);
      this.stop();
    }
  }
}
