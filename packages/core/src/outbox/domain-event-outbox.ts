import type { Executor, JsonObject } from '@reusable-chat/db';
import type { DomainEvent, DomainEventBus } from '../events/domain-events.ts';
import { toWebhookEvent } from '../webhooks/webhook-events.ts';
import { enqueueOutbox, OUTBOX_TOPICS } from './enqueue-outbox.ts';

/**
 * Writes the outbox rows a domain event causes. Two ways to call it:
 * - inside the use-case's transaction (`recordDomainEventInOutbox(tx, event)`) — transactional: the side
 *   effects commit with the change;
 * - from the after-commit listener below — NOT transactional: a crash between the commit and this insert
 *   loses the side effect. Event ids are derived from the change (see toWebhookEvent), so a use-case that does
 *   both gets one delivery per endpoint, not two.
 * Returns the number of rows written.
 */
export async function recordDomainEventInOutbox(
  tx: Executor,
  event: DomainEvent,
  occurredAt: Date = new Date(),
): Promise<number> {
  const webhookEvent = toWebhookEvent(event, occurredAt);
  if (!webhookEvent) return 0;
  await enqueueOutbox(tx, {
    workspaceId: event.workspaceId,
    topic: OUTBOX_TOPICS.webhookEvent,
    payload: { event: webhookEvent as unknown as JsonObject },
  });
  return 1;
}

/**
 * The after-commit listener (ARCHITECTURE.md convention 9: one listener per effect). `onRecorded` lets the
 * in-process worker relay right away instead of waiting for its next poll.
 */
export function subscribeOutboxListener(params: {
  events: DomainEventBus;
  db: Executor;
  now?: () => Date;
  onRecorded?: () => void;
}): () => void {
  return params.events.subscribe(async (event) => {
    if ('recordedInOutbox' in event && event.recordedInOutbox) {
      if (event.recordedInOutbox === 'written') params.onRecorded?.();
      return;
    }
    const written = await recordDomainEventInOutbox(params.db, event, params.now?.() ?? new Date());
    if (written > 0) params.onRecorded?.();
  });
}
