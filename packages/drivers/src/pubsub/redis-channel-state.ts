import { randomInt } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { ChannelCounts, ChannelStateHooks, ChannelStateStore, ConnectionLimits, ConnectionSlot, PresenceMemberRecord } from '@reusable-chat/core/ports';

export interface RedisChannelStateOptions {
  readonly redis: Redis;
  /** Deployment key prefix (REDIS_PREFIX). */
  readonly prefix: string;
  readonly onError?: (error: Error) => void;
  /** How often this node proves it is alive. */
  readonly heartbeatMs?: number;
  /** A node silent for this long is dead; its subscriptions and presence entries are removed. */
  readonly nodeTimeoutMs?: number;
}

/*
 * Layout (P = prefix + "rt:"):
 *   P subs                HASH channel → subscriptions across the cluster
 *   P pc:{channel}        HASH user id → that user's connections in the channel, across the cluster
 *   P pm:{channel}        HASH user id → user_info JSON
 *   P n:{node}:subs       HASH channel → this node's share of `subs`          (journal, for reaping)
 *   P n:{node}:pres       HASH "channel\nuser" → this node's share of `pc`    (journal, for reaping)
 *   P cu                  HASH user id → signed-in connections across the cluster        (W-21 quota)
 *   P cw                  HASH workspace id → signed-in connections across the cluster   (W-21 quota)
 *   P n:{node}:conn       HASH "u\n" user / "w\n" workspace → this node's share of `cu`/`cw` (journal)
 *   P nodes               ZSET node id → last heartbeat (ms)
 * Each change is one Lua script, so counts never drift between the global hash and the node's journal. The
 * connection quotas reuse the presence mechanism: a node that dies (SIGKILL, partition) leaves its journal, and
 * the live node that reaps it subtracts its share, so no count outlives its node by more than the node timeout
 * plus one heartbeat.
 */
const ADD_SCRIPT = `
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
if ARGV[2] == '' then return 0 end
local n = redis.call('HINCRBY', KEYS[4], ARGV[2], 1)
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
redis.call('HINCRBY', KEYS[5], ARGV[4], 1)
return n
`;

const REMOVE_SCRIPT = `
local function decr(key, field)
  local v = redis.call('HINCRBY', key, field, -1)
  if v <= 0 then redis.call('HDEL', key, field) end
  return v
end
decr(KEYS[1], ARGV[1])
decr(KEYS[2], ARGV[1])
if ARGV[2] == '' then return 0 end
decr(KEYS[5], ARGV[4])
local n = redis.call('HINCRBY', KEYS[4], ARGV[2], -1)
if n <= 0 then
  redis.call('HDEL', KEYS[4], ARGV[2])
  redis.call('HDEL', KEYS[3], ARGV[2])
  return 1
end
return 0
`;

/**
 * W-21: counts one signed-in connection unless the user or the workspace is at its limit (a limit of -1: none,
 * for rewriting this node's own connections after Redis lost them). 0 = counted, 1 = user full, 2 = workspace full.
 */
const ACQUIRE_SCRIPT = `
local userLimit = tonumber(ARGV[3])
local workspaceLimit = tonumber(ARGV[4])
if userLimit >= 0 and tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') >= userLimit then return 1 end
if ARGV[2] ~= '' then
  if workspaceLimit >= 0 and tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or '0') >= workspaceLimit then return 2 end
  redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
  redis.call('HINCRBY', KEYS[3], 'w\\n' .. ARGV[2], 1)
end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('HINCRBY', KEYS[3], 'u\\n' .. ARGV[1], 1)
return 0
`;

/**
 * Gives a slot back. Only what this node's journal still holds is subtracted: if the node was reaped meanwhile
 * (taken for dead during a long pause), its share is already gone and must not be taken from the other nodes'.
 */
const RELEASE_SCRIPT = `
local function release(global, field, entry)
  local mine = redis.call('HINCRBY', KEYS[3], entry, -1)
  if mine <= 0 then redis.call('HDEL', KEYS[3], entry) end
  if mine < 0 then return end
  local v = redis.call('HINCRBY', global, field, -1)
  if v <= 0 then redis.call('HDEL', global, field) end
end
release(KEYS[1], ARGV[1], 'u\\n' .. ARGV[1])
if ARGV[2] ~= '' then release(KEYS[2], ARGV[2], 'w\\n' .. ARGV[2]) end
return 0
`;

/** Removes a dead node's share of every count; returns "channel\\nuser" for members that are now gone. */
const REAP_SCRIPT = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not score or tonumber(score) > tonumber(ARGV[3]) then return {} end
redis.call('ZREM', KEYS[1], ARGV[2])
local p = ARGV[1]
local subsKey = p .. 'n:' .. ARGV[2] .. ':subs'
local subs = redis.call('HGETALL', subsKey)
for i = 1, #subs, 2 do
  local v = redis.call('HINCRBY', p .. 'subs', subs[i], -tonumber(subs[i + 1]))
  if v <= 0 then redis.call('HDEL', p .. 'subs', subs[i]) end
end
redis.call('DEL', subsKey)
local presKey = p .. 'n:' .. ARGV[2] .. ':pres'
local pres = redis.call('HGETALL', presKey)
local gone = {}
for i = 1, #pres, 2 do
  local sep = string.find(pres[i], '\\n', 1, true)
  local channel = string.sub(pres[i], 1, sep - 1)
  local user = string.sub(pres[i], sep + 1)
  local v = redis.call('HINCRBY', p .. 'pc:' .. channel, user, -tonumber(pres[i + 1]))
  if v <= 0 then
    redis.call('HDEL', p .. 'pc:' .. channel, user)
    redis.call('HDEL', p .. 'pm:' .. channel, user)
    table.insert(gone, pres[i])
  end
end
redis.call('DEL', presKey)
local connKey = p .. 'n:' .. ARGV[2] .. ':conn'
local conn = redis.call('HGETALL', connKey)
for i = 1, #conn, 2 do
  local global = p .. (string.sub(conn[i], 1, 1) == 'u' and 'cu' or 'cw')
  local field = string.sub(conn[i], 3)
  local v = redis.call('HINCRBY', global, field, -tonumber(conn[i + 1]))
  if v <= 0 then redis.call('HDEL', global, field) end
end
redis.call('DEL', connKey)
return gone
`;

type RedisWithScripts = Redis & {
  rcRtAdd(...args: string[]): Promise<number>;
  rcRtRemove(...args: string[]): Promise<number>;
  rcRtReap(...args: string[]): Promise<string[]>;
  rcRtAcquire(...args: string[]): Promise<number>;
  rcRtRelease(...args: string[]): Promise<number>;
};

/**
 * Channel counts and presence shared by every realtime node through Redis (SPEC §1; W-07 across nodes).
 * Nodes heartbeat into a sorted set; a node that stops (crash, partition) is reaped by any live node, which
 * removes its share of every count and announces member_removed for users whose last socket was there.
 */
export class RedisChannelState implements ChannelStateStore {
  readonly nodeId = String(randomInt(1_000_000_000, 281_474_976_710_655));
  private readonly redis: RedisWithScripts;
  private readonly p: string;
  private readonly heartbeatMs: number;
  private readonly nodeTimeoutMs: number;
  private timer: NodeJS.Timeout | undefined;
  private hooks: ChannelStateHooks | undefined;
  private isClosed = false;

  constructor(private readonly options: RedisChannelStateOptions) {
    this.redis = options.redis as RedisWithScripts;
    this.p = `${options.prefix}rt:`;
    this.heartbeatMs = options.heartbeatMs ?? 5_000;
    this.nodeTimeoutMs = options.nodeTimeoutMs ?? 30_000;
    if (typeof this.redis.rcRtAcquire !== 'function') {
      this.redis.defineCommand('rcRtAdd', { numberOfKeys: 5, lua: ADD_SCRIPT });
      this.redis.defineCommand('rcRtRemove', { numberOfKeys: 5, lua: REMOVE_SCRIPT });
      this.redis.defineCommand('rcRtReap', { numberOfKeys: 1, lua: REAP_SCRIPT });
      this.redis.defineCommand('rcRtAcquire', { numberOfKeys: 3, lua: ACQUIRE_SCRIPT });
      this.redis.defineCommand('rcRtRelease', { numberOfKeys: 3, lua: RELEASE_SCRIPT });
    }
  }

  private keys(channel: string): string[] {
    return [
      `${this.p}subs`,
      `${this.p}n:${this.nodeId}:subs`,
      `${this.p}pm:${channel}`,
      `${this.p}pc:${channel}`,
      `${this.p}n:${this.nodeId}:pres`,
    ];
  }

  async addSubscription(channel: string, member?: PresenceMemberRecord): Promise<{ isFirstForUser: boolean }> {
    const n = await this.redis.rcRtAdd(
      ...this.keys(channel),
      channel,
      member?.userId ?? '',
      member ? JSON.stringify(member.userInfo ?? null) : '',
      member ? `${channel}\n${member.userId}` : '',
    );
    return { isFirstForUser: member !== undefined && Number(n) === 1 };
  }

  async removeSubscription(channel: string, userId?: string): Promise<{ isLastForUser: boolean }> {
    const last = await this.redis.rcRtRemove(...this.keys(channel), channel, userId ?? '', '', userId !== undefined ? `${channel}\n${userId}` : '');
    return { isLastForUser: userId !== undefined && Number(last) === 1 };
  }

  private connectionKeys(): string[] {
    return [`${this.p}cu`, `${this.p}cw`, `${this.p}n:${this.nodeId}:conn`];
  }

  async acquireConnection(slot: ConnectionSlot, limits: ConnectionLimits): Promise<'ok' | 'user' | 'workspace'> {
    const verdict = Number(
      await this.redis.rcRtAcquire(...this.connectionKeys(), slot.userId, slot.workspaceId ?? '', String(limits.perUser), String(limits.perWorkspace)),
    );
    return verdict === 1 ? 'user' : verdict === 2 ? 'workspace' : 'ok';
  }

  async releaseConnection(slot: ConnectionSlot): Promise<void> {
    await this.redis.rcRtRelease(...this.connectionKeys(), slot.userId, slot.workspaceId ?? '');
  }

  async members(channel: string): Promise<Map<string, unknown>> {
    const raw = await this.redis.hgetall(`${this.p}pm:${channel}`);
    const out = new Map<string, unknown>();
    for (const [id, info] of Object.entries(raw)) out.set(id, parseJson(info));
    return out;
  }

  async channelCounts(channel: string): Promise<ChannelCounts> {
    const [subs, users] = await Promise.all([this.redis.hget(`${this.p}subs`, channel), this.redis.hlen(`${this.p}pc:${channel}`)]);
    return { subscriptionCount: Math.max(0, Number(subs ?? 0)), userCount: users };
  }

  async listChannels(prefix = ''): Promise<Map<string, ChannelCounts>> {
    const all = await this.redis.hgetall(`${this.p}subs`);
    const names = Object.keys(all).filter((name) => name.startsWith(prefix) && Number(all[name]) > 0);
    const presence = names.filter((name) => name.startsWith('presence-'));
    const pipeline = this.redis.pipeline();
    for (const name of presence) pipeline.hlen(`${this.p}pc:${name}`);
    const results = presence.length > 0 ? ((await pipeline.exec()) ?? []) : [];
    const userCounts = new Map(presence.map((name, i) => [name, Number(results[i]?.[1] ?? 0)]));
    return new Map(names.map((name) => [name, { subscriptionCount: Number(all[name]), userCount: userCounts.get(name) ?? 0 }]));
  }

  async start(hooks: ChannelStateHooks): Promise<void> {
    this.hooks = hooks;
    await this.redis.zadd(`${this.p}nodes`, Date.now(), this.nodeId);
    this.timer = setInterval(() => {
      void this.heartbeat().catch((err: unknown) => this.options.onError?.(err instanceof Error ? err : new Error(String(err))));
    }, this.heartbeatMs);
    this.timer.unref();
  }

  /** Proves this node alive, restores its entries if the shared state lost them, and reaps dead nodes. */
  async heartbeat(): Promise<void> {
    if (this.isClosed) return;
    const nodesKey = `${this.p}nodes`;
    const known = await this.redis.zscore(nodesKey, this.nodeId);
    await this.redis.zadd(nodesKey, Date.now(), this.nodeId);
    if (known === null && this.hooks) {
      // Redis restarted or this node was taken for dead (a long pause): write our subscriptions again.
      await this.redis.del(`${this.p}n:${this.nodeId}:subs`, `${this.p}n:${this.nodeId}:pres`, `${this.p}n:${this.nodeId}:conn`);
      for (const { channel, member } of this.hooks.localSubscriptions()) await this.addSubscription(channel, member);
      // Sockets already open stay (W-21: existing sockets are unaffected), so their slots are written unchecked.
      for (const slot of this.hooks.localConnections?.() ?? []) {
        await this.redis.rcRtAcquire(...this.connectionKeys(), slot.userId, slot.workspaceId ?? '', '-1', '-1');
      }
    }
    const stale = await this.redis.zrangebyscore(nodesKey, '-inf', Date.now() - this.nodeTimeoutMs);
    for (const node of stale) {
      if (node === this.nodeId) continue;
      const gone = await this.redis.rcRtReap(nodesKey, this.p, node, String(Date.now() - this.nodeTimeoutMs));
      if (gone.length > 0) {
        this.hooks?.onMembersGone(gone.map(splitMemberEntry));
      }
    }
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.timer) clearInterval(this.timer);
    const hooks = this.hooks;
    this.hooks = undefined;
    // Leave at once rather than waiting to be reaped: one script removes this node's whole share of every count
    // and slot (a stopping node does not give them back socket by socket) and names the presence members whose
    // last connection was here, for member_removed. A no-op for a process that never started (a worker).
    const gone = await this.redis.rcRtReap(`${this.p}nodes`, this.p, this.nodeId, String(Number.MAX_SAFE_INTEGER)).catch(() => [] as string[]);
    if (gone.length > 0) hooks?.onMembersGone(gone.map(splitMemberEntry));
  }
}

/** "channel\nuser" (the reap script's answer) → its parts. */
function splitMemberEntry(entry: string): { channel: string; userId: string } {
  const sep = entry.indexOf('\n');
  return { channel: entry.slice(0, sep), userId: entry.slice(sep + 1) };
}

function parseJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return null;
  }
}
