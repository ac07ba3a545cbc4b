import { randomInt } from 'node:crypto';
import type { ChannelCounts, ChannelStateStore, ConnectionLimits, ConnectionSlot, PresenceMemberRecord } from '@reusable-chat/core/ports';

interface ChannelEntry {
  subscriptions: number;
  /** user id → connection count and latest user_info. */
  members: Map<string, { connections: number; userInfo: unknown }>;
}

/** Single-node channel state for the embedded mode: the process is the whole cluster. */
export class MemoryChannelState implements ChannelStateStore {
  readonly nodeId = String(randomInt(1_000_000_000, 281_474_976_710_655));
  private readonly channels = new Map<string, ChannelEntry>();
  /** Signed-in connections per user and per workspace (W-21); this process is the whole cluster. */
  private readonly perUser = new Map<string, number>();
  private readonly perWorkspace = new Map<string, number>();

  async addSubscription(channel: string, member?: PresenceMemberRecord): Promise<{ isFirstForUser: boolean }> {
    let entry = this.channels.get(channel);
    if (!entry) this.channels.set(channel, (entry = { subscriptions: 0, members: new Map() }));
    entry.subscriptions += 1;
    if (!member) return { isFirstForUser: false };
    const existing = entry.members.get(member.userId);
    if (existing) {
      existing.connections += 1;
      existing.userInfo = member.userInfo;
      return { isFirstForUser: false };
    }
    entry.members.set(member.userId, { connections: 1, userInfo: member.userInfo });
    return { isFirstForUser: true };
  }

  async removeSubscription(channel: string, userId?: string): Promise<{ isLastForUser: boolean }> {
    const entry = this.channels.get(channel);
    if (!entry) return { isLastForUser: false };
    entry.subscriptions -= 1;
    let isLastForUser = false;
    if (userId !== undefined) {
      const member = entry.members.get(userId);
      if (member) {
        member.connections -= 1;
        if (member.connections <= 0) {
          entry.members.delete(userId);
          isLastForUser = true;
        }
      }
    }
    if (entry.subscriptions <= 0) this.channels.delete(channel);
    return { isLastForUser };
  }

  async members(channel: string): Promise<Map<string, unknown>> {
    const entry = this.channels.get(channel);
    return new Map([...(entry?.members ?? [])].map(([id, m]) => [id, m.userInfo ?? null]));
  }

  async channelCounts(channel: string): Promise<ChannelCounts> {
    const entry = this.channels.get(channel);
    return { subscriptionCount: entry?.subscriptions ?? 0, userCount: entry?.members.size ?? 0 };
  }

  async listChannels(prefix = ''): Promise<Map<string, ChannelCounts>> {
    const out = new Map<string, ChannelCounts>();
    for (const [name, entry] of this.channels) {
      if (name.startsWith(prefix)) out.set(name, { subscriptionCount: entry.subscriptions, userCount: entry.members.size });
    }
    return out;
  }

  async acquireConnection(slot: ConnectionSlot, limits: ConnectionLimits): Promise<'ok' | 'user' | 'workspace'> {
    const users = this.perUser.get(slot.userId) ?? 0;
    if (users >= limits.perUser) return 'user';
    if (slot.workspaceId !== undefined) {
      const workspaces = this.perWorkspace.get(slot.workspaceId) ?? 0;
      if (workspaces >= limits.perWorkspace) return 'workspace';
      this.perWorkspace.set(slot.workspaceId, workspaces + 1);
    }
    this.perUser.set(slot.userId, users + 1);
    return 'ok';
  }

  async releaseConnection(slot: ConnectionSlot): Promise<void> {
    decrement(this.perUser, slot.userId);
    if (slot.workspaceId !== undefined) decrement(this.perWorkspace, slot.workspaceId);
  }

  async start(): Promise<void> {
    // Nothing to reap: no other node can die while this one lives.
  }

  async close(): Promise<void> {
    this.channels.clear();
    this.perUser.clear();
    this.perWorkspace.clear();
  }
}

function decrement(counts: Map<string, number>, key: string): void {
  const n = (counts.get(key) ?? 0) - 1;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}
