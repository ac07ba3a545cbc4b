/**
 * Named domain events, emitted by use-cases only after their transaction commits (ARCHITECTURE.md
 * convention 9). One listener per effect subscribes: realtime fan-out (apps/server/src/realtime/fan-out.ts),
 * webhooks and email (worker). Payloads carry the same JSON the HTTP API returns (SPEC §5).
 */
export type DomainEvent =
  | {
      type: 'message.created';
      workspaceId: string;
      conversationId: string;
      message: Record<string, unknown>;
      excludeSocketId?: string;
      /** Participants who blocked the sender: their sockets must not receive it (SPEC §6). */
      hiddenFromUserIds?: string[];
      /**
       * Set when the use-case already settled the event's outbox row in its own write, so the listener records
       * nothing: `written` (a row for the relay) or `none` (the workspace has no enabled webhook endpoint, so
       * there is nothing to relay and the relay is not woken).
       */
      recordedInOutbox?: 'written' | 'none';
    }
  | { type: 'message.updated'; workspaceId: string; conversationId: string; message: Record<string, unknown> }
  | { type: 'message.deleted'; workspaceId: string; conversationId: string; message: Record<string, unknown> }
  | { type: 'reaction.added' | 'reaction.removed'; workspaceId: string; conversationId: string; reaction: Record<string, unknown> }
  | { type: 'messages.read'; workspaceId: string; conversationId: string; chatUserId: string; seq: number }
  | { type: 'user.typing'; workspaceId: string; conversationId: string; user: Record<string, unknown>; isTyping: boolean }
  | { type: 'participant.joined' | 'participant.left'; workspaceId: string; conversationId: string; participant: Record<string, unknown> }
  | { type: 'conversation.created'; workspaceId: string; conversation: Record<string, unknown>; participantUserIds: string[] }
  | { type: 'conversation.updated'; workspaceId: string; conversation: Record<string, unknown>; participantUserIds: string[] }
  | { type: 'unread.updated'; workspaceId: string; chatUserId: string; unread: Record<string, unknown> }
  | { type: 'user.created' | 'user.updated'; workspaceId: string; user: Record<string, unknown> }
  | { type: 'user.banned'; workspaceId: string; chatUserId: string; ban: Record<string, unknown> }
  | { type: 'user.blocked'; workspaceId: string; blockerUserId: string; blockedUserId: string }
  | { type: 'session.revoked'; workspaceId: string; chatUserIds: string[] }
  | { type: 'report.created'; workspaceId: string; report: Record<string, unknown> };

export type DomainEventType = DomainEvent['type'];
export type DomainEventListener = (event: DomainEvent) => void | Promise<void>;

/**
 * In-process dispatcher. A listener's failure is reported to `onError` and never undoes the committed change
 * nor stops other listeners; durable effects (webhooks, email) go through the outbox, not this bus.
 */
export class DomainEventBus {
  private readonly listeners: DomainEventListener[] = [];
  constructor(private readonly onError: (err: unknown, event: DomainEvent) => void = () => undefined) {}

  subscribe(listener: DomainEventListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  async emit(event: DomainEvent): Promise<void> {
    await Promise.all(
      this.listeners.map(async (listener) => {
        try {
          await listener(event);
        } catch (err) {
          this.onError(err, event);
        }
      }),
    );
  }
}
