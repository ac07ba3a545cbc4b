import { and, asc, eq, inArray, isNotNull, isNull, lt, sql } from 'drizzle-orm';
import { schema, type Database } from '@reusable-chat/db';
import type { JobQueue } from '../ports/queue.ts';

/** How long one enqueue may take before the relay gives up on this round (Redis down must not hold row locks). */
export const OUTBOX_ENQUEUE_TIMEOUT_MS = 5_000;

/**
 * A relayed outbox row as a queue job: its id and workspace only. The payload (a webhook event carries message text,
 * names and external ids) stays in the outbox row and is read by the job, so no personal data sits in Redis job
 * hashes, which BullMQ keeps for a day after completion and a week after failure (checklist G-03: an erased user
 * leaves no Redis key behind; the erasure scrubs the outbox rows). `payload` is still accepted when present
 * (jobs enqueued by an older version, and tests that hand a job over directly).
 */
export interface OutboxJobPayload {
  readonly outboxId: number;
  readonly workspaceId: string | null;
  readonly payload?: Record<string, unknown>;
}

/** The payload of one outbox row, scoped by its workspace; null once the row is gone (purged, or its workspace deleted). */
export async function loadOutboxPayload(db: Database, outboxId: number, workspaceId: string): Promise<Record<string, unknown> | null> {
  const [row] = await db
    .select({ payload: schema.outbox.payload })
    .from(schema.outbox)
    .where(and(eq(schema.outbox.id, outboxId), eq(schema.outbox.workspaceId, workspaceId)))
    .limit(1);
  return row?.payload ?? null;
}

export interface RelayResult {
  /** Rows handed to the queue and marked dispatched. */
  readonly dispatched: number;
  /** True when the queue refused a job: the row stays pending and is retried on a later round. */
  readonly queueFailed: boolean;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`queue did not accept the job within ${ms} ms`)), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * One relay round: claims up to `limit` undispatched rows (FOR UPDATE SKIP LOCKED, so several worker processes
 * on PostgreSQL never take the same row; PGlite has one connection and serialises anyway), enqueues them all
 * concurrently, each as a job named by its topic with jobId `outbox:<id>` (the queue drops a duplicate if a crash
 * makes us enqueue the same row again), and marks the enqueued rows dispatched in the same transaction.
 * When the queue is down (checklist F-01) the refused rows' attempts go up and they stay pending; nothing is lost
 * and the caller backs off.
 */
export async function relayOutbox(params: {
  db: Database;
  queue: JobQueue;
  limit?: number;
  /** Queue-level attempts for the job when its handler throws (infrastructure faults); then dead-lettered. */
  jobAttempts?: number;
}): Promise<RelayResult> {
  const limit = params.limit ?? 100;
  const jobOptions = params.jobAttempts === undefined ? {} : { attempts: params.jobAttempts };
  return params.db.transaction(async (tx) => {
    const rows = await tx
      .select()
      .from(schema.outbox)
      .where(isNull(schema.outbox.dispatchedAt))
      .orderBy(asc(schema.outbox.id))
      .limit(limit)
      .for('update', { skipLocked: true });
    // All of the round's enqueues at once: with BullMQ each is a Redis round trip, and sequential ones kept the
    // rows locked (and the next round waiting) for a round trip per row.
    const outcomes = await Promise.allSettled(
      rows.map((row) => {
        const job: OutboxJobPayload = { outboxId: row.id, workspaceId: row.workspaceId };
        return withTimeout(params.queue.enqueue(row.topic, job, { jobId: `outbox:${row.id}`, ...jobOptions }), OUTBOX_ENQUEUE_TIMEOUT_MS);
      }),
    );
    const done = rows.filter((_, i) => outcomes[i]!.status === 'fulfilled').map((r) => r.id);
    const refused = rows.filter((_, i) => outcomes[i]!.status === 'rejected').map((r) => r.id);
    const queueFailed = refused.length > 0;
    if (queueFailed) {
      await tx
        .update(schema.outbox)
        .set({ attempts: sql`${schema.outbox.attempts} + 1` })
        .where(inArray(schema.outbox.id, refused));
    }
    if (done.length > 0) {
      await tx
        .update(schema.outbox)
        .set({ dispatchedAt: new Date(), attempts: sql`${schema.outbox.attempts} + 1` })
        .where(and(inArray(schema.outbox.id, done), isNull(schema.outbox.dispatchedAt)));
    }
    return { dispatched: done.length, queueFailed };
  });
}

/** Rows not yet handed to the queue (for /metrics and tests). */
export async function countPendingOutbox(db: Database): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(schema.outbox)
    .where(isNull(schema.outbox.dispatchedAt));
  return Number(row?.n ?? 0);
}

/** Dispatched rows are history once their job exists; kept a while for inspection, then deleted in batches. */
export async function purgeDispatchedOutbox(params: { db: Database; olderThan: Date; limit?: number }): Promise<number> {
  const o = schema.outbox;
  const victims = params.db
    .select({ id: o.id })
    .from(o)
    .where(and(isNotNull(o.dispatchedAt), lt(o.dispatchedAt, params.olderThan)))
    .orderBy(asc(o.id))
    .limit(params.limit ?? 1_000);
  const deleted = await params.db.delete(o).where(inArray(o.id, victims)).returning({ id: o.id });
  return deleted.length;
}
