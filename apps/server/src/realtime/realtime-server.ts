import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import type { ChannelCounts, ChannelStateStore, ConnectionSlot, PubSub } from '@reusable-chat/core/ports';
import {
  areClientEventsEnabled,
  channelEventFrame,
  channelKind,
  CloseCode,
  connectionEstablishedFrame,
  errorFrame,
  isValidChannelName,
  isValidUserId,
  MAX_USER_ID_LENGTH,
  memberAddedFrame,
  memberRemovedFrame,
  parseClientFrame,
  pingFrame,
  pongFrame,
  PROTOCOL_VERSION,
  PusherEvent,
  serverToUserChannel,
  signinSuccessFrame,
  subscriptionErrorFrame,
  subscriptionSucceededFrame,
  verifyChannelAuth,
  verifyUserAuth,
  type AppCredentials,
  type ClientEventFrame,
  type SigninFrame,
  type SubscribeFrame,
} from '@reusable-chat/protocol';
import type { Metrics } from '../metrics.ts';
import { RealtimeConnection } from './connection.ts';
import { createSocketIdFactory } from './socket-ids.ts';
import { encodeTextFrame } from './ws-frame.ts';

/** Safe limits (pusher-protocol.md §1.6–1.8; checklist W-06, W-13, W-15, W-18, W-21). */
export const REALTIME_LIMITS = {
  /** soketi's maxBackpressure: a socket with more unsent bytes than this is a slow consumer and is dropped. */
  maxBufferedBytes: 1_048_576,
  clientEventsPerSecond: 10,
  /** Seconds in a row over the client-event rate before the socket is closed as abusive. */
  abusiveSecondsBeforeClose: 5,
  /** Pusher's HTTP API limit, applied to whispers too. */
  maxClientEventDataBytes: 10_240,
  maxPresenceMembers: 100,
  maxUserInfoBytes: 1_024,
  maxChannelsPerConnection: 100,
  maxWatchlist: 100,
  /** soketi's userAuthenticationTimeout is 30 s; a shorter activity timeout shortens it too. */
  maxAuthorizationTimeoutS: 30,
  /** Recommended client pong wait (protocol §Ping and pong). */
  maxPongTimeoutS: 30,
  sweepIntervalMs: 1_000,
  /** Time given to clients to finish the close handshake at shutdown before their sockets are cut. */
  shutdownGraceMs: 1_000,
} as const;

export interface RealtimeServerOptions {
  readonly app: AppCredentials & { readonly id: string };
  readonly activityTimeoutS: number;
  readonly maxConnections: number;
  /**
   * W-21 quotas: open sockets per remote address (this node), signed-in sockets per user and per workspace (the
   * cluster, counted by the channel state store: Redis across nodes, the process in memory).
   */
  readonly quotas: { readonly perIp: number; readonly perUser: number; readonly perWorkspace: number };
  readonly allowedOrigins: readonly string[];
  readonly pubsub: PubSub;
  readonly state: ChannelStateStore;
  readonly metrics: Metrics;
  readonly log: FastifyBaseLogger;
}

/** What one node tells the others through pub/sub (one topic, so ordering per publisher is kept). */
type ClusterMessage =
  /** Frames to deliver: [channel, frame JSON]; `x` excludes a socket id (the sender). */
  | { t: 'f'; n: string; f: [string, string][]; x?: string; xu?: readonly string[] }
  /** Close every socket signed in as `u`. */
  | { t: 'term'; n: string; u: string };

const CLUSTER_TOPIC = 'realtime';

/** The connection a `ws` socket belongs to, so shared listener functions can find it. */
const kConnection = Symbol('realtime-connection');
type SocketWithConnection = WebSocket & { [kConnection]?: RealtimeConnection };
interface SocketListeners {
  message(this: SocketWithConnection, data: Buffer, isBinary: boolean): void;
  touch(this: SocketWithConnection): void;
  close(this: SocketWithConnection): void;
}

export interface ConnectRequest {
  readonly key: string;
  readonly protocol: unknown;
  readonly origin: string | undefined;
  /** The client's address: the socket's peer, or the forwarded one behind TRUST_PROXY (Fastify's request.ip). */
  readonly ip: string;
}

/**
 * The Pusher protocol 7 server of one node: the local registry of sockets and channels, the message handling
 * of §1.1–1.7, and the cluster bus. Every broadcast is delivered here and published once to the other nodes.
 */
export class RealtimeServer {
  readonly nodeId: string;
  private readonly connections = new Map<string, RealtimeConnection>();
  /** Channel → local subscribers; a Set makes join and leave O(1) however large the channel. */
  private readonly channels = new Map<string, Set<RealtimeConnection>>();
  private readonly users = new Map<string, Set<RealtimeConnection>>();
  /** Open sockets per client address (W-21). */
  private readonly socketsPerIp = new Map<string, number>();
  /** Signed-in sockets per workspace (W-21); the workspace is known only from the signed user_data. */
  private readonly socketsPerWorkspace = new Map<string, number>();
  private readonly nextSocketId: () => string;
  private corked: RealtimeConnection[] = [];
  private isFlushScheduled = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  private unsubscribeCluster: (() => Promise<void>) | undefined;
  private isShuttingDown = false;
  private readonly activityTimeoutMs: number;
  private readonly pongTimeoutMs: number;
  private readonly authorizationTimeoutMs: number;
  private readonly allowAnyOrigin: boolean;
  private readonly allowedOrigins: Set<string>;
  private readonly listeners: SocketListeners = this.createListeners();
  private readonly onCork = (connection: RealtimeConnection): void => this.scheduleUncork(connection);

  constructor(private readonly options: RealtimeServerOptions) {
    this.nodeId = options.state.nodeId;
    this.nextSocketId = createSocketIdFactory(this.nodeId);
    this.activityTimeoutMs = options.activityTimeoutS * 1000;
    this.pongTimeoutMs = Math.min(REALTIME_LIMITS.maxPongTimeoutS, options.activityTimeoutS) * 1000;
    this.authorizationTimeoutMs = Math.min(REALTIME_LIMITS.maxAuthorizationTimeoutS, options.activityTimeoutS) * 1000;
    this.allowAnyOrigin = options.allowedOrigins.includes('*');
    this.allowedOrigins = new Set(options.allowedOrigins.map(normalizeOrigin));
  }

  async start(): Promise<void> {
    this.unsubscribeCluster = await this.options.pubsub.subscribe(CLUSTER_TOPIC, (payload) => this.onClusterMessage(payload));
    await this.options.state.start({
      onMembersGone: (gone) => {
        // A dead node's last connections of these users are gone: a live node announces it.
        for (const { channel, userId } of gone) void this.publishFrames([[channel, memberRemovedFrame(channel, userId)]]);
      },
      localSubscriptions: () => this.localSubscriptions(),
      localConnections: () => this.localConnections(),
    });
    // One timer sweeps every socket (activity, pong wait, authorization) instead of timers per socket.
    this.sweepTimer = setInterval(() => this.sweep(), REALTIME_LIMITS.sweepIntervalMs);
    this.sweepTimer.unref();
  }

  private *localSubscriptions(): Iterable<{ channel: string; member?: { userId: string; userInfo?: unknown } }> {
    for (const connection of this.connections.values()) {
      for (const channel of connection.channels) {
        const member = connection.presence?.get(channel);
        yield member === undefined ? { channel } : { channel, member: { userId: member.userId, userInfo: member.userInfo } };
      }
    }
  }

  private *localConnections(): Iterable<ConnectionSlot> {
    for (const connection of this.connections.values()) {
      if (connection.userId === undefined || !connection.isSlotCounted) continue;
      yield connection.workspaceId === undefined ? { userId: connection.userId } : { userId: connection.userId, workspaceId: connection.workspaceId };
    }
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  isConnected(socketId: string): boolean {
    return this.connections.has(socketId);
  }

  /** The user a local socket signed in as (`pusher:signin`), if any. */
  signedInUserOf(socketId: string): string | undefined {
    return this.connections.get(socketId)?.userId;
  }

  // ───────────── connections ─────────────

  /**
   * Checks the handshake (W-01, W-02, W-03, W-21) and either adopts the socket or closes it with the code the
   * protocol names, after a `pusher:error` carrying the same code.
   */
  connect(ws: WebSocket, raw: Duplex, request: ConnectRequest): RealtimeConnection | null {
    const refusal = this.checkHandshake(request);
    if (refusal) {
      ws.send(errorFrame(refusal.code, refusal.message));
      ws.close(refusal.code, refusal.message);
      return null;
    }
    const connection = new RealtimeConnection(this.nextSocketId(), ws, raw, this.onCork, Date.now(), request.ip);
    this.connections.set(connection.socketId, connection);
    this.socketsPerIp.set(request.ip, (this.socketsPerIp.get(request.ip) ?? 0) + 1);
    this.options.metrics.connections.set(this.connections.size);
    connection.sendText(connectionEstablishedFrame(connection.socketId, this.options.activityTimeoutS));

    // The same four listener functions serve every socket (they find the connection on the socket), so an idle
    // socket carries no closures of its own.
    (ws as SocketWithConnection)[kConnection] = connection;
    ws.on('message', this.listeners.message);
    ws.on('ping', this.listeners.touch);
    ws.on('pong', this.listeners.touch);
    ws.on('close', this.listeners.close);
    return connection;
  }

  private createListeners(): SocketListeners {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- `this` inside the listeners is the socket
    const server = this;
    return {
      message(this: SocketWithConnection, data: Buffer, isBinary: boolean) {
        const connection = this[kConnection];
        if (connection) server.onMessage(connection, data, isBinary);
      },
      touch(this: SocketWithConnection) {
        const connection = this[kConnection];
        if (!connection) return;
        connection.lastActivityMs = Date.now();
        connection.pingSentAtMs = 0;
      },
      close(this: SocketWithConnection) {
        const connection = this[kConnection];
        if (connection) void server.removeConnection(connection);
      },
    };
  }

  private onMessage(connection: RealtimeConnection, data: Buffer, isBinary: boolean): void {
    connection.lastActivityMs = Date.now();
    connection.pingSentAtMs = 0;
    if (isBinary) {
      // Binary frames are not part of the protocol (§1.1): an error, and the socket stays open (W-17).
      connection.sendText(errorFrame(CloseCode.Reconnect, 'Invalid message format: binary frames are not supported'));
      return;
    }
    const text = data.toString('utf8');
    const previous = connection.queue;
    const step: Promise<void> = (previous ? previous.then(() => this.handleText(connection, text)) : this.handleText(connection, text))
      .catch((err: unknown) => {
        this.options.log.error({ err }, 'realtime message handling failed');
      })
      .then(() => {
        // Idle again: drop the settled chain rather than keep a promise per socket.
        if (connection.queue === step) connection.queue = null;
      });
    connection.queue = step;
  }

  private checkHandshake(request: ConnectRequest): { code: number; message: string } | null {
    if (request.key !== this.options.app.key) return { code: CloseCode.AppNotFound, message: `App key ${request.key.slice(0, 64)} does not exist` };
    if (this.isShuttingDown) return { code: CloseCode.Reconnect, message: 'Server is shutting down' };
    const protocol = request.protocol;
    if (protocol === undefined || protocol === '') return { code: CloseCode.NoProtocolVersion, message: 'No protocol version supplied' };
    if (typeof protocol !== 'string' || !/^\d{1,4}$/.test(protocol)) return { code: CloseCode.InvalidVersion, message: 'Invalid version string format' };
    // Only protocol 7 (checklist W-02 "documented acceptance of 7 only"); every maintained client speaks it.
    if (Number(protocol) !== PROTOCOL_VERSION) return { code: CloseCode.UnsupportedProtocol, message: `Unsupported protocol version ${protocol}` };
    // Origin allowlist against cross-site WebSocket hijacking (W-03, ASVS 4.4.2). A request without Origin is a
    // non-browser client, which can send any Origin it likes anyway, so it is let through.
    if (!this.allowAnyOrigin && request.origin !== undefined && !this.allowedOrigins.has(normalizeOrigin(request.origin))) {
      return { code: CloseCode.Unauthorized, message: 'Origin not allowed' };
    }
    if (this.connections.size >= this.options.maxConnections) return { code: CloseCode.OverCapacity, message: 'Over capacity' };
    // Per address (W-21): one host cannot take the node's capacity. Behind TRUST_PROXY the forwarded address.
    if ((this.socketsPerIp.get(request.ip) ?? 0) >= this.options.quotas.perIp) return { code: CloseCode.OverQuota, message: 'Too many connections from this address' };
    return null;
  }

  private async removeConnection(connection: RealtimeConnection): Promise<void> {
    if (!this.connections.delete(connection.socketId)) return;
    connection.isClosed = true;
    decrement(this.socketsPerIp, connection.ip);
    if (connection.workspaceId !== undefined) decrement(this.socketsPerWorkspace, connection.workspaceId);
    this.options.metrics.connections.set(this.connections.size);
    // A subscribe still awaiting the cluster state finishes first, so its count is undone, not leaked.
    await connection.queue;
    // Once shutdown has begun, the shared state is left in one step when the node stops (stop(): the store drops
    // this node's whole share and names the presence members that are gone), not with a Redis round trip per
    // socket and channel while the returning clients' wave needs Redis elsewhere.
    const isLeavingNode = this.isShuttingDown;
    const pending: Promise<void>[] = [...connection.channels].map((channel) => this.leaveChannel(connection, channel, isLeavingNode));
    if (connection.userId !== undefined) {
      const set = this.users.get(connection.userId);
      set?.delete(connection);
      if (set?.size === 0) this.users.delete(connection.userId);
      this.detachLocal(connection, serverToUserChannel(connection.userId));
      if (connection.isSlotCounted && !isLeavingNode) {
        pending.push(this.releaseSlot(connection.workspaceId === undefined ? { userId: connection.userId } : { userId: connection.userId, workspaceId: connection.workspaceId }));
      }
    }
    await Promise.all(pending);
  }

  /** Gives a W-21 slot back; if the shared state is unreachable, a dead-node reap or the node's exit frees it. */
  private async releaseSlot(slot: ConnectionSlot): Promise<void> {
    try {
      await this.options.state.releaseConnection(slot);
    } catch (err) {
      this.options.log.error({ err }, 'channel state unavailable on connection release');
    }
  }

  // ───────────── delivery ─────────────

  /** Publishes a channel event to every subscriber on every node (HTTP API, domain events). */
  async publish(event: {
    channels: readonly string[];
    event: string;
    data: string;
    excludeSocketId?: string;
    excludeUserIds?: readonly string[];
  }): Promise<void> {
    await this.publishFrames(
      event.channels.map((channel) => [channel, channelEventFrame(channel, event.event, event.data)]),
      event.excludeSocketId,
      event.excludeUserIds,
    );
  }

  /**
   * Whether a broadcast on these channels can reach anyone: always with other nodes on the bus (their
   * subscribers are not known here); on a lone node only when a local socket subscribes. The fan-out asks
   * first, so an event for an empty channel (every message's workspace channel while no agent is online)
   * is not even encoded.
   */
  hasAudience(channels: readonly string[]): boolean {
    if (this.hasOtherNodes()) return true;
    for (const channel of channels) if ((this.channels.get(channel)?.size ?? 0) > 0) return true;
    return false;
  }

  /** Other nodes listen on the bus, unless it can count its subscribers and only this node is among them. */
  private hasOtherNodes(): boolean {
    const subscribers = this.options.pubsub.subscriberCount?.(CLUSTER_TOPIC);
    return subscribers === undefined || subscribers > (this.unsubscribeCluster ? 1 : 0);
  }

  private async publishFrames(frames: [string, string][], excludeSocketId?: string, excludeUserIds?: readonly string[]): Promise<void> {
    this.deliverLocal(frames, excludeSocketId, excludeUserIds);
    // A lone node on an in-process bus would only encode the message to drop it again on receipt.
    if (!this.hasOtherNodes()) return;
    const message: ClusterMessage = {
      t: 'f',
      n: this.nodeId,
      f: frames,
      ...(excludeSocketId ? { x: excludeSocketId } : {}),
      ...(excludeUserIds?.length ? { xu: excludeUserIds } : {}),
    };
    try {
      await this.options.pubsub.publish(CLUSTER_TOPIC, JSON.stringify(message));
    } catch (err) {
      // At-most-once between nodes (pusher-protocol.md §3.1): clients catch up by seq over HTTP.
      this.options.log.warn({ err }, 'realtime cluster publish failed');
    }
  }

  private deliverLocal(frames: readonly [string, string][], excludeSocketId: string | undefined, excludeUserIds?: readonly string[]): void {
    let deliveries = 0;
    // Rare (blocks); a Set only when present keeps the common path to one comparison per socket.
    const excludedUsers = excludeUserIds?.length ? new Set(excludeUserIds) : null;
    for (const [channel, text] of frames) {
      const subscribers = this.channels.get(channel);
      if (!subscribers || subscribers.size === 0) continue;
      const frame = encodeTextFrame(text);
      for (const connection of subscribers) {
        if (connection.socketId === excludeSocketId || connection.isClosed) continue;
        if (excludedUsers && connection.userId !== undefined && excludedUsers.has(connection.userId)) continue;
        connection.writeFrame(frame);
        deliveries += 1;
        if (connection.bufferedBytes > REALTIME_LIMITS.maxBufferedBytes) this.dropSlowConsumer(connection);
      }
    }
    if (deliveries > 0) this.options.metrics.deliveries.inc(deliveries);
  }

  /** A socket that does not read its data is cut rather than buffered without bound (W-18). */
  private dropSlowConsumer(connection: RealtimeConnection): void {
    this.options.log.warn({ socketId: connection.socketId, bufferedBytes: connection.bufferedBytes }, 'dropping slow realtime consumer');
    connection.terminate();
  }

  private scheduleUncork(connection: RealtimeConnection): void {
    this.corked.push(connection);
    if (this.isFlushScheduled) return;
    this.isFlushScheduled = true;
    // Frames queued for one socket until the event loop next polls I/O leave together in one writev: a burst
    // of broadcasts (a batch, several Redis messages in one read, a busy publisher) costs one syscall per socket.
    setImmediate(() => {
      this.isFlushScheduled = false;
      const corked = this.corked;
      this.corked = [];
      for (const c of corked) c.uncork();
    });
  }

  private onClusterMessage(payload: string): void {
    let message: ClusterMessage;
    try {
      message = JSON.parse(payload) as ClusterMessage;
    } catch {
      return;
    }
    if (message.n === this.nodeId) return; // delivered locally already
    if (message.t === 'f') this.deliverLocal(message.f, message.x, message.xu);
    else if (message.t === 'term') this.terminateLocalUser(message.u);
  }

  /** Closes every socket signed in as this user, on every node (terminate_connections, revocation: W-08). */
  async terminateUser(userId: string): Promise<void> {
    this.terminateLocalUser(userId);
    const message: ClusterMessage = { t: 'term', n: this.nodeId, u: userId };
    try {
      await this.options.pubsub.publish(CLUSTER_TOPIC, JSON.stringify(message));
    } catch (err) {
      // Other nodes miss it while Redis is down; the revoked session still cannot re-authorize.
      this.options.log.warn({ err }, 'realtime cluster terminate failed');
    }
  }

  private terminateLocalUser(userId: string): void {
    const sockets = this.users.get(userId);
    if (!sockets) return;
    for (const connection of [...sockets]) {
      connection.sendText(errorFrame(CloseCode.Unauthorized, 'Connection terminated by the server'));
      connection.close(CloseCode.Unauthorized, 'Connection terminated');
    }
  }

  // ───────────── messages ─────────────

  private async handleText(connection: RealtimeConnection, text: string): Promise<void> {
    if (connection.isClosed) return;
    const parsed = parseClientFrame(text);
    if (!parsed.ok) {
      if (parsed.reason === 'unknown_event') {
        // Not a client- event name (W-11): rejected, never broadcast.
        connection.sendText(errorFrame(CloseCode.ClientEventRejected, 'Client event rejected: event names must start with client-'));
      } else {
        connection.sendText(errorFrame(CloseCode.Reconnect, 'Invalid message format'));
      }
      return;
    }
    const frame = parsed.frame;
    switch (frame.event) {
      case PusherEvent.Ping:
        connection.sendText(pongFrame());
        return;
      case PusherEvent.Pong:
        return;
      case PusherEvent.Subscribe:
        await this.subscribe(connection, frame as SubscribeFrame);
        return;
      case PusherEvent.Unsubscribe:
        if (connection.channels.has(frame.data.channel)) await this.leaveChannel(connection, frame.data.channel);
        return;
      case PusherEvent.Signin:
        await this.signin(connection, frame as SigninFrame);
        return;
      default:
        this.clientEvent(connection, frame as ClientEventFrame);
    }
  }

  private async subscribe(connection: RealtimeConnection, frame: SubscribeFrame): Promise<void> {
    const { channel, auth, channel_data: channelData } = frame.data;
    if (!isValidChannelName(channel)) {
      // Reserved (#server-to-user-…), pusher:… or malformed names (W-09).
      connection.sendText(subscriptionErrorFrame(String(channel).slice(0, 200), 'InvalidChannel', 'Invalid channel name', CloseCode.Unauthorized));
      return;
    }
    const kind = channelKind(channel);
    const { app } = this.options;
    if (connection.channels.has(channel)) {
      // Re-subscribing is idempotent: the same answer again, never a second count (pusher-js resubscribes).
      connection.sendText(subscriptionSucceededFrame(channel, kind === 'presence' ? await this.presenceData(channel) : undefined));
      return;
    }
    if (connection.channels.size >= REALTIME_LIMITS.maxChannelsPerConnection) {
      connection.sendText(subscriptionErrorFrame(channel, 'LimitReached', 'Too many channels on this connection', CloseCode.OverQuota));
      return;
    }
    if (kind === 'private' || kind === 'encrypted') {
      if (!verifyChannelAuth(app, auth, connection.socketId, channel)) {
        connection.sendText(subscriptionErrorFrame(channel, 'AuthError', 'Invalid signature', 401));
        return;
      }
    }
    let member: { userId: string; userInfo: unknown } | undefined;
    if (kind === 'presence') {
      if (channelData === undefined || !verifyChannelAuth(app, auth, connection.socketId, channel, channelData)) {
        connection.sendText(subscriptionErrorFrame(channel, 'AuthError', 'Invalid signature', 401));
        return;
      }
      const parsedMember = parsePresenceMember(channelData);
      if ('error' in parsedMember) {
        connection.sendText(subscriptionErrorFrame(channel, parsedMember.type, parsedMember.error, parsedMember.status));
        return;
      }
      member = parsedMember;
      const members = await this.options.state.members(channel);
      if (members.size >= REALTIME_LIMITS.maxPresenceMembers && !members.has(member.userId)) {
        connection.sendText(subscriptionErrorFrame(channel, 'LimitReached', 'Presence channel is full', CloseCode.OverQuota));
        return;
      }
    }
    if (connection.isClosed) return;

    this.attachLocal(connection, channel);
    connection.channels.add(channel);
    if (member) (connection.presence ??= new Map()).set(channel, member);
    let isFirstForUser = false;
    try {
      ({ isFirstForUser } = await this.options.state.addSubscription(channel, member));
    } catch (err) {
      this.options.log.error({ err }, 'channel state unavailable on subscribe');
      this.detachLocal(connection, channel);
      connection.channels.delete(channel);
      connection.presence?.delete(channel);
      connection.sendText(subscriptionErrorFrame(channel, 'ServerError', 'Try again later', 500));
      return;
    }
    if (member) {
      if (isFirstForUser) {
        // Once per user id across tabs and nodes (W-07); never to the joining socket itself.
        await this.publishFrames([[channel, memberAddedFrame(channel, member.userId, member.userInfo)]], connection.socketId);
      }
      const presence = await this.presenceData(channel);
      if (!(member.userId in presence.hash)) {
        presence.ids.push(member.userId);
        presence.hash[member.userId] = member.userInfo ?? null;
        presence.count = presence.ids.length;
      }
      connection.sendText(subscriptionSucceededFrame(channel, presence));
    } else {
      connection.sendText(subscriptionSucceededFrame(channel));
    }
  }

  private async presenceData(channel: string): Promise<{ ids: string[]; hash: Record<string, unknown>; count: number }> {
    const members = await this.options.state.members(channel);
    const hash: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const [id, info] of members) hash[id] = info ?? null;
    return { ids: [...members.keys()], hash, count: members.size };
  }

  private async leaveChannel(connection: RealtimeConnection, channel: string, isLocalOnly = false): Promise<void> {
    this.detachLocal(connection, channel);
    connection.channels.delete(channel);
    const userId = connection.presenceUserOf(channel);
    connection.presence?.delete(channel);
    if (isLocalOnly) return;
    try {
      const { isLastForUser } = await this.options.state.removeSubscription(channel, userId);
      if (userId !== undefined && isLastForUser) {
        // Only after the user's last socket anywhere has left (W-07).
        await this.publishFrames([[channel, memberRemovedFrame(channel, userId)]]);
      }
    } catch (err) {
      this.options.log.error({ err }, 'channel state unavailable on unsubscribe');
    }
  }

  private attachLocal(connection: RealtimeConnection, channel: string): void {
    let set = this.channels.get(channel);
    if (!set) {
      this.channels.set(channel, (set = new Set()));
      this.options.metrics.channels.set(this.channels.size);
    }
    set.add(connection);
  }

  private detachLocal(connection: RealtimeConnection, channel: string): void {
    const set = this.channels.get(channel);
    if (!set) return;
    set.delete(connection);
    if (set.size === 0) {
      this.channels.delete(channel);
      this.options.metrics.channels.set(this.channels.size);
    }
  }

  /** pusher:signin (§1.4): a failure is pusher:error 4009 and the socket is closed. */
  private async signin(connection: RealtimeConnection, frame: SigninFrame): Promise<void> {
    const { auth, user_data: userData } = frame.data;
    const fail = (message: string) => {
      connection.sendText(errorFrame(CloseCode.Unauthorized, message));
      connection.close(CloseCode.Unauthorized, message);
    };
    if (!verifyUserAuth(this.options.app, auth, connection.socketId, userData)) return fail('Invalid signature');
    let user: { id?: unknown; watchlist?: unknown; workspace_id?: unknown };
    try {
      user = JSON.parse(userData) as { id?: unknown; watchlist?: unknown; workspace_id?: unknown };
    } catch {
      return fail('user_data is not JSON');
    }
    if (user === null || typeof user !== 'object' || !isValidUserId(user.id)) return fail('user_data must carry a valid string id');
    if (connection.userId !== undefined) {
      if (connection.userId !== user.id) return fail('The connection is already signed in as another user');
      connection.sendText(signinSuccessFrame(userData));
      return;
    }
    const overQuota = (message: string) => {
      // W-21: the N+1th socket is refused; the user's (or workspace's) existing sockets are untouched.
      connection.sendText(errorFrame(CloseCode.OverQuota, message));
      connection.close(CloseCode.OverQuota, 'Over connection quota');
    };
    // The server signed user_data (broadcasting-auth.route.ts puts the session's workspace there), so the id is
    // trusted. Sockets that never sign in do not count (W-20: they are closed unless authorized anyway).
    const workspaceId = typeof user.workspace_id === 'string' && user.workspace_id.length > 0 ? user.workspace_id.slice(0, 128) : undefined;
    const slot = workspaceId === undefined ? { userId: user.id } : { userId: user.id, workspaceId };
    const { quotas } = this.options;
    let verdict: 'ok' | 'user' | 'workspace';
    let isSlotCounted = true;
    try {
      // One round trip with Redis: the count is the cluster's, checked and taken atomically.
      verdict = await this.options.state.acquireConnection(slot, quotas);
    } catch (err) {
      // Shared state unreachable: this node's own counts still bound what one client can take here.
      this.options.log.warn({ err }, 'channel state unavailable at sign-in; connection quotas checked on this node only');
      isSlotCounted = false;
      verdict =
        (this.users.get(user.id)?.size ?? 0) >= quotas.perUser ? 'user'
        : workspaceId !== undefined && (this.socketsPerWorkspace.get(workspaceId) ?? 0) >= quotas.perWorkspace ? 'workspace'
        : 'ok';
    }
    if (verdict === 'user') return overQuota('Too many connections for this user');
    if (verdict === 'workspace') return overQuota('Too many connections for this workspace');
    if (connection.isClosed) {
      // Closed while the count was taken: nothing will release a slot the connection never recorded.
      if (isSlotCounted) await this.releaseSlot(slot);
      return;
    }
    const sockets = this.users.get(user.id);
    if (Array.isArray(user.watchlist) && user.watchlist.length > REALTIME_LIMITS.maxWatchlist) {
      connection.sendText(errorFrame(CloseCode.WatchlistLimit, `Watchlist limited to ${REALTIME_LIMITS.maxWatchlist} ids`));
    }
    connection.userId = user.id;
    connection.isSlotCounted = isSlotCounted;
    if (workspaceId !== undefined) {
      connection.workspaceId = workspaceId;
      this.socketsPerWorkspace.set(workspaceId, (this.socketsPerWorkspace.get(workspaceId) ?? 0) + 1);
    }
    if (sockets) sockets.add(connection);
    else this.users.set(user.id, new Set([connection]));
    this.attachLocal(connection, serverToUserChannel(user.id));
    connection.sendText(signinSuccessFrame(userData));
  }

  /** Client events (§1.6, W-10..W-15): strictest reading of the spec. */
  private clientEvent(connection: RealtimeConnection, frame: ClientEventFrame): void {
    const reject = (message: string) => connection.sendText(errorFrame(CloseCode.ClientEventRejected, message));
    const { channel } = frame;
    if (!connection.channels.has(channel)) return reject('Client event rejected: not subscribed to this channel');
    const kind = channelKind(channel);
    if (kind !== 'private' && kind !== 'presence') return reject('Client event rejected: only private and presence channels accept client events');
    if (!areClientEventsEnabled(channel)) return reject('Client event rejected: client events are disabled on this channel');

    const now = Date.now();
    if (now - connection.clientEventWindowStartMs >= 1000) {
      connection.abusiveWindows = connection.rejectedInWindow > 0 ? connection.abusiveWindows + 1 : 0;
      connection.clientEventWindowStartMs = now;
      connection.clientEventsInWindow = 0;
      connection.rejectedInWindow = 0;
    }
    if (connection.clientEventsInWindow >= REALTIME_LIMITS.clientEventsPerSecond) {
      connection.rejectedInWindow += 1;
      if (connection.abusiveWindows >= REALTIME_LIMITS.abusiveSecondsBeforeClose) {
        connection.sendText(errorFrame(CloseCode.ClientEventRejected, 'Client event rate limit exceeded persistently'));
        connection.close(CloseCode.ClientEventRejected, 'Client event rate limit');
        return;
      }
      return reject('Client event rejected due to rate limit');
    }
    connection.clientEventsInWindow += 1;
    const dataBytes = frame.data === undefined ? 0 : Buffer.byteLength(JSON.stringify(frame.data));
    if (dataBytes > REALTIME_LIMITS.maxClientEventDataBytes) return reject('Client event rejected: payload too large');
    // On presence the server states who sent it; a client-supplied user_id is never trusted (W-14).
    const userId = kind === 'presence' ? connection.presenceUserOf(channel) : undefined;
    void this.publishFrames([[channel, channelEventFrame(channel, frame.event, frame.data, userId)]], connection.socketId);
  }

  // ───────────── upkeep ─────────────

  private sweep(): void {
    const now = Date.now();
    for (const connection of this.connections.values()) {
      if (connection.isClosed) continue;
      if (!connection.isAuthorized && now - connection.connectedAtMs > this.authorizationTimeoutMs) {
        // "Authorized connections" (W-20): neither signed in nor on a private/presence channel in time.
        connection.sendText(errorFrame(CloseCode.Unauthorized, 'Connection not authorized within timeout'));
        connection.close(CloseCode.Unauthorized, 'Not authorized within timeout');
        continue;
      }
      if (connection.pingSentAtMs > 0) {
        if (now - connection.pingSentAtMs > this.pongTimeoutMs) {
          connection.sendText(errorFrame(CloseCode.PongNotReceived, 'Pong reply not received in time'));
          connection.close(CloseCode.PongNotReceived, 'Pong reply not received in time');
        }
      } else if (now - connection.lastActivityMs > this.activityTimeoutMs) {
        connection.pingSentAtMs = now;
        connection.sendText(pingFrame());
      }
    }
  }

  // ───────────── channel information (HTTP API) ─────────────

  channelCounts(channel: string): Promise<ChannelCounts> {
    return this.options.state.channelCounts(channel);
  }

  listChannels(prefix?: string): Promise<Map<string, ChannelCounts>> {
    return this.options.state.listChannels(prefix);
  }

  members(channel: string): Promise<Map<string, unknown>> {
    return this.options.state.members(channel);
  }

  /**
   * Graceful shutdown (W-23): no new sockets, every client told 4200 "reconnect now" (never 4000-4099, which
   * pusher-js treats as final — sockudo PR #144), then the sockets are cut after a short grace.
   */
  /** False from the start of shutdown: the upgrade path then refuses new sockets before they are made. */
  get acceptingConnections(): boolean {
    return !this.isShuttingDown;
  }

  async shutdown(): Promise<void> {
    if (this.isShuttingDown) return;
    this.isShuttingDown = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const open = [...this.connections.values()];
    for (const connection of open) connection.close(CloseCode.Reconnect, 'Server shutting down');
    if (open.length > 0) {
      const deadline = Date.now() + REALTIME_LIMITS.shutdownGraceMs;
      while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      for (const connection of this.connections.values()) connection.terminate();
    }
    await Promise.all([...this.connections.values()].map((c) => this.removeConnection(c)));
  }

  async stop(): Promise<void> {
    await this.unsubscribeCluster?.();
    await this.options.state.close();
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const n = (counts.get(key) ?? 0) - 1;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}

function normalizeOrigin(origin: string): string {
  return origin.trim().toLowerCase().replace(/\/+$/, '');
}

type PresenceMemberResult =
  | { userId: string; userInfo: unknown }
  | { error: string; type: 'AuthError' | 'LimitReached'; status: number };

/** channel_data of a presence subscription (§1.3, W-06): the bytes were signed; now their content is checked. */
function parsePresenceMember(channelData: string): PresenceMemberResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(channelData);
  } catch {
    return { error: 'channel_data is not JSON', type: 'AuthError', status: 401 };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return { error: 'channel_data must be an object', type: 'AuthError', status: 401 };
  }
  const { user_id: rawId, user_info: userInfo } = parsed as { user_id?: unknown; user_info?: unknown };
  const userId = typeof rawId === 'number' && Number.isFinite(rawId) ? String(rawId) : rawId;
  if (typeof userId !== 'string' || userId.length === 0) return { error: 'channel_data must carry user_id', type: 'AuthError', status: 401 };
  if (userId.length > MAX_USER_ID_LENGTH) return { error: `user_id is limited to ${MAX_USER_ID_LENGTH} characters`, type: 'LimitReached', status: CloseCode.Unauthorized };
  if (userInfo !== undefined && Buffer.byteLength(JSON.stringify(userInfo)) > REALTIME_LIMITS.maxUserInfoBytes) {
    return { error: `user_info is limited to ${REALTIME_LIMITS.maxUserInfoBytes} bytes`, type: 'LimitReached', status: CloseCode.Unauthorized };
  }
  return { userId, userInfo };
}
