import { sql } from 'drizzle-orm';
import { schema, type Executor, type JsonObject } from '@reusable-chat/db';

/**
 * Outbox topics are job names: the relay enqueues each row as a job of that name (jobId = `outbox:<row id>`).
 */
export const OUTBOX_TOPICS = {
  webhookEvent: 'webhooks.fan-out',
} as const;
export type OutboxTopic = (typeof OUTBOX_TOPICS)[keyof typeof OUTBOX_TOPICS];

/**
 * PostgreSQL notification channel the outbox insert signals: delivered when (and only when) the writing
 * transaction commits, so a worker in another process relays the row at once instead of at its next poll.
 * Several rows in one transaction collapse into one notification (same channel, same empty payload).
 */
export const OUTBOX_NOTIFY_CHANNEL = 'reusable_chat_outbox';

/**
 * Records a side effect to perform. Call it with the use-case's open transaction so the row commits or rolls
 * back together with the change (transactional outbox): a committed message then never loses its webhooks,
 * even when Redis is down at that moment (checklist F-01). The relay (relay-outbox.ts) hands it to the queue.
 * The insert and the NOTIFY are one statement, so waking remote workers costs no extra round trip.
 */
export async function enqueueOutbox(
  tx: Executor,
  entry: { workspaceId: string | null; topic: OutboxTopic; payload: JsonObject },
): Promise<number> {
  const o = schema.outbox;
  const result = await tx.execute(sql`
    with inserted as (
      insert into ${o} (${sql.identifier(o.workspaceId.name)}, ${sql.identifier(o.topic.name)}, ${sql.identifier(o.payload.name)})
      values (${entry.workspaceId}, ${entry.topic}, ${JSON.stringify(entry.payload)}::jsonb)
      returning ${sql.identifier(o.id.name)} as id
    )
    select id, pg_notify(${OUTBOX_NOTIFY_CHANNEL}, '') as notified from inserted`);
  // postgres-js answers an array of rows, PGlite { rows }.
  const rows = (Array.isArray(result) ? result : (result as unknown as { rows: unknown[] }).rows) as { id: number | string }[];
  const row = rows[0];
  if (!row) throw new Error('outbox insert returned no row');
  return Number(row.id);
}
