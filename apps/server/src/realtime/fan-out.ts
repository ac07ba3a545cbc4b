import type { FastifyBaseLogger } from 'fastify';
import type { DomainEvent, DomainEventBus } from '@reusable-chat/core';
import type { RealtimePublisher } from '@reusable-chat/core/ports';
import { ProductChannel } from '@reusable-chat/protocol';

/** One realtime delivery: a wire event name, its channels and the JSON the HTTP API returns for it. */
export interface ChannelDelivery {
  readonly event: string;
  readonly channels: string[];
  readonly data: unknown;
  readonly excludeSocketId?: string;
  readonly excludeUserIds?: readonly string[];
}

/**
 * The single fan-out point from domain events to Pusher channels (SPEC §5; ARCHITECTURE.md convention 9):
 * visibility rules live here and nowhere else.
 * - Conversation events go to `private-conversation.{id}` (participants) and `private-workspace.{id}` (agents).
 * - Internal notes reach agents only; the pre-policy text (`original_content`) never leaves for participants.
 * - User events (`conversation.created`, `unread.updated`, `banned`, `blocked`) go to `private-user.{id}`.
 * - Revocation and bans also close the user's signed-in sockets (W-08).
 */
export function channelDeliveriesFor(event: DomainEvent): ChannelDelivery[] {
  const workspace = ProductChannel.workspace(event.workspaceId);
  switch (event.type) {
    case 'message.created':
    case 'message.updated':
    case 'message.deleted': {
      const conversation = ProductChannel.conversation(event.conversationId);
      const exclude = event.type === 'message.created' && event.excludeSocketId ? { excludeSocketId: event.excludeSocketId } : {};
      const isInternal = event.message.is_internal === true || event.message.isInternal === true;
      if (isInternal) return [{ event: event.type, channels: [workspace], data: event.message, ...exclude }];
      // Participants never see the pre-policy text; a message JSON without it goes out as it is (the same
      // object, so its settled JSON text is reused: settleJson).
      const participantView = 'original_content' in event.message ? withoutOriginal(event.message) : event.message;
      const hidden =
        event.type === 'message.created' && event.hiddenFromUserIds?.length ? { excludeUserIds: event.hiddenFromUserIds } : {};
      return [
        { event: event.type, channels: [conversation], data: participantView, ...exclude, ...hidden },
        { event: event.type, channels: [workspace], data: event.message, ...exclude },
      ];
    }
    case 'reaction.added':
    case 'reaction.removed':
      return [{ event: event.type, channels: [ProductChannel.conversation(event.conversationId), workspace], data: event.reaction }];
    case 'messages.read':
      return [
        {
          event: event.type,
          channels: [ProductChannel.conversation(event.conversationId), workspace],
          data: { conversation_id: event.conversationId, user_id: event.chatUserId, seq: event.seq },
        },
      ];
    case 'user.typing':
      return [
        {
          event: event.type,
          channels: [ProductChannel.conversation(event.conversationId), workspace],
          data: { conversation_id: event.conversationId, user: event.user, is_typing: event.isTyping },
        },
      ];
    case 'participant.joined':
    case 'participant.left':
      return [{ event: event.type, channels: [ProductChannel.conversation(event.conversationId), workspace], data: event.participant }];
    case 'conversation.created':
      return [
        { event: event.type, channels: event.participantUserIds.map((id) => ProductChannel.user(id)), data: event.conversation },
        { event: event.type, channels: [workspace], data: event.conversation },
      ];
    case 'conversation.updated': {
      const id = typeof event.conversation.id === 'string' ? event.conversation.id : undefined;
      return [
        ...(id ? [{ event: event.type, channels: [ProductChannel.conversation(id)], data: event.conversation }] : []),
        { event: event.type, channels: [workspace], data: event.conversation },
      ];
    }
    case 'unread.updated':
      return [{ event: event.type, channels: [ProductChannel.user(event.chatUserId)], data: event.unread }];
    case 'user.banned':
      return [
        { event: 'banned', channels: [ProductChannel.user(event.chatUserId)], data: event.ban },
        { event: event.type, channels: [workspace], data: { user_id: event.chatUserId, ...event.ban } },
      ];
    case 'user.blocked':
      // Only the blocker's own sockets hear of it (their other tabs hide the user at once); telling the
      // blocked user would leak the block, which chat products deliberately keep silent.
      return [
        {
          event: 'blocked',
          channels: [ProductChannel.user(event.blockerUserId)],
          data: { blocker_user_id: event.blockerUserId, blocked_user_id: event.blockedUserId },
        },
      ];
    case 'report.created':
      return [{ event: event.type, channels: [workspace], data: event.report }];
    case 'user.created':
    case 'user.updated':
    case 'session.revoked':
      // Not channel events: user records are API data, and revocation acts on sockets below.
      return [];
  }
}

/** Users whose sockets must close because of this event (W-08: revocation and bans take effect at once). */
export function usersToTerminate(event: DomainEvent): string[] {
  if (event.type === 'session.revoked') return event.chatUserIds;
  if (event.type === 'user.banned') return [event.chatUserId];
  return [];
}

/** Max channels per publish on the Pusher HTTP API; larger recipient lists are split the same way. */
const MAX_CHANNELS_PER_PUBLISH = 100;

export function registerDomainEventFanOut(events: DomainEventBus, publisher: RealtimePublisher, log: FastifyBaseLogger): () => void {
  return events.subscribe(async (event) => {
    try {
      for (const delivery of channelDeliveriesFor(event)) {
        for (let i = 0; i < delivery.channels.length; i += MAX_CHANNELS_PER_PUBLISH) {
          await publisher.publish({
            channels: delivery.channels.slice(i, i + MAX_CHANNELS_PER_PUBLISH),
            event: delivery.event,
            data: delivery.data,
            ...(delivery.excludeSocketId ? { excludeSocketId: delivery.excludeSocketId } : {}),
            ...(delivery.excludeUserIds ? { excludeUserIds: delivery.excludeUserIds } : {}),
          });
        }
      }
      // After the events above, so a banned user's sockets receive `banned` before they close.
      for (const userId of usersToTerminate(event)) await publisher.terminateUser(userId);
    } catch (err) {
      log.error({ err, type: event.type }, 'realtime fan-out failed');
    }
  });
}

function withoutOriginal(message: Record<string, unknown>): Record<string, unknown> {
  const { original_content: _hidden, ...participantView } = message;
  return participantView;
}
