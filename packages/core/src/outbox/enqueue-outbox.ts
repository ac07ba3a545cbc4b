import { schema, type Executor, type JsonObject } from '@reusable-chat/db';

/**
 * Outbox topics are job names: the relay enqueues each row as a job of that name (jobId = `outbox:<row id>`).
 */
export const OUTBOX_TOPICS = {
  webhookEvent: 'webhooks.fan-out',
} as const;
export type OutboxTopic = (typeof OUTBOX_TOPICS)[keyof typeof OUTBOX_TOPICS];

/**
 * Records a side effect to perform. Call it with the use-case's open transaction so the row commits or rolls
 * back together with the change (transactional outbox): a committed message then never loses its webhooks,
 * even when Redis is down at that moment (checklist F-01). The relay (relay-outbox.ts) hands it to the queue.
 */
export async function enqueueOutbox(
  tx: Executor,
  entry: { workspaceId: string | null; topic: OutboxTopic; payload: JsonObject },
): Promise<number> {
  const [row] = await tx
    .insert(schema.outbox)
    .values({ workspaceId: entry.workspaceId, topic: entry.topic, payload: entry.payload })
    .returning({ id: schema.outbox.id });
  if (!row) throw new Error('outbox insert returned no row');
  return row.id;
}
