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
  /** Starts background upkeep (heartbeat; reaping the entries of nodes that died). */
  start(hooks: ChannelStateHooks): Promise<void>;
  close(): Promise<void>;
}
