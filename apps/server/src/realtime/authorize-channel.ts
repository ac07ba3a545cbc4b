import { and, eq, isNull } from 'drizzle-orm';
import { schema, type Executor } from '@reusable-chat/db';
import { loadConversationPolicies } from '@reusable-chat/core';
import { parseProductChannel, signChannelAuth, signUserAuth, type AppCredentials } from '@reusable-chat/protocol';

/**
 * Who may join which product channel (SPEC §5; checklist T-09, W-05). One Pusher app serves every tenant, so
 * these checks are the tenant wall: every decision re-derives workspace and membership from the session,
 * never from the channel name alone (pusher-protocol.md §1.9).
 */
export type ChannelDecision =
  | { readonly allowed: true; readonly presence?: { readonly user_id: string; readonly user_info: Record<string, unknown> } }
  | { readonly allowed: false };

const DENY: ChannelDecision = { allowed: false };

/** A widget session's chat user: own user channel, and conversations they currently take part in. */
export async function authorizeChatUserChannel(params: {
  db: Executor;
  workspaceId: string;
  user: { id: string; name: string; avatarUrl?: string | null };
  channelName: string;
}): Promise<ChannelDecision> {
  const ref = parseProductChannel(params.channelName);
  if (!ref) return DENY;
  switch (ref.kind) {
    case 'user':
      return ref.id === params.user.id ? { allowed: true } : DENY;
    case 'workspace':
      return DENY;
    case 'conversation':
    case 'conversation-presence': {
      const rows = await params.db
        .select({ conversationId: schema.participants.conversationId, widgetConfigId: schema.conversations.widgetConfigId })
        .from(schema.participants)
        .innerJoin(schema.conversations, eq(schema.conversations.id, schema.participants.conversationId))
        .where(
          and(
            eq(schema.participants.conversationId, ref.id),
            eq(schema.participants.workspaceId, params.workspaceId),
            eq(schema.conversations.workspaceId, params.workspaceId),
            eq(schema.participants.chatUserId, params.user.id),
            isNull(schema.participants.leftAt),
          ),
        )
        .limit(1);
      if (rows.length === 0) return DENY;
      if (ref.kind === 'conversation') return { allowed: true };
      // The configuration's presence switch (SPEC §6): off means nobody's online state is shared in it.
      if (!(await loadConversationPolicies(params.db, params.workspaceId, rows[0]!.widgetConfigId)).presence) return DENY;
      // Only what other participants already see: name and avatar, never email or metadata (S-06).
      return {
        allowed: true,
        presence: { user_id: params.user.id, user_info: { name: params.user.name, avatar_url: params.user.avatarUrl ?? null, type: 'user' } },
      };
    }
  }
}

/**
 * The dashboard's seam: an agent (workspace member) may join its workspace channel and any conversation of a
 * workspace it belongs to; never a chat user's private channel. Presence ids are `admin:{id}` so they cannot
 * collide with chat user ids.
 */
export async function authorizeAgentChannel(params: {
  db: Executor;
  admin: { id: string; name: string };
  channelName: string;
}): Promise<ChannelDecision> {
  const ref = parseProductChannel(params.channelName);
  if (!ref || ref.kind === 'user') return DENY;
  let workspaceId = ref.id;
  if (ref.kind !== 'workspace') {
    const [conversation] = await params.db
      .select({ workspaceId: schema.conversations.workspaceId })
      .from(schema.conversations)
      .where(eq(schema.conversations.id, ref.id))
      .limit(1);
    if (!conversation) return DENY;
    workspaceId = conversation.workspaceId;
  }
  const [membership] = await params.db
    .select({ role: schema.workspaceMembers.role })
    .from(schema.workspaceMembers)
    .innerJoin(schema.admins, eq(schema.admins.id, schema.workspaceMembers.adminId))
    .where(
      and(
        eq(schema.workspaceMembers.workspaceId, workspaceId),
        eq(schema.workspaceMembers.adminId, params.admin.id),
        isNull(schema.admins.disabledAt),
      ),
    )
    .limit(1);
  if (!membership) return DENY;
  if (ref.kind === 'conversation-presence') {
    return { allowed: true, presence: { user_id: `admin:${params.admin.id}`, user_info: { name: params.admin.name, type: 'agent' } } };
  }
  return { allowed: true };
}

/** The body pusher-js expects from a channel authorizer: `{auth}` or `{auth, channel_data}`. */
export function signChannelAuthorization(
  credentials: AppCredentials,
  socketId: string,
  channelName: string,
  decision: Extract<ChannelDecision, { allowed: true }>,
): { auth: string; channel_data?: string } {
  if (!decision.presence) return { auth: signChannelAuth(credentials, socketId, channelName) };
  const channelData = JSON.stringify(decision.presence);
  return { auth: signChannelAuth(credentials, socketId, channelName, channelData), channel_data: channelData };
}

/**
 * The body pusher-js expects from a user-authentication endpoint (`pusher:signin`). Sign-in ids are the chat
 * user id for widget sessions and `admin:{id}` for agents, the ids `RealtimePublisher.terminateUser` closes.
 */
export function signUserAuthentication(
  credentials: AppCredentials,
  socketId: string,
  user: { id: string; user_info?: Record<string, unknown>; workspace_id?: string },
): { auth: string; user_data: string } {
  // workspace_id lets the socket server count the workspace's connections (W-21); it is signed like the rest.
  const userData = JSON.stringify({
    id: user.id,
    ...(user.user_info ? { user_info: user.user_info } : {}),
    ...(user.workspace_id ? { workspace_id: user.workspace_id } : {}),
  });
  return { auth: signUserAuth(credentials, socketId, userData), user_data: userData };
}
