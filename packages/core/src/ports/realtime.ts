/** A domain event as delivered to Pusher channels (SPEC §5). `data` is the same JSON the HTTP API returns. */
export interface RealtimeEvent {
  readonly channels: readonly string[];
  readonly event: string;
  readonly data: unknown;
  /** Pusher socket_id to exclude (the sender's own socket). */
  readonly excludeSocketId?: string;
  /** Signed-in users whose sockets must not receive it (e.g. participants who blocked the sender). */
  readonly excludeUserIds?: readonly string[];
}

/** The single fan-out point core publishes to, after commit. */
export interface RealtimePublisher {
  publish(event: RealtimeEvent): Promise<void>;
  /** Close every socket signed in as this user (revocation, bans). */
  terminateUser(userId: string): Promise<void>;
}
