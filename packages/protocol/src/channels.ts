/**
 * Channel-name rules (pusher-protocol.md §1.8, checklist W-09): at most 164 characters from
 * `[A-Za-z0-9_\-=@,.;]`. Names starting with `#` are reserved for the server (`#server-to-user-…`) and
 * `pusher:`-like names can never match the character set, so neither can be subscribed to.
 */
export const MAX_CHANNEL_NAME_LENGTH = 164;
const CHANNEL_NAME_PATTERN = /^[A-Za-z0-9_\-=@,.;]+$/;

export const SERVER_TO_USER_PREFIX = '#server-to-user-';

export type ChannelKind = 'public' | 'private' | 'encrypted' | 'presence';

export function channelKind(name: string): ChannelKind {
  if (name.startsWith('private-encrypted-')) return 'encrypted';
  if (name.startsWith('private-')) return 'private';
  if (name.startsWith('presence-')) return 'presence';
  return 'public';
}

/** A name a client may subscribe to. */
export function isValidChannelName(name: unknown): name is string {
  return (
    typeof name === 'string' &&
    name.length > 0 &&
    name.length <= MAX_CHANNEL_NAME_LENGTH &&
    CHANNEL_NAME_PATTERN.test(name)
  );
}

/** A name the HTTP API may publish to: any subscribable name, or a server-to-user channel. */
export function isPublishableChannelName(name: unknown): name is string {
  if (typeof name !== 'string') return false;
  if (name.startsWith(SERVER_TO_USER_PREFIX)) return isValidUserId(name.slice(SERVER_TO_USER_PREFIX.length));
  return isValidChannelName(name);
}

/** Channels that need a signature to join: private, encrypted and presence. */
export function requiresAuthorization(name: string): boolean {
  return channelKind(name) !== 'public';
}

/** user_id limit from presence-channels.md:29; also applied to sign-in ids. */
export const MAX_USER_ID_LENGTH = 128;
const USER_ID_PATTERN = /^[A-Za-z0-9_\-=@,.;:]+$/;

export function isValidUserId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_USER_ID_LENGTH && USER_ID_PATTERN.test(id);
}

export function serverToUserChannel(userId: string): string {
  return `${SERVER_TO_USER_PREFIX}${userId}`;
}

/** Product channels of SPEC §5. Ids are UUIDs, so names stay far below the 164-character limit. */
export const ProductChannel = {
  conversation: (conversationId: string) => `private-conversation.${conversationId}`,
  conversationPresence: (conversationId: string) => `presence-conversation.${conversationId}`,
  user: (chatUserId: string) => `private-user.${chatUserId}`,
  workspace: (workspaceId: string) => `private-workspace.${workspaceId}`,
} as const;

const UUID = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}';
const PRODUCT_CHANNEL_PATTERN = new RegExp(`^(private-conversation|presence-conversation|private-user|private-workspace)\\.(${UUID})$`);

export type ProductChannelRef =
  | { kind: 'conversation'; id: string }
  | { kind: 'conversation-presence'; id: string }
  | { kind: 'user'; id: string }
  | { kind: 'workspace'; id: string };

/** Parses a product channel name; anything else (including non-UUID ids) is null. */
export function parseProductChannel(name: string): ProductChannelRef | null {
  const m = PRODUCT_CHANNEL_PATTERN.exec(name);
  if (!m) return null;
  const id = m[2]!.toLowerCase();
  switch (m[1]) {
    case 'private-conversation':
      return { kind: 'conversation', id };
    case 'presence-conversation':
      return { kind: 'conversation-presence', id };
    case 'private-user':
      return { kind: 'user', id };
    default:
      return { kind: 'workspace', id };
  }
}

/**
 * Client-event policy (pusher-protocol.md §1.6 rule 1: off unless enabled): whispers such as `client-typing`
 * are enabled only on the conversation channels, private and presence. Every other channel — including
 * private-user, private-workspace, encrypted channels and all public ones — rejects them with 4301.
 */
export function areClientEventsEnabled(channel: string): boolean {
  return channel.startsWith('private-conversation.') || channel.startsWith('presence-conversation.');
}
