import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CONNECT_TIMEOUT_MS,
  PONG_TIMEOUT_MS,
  RECONNECT_BASE_DELAY_MS,
  RECONNECT_JITTER,
  RECONNECT_MAX_DELAY_MS,
  RealtimeConnection,
  type ConnectionState,
} from '@reusable-chat/sdk';

/**
 * The SDK's connection state machine on its own, with a scripted WebSocket and fake timers: every transition,
 * back-off delay and heartbeat deadline is asserted against the named constants (the end-to-end behaviour
 * against the real server is in chat-client.test.ts and the widget e2e restart test).
 */
class FakeSocket {
  static all: FakeSocket[] = [];
  readonly url: string;
  readyState = 0;
  sent: { event: string; channel?: string; data?: unknown }[] = [];
  closedByClient = false;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: ((ev: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;

  constructor(url: string) {
    this.url = url;
    FakeSocket.all.push(this);
  }

  send(text: string): void {
    this.sent.push(JSON.parse(text) as { event: string });
  }

  close(): void {
    this.closedByClient = true;
    this.readyState = 3;
  }

  /** The server's side. */
  establish(socketId = `${FakeSocket.all.length}.1`, activityTimeoutS = 120): void {
    this.readyState = 1;
    this.frame({ event: 'pusher:connection_established', data: JSON.stringify({ socket_id: socketId, activity_timeout: activityTimeoutS }) });
  }

  frame(f: { event: string; channel?: string; data?: unknown }): void {
    this.onmessage?.({ data: JSON.stringify(f) });
  }

  serverClose(code: number): void {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

const latest = () => FakeSocket.all.at(-1)!;

function connection(random = () => 0.5) {
  const states: ConnectionState[] = [];
  const connected: [string, boolean][] = [];
  const rc = new RealtimeConnection({
    wsUrl: 'ws://chat.test/',
    appKey: 'app key',
    authorizeChannel: async (socketId, channel) => ({ auth: `key:${socketId}:${channel}` }),
    WebSocket: FakeSocket as never,
    random,
  });
  rc.on('state', (s) => states.push(s));
  rc.on('connected', (id, again) => connected.push([id, again]));
  return { rc, states, connected };
}

/** Advances the clock by `ms` and tells whether a new socket was opened in that time. */
async function opensAfter(ms: number): Promise<boolean> {
  const before = FakeSocket.all.length;
  await vi.advanceTimersByTimeAsync(ms);
  return FakeSocket.all.length > before;
}

describe('sdk RealtimeConnection state machine', () => {
  beforeEach(() => {
    FakeSocket.all = [];
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('idle → connecting → connected; the URL carries the key and protocol, never a token (S-03)', () => {
    const { rc, states, connected } = connection();
    expect(rc.state).toBe('idle');
    rc.connect();
    expect(rc.state).toBe('connecting');
    expect(latest().url).toBe('ws://chat.test/app/app%20key?protocol=7&client=rc-js&version=0.1.0');
    expect(rc.socketId).toBeNull();
    latest().establish('1.1');
    expect(states).toEqual(['connecting', 'connected']);
    expect(connected).toEqual([['1.1', false]]);
    expect(rc.socketId).toBe('1.1');
    rc.disconnect();
    expect(rc.state).toBe('disconnected');
    expect(latest().closedByClient).toBe(true);
  });

  it('backs off exponentially from RECONNECT_BASE_DELAY_MS up to RECONNECT_MAX_DELAY_MS, and resets once connected', async () => {
    const { rc, states } = connection(() => 0.5); // jitter factor exactly 1
    rc.connect();
    latest().establish();
    latest().serverClose(1006); // a dropped network
    expect(rc.state).toBe('unavailable');
    const delays: number[] = [];
    for (let attempt = 0; attempt < 7; attempt++) {
      const expected = Math.min(RECONNECT_MAX_DELAY_MS, RECONNECT_BASE_DELAY_MS * 2 ** attempt);
      expect(await opensAfter(expected - 1)).toBe(false);
      expect(await opensAfter(1)).toBe(true);
      delays.push(expected);
      expect(rc.state).toBe('connecting');
      latest().serverClose(1006); // the server is still down
    }
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
    // Back: the next drop starts again at the base delay.
    expect(await opensAfter(RECONNECT_MAX_DELAY_MS)).toBe(true);
    latest().establish();
    latest().serverClose(1006);
    expect(await opensAfter(RECONNECT_BASE_DELAY_MS - 1)).toBe(false);
    expect(await opensAfter(1)).toBe(true);
    expect(states.filter((s) => s === 'connected')).toHaveLength(2);
  });

  it('spreads reconnects by ±RECONNECT_JITTER so a restarted server is not hit in lock-step', async () => {
    for (const [random, factor] of [
      [0, 1 - RECONNECT_JITTER],
      [1, 1 + RECONNECT_JITTER],
    ] as const) {
      FakeSocket.all = [];
      const { rc } = connection(() => random);
      rc.connect();
      latest().establish();
      latest().serverClose(1006);
      const retry = Math.max(RECONNECT_BASE_DELAY_MS, Math.round(RECONNECT_BASE_DELAY_MS * factor)); // ≥1 s for 1006
      expect(await opensAfter(retry - 1)).toBe(false);
      expect(await opensAfter(1)).toBe(true);
      latest().serverClose(1006);
      const second = Math.round(RECONNECT_BASE_DELAY_MS * 2 * factor);
      expect(await opensAfter(second - 1)).toBe(false);
      expect(await opensAfter(1)).toBe(true);
      rc.disconnect();
    }
  });

  it('obeys the close-code ranges: 4000-4099 and 4300+ fail for good, 4100-4199 wait ≥1 s, 4200-4299 reconnect at once', async () => {
    for (const code of [4001, 4009, 4301]) {
      const { rc } = connection();
      rc.connect();
      latest().establish();
      latest().serverClose(code);
      expect(rc.state).toBe('failed');
      expect(await opensAfter(RECONNECT_MAX_DELAY_MS * 2)).toBe(false);
    }
    const backoff = connection(() => 0); // jitter would allow 700 ms: the protocol's 1 s minimum wins
    backoff.rc.connect();
    latest().establish();
    latest().serverClose(4100);
    expect(await opensAfter(RECONNECT_BASE_DELAY_MS - 1)).toBe(false);
    expect(await opensAfter(1)).toBe(true);
    backoff.rc.disconnect();

    const now = connection();
    now.rc.connect();
    latest().establish('1.1');
    latest().serverClose(4200);
    expect(await opensAfter(0)).toBe(true);
    latest().establish('2.1');
    expect(now.connected).toEqual([
      ['1.1', false],
      ['2.1', true],
    ]);
  });

  it('gives up a handshake after CONNECT_TIMEOUT_MS, and a silent socket after activity_timeout + PONG_TIMEOUT_MS', async () => {
    const { rc } = connection();
    rc.connect();
    const stalled = latest();
    expect(await opensAfter(CONNECT_TIMEOUT_MS - 1)).toBe(false);
    expect(rc.state).toBe('connecting');
    await vi.advanceTimersByTimeAsync(1);
    expect(stalled.closedByClient).toBe(true);
    expect(rc.state).toBe('unavailable');
    expect(await opensAfter(RECONNECT_BASE_DELAY_MS)).toBe(true);

    // Connected with the server's activity_timeout of 30 s: silence → ping; a pong keeps the socket.
    const socket = latest();
    socket.establish('3.1', 30);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(socket.sent.filter((f) => f.event === 'pusher:ping')).toHaveLength(1);
    socket.frame({ event: 'pusher:pong', data: '{}' });
    expect(await opensAfter(PONG_TIMEOUT_MS)).toBe(false);
    expect(rc.state).toBe('connected');
    // Next silence: ping, no pong within PONG_TIMEOUT_MS → dropped and reopened straight away.
    await vi.advanceTimersByTimeAsync(30_000 - PONG_TIMEOUT_MS);
    expect(socket.sent.filter((f) => f.event === 'pusher:ping')).toHaveLength(2);
    expect(await opensAfter(PONG_TIMEOUT_MS - 1)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(socket.closedByClient).toBe(true);
    expect(rc.state).toBe('unavailable');
    // The first retry after a missed pong does not wait out a back-off (a timer of 0, i.e. the next tick).
    expect(await opensAfter(1)).toBe(true);
    expect(rc.state).toBe('connecting');
    // A server ping is answered with a pong.
    latest().establish('4.1');
    latest().frame({ event: 'pusher:ping', data: '{}' });
    expect(latest().sent.at(-1)).toEqual({ event: 'pusher:pong', data: {} });
  });

  it('re-subscribes every wanted channel on each new connection, with a fresh auth for the new socket id', async () => {
    const { rc } = connection();
    const subscribed: string[] = [];
    rc.on('subscribed', (channel) => subscribed.push(channel));
    rc.subscribe('private-conversation.c1');
    rc.subscribe('presence-conversation.c1');
    rc.connect();
    latest().establish('1.1');
    await vi.advanceTimersByTimeAsync(0);
    const first = latest().sent.filter((f) => f.event === 'pusher:subscribe');
    expect(first.map((f) => f.data)).toEqual([
      { channel: 'private-conversation.c1', auth: 'key:1.1:private-conversation.c1' },
      { channel: 'presence-conversation.c1', auth: 'key:1.1:presence-conversation.c1' },
    ]);
    latest().frame({ event: 'pusher_internal:subscription_succeeded', channel: 'private-conversation.c1', data: '{}' });
    expect(rc.isSubscribed('private-conversation.c1')).toBe(true);
    rc.unsubscribe('presence-conversation.c1');

    latest().serverClose(1006);
    expect(rc.isSubscribed('private-conversation.c1')).toBe(false);
    await vi.advanceTimersByTimeAsync(RECONNECT_BASE_DELAY_MS);
    latest().establish('2.1');
    await vi.advanceTimersByTimeAsync(0);
    expect(latest().sent.filter((f) => f.event === 'pusher:subscribe').map((f) => f.data)).toEqual([
      { channel: 'private-conversation.c1', auth: 'key:2.1:private-conversation.c1' },
    ]);
    latest().frame({ event: 'pusher_internal:subscription_succeeded', channel: 'private-conversation.c1', data: '{}' });
    expect(subscribed).toEqual(['private-conversation.c1', 'private-conversation.c1']);
  });
});
