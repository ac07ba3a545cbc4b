/**
 * Pusher error and close codes (pusher-protocol.md §1.7), grouped by the range that tells a client what to do.
 * pusher-js maps the ranges the same way (`getCloseAction`): 4000-4099 refused, 4100-4199 back off,
 * 4200-4299 retry at once, 4300+ refused.
 */
export const CloseCode = {
  // 4000-4099: reconnecting unchanged will not succeed.
  SslOnly: 4000,
  AppNotFound: 4001,
  AppDisabled: 4003,
  OverQuota: 4004,
  PathNotFound: 4005,
  InvalidVersion: 4006,
  UnsupportedProtocol: 4007,
  NoProtocolVersion: 4008,
  Unauthorized: 4009,
  // 4100-4199: reconnect after at least 1 s of back-off.
  OverCapacity: 4100,
  // 4200-4299: reconnect immediately.
  Reconnect: 4200,
  PongNotReceived: 4201,
  ClosedAfterInactivity: 4202,
  // 4300-4399: other (per-message errors, not a reconnect instruction).
  ClientEventRejected: 4301,
  WatchlistLimit: 4302,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

export type CloseCodeRange = 'refused' | 'backoff' | 'reconnect' | 'other' | 'websocket';

export function closeCodeRange(code: number): CloseCodeRange {
  if (code < 4000) return 'websocket';
  if (code < 4100) return 'refused';
  if (code < 4200) return 'backoff';
  if (code < 4300) return 'reconnect';
  return 'other';
}

/**
 * Whether a client should reconnect after this close code. 4000-4099 and 4300+ mean "not unchanged";
 * a plain WebSocket close (1000-1015, e.g. 1006 from a dropped network) is worth retrying with back-off.
 */
export function shouldReconnect(code: number): boolean {
  const range = closeCodeRange(code);
  return range === 'backoff' || range === 'reconnect' || range === 'websocket';
}

/** Minimum delay before reconnecting, per range: 4100-4199 require at least 1 s (protocol §Error codes). */
export function minimumReconnectDelayMs(code: number): number {
  const range = closeCodeRange(code);
  if (range === 'reconnect') return 0;
  if (range === 'backoff') return 1_000;
  return range === 'websocket' ? 1_000 : Number.POSITIVE_INFINITY;
}
