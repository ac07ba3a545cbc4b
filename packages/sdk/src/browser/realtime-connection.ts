import { PROTOCOL_VERSION, PusherEvent, channelKind, closeCodeRange, minimumReconnectDelayMs } from '@reusable-chat/protocol';
import { Emitter } from './emitter.ts';

/**
 * A small Pusher Channels protocol 7 client (SPEC §5) with an explicit connection state machine:
 *
 *   idle ──connect()──▶ connecting ──connection_established──▶ connected
 *     ▲                   │  ▲                                    │
 *     │                   ▼  │ (backoff timer / online event)     │ close, error, missed pong
 *     │               unavailable ◀───────────────────────────────┘
 *     │                   │ close code 4000-4099 / 4300+ (the server says: not unchanged)
 *     │                   ▼
 *     └──disconnect()── failed / disconnected
 *
 * Own client rather than pusher-js: it shares frame names and close-code ranges with the server through
 * @reusable-chat/protocol, keeps the widget bundle small, and exposes the one thing the chat needs most —
 * a `subscribed` event per channel on every (re)connection, after which the store fetches the gap by seq.
 */

/** First retry after a drop: the protocol asks ≥1 s for 4100-4199, and it spares a restarting server. */
export const RECONNECT_BASE_DELAY_MS = 1_000;
/** Ceiling of the exponential back-off: a recovered server is found within half a minute. */
export const RECONNECT_MAX_DELAY_MS = 30_000;
/** ±30 % random spread, so thousands of widgets do not reconnect in lock-step after a restart. */
export const RECONNECT_JITTER = 0.3;
/** A WebSocket handshake not finished by then counts as a failed attempt (stalled proxies, captive portals). */
export const CONNECT_TIMEOUT_MS = 10_000;
/** Wait this long for `pusher:pong` after our ping (pusher-js waits 30 s; half notices a dead mobile path sooner). */
export const PONG_TIMEOUT_MS = 15_000;
/** Used until the server announces its own `activity_timeout` (protocol default 120 s). */
export const DEFAULT_ACTIVITY_TIMEOUT_S = 120;

export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'unavailable' | 'failed' | 'disconnected';

export interface ChannelAuth {
  auth: string;
  channel_data?: string;
}

export interface RealtimeConnectionOptions {
  /** `ws://host:port` or `wss://host`; the path `/app/{key}` is added here. */
  readonly wsUrl: string;
  readonly appKey: string;
  readonly authorizeChannel: (socketId: string, channel: string) => Promise<ChannelAuth>;
  /** Optional `pusher:signin` (lets the server terminate this user's sockets on revocation, W-08). */
  readonly signIn?: (socketId: string) => Promise<{ auth: string; user_data: string }>;
  /** A WebSocket constructor (Node tests pass `ws`); the global one by default. */
  readonly WebSocket?: new (url: string) => WebSocket;
  /** For tests: deterministic jitter. */
  readonly random?: () => number;
}

export type RealtimeEvents = {
  state: [current: ConnectionState, previous: ConnectionState];
  /** After `pusher:connection_established`; `reconnected` when an earlier connection existed. */
  connected: [socketId: string, reconnected: boolean];
  event: [channel: string, event: string, data: unknown];
  subscribed: [channel: string, data: unknown];
  subscription_error: [channel: string, error: unknown];
  error: [error: unknown];
};

interface Frame {
  event: string;
  channel?: string;
  data?: unknown;
}

export class RealtimeConnection extends Emitter<RealtimeEvents> {
  private readonly options: RealtimeConnectionOptions;
  private ws: WebSocket | null = null;
  private currentState: ConnectionState = 'idle';
  private socket: string | null = null;
  private everConnected = false;
  private attempt = 0;
  private activityTimeoutMs = DEFAULT_ACTIVITY_TIMEOUT_S * 1000;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private connectTimer: ReturnType<typeof setTimeout> | null = null;
  private activityTimer: ReturnType<typeof setTimeout> | null = null;
  private pongTimer: ReturnType<typeof setTimeout> | null = null;
  /** Channels this client wants; re-subscribed on every new connection. */
  private readonly wanted = new Set<string>();
  private readonly subscribedChannels = new Set<string>();
  private readonly onOnline = () => {
    // The browser says the network is back: retry now instead of waiting out the back-off.
    if (this.currentState === 'unavailable') this.open();
  };

  constructor(options: RealtimeConnectionOptions) {
    super();
    this.options = options;
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  get socketId(): string | null {
    return this.currentState === 'connected' ? this.socket : null;
  }

  isSubscribed(channel: string): boolean {
    return this.subscribedChannels.has(channel);
  }

  connect(): void {
    if (this.currentState === 'connecting' || this.currentState === 'connected') return;
    if (typeof addEventListener === 'function') addEventListener('online', this.onOnline);
    this.open();
  }

  disconnect(): void {
    if (typeof removeEventListener === 'function') removeEventListener('online', this.onOnline);
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.close(1000);
    }
    this.subscribedChannels.clear();
    this.setState('disconnected');
  }

  subscribe(channel: string): void {
    this.wanted.add(channel);
    if (this.currentState === 'connected' && this.socket) void this.sendSubscribe(channel, this.socket);
  }

  unsubscribe(channel: string): void {
    this.wanted.delete(channel);
    if (this.subscribedChannels.delete(channel)) this.send({ event: PusherEvent.Unsubscribe, data: { channel } });
  }

  /** Client events (`client-*`) on a private or presence channel this socket joined. */
  trigger(channel: string, event: string, data: unknown): boolean {
    if (!event.startsWith('client-') || !this.subscribedChannels.has(channel)) return false;
    return this.send({ event, channel, data });
  }

  private setState(next: ConnectionState): void {
    const previous = this.currentState;
    if (previous === next) return;
    this.currentState = next;
    this.emit('state', next, previous);
  }

  private open(): void {
    this.clearTimers();
    const Ctor = this.options.WebSocket ?? globalThis.WebSocket;
    const base = this.options.wsUrl.replace(/\/+$/, '');
    // The key identifies the app; no token ever goes into this URL (S-03) — auth is per channel over HTTP.
    const url = `${base}/app/${encodeURIComponent(this.options.appKey)}?protocol=${PROTOCOL_VERSION}&client=rc-js&version=0.1.0`;
    this.setState('connecting');
    let ws: WebSocket;
    try {
      ws = new Ctor(url);
    } catch (err) {
      this.emit('error', err);
      this.scheduleReconnect(RECONNECT_BASE_DELAY_MS);
      return;
    }
    this.ws = ws;
    this.connectTimer = setTimeout(() => {
      if (this.ws === ws && this.currentState === 'connecting') this.dropSocket(ws, RECONNECT_BASE_DELAY_MS);
    }, CONNECT_TIMEOUT_MS);
    ws.onmessage = (ev: MessageEvent) => {
      if (this.ws !== ws) return;
      this.onFrame(typeof ev.data === 'string' ? ev.data : String(ev.data));
    };
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.onClosed(ev.code);
    };
    ws.onerror = () => {
      // A close event always follows; the decision is taken there.
    };
  }

  private dropSocket(ws: WebSocket, delayMs: number): void {
    ws.onclose = null;
    ws.onmessage = null;
    try {
      ws.close();
    } catch {
      // already closing
    }
    if (this.ws === ws) this.ws = null;
    this.subscribedChannels.clear();
    this.scheduleReconnect(delayMs);
  }

  private onClosed(code: number): void {
    this.clearTimers();
    this.subscribedChannels.clear();
    const range = closeCodeRange(code);
    if (range === 'refused' || range === 'other') {
      // 4000-4099: "do not reconnect unchanged" (pusher-protocol.md §1.7).
      this.setState('failed');
      return;
    }
    this.scheduleReconnect(minimumReconnectDelayMs(code));
  }

  private scheduleReconnect(minimumMs: number): void {
    this.setState('unavailable');
    const exp = Math.min(RECONNECT_MAX_DELAY_MS, RECONNECT_BASE_DELAY_MS * 2 ** this.attempt);
    const jitter = 1 + (((this.options.random ?? Math.random)() * 2 - 1) * RECONNECT_JITTER);
    const delay = Math.max(minimumMs, Math.round(exp * jitter));
    this.attempt += 1;
    this.reconnectTimer = setTimeout(() => this.open(), this.attempt === 1 && minimumMs === 0 ? 0 : delay);
  }

  private onFrame(text: string): void {
    let frame: Frame;
    try {
      frame = JSON.parse(text) as Frame;
    } catch {
      return;
    }
    if (typeof frame.event !== 'string') return;
    this.armActivityTimer();
    const data = typeof frame.data === 'string' ? safeParse(frame.data) : frame.data;
    switch (frame.event) {
      case PusherEvent.ConnectionEstablished: {
        const d = data as { socket_id?: string; activity_timeout?: number };
        if (!d?.socket_id) return;
        if (this.connectTimer) clearTimeout(this.connectTimer);
        this.socket = d.socket_id;
        if (typeof d.activity_timeout === 'number' && d.activity_timeout > 0) {
          this.activityTimeoutMs = Math.min(d.activity_timeout, DEFAULT_ACTIVITY_TIMEOUT_S) * 1000;
        }
        this.attempt = 0;
        const reconnected = this.everConnected;
        this.everConnected = true;
        this.setState('connected');
        this.armActivityTimer();
        if (this.options.signIn) {
          this.options.signIn(d.socket_id).then(
            (s) => this.send({ event: PusherEvent.Signin, data: s }),
            (err) => this.emit('error', err),
          );
        }
        for (const channel of this.wanted) void this.sendSubscribe(channel, d.socket_id);
        this.emit('connected', d.socket_id, reconnected);
        return;
      }
      case PusherEvent.Ping:
        this.send({ event: PusherEvent.Pong, data: {} });
        return;
      case PusherEvent.Pong:
        if (this.pongTimer) clearTimeout(this.pongTimer);
        this.pongTimer = null;
        return;
      case PusherEvent.Error:
        this.emit('error', data);
        return;
      case 'pusher_internal:subscription_succeeded':
        if (frame.channel) {
          this.subscribedChannels.add(frame.channel);
          this.emit('subscribed', frame.channel, data);
        }
        return;
      case 'pusher:subscription_error':
        if (frame.channel) this.emit('subscription_error', frame.channel, data);
        return;
      default:
        if (frame.event.startsWith('pusher:') || frame.event.startsWith('pusher_internal:')) {
          if (frame.channel) this.emit('event', frame.channel, frame.event, data);
          return;
        }
        if (frame.channel) this.emit('event', frame.channel, frame.event, data);
    }
  }

  private async sendSubscribe(channel: string, socketId: string): Promise<void> {
    try {
      const kind = channelKind(channel);
      if (kind === 'public') {
        this.send({ event: PusherEvent.Subscribe, data: { channel } });
        return;
      }
      const auth = await this.options.authorizeChannel(socketId, channel);
      // The socket may have changed while the auth request was in flight; its own connect re-subscribes.
      if (this.socket !== socketId || this.currentState !== 'connected' || !this.wanted.has(channel)) return;
      this.send({ event: PusherEvent.Subscribe, data: { channel, auth: auth.auth, ...(auth.channel_data ? { channel_data: auth.channel_data } : {}) } });
    } catch (err) {
      this.emit('subscription_error', channel, err);
    }
  }

  private send(frame: Frame): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  /** Protocol heartbeat: after `activity_timeout` of silence we ping; no pong in time → reconnect. */
  private armActivityTimer(): void {
    if (this.activityTimer) clearTimeout(this.activityTimer);
    if (this.currentState !== 'connected') return;
    this.activityTimer = setTimeout(() => {
      if (!this.send({ event: PusherEvent.Ping, data: {} })) return;
      this.pongTimer = setTimeout(() => {
        const ws = this.ws;
        if (ws) this.dropSocket(ws, 0);
      }, PONG_TIMEOUT_MS);
    }, this.activityTimeoutMs);
  }

  private clearTimers(): void {
    for (const t of [this.reconnectTimer, this.connectTimer, this.activityTimer, this.pongTimer]) if (t) clearTimeout(t);
    this.reconnectTimer = this.connectTimer = this.activityTimer = this.pongTimer = null;
  }
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
