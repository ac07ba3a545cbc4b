/**
 * Wire frames of Pusher Channels protocol 7 (pusher-protocol.md §1.1): UTF-8 JSON text, every frame has
 * `event`; `pusher:*` events from the server carry `data` as a JSON-encoded string (double encoding).
 */
export const PROTOCOL_VERSION = 7;

export const PusherEvent = {
  ConnectionEstablished: 'pusher:connection_established',
  Error: 'pusher:error',
  Ping: 'pusher:ping',
  Pong: 'pusher:pong',
  Subscribe: 'pusher:subscribe',
  Unsubscribe: 'pusher:unsubscribe',
  SubscriptionSucceeded: 'pusher_internal:subscription_succeeded',
  SubscriptionError: 'pusher:subscription_error',
  MemberAdded: 'pusher_internal:member_added',
  MemberRemoved: 'pusher_internal:member_removed',
  Signin: 'pusher:signin',
  SigninSuccess: 'pusher:signin_success',
} as const;

export const CLIENT_EVENT_PREFIX = 'client-';
/** soketi's event-name limit (pusher-protocol.md §1.5); checklist W-15. */
export const MAX_EVENT_NAME_LENGTH = 200;

/** Anchored, unlike soketi's `client-.*` regex (checklist W-11): `x.client-y` is not a client event. */
export function isClientEventName(name: string): boolean {
  return name.startsWith(CLIENT_EVENT_PREFIX) && name.length > CLIENT_EVENT_PREFIX.length && name.length <= MAX_EVENT_NAME_LENGTH;
}

// ───────────── client → server ─────────────

export interface SubscribeFrame {
  readonly event: typeof PusherEvent.Subscribe;
  readonly data: { readonly channel: string; readonly auth?: string; readonly channel_data?: string };
}
export interface UnsubscribeFrame {
  readonly event: typeof PusherEvent.Unsubscribe;
  readonly data: { readonly channel: string };
}
export interface PingFrame {
  readonly event: typeof PusherEvent.Ping;
}
export interface PongFrame {
  readonly event: typeof PusherEvent.Pong;
}
export interface SigninFrame {
  readonly event: typeof PusherEvent.Signin;
  readonly data: { readonly auth: string; readonly user_data: string };
}
export interface ClientEventFrame {
  readonly event: `client-${string}`;
  readonly channel: string;
  readonly data: unknown;
}
export type ClientFrame = SubscribeFrame | UnsubscribeFrame | PingFrame | PongFrame | SigninFrame | ClientEventFrame;

export type ParseResult =
  | { readonly ok: true; readonly frame: ClientFrame }
  /** `unknownEvent` carries a well-formed frame whose event no rule accepts (e.g. `typing`, W-11). */
  | { readonly ok: false; readonly reason: 'invalid_json' | 'invalid_format' | 'unknown_event'; readonly event?: string };

/**
 * pusher-js sends `data` of subscribe/signin as an object; some clients send it as a JSON string, which the
 * protocol doc also shows. Both are accepted.
 */
function objectData(value: unknown): Record<string, unknown> | null {
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return null;
    }
  }
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

/** Parses one text frame; never throws (checklist W-17: malformed input gets an error, never a crash). */
export function parseClientFrame(text: string): ParseResult {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'invalid_json' };
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, reason: 'invalid_format' };
  const msg = raw as Record<string, unknown>;
  const event = msg.event;
  if (typeof event !== 'string' || event.length === 0) return { ok: false, reason: 'invalid_format' };

  switch (event) {
    case PusherEvent.Ping:
      return { ok: true, frame: { event } };
    case PusherEvent.Pong:
      return { ok: true, frame: { event } };
    case PusherEvent.Subscribe: {
      const data = objectData(msg.data);
      if (!data || typeof data.channel !== 'string') return { ok: false, reason: 'invalid_format', event };
      if (data.auth !== undefined && typeof data.auth !== 'string') return { ok: false, reason: 'invalid_format', event };
      if (data.channel_data !== undefined && typeof data.channel_data !== 'string') return { ok: false, reason: 'invalid_format', event };
      return {
        ok: true,
        frame: {
          event,
          data: {
            channel: data.channel,
            ...(data.auth !== undefined ? { auth: data.auth as string } : {}),
            ...(data.channel_data !== undefined ? { channel_data: data.channel_data as string } : {}),
          },
        },
      };
    }
    case PusherEvent.Unsubscribe: {
      const data = objectData(msg.data);
      if (!data || typeof data.channel !== 'string') return { ok: false, reason: 'invalid_format', event };
      return { ok: true, frame: { event, data: { channel: data.channel } } };
    }
    case PusherEvent.Signin: {
      const data = objectData(msg.data);
      if (!data || typeof data.auth !== 'string' || typeof data.user_data !== 'string') {
        return { ok: false, reason: 'invalid_format', event };
      }
      return { ok: true, frame: { event, data: { auth: data.auth, user_data: data.user_data } } };
    }
    default:
      if (isClientEventName(event)) {
        if (typeof msg.channel !== 'string') return { ok: false, reason: 'invalid_format', event };
        return { ok: true, frame: { event: event as `client-${string}`, channel: msg.channel, data: msg.data } };
      }
      return { ok: false, reason: 'unknown_event', event };
  }
}

// ───────────── server → client ─────────────

export interface ServerFrame {
  readonly event: string;
  readonly channel?: string;
  /** Always a string on the wire for pusher:* events; a string for HTTP-API events (the publisher's encoding). */
  readonly data?: string;
  readonly user_id?: string;
}

export interface PresenceData {
  readonly ids: string[];
  readonly hash: Record<string, unknown>;
  readonly count: number;
}

/** Serialises a server frame. Field order matches what Pusher sends; clients do not depend on it. */
export function encodeFrame(frame: ServerFrame): string {
  return JSON.stringify(frame);
}

export function connectionEstablishedFrame(socketId: string, activityTimeoutS: number): string {
  return encodeFrame({
    event: PusherEvent.ConnectionEstablished,
    data: JSON.stringify({ socket_id: socketId, activity_timeout: activityTimeoutS }),
  });
}

export function errorFrame(code: number | null, message: string): string {
  return encodeFrame({ event: PusherEvent.Error, data: JSON.stringify({ code, message }) });
}

export function pongFrame(): string {
  return encodeFrame({ event: PusherEvent.Pong, data: '{}' });
}

export function pingFrame(): string {
  return encodeFrame({ event: PusherEvent.Ping, data: '{}' });
}

export function subscriptionSucceededFrame(channel: string, presence?: PresenceData): string {
  return encodeFrame({
    event: PusherEvent.SubscriptionSucceeded,
    channel,
    data: presence ? JSON.stringify({ presence }) : '{}',
  });
}

export type SubscriptionErrorType = 'AuthError' | 'LimitReached' | 'InvalidChannel' | 'ServerError';

export function subscriptionErrorFrame(channel: string, type: SubscriptionErrorType, error: string, status: number): string {
  return encodeFrame({ event: PusherEvent.SubscriptionError, channel, data: JSON.stringify({ type, error, status }) });
}

export function memberAddedFrame(channel: string, userId: string, userInfo: unknown): string {
  return encodeFrame({
    event: PusherEvent.MemberAdded,
    channel,
    data: JSON.stringify(userInfo === undefined ? { user_id: userId } : { user_id: userId, user_info: userInfo }),
  });
}

export function memberRemovedFrame(channel: string, userId: string): string {
  return encodeFrame({ event: PusherEvent.MemberRemoved, channel, data: JSON.stringify({ user_id: userId }) });
}

export function signinSuccessFrame(userData: string): string {
  return encodeFrame({ event: PusherEvent.SigninSuccess, data: JSON.stringify({ user_data: userData }) });
}

/**
 * A channel event. HTTP-API events keep `data` exactly as the publisher encoded it (a string); client events
 * forward the client's `data` value unchanged, with `user_id` set by the server on presence channels.
 */
export function channelEventFrame(channel: string, event: string, data: unknown, userId?: string): string {
  return JSON.stringify(userId === undefined ? { event, channel, data } : { event, channel, data, user_id: userId });
}

/** Parses a `pusher:*` server frame's double-encoded `data` (used by the SDK and the tests). */
export function decodeFrameData<T = unknown>(frame: { data?: unknown }): T {
  return (typeof frame.data === 'string' ? JSON.parse(frame.data) : frame.data) as T;
}

/** `^\d+\.\d+$` (pusher-http-node validateSocketId). */
export const SOCKET_ID_PATTERN = /^\d+\.\d+$/;
export function isValidSocketId(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 64 && SOCKET_ID_PATTERN.test(value);
}
