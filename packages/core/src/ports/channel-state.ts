/**
 * Cluster-wide realtime channel state (ARCHITECTURE.md anti-pattern: presence only in process memory is wrong
 * with two nodes). Each realtime node records its own subscriptions here; the HTTP API reads channel counts and
 * presence members from it, and presence decides `member_added` / `member_removed` by the cluster-wide count of
 * a user's connections (pusher-protocol.md §1.3: once per user id, after the last socket anywhere).
 */
export interface PresenceMemberRecord {
  readonly userId: string;
  /** The `user_info` the authorizer signed, if any. */
  readonly userInfo?: unknown;
}

export interface ChannelCounts {
  readonly subscriptionCount: number;
  /** Distinct presence users; 0 for other channels. */
  readonly userCount: number;
}

export interface ChannelStateHooks {
  /** Presence members whose last connection was on a dead node, so a live node can announce member_removed. */
  onMembersGone(gone: { channel: string; userId: string }[]): void;
  /** This node's subscriptions, to write them again when the shared state lost them (Redis restarted). */
  localSubscriptions(): Iterable<{ channel: string; member?: PresenceMemberRecord }>;
  /** This node's counted signed-in connections (W-21 quotas), written again with the subscriptions. */
  localConnections?(): Iterable<ConnectionSlot>;
}

/** A signed-in connection as the W-21 quotas count it: its user, and its workspace when the sign-in named one. */
export interface ConnectionSlot {
  readonly userId: string;
  readonly workspaceId?: string;
}

export interface ConnectionLimits {
  readonly perUser: number;
  readonly perWorkspace: number;
}

export interface ChannelStateStore {
  /** Identifies this node; nodes skip their own pub/sub echoes by it. */
  readonly nodeId: string;
  /** Counts one subscription on this node; for presence, one connection of `member.userId`. */
  addSubscription(channel: string, member?: PresenceMemberRecord): Promise<{ isFirstForUser: boolean }>;
  removeSubscription(channel: string, userId?: string): Promise<{ isLastForUser: boolean }>;
  /** Presence members across the cluster: user id → user_info. */
  members(channel: string): Promise<Map<string, unknown>>;
  channelCounts(channel: string): Promise<ChannelCounts>;
  /** Occupied channels across the cluster, optionally only those starting with `prefix`. */
  listChannels(prefix?: string): Promise<Map<string, ChannelCounts>>;
  /**
   * Counts one signed-in connection unless its user or workspace already holds its limit (checklist W-21):
   * across the cluster with Redis (one round trip; a dead node's share is reaped with its presence entries),
   * per process in memory. Returns which limit refused it, or 'ok'.
   */
  acquireConnection(slot: ConnectionSlot, limits: ConnectionLimits): Promise<'ok' | 'user' | 'workspace'>;
  /** Gives back a slot `acquireConnection` counted on this node. */
  releaseConnection(slot: ConnectionSlot): Promise<void>;
  /** Starts background upkeep (heartbeat; reaping the entries of nodes that died). */
  start(hooks: ChannelStateHooks): Promise<void>;
  close(): Promise<void>;
}
