import type { ChatClient } from '@reusable-chat/sdk';

/**
 * Who else is online in a conversation, from its `presence-conversation.{id}` channel (SPEC §5). The server
 * authorizes the channel at POST /api/widget/broadcasting/auth (participants only) and sends the member list on
 * subscription, then `member_added` / `member_removed` as people's last connection comes or goes.
 *
 * `known` is false until the member list arrived and again while the socket is down: the header then shows
 * nothing rather than a guess ("offline" would be wrong for a viewer whose own connection dropped).
 */
export interface PresenceSnapshot {
  known: boolean;
  /** Other members online (chat users and agents), never including this session's own user. */
  online: number;
}

const UNKNOWN: PresenceSnapshot = { known: false, online: 0 };
const PREFIX = 'presence-conversation.';

interface SubscriptionData {
  presence?: { ids?: unknown };
}

interface MemberData {
  user_id?: unknown;
}

/**
 * Presence channels joined at once: the conversations at the top of the list (and the open one). Each costs an
 * auth request and a subscription per (re)connection, so a user with many old threads does not join them all.
 */
export const PRESENCE_MAX_CONVERSATIONS = 10;

export class PresenceTracker {
  /** Member ids per followed conversation; absent until the channel's member list arrived. */
  private readonly members = new Map<string, Set<string>>();
  private followed = new Set<string>();
  private readonly listeners = new Set<() => void>();
  private readonly offs: (() => void)[] = [];

  constructor(private readonly client: ChatClient) {
    const rt = client.realtime;
    this.offs.push(
      rt.on('subscribed', (channel, data) => {
        const id = this.conversationOf(channel);
        if (!id) return;
        const ids = (data as SubscriptionData | null)?.presence?.ids;
        this.members.set(id, new Set(Array.isArray(ids) ? ids.filter((x): x is string => typeof x === 'string') : []));
        this.changed();
      }),
      rt.on('event', (channel, event, data) => {
        const id = this.conversationOf(channel);
        const set = id ? this.members.get(id) : undefined;
        const userId = (data as MemberData | null)?.user_id;
        if (!set || typeof userId !== 'string') return;
        if (event === 'pusher_internal:member_added') set.add(userId);
        else if (event === 'pusher_internal:member_removed') set.delete(userId);
        else return;
        this.changed();
      }),
      rt.on('subscription_error', (channel) => {
        // Refused (presence switched off for this configuration, or no longer a participant): stays unknown.
        const id = this.conversationOf(channel);
        if (id && this.members.delete(id)) this.changed();
      }),
      rt.on('state', (state) => {
        // A new connection re-subscribes and receives a fresh member list; until then nothing is known.
        if (state !== 'connected' && this.members.size > 0) {
          this.members.clear();
          this.changed();
        }
      }),
    );
  }

  /**
   * Follows exactly these conversations: joins the new ones' presence channels (which also makes this user
   * "online" there for the others) and leaves the rest.
   */
  follow(conversationIds: Iterable<string>): void {
    const next = new Set(conversationIds);
    let dropped = false;
    for (const id of this.followed) {
      if (next.has(id)) continue;
      this.client.realtime.unsubscribe(PREFIX + id);
      dropped = this.members.delete(id) || dropped;
    }
    for (const id of next) if (!this.followed.has(id)) this.client.realtime.subscribe(PREFIX + id);
    this.followed = next;
    if (dropped) this.changed();
  }

  snapshot(conversationId: string): PresenceSnapshot {
    const set = this.members.get(conversationId);
    if (!set) return UNKNOWN;
    const me = this.client.me?.id;
    let online = 0;
    for (const id of set) if (id !== me) online += 1;
    return { known: true, online };
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  stop(): void {
    this.follow([]);
    for (const off of this.offs) off();
    this.listeners.clear();
  }

  private conversationOf(channel: string): string | null {
    if (!channel.startsWith(PREFIX)) return null;
    const id = channel.slice(PREFIX.length);
    return this.followed.has(id) ? id : null;
  }

  private changed(): void {
    for (const fn of this.listeners) fn();
  }
}
